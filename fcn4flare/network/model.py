"""The FCN4Flare network, its configuration, the Mask Dice loss and checkpoint I/O.

The network follows Jia, Luo & Qiu (2024) exactly, so that the authors' published checkpoints
load into `FCN4FlareModel` with ``strict=True`` and give the same logits.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import numbers
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..exceptions import CheckpointError, FCN4FlareWarning

if TYPE_CHECKING:
    from .inference import FoldedFCN4Flare

__all__ = [
    "FCN4FlareConfig",
    "FCN4FlareModel",
    "FCN4FlareOutput",
    "mask_dice_loss",
    "widen_input",
    "CONFIG_NAME",
    "SAFETENSORS_NAME",
    "PYTORCH_NAME",
]

CONFIG_NAME = "config.json"
SAFETENSORS_NAME = "model.safetensors"
PYTORCH_NAME = "pytorch_model.bin"

PUBLISHED_DILATION = (1, 1, 1, 2, 2, 4, 8, 16, 32, 64)


@dataclasses.dataclass
class FCN4FlareConfig:
    """Hyper-parameters of an `FCN4FlareModel`; the defaults are the published ones.

    Parameters
    ----------
    input_dim : int
        Flux channels per time step: the number its ``input_scaling`` gives
        (`~fcn4flare.scaling.scaling_channels`).
    hidden_dim : int
        Channels inside the network.
    output_dim : int
        Logits per time step.
    depth : int
        Number of residual blocks; ``len(dilation)`` must equal it.
    dilation : list of int
        Dilation of each residual block.
    kernel_size : int
        Convolution kernel size of the residual blocks; odd, so that each output depends on
        `context` samples either side (what windowed inference relies on).
    maskdice_threshold : float
        Probabilities at or below this contribute nothing to the Mask Dice loss.
    dropout_rate : float
        Dropout before the segmentation head (identity in eval mode).
    input_scaling : str
        How flux is scaled before it enters the network: ``"median"`` (flux divided by its
        NaN-median, what the published checkpoints expect), ``"median_noise"``
        ((flux / median - 1) divided by the robust point-to-point noise),
        ``"median_noise_asinh"`` (the same, compressed above 5 noise units by an asinh: what
        this project's model is trained with), ``"running_median_noise_asinh"`` (the same
        after subtracting a running median of the star's flux), ``"trend_noise_asinh"``
        (after subtracting `~fcn4flare.trend.stellar_trend`),
        ``"rotation_trend_noise_asinh"`` (the same, with fast rotators detrended by
        `~fcn4flare.trend.rotation_trend`: what the shipped model uses for detection),
        ``"adaptive_trend_noise_asinh"`` (after subtracting
        `~fcn4flare.trend.adaptive_trend`, divided by the white noise from second
        differences), ``"rotation_adaptive_trend_noise_asinh"`` (the rotation scaling,
        with the adaptive one where neither the stellar nor the rotation trend follows the
        star) or ``"rotation_adaptive_and_flux_asinh"`` (two channels: that residual and
        the median-normalised flux; ``input_dim=2``).
        See `~fcn4flare.scaling.SCALING_METHODS`.
        Checkpoints without this key are published ones, hence ``"median"``.
    detection_threshold : float
        Probability threshold that detections with this model use unless told otherwise
        (`~fcn4flare.detect_flares`, ``lc.flares.detect()``), in [0, 1). Chosen for
        each model by the post-processing sweep of ``fcn4flare evaluate``;
        checkpoints without this key are published ones, hence 0.5 (the release's value).
    extra : dict
        Keys of a ``config.json`` this class does not use, kept so that a save round-trips.

    Examples
    --------
    >>> from fcn4flare import FCN4FlareConfig
    >>> cfg = FCN4FlareConfig()
    >>> cfg.hidden_dim, cfg.depth, cfg.receptive_field
    (128, 10, 527)
    """

    input_dim: int = 1
    hidden_dim: int = 128
    output_dim: int = 1
    depth: int = 10
    dilation: list[int] = dataclasses.field(default_factory=lambda: list(PUBLISHED_DILATION))
    kernel_size: int = 3
    maskdice_threshold: float = 0.5
    dropout_rate: float = 0.1
    input_scaling: str = "median"
    detection_threshold: float = 0.5
    extra: dict[str, Any] = dataclasses.field(default_factory=dict, repr=False)

    model_type = "fcn4flare"
    architectures = ("FCN4FlareModel",)

    def __post_init__(self) -> None:
        self.validate()
        # Plain Python numbers from here on (numpy scalars are accepted above), so that
        # to_dict() is JSON-ready and a save round-trips.
        for name in _POSITIVE_INT_FIELDS:
            setattr(self, name, int(getattr(self, name)))
        for name in _UNIT_INTERVAL_FIELDS:
            setattr(self, name, float(getattr(self, name)))
        self.dilation = [int(d) for d in self.dilation]

    def validate(self, source: str = "FCN4FlareConfig") -> None:
        """Check every field's type and range; run on construction and before building a model.

        Parameters
        ----------
        source : str
            Named at the start of the message (the ``config.json`` it came from, say).

        Raises
        ------
        CheckpointError
            The first invalid field, named with the value found and what it must be.

        Examples
        --------
        >>> from fcn4flare import FCN4FlareConfig
        >>> cfg = FCN4FlareConfig(hidden_dim=8, depth=2, dilation=[1, 2])
        >>> cfg.hidden_dim = 8.5
        >>> cfg.validate()  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        fcn4flare.exceptions.CheckpointError: ...: hidden_dim must be an integer >= 1, got 8.5 ...
        """
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        problem = _config_problem(values)
        if problem is not None:
            raise CheckpointError(f"{source}: {problem}.")

    @property
    def receptive_field(self) -> int:
        """Number of input samples that one output logit depends on."""
        per_block = 2 * sum((self.kernel_size - 1) * d for d in self.dilation)
        return 1 + per_block + (self.kernel_size - 1)

    @property
    def context(self) -> int:
        """Samples of context needed on each side for an exact result (half the field)."""
        return self.receptive_field // 2

    def to_dict(self) -> dict[str, Any]:
        """Return the ``config.json`` content, in the published layout.

        Examples
        --------
        >>> from fcn4flare import FCN4FlareConfig
        >>> FCN4FlareConfig().to_dict()["model_type"]
        'fcn4flare'
        """
        out = dict(self.extra)
        out.update(
            {
                f.name: getattr(self, f.name)
                for f in dataclasses.fields(self)
                if f.name != "extra"
            }
        )
        out["dilation"] = list(self.dilation)
        out["model_type"] = self.model_type
        out["architectures"] = list(self.architectures)
        return out

    @classmethod
    def from_dict(cls, config: Mapping[str, Any], source: str = "config") -> FCN4FlareConfig:
        """Build a config from a ``config.json`` mapping; unknown keys are kept in ``extra``.

        Parameters
        ----------
        config : mapping
            The parsed JSON.
        source : str
            Where it came from, for error messages.

        Examples
        --------
        >>> from fcn4flare import FCN4FlareConfig
        >>> cfg = FCN4FlareConfig.from_dict({"model_type": "fcn4flare", "hidden_dim": 64,
        ...                                  "torch_dtype": "float32"})
        >>> cfg.hidden_dim, cfg.input_scaling, cfg.extra
        (64, 'median', {'torch_dtype': 'float32'})
        """
        if not isinstance(config, Mapping):
            raise CheckpointError(
                f"{source}: expected a JSON object (a mapping), got a {type(config).__name__}."
            )
        model_type = config.get("model_type", cls.model_type)
        if model_type != cls.model_type:
            raise CheckpointError(
                f"{source}: model_type is {model_type!r}, not {cls.model_type!r}; "
                "this is not an FCN4Flare checkpoint."
            )
        names = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        known = {k: v for k, v in config.items() if k in names}
        ignored = {"model_type", "architectures"}
        extra = {k: v for k, v in config.items() if k not in names and k not in ignored}
        # The same check as __post_init__, run here so that the message names the source.
        defaults = {
            f.name: f.default if f.default is not dataclasses.MISSING else f.default_factory()
            for f in dataclasses.fields(cls)
        }
        problem = _config_problem({**defaults, **known, "extra": extra})
        if problem is not None:
            raise CheckpointError(f"{source}: {problem}.")
        built = cls(**known, extra=extra)
        _warn_if_not_trained_scaling(built, source)
        return built

    @property
    def trained_input_scaling(self) -> str | None:
        """The input scaling the weights were trained with, from the ``training`` record.

        `~fcn4flare.training.train` records it in ``config.json`` (``"training":
        {"input_scaling": ...}``); None for checkpoints without that record (the published
        ones, and models saved before it was kept).

        Examples
        --------
        >>> from fcn4flare import FCN4FlareConfig
        >>> FCN4FlareConfig(extra={"training": {"input_scaling": "median"}}).trained_input_scaling
        'median'
        >>> FCN4FlareConfig().trained_input_scaling is None
        True
        """
        training = self.extra.get("training")
        if isinstance(training, Mapping):
            scaling = training.get("input_scaling")
            return None if scaling is None else str(scaling)
        return None



#: Fields that must be integers >= 1, and fields that must be numbers in [0, 1).
_POSITIVE_INT_FIELDS = ("input_dim", "hidden_dim", "output_dim", "depth", "kernel_size")
_UNIT_INTERVAL_FIELDS = ("maskdice_threshold", "dropout_rate", "detection_threshold")


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _shown(value: Any, expected: str) -> str:
    """``repr(value)``, with its type when that is not the ``expected`` kind of value."""
    ok = _is_int(value) if expected == "int" else _is_real(value)
    return repr(value) if ok else f"{value!r} (a {type(value).__name__})"


def _config_problem(values: Mapping[str, Any]) -> str | None:
    """The first invalid field of an FCN4FlareConfig's values, as a sentence; None if none.

    The one validation of a configuration: `FCN4FlareConfig.validate` (run by
    ``__post_init__`` and by `FCN4FlareModel`), ``from_dict`` and the Lightning reader use it.
    """
    for name in _POSITIVE_INT_FIELDS:
        value = values[name]
        if not _is_int(value) or value < 1:
            return f"{name} must be an integer >= 1, got {_shown(value, 'int')}"
    if values["kernel_size"] % 2 == 0:
        return (f"kernel_size must be odd, got {values['kernel_size']}: an even kernel makes "
                "the receptive field lopsided, and windowed inference (config.context) inexact")
    dilation = values["dilation"]
    if isinstance(dilation, (str, bytes)) or not isinstance(dilation, (Sequence, np.ndarray)):
        return f"dilation must be a list of integers >= 1, got {_shown(dilation, 'list')}"
    for i, d in enumerate(dilation):
        if not _is_int(d) or d < 1:
            return (f"dilation[{i}] must be an integer >= 1, got {_shown(d, 'int')} "
                    f"(dilation={list(dilation)!r})")
    if len(dilation) != values["depth"]:
        return (f"depth={values['depth']} but {len(dilation)} dilations given "
                f"({[int(d) for d in dilation]}); they must match")
    for name in _UNIT_INTERVAL_FIELDS:
        value = values[name]
        if not _is_real(value) or not 0.0 <= value < 1.0:
            return f"{name} must be in [0, 1), got {_shown(value, 'float')}"
    from ..scaling import SCALING_METHODS, scaling_channels

    scaling = values["input_scaling"]
    if not isinstance(scaling, str) or scaling not in SCALING_METHODS:
        return f"unknown input_scaling {scaling!r}; valid: {', '.join(SCALING_METHODS)}"
    channels = scaling_channels(scaling)
    if values["input_dim"] != channels:
        return (f"input_scaling {scaling!r} gives {channels} input channel(s) but "
                f"input_dim={values['input_dim']}; they must match")
    if not isinstance(values.get("extra", {}), Mapping):
        return f"extra must be a mapping, got {_shown(values['extra'], 'dict')}"
    return None


def _warn_if_not_trained_scaling(config: FCN4FlareConfig, source: str) -> None:
    """Warn when a config's ``input_scaling`` is not the one its weights were trained with."""
    trained = config.trained_input_scaling
    if trained is not None and trained != config.input_scaling:
        warnings.warn(
            f"{source}: input_scaling is {config.input_scaling!r} but the model was trained "
            f"with {trained!r} (its training record): the model will see flux scaled "
            f"otherwise than in training. Retrain or fine-tune it with "
            f"{config.input_scaling!r}, or set input_scaling back to {trained!r}.",
            FCN4FlareWarning,
            stacklevel=3,
        )


@dataclasses.dataclass
class FCN4FlareOutput:
    """Result of a forward pass with labels: the loss and the logits [B, T, output_dim]."""

    loss: torch.Tensor
    logits: torch.Tensor


def widen_input(model: FCN4FlareModel, input_scaling: str) -> FCN4FlareModel:
    """A copy of ``model`` that takes the more input channels of ``input_scaling``.

    The copy's config has ``input_scaling`` and the ``input_dim`` it gives
    (`fcn4flare.scaling.scaling_channels`); the first ``model.config.input_dim`` channels
    and the missing-sample mask keep their weights in the first 1x1 convolution and every
    new channel starts with weight zero, so until it is trained the copy computes exactly
    what ``model`` computes, whatever the new channels hold. Fine-tuning it from there (the
    ``init_from`` of `fcn4flare.training`) lets the network learn to use them. The copy's
    training record is dropped (it has not been trained with that input).

    Parameters
    ----------
    model : FCN4FlareModel
        The model; it is not changed.
    input_scaling : str
        A method of `fcn4flare.scaling.SCALING_METHODS` with at least as many channels.

    Returns
    -------
    FCN4FlareModel
        The widened copy, in eval mode.

    Raises
    ------
    CheckpointError
        ``input_scaling`` has fewer channels than the model takes.

    Examples
    --------
    >>> import torch
    >>> from fcn4flare import FCN4FlareConfig, FCN4FlareModel
    >>> from fcn4flare.network import widen_input
    >>> _ = torch.manual_seed(0)
    >>> model = FCN4FlareModel(FCN4FlareConfig(hidden_dim=8, depth=2, dilation=[1, 2])).eval()
    >>> wide = widen_input(model, "rotation_adaptive_and_flux_asinh")
    >>> x = torch.randn(1, 50, 2)
    >>> wide.config.input_dim, bool(torch.allclose(wide(x), model(x[..., :1])))
    (2, True)
    """
    from ..scaling import scaling_channels

    old, new = int(model.config.input_dim), scaling_channels(input_scaling)
    if new < old:
        raise CheckpointError(
            f"widen_input: {input_scaling!r} gives {new} input channel(s), fewer than the "
            f"model's {old}."
        )
    extra = {k: v for k, v in dict(model.config.extra).items() if k != "training"}
    config = dataclasses.replace(model.config, input_dim=new, input_scaling=input_scaling,
                                 extra=extra)
    with torch.random.fork_rng(devices=[]):  # its initial weights are all replaced
        wide = FCN4FlareModel(config)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    weight = state["encoder.mapping.weight"]  # [hidden, old + 1, 1]: channels, then the mask
    widened = torch.zeros(weight.shape[0], new + 1, weight.shape[2], dtype=weight.dtype)
    widened[:, :old] = weight[:, :old]
    widened[:, new] = weight[:, old]
    state["encoder.mapping.weight"] = widened
    wide.load_state_dict(state)
    return wide.eval()


def mask_dice_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    sequence_mask: torch.Tensor | None = None,
    threshold: float = 0.5,
) -> torch.Tensor:
    """Mask Dice loss of the FCN4Flare paper.

    Parameters
    ----------
    logits : torch.Tensor
        [B, T] or [B, T, 1] logits.
    labels : torch.Tensor
        [B, T] targets in {0, 1}; NaN or -100 where padded.
    sequence_mask : torch.Tensor, optional
        [B, T], 1 for real samples and 0 for padding.
    threshold : float
        Probabilities at or below it contribute nothing (``p' = p * (p > threshold)``).

    Returns
    -------
    torch.Tensor
        ``1 - mean_b(dice_b)``, a scalar.

    Examples
    --------
    >>> import torch
    >>> from fcn4flare.network import mask_dice_loss
    >>> labels = torch.tensor([[0., 1., 1., 0.]])
    >>> float(mask_dice_loss(torch.tensor([[-9., 9., 9., -9.]]), labels))  # doctest: +FLOAT_CMP
    6.170e-05
    """
    p = torch.sigmoid(logits)
    if p.dim() == 3:
        p = p.squeeze(-1)
    y = labels.to(p.dtype)
    if y.dim() == 3:
        y = y.squeeze(-1)
    y = torch.where(y == -100, torch.zeros_like(y), y)
    if sequence_mask is not None:
        m = sequence_mask.to(p.dtype)
        y = torch.nan_to_num(y, nan=0.0) * m
        p = p * m
    else:
        y = torch.nan_to_num(y, nan=0.0)
    p = p * (p > threshold)
    batch = p.shape[0]
    dice = (2 * (p * y).sum(dim=1) + 1e-8) / (p.sum(dim=1) + y.sum(dim=1) + 1e-8 * batch)
    return 1 - dice.mean()


class _SamePadConv(nn.Module):
    """Conv1d + BatchNorm1d + exact GELU with 'same' padding (the spec's conv unit)."""

    def __init__(self, channels_in: int, channels_out: int, kernel_size: int, dilation: int):
        super().__init__()
        receptive_field = (kernel_size - 1) * dilation + 1
        self.drop_last = receptive_field % 2 == 0
        self.conv = nn.Conv1d(
            channels_in,
            channels_out,
            kernel_size,
            dilation=dilation,
            padding=receptive_field // 2,
        )
        self.batchnorm = nn.BatchNorm1d(channels_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        if self.drop_last:
            out = out[:, :, :-1]
        return F.gelu(self.batchnorm(out))


class _ResidualBlock(nn.Module):
    def __init__(self, channels: int, kernel_size: int, dilation: int):
        super().__init__()
        self.conv1 = _SamePadConv(channels, channels, kernel_size, dilation)
        self.conv2 = _SamePadConv(channels, channels, kernel_size, dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.conv1(x)) + x


class _Backbone(nn.Module):
    def __init__(self, channels: int, kernel_size: int, dilations: Sequence[int]):
        super().__init__()
        self.net = nn.Sequential(*[_ResidualBlock(channels, kernel_size, d) for d in dilations])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class _Encoder(nn.Module):
    def __init__(self, config: FCN4FlareConfig):
        super().__init__()
        self.mapping = nn.Conv1d(config.input_dim + 1, config.hidden_dim, 1)
        self.backbone = _Backbone(config.hidden_dim, config.kernel_size, config.dilation)
        self.repr_dropout = nn.Dropout(config.dropout_rate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.repr_dropout(self.backbone(self.mapping(x)))


class _SegmentationHead(nn.Module):
    def __init__(self, config: FCN4FlareConfig):
        super().__init__()
        self.conv = _SamePadConv(config.hidden_dim, config.hidden_dim, 3, 1)
        self.projector = nn.Conv1d(config.hidden_dim, config.output_dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.projector(self.conv(x))


class FCN4FlareModel(nn.Module):
    """The FCN4Flare fully convolutional network (Jia, Luo & Qiu 2024).

    ``model(input_features, sequence_mask)`` maps flux [B, T, input_dim] (NaN where missing)
    to one logit per sample, [B, T, output_dim]; ``torch.sigmoid`` gives the flare
    probability. With ``labels`` the call returns an `FCN4FlareOutput` holding the Mask Dice
    loss as well.

    Parameters
    ----------
    config : FCN4FlareConfig, optional
        Hyper-parameters; the published defaults when omitted.

    Examples
    --------
    >>> import torch
    >>> from fcn4flare import FCN4FlareConfig, FCN4FlareModel
    >>> torch.manual_seed(0)  # doctest: +IGNORE_OUTPUT
    >>> model = FCN4FlareModel(FCN4FlareConfig(hidden_dim=8, depth=2, dilation=[1, 2])).eval()
    >>> flux = torch.tensor([[1.0, 1.1, float("nan"), 1.0, 1.4]]).unsqueeze(-1)
    >>> model(flux).shape
    torch.Size([1, 5, 1])
    """

    def __init__(self, config: FCN4FlareConfig | None = None):
        super().__init__()
        self.config = config if config is not None else FCN4FlareConfig()
        self.config.validate()
        self.encoder = _Encoder(self.config)
        self.seghead = _SegmentationHead(self.config)
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv1d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm1d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    @property
    def device(self) -> torch.device:
        """The device the parameters live on."""
        return next(self.parameters()).device

    def forward(
        self,
        input_features: torch.Tensor,
        sequence_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
    ) -> torch.Tensor | FCN4FlareOutput:
        """Return logits [B, T, output_dim], or an `FCN4FlareOutput` when labels are given.

        Parameters
        ----------
        input_features : torch.Tensor
            [B, T, input_dim] (or [B, T] for one channel), NaN where missing or padded.
        sequence_mask : torch.Tensor, optional
            [B, T], 1 for real samples and 0 for padding; used by the loss only (padded
            samples must already be NaN in ``input_features``, as the release pads them).
        labels : torch.Tensor, optional
            [B, T] targets for the Mask Dice loss.
        """
        x = input_features
        if x.dim() == 2:
            x = x.unsqueeze(-1)
        # One mask channel: a sample is missing when any of its input channels is NaN.
        missing = torch.isnan(x).any(dim=-1, keepdim=True)
        x = torch.cat([torch.where(missing, 0.0, x), missing.to(x.dtype)], dim=-1)
        x = x.transpose(1, 2)
        logits = self.seghead(self.encoder(x)).transpose(1, 2)
        if labels is None:
            return logits
        loss = mask_dice_loss(logits, labels, sequence_mask, self.config.maskdice_threshold)
        return FCN4FlareOutput(loss=loss, logits=logits)

    # ---------------------------------------------------------------- checkpoints
    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        """Write ``config.json`` and ``model.safetensors`` (the published layout).

        Parameters
        ----------
        directory : path-like
            Created if needed.

        Returns
        -------
        pathlib.Path
            The directory.

        Examples
        --------
        >>> import tempfile
        >>> from fcn4flare import FCN4FlareConfig, FCN4FlareModel
        >>> model = FCN4FlareModel(FCN4FlareConfig(hidden_dim=4, depth=1, dilation=[1]))
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = model.save_pretrained(tmp)
        ...     sorted(p.name for p in path.iterdir())
        ['config.json', 'model.safetensors']
        """
        from safetensors.torch import save_file

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        with open(directory / CONFIG_NAME, "w") as fh:
            json.dump(self.config.to_dict(), fh, indent=2, sort_keys=True)
            fh.write("\n")
        state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        save_file(state, str(directory / SAFETENSORS_NAME), metadata={"format": "pt"})
        return directory

    @classmethod
    def from_pretrained(
        cls,
        path: str | os.PathLike,
        *,
        device: str | torch.device | None = None,
        trust_pickle: bool = False,
        config: FCN4FlareConfig | None = None,
    ) -> FCN4FlareModel:
        """Load a checkpoint: a directory, a weights file, or a Lightning ``.ckpt``.

        Accepted layouts:

        - a directory with ``config.json`` and ``model.safetensors`` (the published layout)
          or ``pytorch_model.bin``;
        - a ``.safetensors`` or ``.bin`` file (``config.json`` read from beside it);
        - a PyTorch Lightning ``.ckpt`` of the earlier release (``encoder.backone`` keys
          under ``state_dict``, hyper-parameters in ``hyper_parameters``).

        Pickle-based files (``.bin``, ``.ckpt``) are read with ``torch.load(weights_only=True)``,
        which executes no code; ``trust_pickle=True`` allows full unpickling for files that
        need it, and must only be used on files you trust.

        Parameters
        ----------
        path : path-like
            Directory or file.
        device : str or torch.device, optional
            Where to put the model; CPU by default.
        trust_pickle : bool
            Allow arbitrary unpickling (executes code from the file).
        config : FCN4FlareConfig, optional
            Overrides the configuration found with the weights.

        Returns
        -------
        FCN4FlareModel
            In eval mode.

        Raises
        ------
        CheckpointError
            Missing files, a non-FCN4Flare or invalid config (the message names the file and
            the field), or weights whose names or shapes do not match or that hold NaN or
            inf (the message names the file and the tensors).

        Examples
        --------
        >>> import tempfile
        >>> from fcn4flare import FCN4FlareConfig, FCN4FlareModel
        >>> model = FCN4FlareModel(FCN4FlareConfig(hidden_dim=4, depth=1, dilation=[1]))
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     loaded = FCN4FlareModel.from_pretrained(model.save_pretrained(tmp))
        >>> loaded.config.hidden_dim, loaded.training
        (4, False)
        """
        weights, cfg_file = _locate_checkpoint(path, need_config=config is None)
        if weights.suffix == ".ckpt":
            state, found_config = _read_lightning(weights, trust_pickle)
        else:
            state = _read_state_dict(weights, trust_pickle)
            found_config = _read_config(cfg_file) if config is None else None
        cfg = config if config is not None else found_config
        model = cls(cfg)
        _load_state(model, state, weights)
        model.eval()
        if device is not None:
            model.to(device)
        return model

    def for_inference(self, device: str | torch.device | None = None) -> FoldedFCN4Flare:
        """An inference-only copy with each BatchNorm folded into the convolution before it.

        `~fcn4flare.network.fold_batchnorm` of this model: what
        `~fcn4flare.network.predict_probability` runs. This model, its training flag and its
        ``state_dict`` (the checkpoint format) are left as they are.

        Examples
        --------
        >>> from fcn4flare import FCN4FlareConfig, FCN4FlareModel
        >>> model = FCN4FlareModel(FCN4FlareConfig(hidden_dim=4, depth=1, dilation=[1]))
        >>> keys = list(model.state_dict())
        >>> type(model.for_inference()).__name__, list(model.state_dict()) == keys
        ('FoldedFCN4Flare', True)
        """
        from .inference import fold_batchnorm

        return fold_batchnorm(self, device)

    def checksum(self) -> str:
        """SHA-256 of the parameters and buffers, to record which weights made a result.

        Examples
        --------
        >>> from fcn4flare import FCN4FlareConfig, FCN4FlareModel
        >>> model = FCN4FlareModel(FCN4FlareConfig(hidden_dim=4, depth=1, dilation=[1]))
        >>> len(model.checksum())
        64
        """
        state = self.state_dict()
        # Kept on the model itself, with the tensors' identities and in-place versions it
        # was computed for: computed again only when a weight has changed.
        signature = tuple((t.data_ptr(), getattr(t, "_version", 0)) for t in state.values())
        kept = self.__dict__.get("_checksum_kept")
        if kept is not None and kept[0] == signature:
            return kept[1]
        digest = hashlib.sha256()
        for key, value in sorted(state.items()):
            digest.update(key.encode())
            digest.update(value.detach().cpu().contiguous().numpy().tobytes())
        checksum = digest.hexdigest()
        self.__dict__["_checksum_kept"] = (signature, checksum)
        return checksum


def _locate_checkpoint(path: str | os.PathLike, *, need_config: bool = True) -> tuple[Path, Path]:
    """The weights file and the ``config.json`` of a checkpoint path, or a CheckpointError.

    The one place that decides what a checkpoint path means, for
    `FCN4FlareModel.from_pretrained` and `~fcn4flare.network.load_model` alike: a directory
    must hold the weights and (unless ``need_config`` is false, or the weights are a Lightning
    ``.ckpt``, which carries its hyper-parameters) ``config.json``; a weights file takes the
    ``config.json`` beside it; a JSON file is a configuration, not a model.

    Returns
    -------
    (pathlib.Path, pathlib.Path)
        The weights file and where its ``config.json`` is (or would be).
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"No FCN4Flare checkpoint at {path}: the path does not exist.")
    if path.is_dir():
        weights = next(
            (path / n for n in (SAFETENSORS_NAME, PYTORCH_NAME) if (path / n).is_file()), None
        )
        has_config = (path / CONFIG_NAME).is_file()
        if weights is None:
            missing = f"neither {SAFETENSORS_NAME} nor {PYTORCH_NAME}" + (
                "" if has_config else f" nor {CONFIG_NAME}"
            )
            raise CheckpointError(
                f"{path} holds {missing}: an FCN4Flare model directory holds {CONFIG_NAME} "
                f"and {SAFETENSORS_NAME} (or {PYTORCH_NAME})."
            )
        if need_config and not has_config:
            raise CheckpointError(
                f"{path}: the model directory holds {weights.name} but no {CONFIG_NAME} "
                "(the network's configuration, written by save_pretrained beside the "
                "weights); copy it there or pass config=."
            )
        return weights, path / CONFIG_NAME
    if path.suffix.lower() == ".json":
        raise CheckpointError(
            f"{path} is a JSON file, not model weights: pass the model's directory "
            f"({path.parent}), which holds {CONFIG_NAME} and {SAFETENSORS_NAME}, instead."
        )
    cfg_file = path.parent / CONFIG_NAME
    if need_config and path.suffix != ".ckpt" and not cfg_file.is_file():
        raise CheckpointError(
            f"{path}: no {CONFIG_NAME} beside the weights (looked for {cfg_file}); "
            "pass config=, or the model's directory holding both."
        )
    return path, cfg_file


def _read_config(cfg_file: Path) -> FCN4FlareConfig:
    try:
        with open(cfg_file) as fh:
            raw = json.load(fh)
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{cfg_file}: cannot read the configuration: {exc}") from exc
    if not isinstance(raw, dict):
        raise CheckpointError(f"{cfg_file}: expected a JSON object.")
    return FCN4FlareConfig.from_dict(raw, source=str(cfg_file))


def _torch_load(weights: Path, trust_pickle: bool) -> Any:
    try:
        return torch.load(weights, map_location="cpu", weights_only=not trust_pickle)
    except Exception as exc:  # torch raises a zoo of types here
        if not _looks_like_torch_file(weights):
            raise CheckpointError(
                f"{weights}: not a PyTorch weights file (neither a zip archive nor a pickle); "
                f"pass a model directory (holding {CONFIG_NAME} and {SAFETENSORS_NAME}), a "
                ".safetensors, .bin or .pt file, or a Lightning .ckpt."
            ) from exc
        hint = (
            ""
            if trust_pickle
            else " If you trust the file, pass trust_pickle=True to allow full unpickling."
        )
        raise CheckpointError(f"{weights}: cannot read the weights: {exc}.{hint}") from exc


def _looks_like_torch_file(weights: Path) -> bool:
    """True for a zip archive (``torch.save``'s format) or a pickle (the legacy one)."""
    try:
        with open(weights, "rb") as fh:
            head = fh.read(4)
    except OSError:
        return True
    return head.startswith(b"PK\x03\x04") or head[:1] == b"\x80"


def _read_state_dict(weights: Path, trust_pickle: bool) -> dict[str, torch.Tensor]:
    if weights.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(weights), device="cpu")
        except (SafetensorError, OSError) as exc:
            raise CheckpointError(f"{weights}: cannot read the safetensors file: {exc}") from exc
    state = _torch_load(weights, trust_pickle)
    if isinstance(state, Mapping) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, Mapping):
        raise CheckpointError(f"{weights}: expected a state dict, found {type(state).__name__}.")
    return dict(state)


def _read_lightning(weights: Path, trust_pickle: bool) -> tuple[dict, FCN4FlareConfig]:
    ckpt = _torch_load(weights, trust_pickle)
    if not isinstance(ckpt, Mapping) or "state_dict" not in ckpt:
        raise CheckpointError(f"{weights}: not a Lightning checkpoint (no 'state_dict' key).")
    hparams = ckpt.get("hyper_parameters") or {}
    if not isinstance(hparams, Mapping):
        raise CheckpointError(
            f"{weights}: hyper_parameters must be a mapping, got a {type(hparams).__name__}."
        )
    # The Lightning release counted the NaN-mask channel in input_dim.
    input_dim = hparams.get("input_dim", 2)
    if _is_int(input_dim) and input_dim < 2:
        raise CheckpointError(
            f"{weights}: hyper_parameters input_dim must be an integer >= 2 (there it counts "
            f"the NaN-mask channel), got {input_dim!r}."
        )
    fields = {f.name for f in dataclasses.fields(FCN4FlareConfig)} - {"extra", "input_dim"}
    kwargs = {k: v for k, v in hparams.items() if k in fields}
    kwargs["input_dim"] = input_dim - 1 if _is_int(input_dim) else input_dim
    if "dilation" in kwargs and "depth" not in kwargs and hasattr(kwargs["dilation"], "__len__"):
        kwargs["depth"] = len(kwargs["dilation"])
    config = FCN4FlareConfig.from_dict(kwargs, source=f"{weights} (Lightning hyper_parameters)")
    if not isinstance(ckpt["state_dict"], Mapping):
        raise CheckpointError(f"{weights}: state_dict must be a mapping of tensors.")
    state = {}
    for key, value in ckpt["state_dict"].items():
        key = key.removeprefix("model.")
        state[key.replace("encoder.backone.", "encoder.backbone.")] = value
    return state, config


def _load_state(model: FCN4FlareModel, state: Mapping[str, Any], source: Path) -> None:
    """Check ``state`` against ``model`` (names, tensors, shapes, finite values), then load it.

    The one check of the weights, run by every loading path of
    `FCN4FlareModel.from_pretrained`; every failure is a CheckpointError naming ``source``
    and the tensors at fault.
    """
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected), key=str)
    if missing or unexpected:
        raise CheckpointError(
            f"{source}: weight names do not match the FCN4Flare network"
            + (f"; missing {len(missing)} (e.g. {missing[:3]})" if missing else "")
            + (f"; unexpected {len(unexpected)} (e.g. {unexpected[:3]})" if unexpected else "")
            + "."
        )
    not_tensors = [k for k in expected if not isinstance(state[k], torch.Tensor)]
    if not_tensors:
        raise CheckpointError(
            f"{source}: {len(not_tensors)} weights are not tensors (e.g. {not_tensors[0]!r} "
            f"is a {type(state[not_tensors[0]]).__name__})."
        )
    wrong = [
        f"{k}: file {tuple(state[k].shape)} vs model {tuple(v.shape)}"
        for k, v in expected.items()
        if tuple(state[k].shape) != tuple(v.shape)
    ]
    if wrong:
        raise CheckpointError(
            f"{source}: weight shapes do not match the configuration ({len(wrong)} tensors, "
            f"e.g. {wrong[0]}); check config.json."
        )
    bad = {}
    for k in expected:
        tensor = state[k]
        if tensor.is_floating_point() or tensor.is_complex():
            finite = torch.isfinite(tensor)
            if not bool(finite.all()):
                bad[k] = int((~finite).sum())
    if bad:
        first = next(iter(bad))
        raise CheckpointError(
            f"{source}: tensor {first!r} holds {bad[first]} NaN or infinite values (of "
            f"{state[first].numel()})"
            + (f", and {len(bad) - 1} other tensors do too (e.g. {list(bad)[1:4]})"
               if len(bad) > 1 else "")
            + "; the weights are corrupt: every probability would be NaN."
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FCN4FlareWarning)
        model.load_state_dict(dict(state), strict=True)
