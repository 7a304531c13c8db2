"""Flare probabilities and flare catalogues from light curves: where the steps are wired.

Data flow one way, each step in its own module::

    light curve --prepare_light_curve--> PreparedLightCurve (input rows, NaN where unusable)
        --model_input--> scaled flux on a regular cadence grid (NaN in gaps)
        --predict_probability--> probability on the grid
        --detect_events--> event index ranges on the grid (runs are contiguous in time)
        --GridMap--> indices of the input rows --FlareTable.from_events--> FlareTable

Nothing here changes the light curve it is given.
"""

from __future__ import annotations

import dataclasses
import os
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from astropy import units as u

from .characterize import _fill_by_interpolation
from .exceptions import InputError
from .inference import DEFAULT_BATCH_SIZE, DEFAULT_CHUNK_SIZE, predict_probability
from .model import FCN4FlareModel
from .postprocessing import DEFAULT_RULES, PUBLISHED_RULES, detect_events
from .preprocessing import (
    DEFAULT_MAX_GAP,
    GridMap,
    PreparedLightCurve,
    prepare_light_curve,
    robust_noise,
)
from .pretrained import DEFAULT_MODEL, load_model
from .rotation import trend_with_rotation
from .table import FlareTable

__all__ = ["detect_flares", "predict_flare_probability", "RULE_PRESETS"]

#: Named sets of post-processing rules accepted as ``rules=``: keyword arguments of
#: `~fcn4flare.postprocessing.detect_events` other than ``threshold``.
RULE_PRESETS: dict[str, dict[str, Any]] = {
    "default": {k: v for k, v in DEFAULT_RULES.items() if k != "threshold"},
    "published": {k: v for k, v in PUBLISHED_RULES.items() if k != "threshold"},
}

# Checksums of models already seen, with the parameter versions they were computed for.
_CHECKSUMS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@dataclasses.dataclass(frozen=True, eq=False)
class _Detection:
    """One light curve after the model: everything the table and the plots are made from."""

    prepared: PreparedLightCurve
    grid: GridMap
    grid_flux: np.ndarray
    grid_probability: np.ndarray

    @property
    def probability(self) -> np.ndarray:
        """Probability at the input rows, NaN where the model saw no flux."""
        return self.grid.from_grid(self.grid_probability)


# --------------------------------------------------------------------------- public API


def predict_flare_probability(
    data: Any,
    *,
    flux: Any = None,
    model: Any = None,
    flux_column: str | None = None,
    quality_bitmask: str | int | None = "default",
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    batch_size: int = DEFAULT_BATCH_SIZE,
    device: str | torch.device | None = None,
) -> u.Quantity | list[u.Quantity]:
    """Flare probability of every sample of a light curve (or of several).

    Parameters
    ----------
    data : LightCurve, `~astropy.timeseries.TimeSeries`, list of them, or times
        A lightkurve light curve (any mission), a ``TimeSeries`` with a flux column, a list
        or tuple of those (processed together, in batches through the model), or sample
        times when ``flux`` is given (see `~fcn4flare.preprocessing.prepare_light_curve`).
    flux : array-like or `~astropy.units.Quantity`, optional
        Flux, one value per time; only when ``data`` holds times.
    model : `~fcn4flare.model.FCN4FlareModel`, str, path-like or None
        The network: None for the default shipped model, a shipped model's name, a
        checkpoint directory or file, or a model object (used as is).
    flux_column : str, optional
        Column to use. Default: ``flux`` for lightkurve light curves (so that
        ``lc.flatten()`` or ``lc.normalize()`` results are used as they are), otherwise
        the choice of `~fcn4flare.preprocessing.prepare_light_curve`.
    quality_bitmask : {'none', 'default', 'hard', 'hardest'}, int or None
        Quality flags whose samples are ignored (NaN to the model; rows are kept).
    chunk_size, batch_size : int
        Window length and windows per forward pass, see
        `~fcn4flare.inference.predict_probability`; they change memory use, not results.
    device : str or `torch.device`, optional
        Device for a model read from disk (CPU by default). A model object runs where it
        lives; a different ``device`` is an error.

    Returns
    -------
    `~astropy.units.Quantity` or list of `~astropy.units.Quantity`
        Dimensionless probabilities, one per input row, NaN where there was no usable flux
        (quality-flagged, NaN or masked). A list when ``data`` is a list.

    Raises
    ------
    InputError
        Unusable data (the message names the light curve and the problem).
    CheckpointError
        The model cannot be found or read.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from fcn4flare import FCN4FlareConfig, FCN4FlareModel
    >>> from fcn4flare.detection import predict_flare_probability
    >>> _ = torch.manual_seed(0)
    >>> model = FCN4FlareModel(FCN4FlareConfig(hidden_dim=8, depth=2, dilation=[1, 2]))
    >>> time = 2459000.0 + np.arange(200) / 720  # JD, 2-min cadence
    >>> flux = 1 + 0.001 * np.random.default_rng(1).standard_normal(200)
    >>> flux[20] = np.nan
    >>> probability = predict_flare_probability(time, flux=flux, model=model)
    >>> probability.shape, probability.unit, bool(np.isnan(probability[20]))
    ((200,), Unit(dimensionless), True)
    """
    items, many = _as_items(data, flux)
    net = _resolve_model(model, device)
    detections = _detect_items(
        items,
        net,
        flux_column=flux_column,
        quality_bitmask=quality_bitmask,
        chunk_size=chunk_size,
        batch_size=batch_size,
        labels=_labels(len(items), many),
    )
    result = [d.probability * u.dimensionless_unscaled for d in detections]
    return result if many else result[0]


def detect_flares(
    data: Any,
    *,
    flux: Any = None,
    model: Any = None,
    threshold: float | None = None,
    rules: str | Mapping[str, Any] | None = None,
    flux_column: str | None = None,
    quality_bitmask: str | int | None = "default",
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    batch_size: int = DEFAULT_BATCH_SIZE,
    device: str | torch.device | None = None,
) -> FlareTable | list[FlareTable]:
    """Find the flares in a light curve (or in several) and return them as a table.

    The network gives a probability per sample; samples above ``threshold`` form runs on
    the light curve's regular cadence grid (so a run never bridges a data gap), the
    post-processing ``rules`` keep the flare-like runs, and each kept run becomes a row of
    a `~fcn4flare.table.FlareTable` whose indices (``istart``, ``ipeak``, ``istop``) are
    rows of the light curve given.

    Parameters
    ----------
    data : LightCurve, `~astropy.timeseries.TimeSeries`, list of them, or times
        See `predict_flare_probability`.
    flux : array-like or `~astropy.units.Quantity`, optional
        Flux, one value per time; only when ``data`` holds times.
    model : `~fcn4flare.model.FCN4FlareModel`, str, path-like or None
        See `predict_flare_probability`.
    threshold : float or None
        Probability a sample must exceed to be part of a flare, in [0, 1). None: the model's
        own ``config.detection_threshold`` (chosen for the shipped model by its evaluation,
        0.5 for published checkpoints).
    rules : {None, 'default', 'published'} or dict
        Post-processing rules (keyword arguments of
        `~fcn4flare.postprocessing.detect_events` other than ``threshold``). None or
        ``'default'``: every run above the threshold is a flare. ``'published'``: the rules
        of the published FCN4Flare pipeline (at least 3 samples, a decay longer than the
        rise, consistent flux levels either side). A dict overrides single rules of the
        defaults, e.g. ``{"min_points": 3}``.
    flux_column, quality_bitmask, chunk_size, batch_size, device
        See `predict_flare_probability`.

    Returns
    -------
    `~fcn4flare.table.FlareTable` or list of `~fcn4flare.table.FlareTable`
        One row per flare. Its ``meta`` records ``TARGET``, ``MISSION``, ``QUARTER`` /
        ``CAMPAIGN`` / ``SECTOR`` (when known), ``CADENCE`` (minutes), ``FLUXCOL``,
        ``QUALMASK``, ``MODEL``, ``MODELSUM`` (checksum of the weights), ``THRESH``,
        ``RULES`` and ``FCN4FVER``. A list when ``data`` is a list.

    Raises
    ------
    InputError
        Unusable data, an invalid threshold or unknown rules.
    CheckpointError
        The model cannot be found or read.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from fcn4flare import FCN4FlareConfig, FCN4FlareModel
    >>> from fcn4flare.detection import detect_flares
    >>> _ = torch.manual_seed(0)
    >>> model = FCN4FlareModel(FCN4FlareConfig(hidden_dim=8, depth=2, dilation=[1, 2]))
    >>> time = 2459000.0 + np.arange(200) / 720
    >>> flux = 1 + 0.001 * np.random.default_rng(1).standard_normal(200)
    >>> flares = detect_flares(time, flux=flux, model=model, threshold=0.5)
    >>> flares.meta["THRESH"], flares.meta["MODEL"], len(flares.meta["MODELSUM"])
    (0.5, 'FCN4FlareModel (in memory)', 64)
    >>> flares.colnames[:4]
    ['target', 'tstart', 'tpeak', 'tstop']
    """
    items, many = _as_items(data, flux)
    results = _detect_with_tables(
        items,
        model=model,
        threshold=threshold,
        rules=rules,
        flux_column=flux_column,
        quality_bitmask=quality_bitmask,
        chunk_size=chunk_size,
        batch_size=batch_size,
        device=device,
        labels=_labels(len(items), many),
    )
    tables = [table for _, table in results]
    return tables if many else tables[0]


# --------------------------------------------------------------------------- the steps


def _detect_with_tables(
    items: Sequence[tuple[Any, Any]],
    *,
    model: Any,
    threshold: float | None,
    rules: Any,
    flux_column: str | None,
    quality_bitmask: str | int | None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    batch_size: int = DEFAULT_BATCH_SIZE,
    device: str | torch.device | None = None,
    labels: Sequence[str],
) -> list[tuple[_Detection, FlareTable]]:
    """The whole chain for several light curves; each result with its table.

    ``labels`` name the light curves in error messages ('' for none).
    """
    detection_rules = _resolve_rules(rules, threshold)
    net = _resolve_model(model, device)
    if threshold is None:
        detection_rules["threshold"] = float(net.config.detection_threshold)
    detections = _detect_items(
        items,
        net,
        flux_column=flux_column,
        quality_bitmask=quality_bitmask,
        chunk_size=chunk_size,
        batch_size=batch_size,
        labels=labels,
    )
    model_meta = _model_meta(model, net)
    return [
        (d, _flare_table(d, detection_rules, rules, model_meta, label=label))
        for d, label in zip(detections, labels, strict=True)
    ]


def _detect_items(
    items: Sequence[tuple[Any, Any]],
    model: FCN4FlareModel,
    *,
    flux_column: str | None,
    quality_bitmask: str | int | None,
    chunk_size: int,
    batch_size: int,
    labels: Sequence[str],
) -> list[_Detection]:
    prepared = [
        _prepare(data, flux, flux_column, quality_bitmask, label=label)
        for (data, flux), label in zip(items, labels, strict=True)
    ]
    return _run_model(
        prepared, model, chunk_size=chunk_size, batch_size=batch_size, labels=labels
    )


def _prepare(
    data: Any,
    flux: Any,
    flux_column: str | None,
    quality_bitmask: str | int | None,
    *,
    label: str = "",
) -> PreparedLightCurve:
    with _labelled(label):
        return prepare_light_curve(
            data, flux, flux_column=flux_column, quality_bitmask=quality_bitmask
        )


def _run_model(
    prepared: Sequence[PreparedLightCurve],
    model: FCN4FlareModel,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    batch_size: int = DEFAULT_BATCH_SIZE,
    labels: Sequence[str],
) -> list[_Detection]:
    """Run the network over several prepared light curves at once."""
    max_gap = max(DEFAULT_MAX_GAP, int(model.config.context))
    inputs = []
    for lc, label in zip(prepared, labels, strict=True):
        with _labelled(label):
            inputs.append(lc.model_input(model.config.input_scaling, max_gap=max_gap))
    probabilities = predict_probability(
        model, [flux for flux, _ in inputs], chunk_size=chunk_size, batch_size=batch_size
    )
    return [
        _Detection(prepared=lc, grid=grid, grid_flux=flux, grid_probability=probability)
        for lc, (flux, grid), probability in zip(prepared, inputs, probabilities, strict=True)
    ]


def _flare_table(
    detection: _Detection,
    detection_rules: Mapping[str, Any],
    rules_name: Any,
    model_meta: Mapping[str, Any],
    *,
    label: str = "",
) -> FlareTable:
    """Events on the grid (contiguous in time), reported at the input rows."""
    events = detect_events(detection.grid_probability, detection.grid_flux, **detection_rules)
    index = detection.grid.index
    # Flagged samples have a probability, hence flux, hence are input rows; the sides are
    # chosen so that every index stays inside its run should that ever not hold.
    starts = np.searchsorted(index, events.start, side="left")
    stops = np.searchsorted(index, events.stop, side="right") - 1
    peaks = np.clip(np.searchsorted(index, events.peak, side="left"), starts, stops)
    lc = detection.prepared
    meta = _light_curve_meta(lc)
    meta.update(model_meta)
    meta["THRESH"] = float(detection_rules["threshold"])
    meta["RULES"] = _rules_label(rules_name)
    quiescent = _rotation_quiescent(detection) if starts.size else None
    with _labelled(label):
        return FlareTable.from_events(
            lc.time, lc.flux, starts, peaks, stops, events.score, events.max_score, meta=meta,
            quiescent=quiescent,
        )


def _rotation_quiescent(detection: _Detection) -> Any:
    """A fast rotator's rotation trend at the input rows, in flux units; None for other stars.

    Against a running median, which cannot follow such a star, amplitudes and equivalent
    durations of its flares are off by tens of per cent; other stars keep the default
    quiescent level of `~fcn4flare.characterize.measure_flares`.
    """
    flux = detection.prepared.flux
    values = np.asarray(getattr(flux, "value", flux), dtype=np.float64)
    grid = detection.grid.to_grid(values)
    finite = grid[np.isfinite(grid)]
    median = float(np.median(finite)) if finite.size else np.nan
    if not median > 0:
        return None
    try:
        noise = robust_noise(grid)
    except InputError:
        return None
    if not noise > 0:
        return None
    trend, period = trend_with_rotation(grid / median, noise)
    if not np.isfinite(period):
        return None
    level = _fill_by_interpolation(median * detection.grid.from_grid(trend))
    return level * flux.unit if isinstance(flux, u.Quantity) else level


# --------------------------------------------------------------------------- helpers


def _as_items(data: Any, flux: Any) -> tuple[list[tuple[Any, Any]], bool]:
    """``[(data, flux), ...]`` and whether the caller gave a list."""
    if flux is not None:
        return [(data, flux)], False
    if isinstance(data, (list, tuple)):
        for i, item in enumerate(data):
            if not (hasattr(item, "colnames") and hasattr(item, "meta")):
                raise InputError(
                    f"light curve {i} of the list is a {type(item).__name__}, not a light "
                    "curve or TimeSeries; for plain arrays call with times and flux=."
                )
        return [(item, None) for item in data], True
    return [(data, None)], False


def _resolve_model(model: Any, device: str | torch.device | None) -> FCN4FlareModel:
    if hasattr(model, "to_fcn4flare"):  # the transformers wrapper of fcn4flare.hf
        model = model.to_fcn4flare()
    if isinstance(model, torch.nn.Module) and not isinstance(model, FCN4FlareModel):
        raise InputError(
            f"model must be an FCN4FlareModel, a shipped model's name or a checkpoint path; "
            f"got a {type(model).__name__}."
        )
    if isinstance(model, FCN4FlareModel) and device is not None:
        if torch.device(device) != _device_of(model):
            raise InputError(
                f"the model lives on {_device_of(model)}, not on {torch.device(device)}; move "
                "it with model.to(device) or leave device unset."
            )
    return load_model(model, device=device)


def _device_of(model: FCN4FlareModel) -> torch.device:
    device = model.device
    if device.type != "cpu" and device.index is None:
        return torch.device(device.type, 0)
    return device


def _resolve_rules(rules: Any, threshold: float | None) -> dict[str, Any]:
    """Keyword arguments for `detect_events` from a preset name or a dict of overrides.

    A None ``threshold`` (the model's own, known once it is loaded) is left out.
    """
    if threshold is not None:
        try:
            threshold = float(threshold)
        except (TypeError, ValueError):
            raise InputError(
                f"threshold must be a number in [0, 1), got {threshold!r}."
            ) from None
        if not 0.0 <= threshold < 1.0:
            raise InputError(f"threshold must be in [0, 1), got {threshold}.")
    if rules is None:
        chosen: dict[str, Any] = dict(RULE_PRESETS["default"])
    elif isinstance(rules, str):
        if rules not in RULE_PRESETS:
            raise InputError(
                f"unknown rules {rules!r}; use one of {', '.join(map(repr, RULE_PRESETS))} or "
                "a dict of rule overrides."
            )
        chosen = dict(RULE_PRESETS[rules])
    elif isinstance(rules, Mapping):
        if "threshold" in rules:
            raise InputError("pass the probability threshold as threshold=, not in rules.")
        unknown = sorted(set(rules) - set(RULE_PRESETS["default"]))
        if unknown:
            raise InputError(
                f"unknown rule(s) {', '.join(map(repr, unknown))}; valid rules: "
                f"{', '.join(RULE_PRESETS['default'])}."
            )
        chosen = {**RULE_PRESETS["default"], **rules}
    else:
        raise InputError(
            f"rules must be None, a preset name or a dict, got {type(rules).__name__}."
        )
    if threshold is not None:
        chosen["threshold"] = threshold
    return chosen


def _rules_label(rules: Any) -> str:
    if rules is None:
        return "default"
    if isinstance(rules, str):
        return rules
    return ",".join(f"{key}={value}" for key, value in sorted(dict(rules).items()))


def _light_curve_meta(lc: PreparedLightCurve) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for key in ("target", "mission", "quarter", "campaign", "sector"):
        value = lc.meta.get(key)
        if value is not None and value != "":
            meta[key.upper()] = value
    if lc.cadence is not None and np.isfinite(lc.cadence.value):
        meta["CADENCE"] = lc.cadence
    if lc.meta.get("flux_column") is not None:
        meta["FLUXCOL"] = lc.meta["flux_column"]
    if lc.meta.get("quality_bitmask") is not None:
        meta["QUALMASK"] = int(lc.meta["quality_bitmask"])
    return meta


def _model_meta(spec: Any, model: FCN4FlareModel) -> dict[str, Any]:
    return {"MODEL": _model_label(spec), "MODELSUM": _checksum(model)}


def _model_label(spec: Any) -> str:
    if spec is None:
        return DEFAULT_MODEL
    if isinstance(spec, (str, os.PathLike)):
        return os.fspath(spec)
    return f"{type(spec).__name__} (in memory)"


def _checksum(model: FCN4FlareModel) -> str:
    """`FCN4FlareModel.checksum`, computed again only when a weight has changed in place."""
    signature = tuple(
        (t.data_ptr(), getattr(t, "_version", 0)) for t in model.state_dict().values()
    )
    cached = _CHECKSUMS.get(model)
    if cached is not None and cached[0] == signature:
        return cached[1]
    checksum = model.checksum()
    _CHECKSUMS[model] = (signature, checksum)
    return checksum


def _labels(n: int, many: bool) -> list[str]:
    return [f"light curve {i}" if many else "" for i in range(n)]


class _labelled:
    """Prefix the message of an `InputError` raised inside with which light curve it is."""

    def __init__(self, label: str):
        self.label = label

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, error: Any, traceback: Any) -> bool:
        if self.label and isinstance(error, InputError):
            raise InputError(f"{self.label}: {error}") from error
        return False
