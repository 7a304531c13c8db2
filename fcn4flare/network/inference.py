"""Run an `~fcn4flare.network.FCN4FlareModel` over light curves of any length.

Long light curves are cut into overlapping windows that carry ``model.config.context``
samples of context on both sides of the part they report, so the probabilities equal those of
one pass over the whole light curve while memory stays bounded by the window length.

An `~fcn4flare.network.FCN4FlareModel` runs as its `FoldedFCN4Flare`: the same network in
eval mode with each BatchNorm folded into the convolution before it, its convolutions run as
channels-last 2-D convolutions (what oneDNN runs fastest on the CPU), and windows of unequal
length batched together with the samples past each window's end held at zero, which is what
the convolutions' own zero padding does to a window alone.
"""

from __future__ import annotations

import dataclasses
import threading
import weakref
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from .._arrays import find_runs, missing_samples
from ..exceptions import InputError

__all__ = [
    "predict_probability",
    "fold_batchnorm",
    "FoldedFCN4Flare",
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_BATCH_SIZE",
]

#: Longest window (in samples, context included) handed to the network at once.
DEFAULT_CHUNK_SIZE = 16384

#: Windows per forward pass. One: on the CPU a window alone runs fastest (its activations
#: stay in the cache; eight windows of 4,096 or 15,263 samples in one pass ran at 0.76 and
#: 0.87 times the rate of one at a time, 2 threads), and a light curve's probabilities then
#: never depend on which other light curves it was run with (oneDNN rounds differently for
#: different batches).
DEFAULT_BATCH_SIZE = 1

#: Windows batched together (padded to the longest) are at most this much shorter than it.
_PADDING_TOLERANCE = 0.125


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
    fold: bool = True,
) -> list[np.ndarray]:
    """Flare probability of every sample of one or more light curves.

    Parameters
    ----------
    model : `~fcn4flare.network.FCN4FlareModel`
        The network, run as in eval mode under `torch.inference_mode`. An
        `~fcn4flare.network.FCN4FlareModel` runs as its `FoldedFCN4Flare` (folded once and
        kept until its weights change; the model is not touched); any other module with a
        ``config.context`` is put in eval mode and its training flag restored afterwards.
    fluxes : array-like or sequence of array-like
        One 1-D flux array, or several (a list, or the rows of a 2-D array), already scaled
        (`~fcn4flare.scaling.scale_flux`) and on a regular grid
        (`~fcn4flare.lightcurve.regular_grid`), NaN in gaps.
    chunk_size : int
        Longest window given to the network, context included; must exceed
        ``2 * model.config.context``. Light curves up to this length run in one window.
    batch_size : int
        Windows per forward pass (light curves up to ``chunk_size`` samples are one window
        each, so this many of them run in one pass).
    device : str or `torch.device`, optional
        Where to run; default the model's device. The model is not moved: pass the device
        it lives on, or move it first.
    fold : bool
        Run an `~fcn4flare.network.FCN4FlareModel` as its `FoldedFCN4Flare` (the default);
        False runs the model's own ``forward`` in eval mode, window lengths batched alike:
        the reference the folded network is checked against.

    Returns
    -------
    list of ndarray
        One float64 array per light curve, the same length as its input: sigmoid of the
        logit, NaN where the input was NaN.

    Notes
    -----
    A light curve longer than ``chunk_size`` is cut into the fewest windows of at most
    ``chunk_size`` samples that cover it, all of one length, whose reported cores overlap
    nowhere and whose context reaches ``model.config.context`` samples either side, so each
    probability depends on exactly the samples it depends on in a single pass. Padding a
    window with NaN would change the last ``context`` probabilities of a light curve (the
    network sees the padding), so an `~fcn4flare.network.FCN4FlareModel` batches windows of
    lengths within 12.5 % of each other by holding every layer's input at zero past each
    window's end, which is exactly what the convolutions' zero padding gives a window run
    alone; other modules are batched only with windows of the same length. The folded
    network's probabilities differ from the model's own float32 forward pass by rounding
    only (at most a few 1e-7 on the shipped model).

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
    channels = int(getattr(model.config, "input_dim", 1))
    curves = _as_curves(fluxes, channels)
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

    # The network sees nothing but NaN beyond `context` samples into a gap, so longer gaps
    # are shortened to `context` NaNs before it runs: the same probabilities, without the
    # cost of a grid that is mostly gaps (sparse or clumped sampling).
    kept = [_outside_long_gaps(curve, context) for curve in curves]
    short = [curve if keep is None else curve[keep] for curve, keep in zip(curves, kept,
                                                                             strict=True)]
    probabilities = [np.full(len(curve), np.nan) for curve in short]
    windows = [w for i, curve in enumerate(short)
               for w in _windows(i, len(curve), chunk_size, context)]
    folded = _folded_for(model, device) if fold else None
    if folded is not None:
        with torch.inference_mode():
            for batch in _padded_batches(windows, int(batch_size)):
                logits = folded(_batch_input(short, batch, dtype, device),
                                [w.length for w in batch])
                _store(probabilities, batch, logits[..., 0])
    else:
        was_training = model.training
        model.eval()
        try:
            with torch.inference_mode():
                for batch in _equal_length_batches(windows, int(batch_size)):
                    x = _batch_input(short, batch, dtype, device)
                    x = x.unsqueeze(-1) if x.dim() == 2 else x
                    _store(probabilities, batch, model(x)[..., 0])
        finally:
            model.train(was_training)
    results = []
    for curve, keep, probability in zip(curves, kept, probabilities, strict=True):
        if keep is not None:
            probability, shortened = np.full(len(curve), np.nan), probability
            probability[keep] = shortened
        probability[missing_samples(curve)] = np.nan
        results.append(probability)
    return results


def _batch_input(curves: Sequence[np.ndarray], batch: Sequence[_Window], dtype: torch.dtype,
                 device: torch.device) -> torch.Tensor:
    """The batch's windows as one [B, longest] tensor ([B, longest, C] for C channels),
    zero after each shorter window."""
    longest = max(w.length for w in batch)
    channels = curves[batch[0].curve].shape[1:]
    inputs = np.zeros((len(batch), longest, *channels),
                      dtype=torch.empty((), dtype=dtype).numpy().dtype)
    for row, window in zip(inputs, batch, strict=True):
        row[: window.length] = curves[window.curve][window.start : window.stop]
    return torch.from_numpy(inputs).to(device)


def _store(probabilities: list[np.ndarray], batch: Sequence[_Window],
           logits: torch.Tensor) -> None:
    """Write each window's core of ``sigmoid(logits)`` (in float64) into its light curve."""
    probability = torch.sigmoid(logits.to(torch.float64)).cpu().numpy()
    for row, window in zip(probability, batch, strict=True):
        core = slice(window.core_start - window.start, window.core_stop - window.start)
        probabilities[window.curve][window.core_start : window.core_stop] = row[core]


def _outside_long_gaps(curve: np.ndarray, context: int) -> np.ndarray | None:
    """Indices of ``curve`` without the part of each NaN run beyond its first ``context``.

    None when there is nothing to drop (the curve is used as it is, not copied).
    """
    missing = missing_samples(curve)
    if missing.sum() <= context:
        return None
    starts, stops = find_runs(missing)
    long = stops + 1 - starts > context
    if not long.any():
        return None
    drop = np.zeros(len(curve), dtype=bool)
    for start, stop in zip(starts[long] + context, stops[long] + 1, strict=True):
        drop[start:stop] = True
    return np.flatnonzero(~drop)


def _as_curves(fluxes: Any, channels: int = 1) -> list[np.ndarray]:
    if isinstance(fluxes, torch.Tensor):
        fluxes = fluxes.detach().cpu().numpy()
    if isinstance(fluxes, np.ndarray):
        one = 1 if channels == 1 else 2  # dimensions of one light curve
        if fluxes.ndim > one + 1 or fluxes.ndim < one:
            shape = "1-D" if channels == 1 else f"(samples, {channels}) "
            raise InputError(
                f"predict_probability: fluxes must be a {shape}array, an array of such rows "
                f"or a list of them, got shape {fluxes.shape}."
            )
        fluxes = list(fluxes) if fluxes.ndim == one + 1 else [fluxes]
    elif not isinstance(fluxes, Sequence) or isinstance(fluxes, str):
        raise InputError(
            "predict_probability: fluxes must be a 1-D array or a list of 1-D arrays, got "
            f"{type(fluxes).__name__}."
        )
    elif len(fluxes) and np.ndim(fluxes[0]) == 0:
        fluxes = [fluxes]
    return [_as_curve(flux, i, channels) for i, flux in enumerate(fluxes)]


def _as_curve(flux: Any, i: int, channels: int = 1) -> np.ndarray:
    try:
        curve = np.asarray(getattr(flux, "value", flux), dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"predict_probability: flux {i} is not numeric.") from None
    if channels == 1 and curve.ndim != 1:
        raise InputError(
            f"predict_probability: flux {i} must be one-dimensional, got shape {curve.shape}."
        )
    if channels > 1 and (curve.ndim != 2 or curve.shape[1] != channels):
        raise InputError(
            f"predict_probability: the model takes {channels} input channels, so flux {i} "
            f"must have shape (samples, {channels}), got {curve.shape}."
        )
    infinite = np.flatnonzero(np.isinf(curve))
    if infinite.size:
        raise InputError(
            f"predict_probability: flux {i} holds {infinite.size} infinite value(s) (first at "
            f"index {infinite[0]}); use NaN for missing values."
        )
    return curve


def _windows(curve: int, length: int, chunk_size: int, context: int) -> Iterator[_Window]:
    """Windows of at most ``chunk_size`` samples whose cores tile ``[0, length)``.

    A light curve longer than ``chunk_size`` is cut into the fewest windows that fit, all of
    the same length (as short as that number allows, so that the context the windows share
    costs as little as possible): the first reports all but its last ``context`` samples,
    the last all but its first ``context``, the others all but ``context`` at each end.
    """
    if length <= chunk_size:
        if length:
            yield _Window(curve, 0, length, 0, length)
        return
    count = -(-(length - 2 * context) // (chunk_size - 2 * context))
    size = -(-(length - 2 * context) // count) + 2 * context
    step = size - 2 * context
    core_start = 0
    for k in range(count):
        start = length - size if k == count - 1 else k * step
        core_stop = length if k == count - 1 else start + size - context
        yield _Window(curve, start, start + size, core_start, core_stop)
        core_start = core_stop


def _equal_length_batches(windows: Sequence[_Window], batch_size: int
                          ) -> Iterator[list[_Window]]:
    """Up to ``batch_size`` windows of exactly one length per batch (no padding)."""
    by_length: dict[int, list[_Window]] = defaultdict(list)
    for window in windows:
        by_length[window.length].append(window)
    for same in by_length.values():
        for first in range(0, len(same), batch_size):
            yield same[first : first + batch_size]


def _padded_batches(windows: Sequence[_Window], batch_size: int) -> Iterator[list[_Window]]:
    """Up to ``batch_size`` windows per batch, of lengths within `_PADDING_TOLERANCE`.

    Windows are taken longest first, so a batch is padded to its first window's length and
    no batch wastes more than that fraction of its samples on padding.
    """
    batch: list[_Window] = []
    for window in sorted(windows, key=lambda w: -w.length):
        if batch and (len(batch) == batch_size
                      or window.length < (1 - _PADDING_TOLERANCE) * batch[0].length):
            yield batch
            batch = []
        batch.append(window)
    if batch:
        yield batch


# --------------------------------------------------------------------------- folded network


class FoldedFCN4Flare(torch.nn.Module):
    """An `~fcn4flare.network.FCN4FlareModel` for inference: BatchNorm folded, channels last.

    Made by `fold_batchnorm` (or ``model.for_inference()``); `predict_probability` runs
    every `~fcn4flare.network.FCN4FlareModel` this way. It computes what the model computes
    in eval mode: each convolution followed by BatchNorm becomes one convolution whose weight
    and bias absorb the BatchNorm's running statistics and affine parameters (folded in
    float64, then rounded to the model's dtype), dropout is left out, and the convolutions
    run as 2-D convolutions on a ``[B, C, 1, T]`` tensor in channels-last memory, the layout
    oneDNN is fastest with on the CPU. It holds copies of the weights: training the model
    afterwards does not change it (`predict_probability` folds again when the weights
    change). It has no ``state_dict`` format of its own and is never saved; save the model.

    Parameters
    ----------
    model : `~fcn4flare.network.FCN4FlareModel`
        The network; it is not changed.
    device : str or `torch.device`, optional
        Where the folded weights live; default the model's device.
    fuse : bool, optional
        Run each convolution and its GELU as one oneDNN operation on weights packed once into
        oneDNN's layout (float32 on the CPU; oneDNN's GELU differs from PyTorch's by 1e-7).
        Default: where it runs and agrees with the unfused path.

    Examples
    --------
    >>> import torch
    >>> from fcn4flare.network import FCN4FlareConfig, FCN4FlareModel, fold_batchnorm
    >>> _ = torch.manual_seed(0)
    >>> model = FCN4FlareModel(FCN4FlareConfig(hidden_dim=8, depth=2, dilation=[1, 2])).eval()
    >>> flux = torch.randn(3, 100)
    >>> folded = fold_batchnorm(model)
    >>> with torch.no_grad():
    ...     bool(torch.allclose(folded(flux), model(flux), atol=1e-5))
    True
    """

    def __init__(self, model: torch.nn.Module, device: str | torch.device | None = None, *,
                 fuse: bool | None = None):
        super().__init__()
        config = model.config
        if int(config.output_dim) < 1:
            raise InputError("fold_batchnorm: the model has no output channel.")
        self.config = config
        device = torch.device(device) if device is not None else _model_device(model)
        dtype = _model_dtype(model)
        with torch.no_grad():
            mapping = model.encoder.mapping
            # [input_dim + 1, C]: the flux rows and the NaN-mask row of the 1x1 mapping.
            self.mapping_weight = mapping.weight[:, :, 0].t().to(device, dtype).contiguous()
            self.mapping_bias = mapping.bias.to(device, dtype).clone()
            units = [unit for block in model.encoder.backbone.net
                     for unit in (block.conv1, block.conv2)]
            self.layers = [_fold(unit, device, dtype) for unit in units]
            self.head = _fold(model.seghead.conv, device, dtype)
            projector = model.seghead.projector
            self.projector_weight = projector.weight[:, :, 0].t().to(device, dtype).contiguous()
            self.projector_bias = projector.bias.to(device, dtype).clone()
            self.fused = _can_fuse(device, dtype) if fuse is None else bool(fuse)
            self._kernels = [_packed(layer) if self.fused else layer
                             for layer in [*self.layers, self.head]]

    @property
    def device(self) -> torch.device:
        """Where the folded weights live."""
        return self.mapping_weight.device

    @property
    def dtype(self) -> torch.dtype:
        """The folded weights' dtype (the model's)."""
        return self.mapping_weight.dtype

    def forward(self, flux: torch.Tensor, lengths: Sequence[int] | None = None
                ) -> torch.Tensor:
        """Logits [B, T, output_dim], as the model's ``forward`` returns them.

        Parameters
        ----------
        flux : torch.Tensor
            [B, T, input_dim] scaled flux ([B, T] for one channel), NaN where missing.
        lengths : sequence of int, optional
            Samples of each row that are real; the rest is padding, treated as outside the
            light curve (as if each row were run alone at its own length). Default: all.
        """
        if flux.dim() == 2:
            flux = flux.unsqueeze(-1)
        batch, length, channels = flux.shape
        pads = [] if lengths is None else [(row, int(n)) for row, n in enumerate(lengths)
                                           if int(n) < length]
        missing = torch.isnan(flux).any(dim=-1, keepdim=True)
        features = torch.cat([torch.where(missing, 0.0, flux), missing.to(flux.dtype)], -1)
        # [B*T, C] rows are the channels-last layout of a [B, C, 1, T] tensor.
        hidden = torch.addmm(self.mapping_bias, features.view(-1, channels + 1),
                             self.mapping_weight)
        hidden = hidden.view(batch, 1, length, -1).permute(0, 3, 1, 2)
        _zero_padding(hidden, pads)
        conv_gelu = _fused_conv_gelu if self.fused else _conv_gelu
        *blocks, head = self._kernels
        for first, second in zip(blocks[0::2], blocks[1::2], strict=True):
            inner = _zero_padding(conv_gelu(hidden, *first), pads)
            hidden = _zero_padding(conv_gelu(inner, *second), pads).add_(hidden)
        hidden = conv_gelu(hidden, *head)
        rows = hidden.permute(0, 2, 3, 1).reshape(batch * length, -1)
        logits = torch.addmm(self.projector_bias, rows, self.projector_weight)
        return logits.view(batch, length, -1)


def fold_batchnorm(model: torch.nn.Module, device: str | torch.device | None = None, *,
                   fuse: bool | None = None) -> FoldedFCN4Flare:
    """An inference-only copy of ``model`` with BatchNorm folded into its convolutions.

    See `FoldedFCN4Flare` (``fuse`` too). The model itself, its training flag and its
    ``state_dict`` are not changed.

    Examples
    --------
    >>> from fcn4flare.network import FCN4FlareConfig, FCN4FlareModel, fold_batchnorm
    >>> folded = fold_batchnorm(FCN4FlareModel(FCN4FlareConfig(hidden_dim=8, depth=2,
    ...                                                        dilation=[1, 2])))
    >>> len(folded.layers), folded.dtype
    (4, torch.float32)
    """
    return FoldedFCN4Flare(model, device)


def _fold(unit: torch.nn.Module, device: torch.device, dtype: torch.dtype) -> tuple:
    """(weight [C, C, 1, k] channels last, bias, padding, dilation) of conv + BatchNorm."""
    conv, norm = unit.conv, unit.batchnorm
    if getattr(unit, "drop_last", False):
        raise InputError("fold_batchnorm: convolutions with an even receptive field are not "
                         "folded.")
    scale = norm.weight.double() / torch.sqrt(norm.running_var.double() + norm.eps)
    bias = conv.bias.double() if conv.bias is not None else torch.zeros_like(scale)
    weight = conv.weight.double() * scale[:, None, None]
    bias = (bias - norm.running_mean.double()) * scale + norm.bias.double()
    weight = weight.to(device, dtype)[:, :, None, :].contiguous(
        memory_format=torch.channels_last)
    return weight, bias.to(device, dtype), int(conv.padding[0]), int(conv.dilation[0])


def _conv_gelu(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, padding: int,
               dilation: int) -> torch.Tensor:
    return F.gelu(F.conv2d(x, weight, bias, padding=(0, padding), dilation=(1, dilation)))


def _fused_conv_gelu(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, padding: int,
                     dilation: int) -> torch.Tensor:
    """oneDNN's convolution with the exact (erf) GELU as its post-op, on packed weights."""
    return torch.ops.mkldnn._convolution_pointwise(
        x, weight, bias, [0, padding], [1, 1], [1, dilation], 1, "gelu", [], "none")


def _packed(layer: tuple) -> tuple:
    """A folded layer with its weight reordered once into oneDNN's own blocked layout."""
    weight, bias, padding, dilation = layer
    packed = torch._C._nn.mkldnn_reorder_conv2d_weight(
        weight.to_mkldnn(), [0, padding], [1, 1], [1, dilation], 1,
        [1, weight.shape[1], 1, DEFAULT_CHUNK_SIZE])
    return packed, bias, padding, dilation


def _can_fuse(device: torch.device, dtype: torch.dtype) -> bool:
    """Whether oneDNN's fused convolution + GELU runs here, and agrees with the plain one.

    PyTorch's CPU build ships it (it is what ``torch.compile`` fuses convolutions into) but
    as an internal operator: it is checked once per process against
    `torch.nn.functional.conv2d` + `~torch.nn.functional.gelu` on a small random input, and
    left out if it is missing or disagrees.
    """
    if device.type != "cpu" or dtype != torch.float32 or not torch.backends.mkldnn.enabled \
            or not torch.backends.mkldnn.is_available():
        return False
    global _FUSION_WORKS
    if _FUSION_WORKS is None:
        try:
            generator = torch.Generator().manual_seed(0)
            x = torch.randn(1, 8, 1, 50, generator=generator).contiguous(
                memory_format=torch.channels_last)
            layer = (torch.randn(8, 8, 1, 3, generator=generator).contiguous(
                memory_format=torch.channels_last), torch.randn(8, generator=generator), 2, 2)
            with torch.no_grad():
                fused = _fused_conv_gelu(x, *_packed(layer))
                _FUSION_WORKS = bool(torch.allclose(fused, _conv_gelu(x, *layer), atol=1e-4))
        except (RuntimeError, AttributeError, NotImplementedError):
            _FUSION_WORKS = False
    return _FUSION_WORKS


_FUSION_WORKS: bool | None = None


def _zero_padding(x: torch.Tensor, pads: Sequence[tuple[int, int]]) -> torch.Tensor:
    """Zero ``x`` [B, C, 1, T] at and after sample ``n`` of each row in ``pads`` (in place)."""
    for row, n in pads:
        x[row, :, :, n:] = 0
    return x


_FOLDED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_FOLDED_LOCK = threading.Lock()


def _folded_for(model: torch.nn.Module, device: torch.device) -> FoldedFCN4Flare | None:
    """The model's `FoldedFCN4Flare` on ``device``, folded again when its weights changed.

    None for anything but an `~fcn4flare.network.FCN4FlareModel` that can be folded (any
    other module, or a model whose ``forward`` was replaced, runs as it is).
    """
    from .model import FCN4FlareModel

    if not isinstance(model, FCN4FlareModel) or "forward" in model.__dict__ \
            or any(getattr(m, "drop_last", False) for m in model.modules()):
        return None
    # Tensor identities and in-place versions: an optimiser step or a load changes them.
    signature = (str(device), tuple((t.data_ptr(), t._version)
                                    for t in model.state_dict(keep_vars=True).values()))
    with _FOLDED_LOCK:
        kept = _FOLDED.get(model, {}).get(str(device))
    if kept is not None and kept[0] == signature:
        return kept[1]
    folded = FoldedFCN4Flare(model, device)
    with _FOLDED_LOCK:
        _FOLDED.setdefault(model, {})[str(device)] = (signature, folded)
    return folded


def _model_device(model: torch.nn.Module) -> torch.device:
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def _model_dtype(model: torch.nn.Module) -> torch.dtype:
    parameter = next(model.parameters(), None)
    return parameter.dtype if parameter is not None else torch.float32
