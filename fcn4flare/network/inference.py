"""Run an `~fcn4flare.network.FCN4FlareModel` over light curves of any length.

Long light curves are cut into overlapping windows that carry ``model.config.context``
samples of context on both sides of the part they report, so the probabilities equal those of
one pass over the whole light curve while memory stays bounded by the window length.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

from .._arrays import find_runs
from ..exceptions import InputError

__all__ = ["predict_probability", "DEFAULT_CHUNK_SIZE", "DEFAULT_BATCH_SIZE"]

#: Longest window (in samples, context included) handed to the network at once.
DEFAULT_CHUNK_SIZE = 16384

#: Windows per forward pass.
DEFAULT_BATCH_SIZE = 4


@dataclasses.dataclass(frozen=True)
class _Window:
    """Samples [start, stop) of curve ``curve`` go in; [core_start, core_stop) are kept."""

    curve: int
    start: int
    stop: int
    core_start: int
    core_stop: int

    @property
    def length(self) -> int:
        return self.stop - self.start


def predict_probability(
    model: torch.nn.Module,
    fluxes: Any,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    batch_size: int = DEFAULT_BATCH_SIZE,
    device: str | torch.device | None = None,
) -> list[np.ndarray]:
    """Flare probability of every sample of one or more light curves.

    Parameters
    ----------
    model : `~fcn4flare.network.FCN4FlareModel`
        The network. It is run in eval mode under `torch.inference_mode`; its previous
        training flag is restored afterwards.
    fluxes : array-like or sequence of array-like
        One 1-D flux array, or several (a list, or the rows of a 2-D array), already scaled
        (`~fcn4flare.scaling.scale_flux`) and on a regular grid
        (`~fcn4flare.lightcurve.regular_grid`), NaN in gaps.
    chunk_size : int
        Longest window given to the network, context included; must exceed
        ``2 * model.config.context``. Light curves up to this length run in one window.
    batch_size : int
        Windows per forward pass.
    device : str or `torch.device`, optional
        Where to run; default the model's device. The model is not moved: pass the device
        it lives on, or move it first.

    Returns
    -------
    list of ndarray
        One float64 array per light curve, the same length as its input: sigmoid of the
        logit, NaN where the input was NaN.

    Notes
    -----
    A light curve longer than ``chunk_size`` is cut into windows of exactly ``chunk_size``
    samples whose reported cores overlap nowhere and whose context reaches
    ``model.config.context`` samples either side, so each probability depends on exactly the
    samples it depends on in a single pass. Windows are batched only with windows of the same
    length: padding a window with NaN would change the last ``context`` probabilities of a
    light curve (the network sees the padding), so a batch never needs padding.

    Raises
    ------
    InputError
        Flux that is not 1-D, holds infinite values, or a ``chunk_size`` too small for the
        model's context.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from fcn4flare.network import FCN4FlareConfig, FCN4FlareModel
    >>> from fcn4flare.network import predict_probability
    >>> _ = torch.manual_seed(0)
    >>> model = FCN4FlareModel(FCN4FlareConfig(hidden_dim=8, depth=2, dilation=[1, 2]))
    >>> flux = np.ones(50)
    >>> flux[10] = np.nan
    >>> short, long = predict_probability(model, [flux[:20], flux], chunk_size=32)
    >>> long.shape, bool(np.isnan(long[10])), bool(np.all((long >= 0) | np.isnan(long)))
    ((50,), True, True)
    >>> context = model.config.context  # 7: beyond this from its end, `short` equals `long`
    >>> np.allclose(short[:20 - context], long[:20 - context], equal_nan=True)
    True
    >>> np.allclose(short, long[:20], equal_nan=True)
    False
    """
    curves = _as_curves(fluxes)
    context = int(model.config.context)
    chunk_size = int(chunk_size)
    if chunk_size <= 2 * context:
        raise InputError(
            f"predict_probability: chunk_size={chunk_size} must exceed twice the model's "
            f"context ({context} samples each side), i.e. be at least {2 * context + 1}."
        )
    if int(batch_size) < 1:
        raise InputError(f"predict_probability: batch_size must be positive, got {batch_size}.")
    device = torch.device(device) if device is not None else _model_device(model)
    dtype = _model_dtype(model)

    results = [np.full(len(curve), np.nan) for curve in curves]
    # The network sees nothing but NaN beyond `context` samples into a gap, so longer gaps
    # are shortened to `context` NaNs before it runs: the same probabilities, without the
    # cost of a grid that is mostly gaps (sparse or clumped sampling).
    kept = [_outside_long_gaps(curve, context) for curve in curves]
    full = curves
    curves = [curve[keep] for curve, keep in zip(curves, kept, strict=True)]
    shortened = [np.full(len(curve), np.nan) for curve in curves]
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for batch in _batches(curves, chunk_size, context, int(batch_size)):
                inputs = np.stack([curves[w.curve][w.start : w.stop] for w in batch])
                x = torch.as_tensor(inputs, dtype=dtype, device=device).unsqueeze(-1)
                logits = model(x)[..., 0].to(torch.float64)
                probability = torch.sigmoid(logits).cpu().numpy()
                for row, window in zip(probability, batch, strict=True):
                    core = slice(window.core_start - window.start, window.core_stop - window.start)
                    shortened[window.curve][window.core_start : window.core_stop] = row[core]
    finally:
        model.train(was_training)
    for curve, keep, short, result in zip(full, kept, shortened, results, strict=True):
        result[keep] = short
        result[np.isnan(curve)] = np.nan
    return results


def _outside_long_gaps(curve: np.ndarray, context: int) -> np.ndarray:
    """Indices of ``curve`` without the part of each NaN run beyond its first ``context``."""
    missing = np.isnan(curve)
    if missing.sum() <= context:
        return np.arange(len(curve))
    starts, stops = find_runs(missing)
    drop = np.zeros(len(curve), dtype=bool)
    for start, stop in zip(starts + context, stops + 1, strict=True):
        drop[start:stop] = True
    return np.flatnonzero(~drop)


def _as_curves(fluxes: Any) -> list[np.ndarray]:
    if isinstance(fluxes, torch.Tensor):
        fluxes = fluxes.detach().cpu().numpy()
    if isinstance(fluxes, np.ndarray):
        if fluxes.ndim > 2:
            raise InputError(
                "predict_probability: fluxes must be a 1-D array, a 2-D array of rows or a "
                f"list of 1-D arrays, got shape {fluxes.shape}."
            )
        fluxes = list(fluxes) if fluxes.ndim == 2 else [fluxes]
    elif not isinstance(fluxes, Sequence) or isinstance(fluxes, str):
        raise InputError(
            "predict_probability: fluxes must be a 1-D array or a list of 1-D arrays, got "
            f"{type(fluxes).__name__}."
        )
    elif len(fluxes) and np.ndim(fluxes[0]) == 0:
        fluxes = [fluxes]
    return [_as_curve(flux, i) for i, flux in enumerate(fluxes)]


def _as_curve(flux: Any, i: int) -> np.ndarray:
    try:
        curve = np.asarray(getattr(flux, "value", flux), dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"predict_probability: flux {i} is not numeric.") from None
    if curve.ndim != 1:
        raise InputError(
            f"predict_probability: flux {i} must be one-dimensional, got shape {curve.shape}."
        )
    infinite = np.flatnonzero(np.isinf(curve))
    if infinite.size:
        raise InputError(
            f"predict_probability: flux {i} holds {infinite.size} infinite value(s) (first at "
            f"index {infinite[0]}); use NaN for missing values."
        )
    return curve


def _windows(curve: int, length: int, chunk_size: int, context: int) -> Iterator[_Window]:
    if length <= chunk_size:
        if length:
            yield _Window(curve, 0, length, 0, length)
        return
    core = chunk_size - 2 * context
    for core_start in range(0, length, core):
        core_stop = min(core_start + core, length)
        start = max(0, min(core_start - context, length - chunk_size))
        yield _Window(curve, start, start + chunk_size, core_start, core_stop)


def _batches(
    curves: Sequence[np.ndarray], chunk_size: int, context: int, batch_size: int
) -> Iterator[list[_Window]]:
    by_length: dict[int, list[_Window]] = defaultdict(list)
    for i, curve in enumerate(curves):
        for window in _windows(i, len(curve), chunk_size, context):
            by_length[window.length].append(window)
    for windows in by_length.values():
        for first in range(0, len(windows), batch_size):
            yield windows[first : first + batch_size]


def _model_device(model: torch.nn.Module) -> torch.device:
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def _model_dtype(model: torch.nn.Module) -> torch.dtype:
    parameter = next(model.parameters(), None)
    return parameter.dtype if parameter is not None else torch.float32
