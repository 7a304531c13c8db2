"""Use fcn4flare models through Hugging Face ``transformers`` (optional).

``import fcn4flare.network.hf`` registers, with the ``transformers`` Auto classes and pipelines:

- `FCN4FlareHFConfig` for ``model_type: "fcn4flare"`` (``AutoConfig``);
- `FCN4FlareHFModel` (``AutoModel``), whose weights have the names of the published
  checkpoints, so the authors' ``model.safetensors`` and the ones written by
  `fcn4flare.network.FCN4FlareModel.save_pretrained` load into it unchanged;
- `FlareDetectionPipeline` as the ``"flare-detection"`` pipeline task.

With it, the snippets of the original FCN4Flare README run, with a local model directory::

    import fcn4flare.network.hf
    from transformers import AutoModel, pipeline

    model = AutoModel.from_pretrained("path/to/model_dir")
    logits = model(input_features, sequence_mask)            # [B, T, 1]
    detector = pipeline("flare-detection", model="path/to/model_dir")
    detector(["kplr...llc.fits", "tess...lc.fits"])          # a list of events per file

``import fcn4flare`` does not do this by itself: importing ``transformers`` adds seconds
to every start-up, so only code that wants it pays for it. ``transformers`` is an optional
dependency (``pip install fcn4flare[hf]``).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import torch

try:
    from transformers import AutoConfig, AutoModel, Pipeline, PreTrainedModel
    from transformers.modeling_outputs import ModelOutput
    from transformers.pipelines import PIPELINE_REGISTRY
except ImportError as err:  # pragma: no cover - exercised only without transformers
    raise ImportError(
        "fcn4flare.network.hf needs the optional dependency transformers: "
        "pip install 'fcn4flare[hf]' (or pip install transformers)."
    ) from err

try:
    from transformers import PreTrainedConfig as _BaseConfig
except ImportError:  # transformers < 5
    from transformers import PretrainedConfig as _BaseConfig

from .model import FCN4FlareConfig, FCN4FlareModel

__all__ = [
    "FCN4FlareHFConfig",
    "FCN4FlareHFModel",
    "FCN4FlareHFOutput",
    "FlareDetectionPipeline",
    "TASK",
    "register",
]

#: Name of the pipeline task.
TASK = "flare-detection"

_FIELDS = [f.name for f in dataclasses.fields(FCN4FlareConfig) if f.name != "extra"]


class FCN4FlareHFConfig(_BaseConfig):
    """`~fcn4flare.network.FCN4FlareConfig` as a ``transformers`` configuration.

    The fields, their defaults (the published ones) and their meaning are those of
    `~fcn4flare.network.FCN4FlareConfig`; ``model_type`` is ``"fcn4flare"``.

    Examples
    --------
    >>> from fcn4flare.network.hf import FCN4FlareHFConfig
    >>> config = FCN4FlareHFConfig(hidden_dim=8, depth=2, dilation=[1, 2])
    >>> config.model_type, config.to_fcn4flare_config().receptive_field
    ('fcn4flare', 15)
    """

    model_type = "fcn4flare"

    def __init__(
        self,
        input_dim: int = 1,
        hidden_dim: int = 128,
        output_dim: int = 1,
        depth: int = 10,
        dilation: list[int] | None = None,
        kernel_size: int = 3,
        maskdice_threshold: float = 0.5,
        dropout_rate: float = 0.1,
        input_scaling: str = "median",
        detection_threshold: float = 0.5,
        **kwargs: Any,
    ):
        defaults = FCN4FlareConfig()
        self.input_dim = input_dim
        self.hidden_dim = hidden_dim
        self.output_dim = output_dim
        self.depth = depth
        self.dilation = list(defaults.dilation if dilation is None else dilation)
        self.kernel_size = kernel_size
        self.maskdice_threshold = maskdice_threshold
        self.dropout_rate = dropout_rate
        self.input_scaling = input_scaling
        self.detection_threshold = detection_threshold
        super().__init__(**kwargs)

    def to_fcn4flare_config(self) -> FCN4FlareConfig:
        """The same configuration as an `~fcn4flare.network.FCN4FlareConfig` (validated)."""
        return FCN4FlareConfig(**{name: getattr(self, name) for name in _FIELDS})

    @classmethod
    def from_fcn4flare_config(cls, config: FCN4FlareConfig) -> FCN4FlareHFConfig:
        """Build from an `~fcn4flare.network.FCN4FlareConfig`.

        Examples
        --------
        >>> from fcn4flare import FCN4FlareConfig
        >>> from fcn4flare.network.hf import FCN4FlareHFConfig
        >>> FCN4FlareHFConfig.from_fcn4flare_config(FCN4FlareConfig(hidden_dim=16)).hidden_dim
        16
        """
        return cls(**{name: getattr(config, name) for name in _FIELDS})


@dataclasses.dataclass
class FCN4FlareHFOutput(ModelOutput):
    """Output of `FCN4FlareHFModel`: the Mask Dice ``loss`` (with labels) and ``logits``."""

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None


class FCN4FlareHFModel(PreTrainedModel):
    """The FCN4Flare network as a ``transformers`` model.

    Its submodules are those of `~fcn4flare.network.FCN4FlareModel` (``encoder``,
    ``seghead``), so the state-dict keys are the published ones.

    ``model(input_features, sequence_mask)`` returns the logits [B, T, 1] as a tensor, as
    in the original README; with ``labels`` it returns an `FCN4FlareHFOutput` with the Mask
    Dice ``loss`` and the ``logits``; ``return_dict=True`` always returns the output object
    (as the original pipeline asked for), ``return_dict=False`` a tuple.

    Examples
    --------
    >>> import torch
    >>> from fcn4flare.network.hf import FCN4FlareHFConfig, FCN4FlareHFModel
    >>> _ = torch.manual_seed(0)
    >>> model = FCN4FlareHFModel(FCN4FlareHFConfig(hidden_dim=8, depth=2, dilation=[1, 2]))
    >>> x = torch.ones(2, 50, 1)
    >>> model.eval()(x, torch.ones(2, 50)).shape
    torch.Size([2, 50, 1])
    >>> keys = model.state_dict()
    >>> "encoder.mapping.weight" in keys, "seghead.projector.bias" in keys
    (True, True)
    """

    config_class = FCN4FlareHFConfig
    base_model_prefix = "fcn4flare"
    main_input_name = "input_features"

    def __init__(self, config: FCN4FlareHFConfig):
        super().__init__(config)
        core = FCN4FlareModel(config.to_fcn4flare_config())
        self.encoder = core.encoder
        self.seghead = core.seghead
        # The core shares these submodules; kept out of the module tree so that the
        # weights are registered once, under their published names.
        object.__setattr__(self, "_core", core)
        self.post_init()

    @torch.no_grad()
    def _init_weights(self, module: torch.nn.Module) -> None:
        # The release's initialisation (see the spec): Kaiming-normal convolutions.
        if isinstance(module, torch.nn.Conv1d):
            torch.nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            if module.bias is not None:
                torch.nn.init.zeros_(module.bias)
        elif isinstance(module, torch.nn.BatchNorm1d):
            torch.nn.init.ones_(module.weight)
            torch.nn.init.zeros_(module.bias)

    def forward(
        self,
        input_features: torch.Tensor,
        sequence_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        return_dict: bool | None = None,
        **kwargs: Any,
    ) -> torch.Tensor | FCN4FlareHFOutput | tuple:
        """Logits [B, T, output_dim] of flux [B, T, input_dim] (NaN where missing).

        Parameters
        ----------
        input_features : torch.Tensor
            Flux scaled as ``config.input_scaling`` says, NaN where missing or padded.
        sequence_mask : torch.Tensor, optional
            [B, T], 1 for real samples; used by the loss.
        labels : torch.Tensor, optional
            [B, T] flare labels for the Mask Dice loss.
        return_dict : bool, optional
            See the class description.
        """
        result = self._core(input_features, sequence_mask=sequence_mask, labels=labels)
        loss, logits = (None, result) if labels is None else (result.loss, result.logits)
        if return_dict is None:
            return logits if labels is None else FCN4FlareHFOutput(loss=loss, logits=logits)
        if return_dict:
            return FCN4FlareHFOutput(loss=loss, logits=logits)
        return (logits,) if loss is None else (loss, logits)

    def to_fcn4flare(self) -> FCN4FlareModel:
        """The `~fcn4flare.network.FCN4FlareModel` sharing these weights (not a copy).

        `fcn4flare.detect_flares` accepts this model directly.

        Examples
        --------
        >>> from fcn4flare.network.hf import FCN4FlareHFConfig, FCN4FlareHFModel
        >>> model = FCN4FlareHFModel(FCN4FlareHFConfig(hidden_dim=8, depth=2, dilation=[1, 2]))
        >>> core = model.to_fcn4flare()
        >>> core.encoder is model.encoder, core.checksum() == core.checksum()
        (True, True)
        """
        return self._core

    @classmethod
    def from_fcn4flare(cls, model: FCN4FlareModel) -> FCN4FlareHFModel:
        """Wrap a copy of the weights of an `~fcn4flare.network.FCN4FlareModel`.

        Examples
        --------
        >>> import torch
        >>> from fcn4flare import FCN4FlareConfig, FCN4FlareModel
        >>> from fcn4flare.network.hf import FCN4FlareHFModel
        >>> core = FCN4FlareModel(FCN4FlareConfig(hidden_dim=8, depth=2, dilation=[1, 2]))
        >>> wrapped = FCN4FlareHFModel.from_fcn4flare(core)
        >>> wrapped.to_fcn4flare().checksum() == core.checksum()
        True
        """
        wrapped = cls(FCN4FlareHFConfig.from_fcn4flare_config(model.config))
        wrapped.load_state_dict(model.state_dict(), strict=True)
        return wrapped.to(model.device).train(model.training)


class FlareDetectionPipeline(Pipeline):
    """The ``"flare-detection"`` pipeline of the original release.

    Input: a FITS path, or a list of paths. Output per path: a list of flare dicts
    (``start_idx``, ``peak_idx``, ``end_idx``, ``start_time``, ``peak_time``,
    ``end_time``, ``duration``, ``confidence``), computed by
    `fcn4flare.detect_flares_original` with the published post-processing rules. A
    list of paths gives a list of such lists. ``threshold=`` (default 0.5) may be passed
    at call time.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> import torch
    >>> from astropy.io import fits
    >>> from transformers import pipeline
    >>> from fcn4flare.network.hf import FCN4FlareHFConfig, FCN4FlareHFModel
    >>> _ = torch.manual_seed(0)
    >>> model = FCN4FlareHFModel(FCN4FlareHFConfig(hidden_dim=8, depth=2, dilation=[1, 2]))
    >>> columns = [fits.Column(name="TIME", format="D", array=130 + np.arange(500) / 48),
    ...            fits.Column(name="PDCSAP_FLUX", format="E", array=np.ones(500))]
    >>> detector = pipeline("flare-detection", model=model)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     fits.BinTableHDU.from_columns(columns).writeto(f"{tmp}/lc.fits")
    ...     detector([f"{tmp}/lc.fits", f"{tmp}/lc.fits"])
    [[], []]
    """

    _load_processor = False
    _load_image_processor = False
    _load_video_processor = False
    _load_feature_extractor = False
    _load_tokenizer = False

    def _sanitize_parameters(self, threshold: float | None = None, **kwargs: Any):
        forward = {} if threshold is None else {"threshold": float(threshold)}
        return {}, forward, {}

    def preprocess(self, inputs: Any, **kwargs: Any) -> dict[str, Any]:
        if isinstance(inputs, (str, os.PathLike)):
            return {"paths": [os.fspath(inputs)]}
        return {"paths": [os.fspath(path) for path in inputs]}

    def _forward(self, model_inputs: dict[str, Any], threshold: float = 0.5) -> dict[str, Any]:
        from ..detection.batch import detect_flares_original

        events = detect_flares_original(
            model_inputs["paths"], model=self.model.to_fcn4flare(), threshold=threshold
        )
        return {"events": events}

    def postprocess(self, model_outputs: dict[str, Any], **kwargs: Any) -> list[dict]:
        # The release returned the events of all the files of one input in one list.
        return [event for events in model_outputs["events"] for event in events]


def register() -> None:
    """Register the config, the model and the pipeline with ``transformers`` (idempotent).

    Called on ``import fcn4flare.network.hf``.

    Examples
    --------
    >>> from transformers import AutoConfig
    >>> from fcn4flare.network.hf import FCN4FlareHFConfig, register
    >>> register()
    >>> type(AutoConfig.for_model("fcn4flare")) is FCN4FlareHFConfig
    True
    """
    AutoConfig.register(FCN4FlareHFConfig.model_type, FCN4FlareHFConfig, exist_ok=True)
    AutoModel.register(FCN4FlareHFConfig, FCN4FlareHFModel, exist_ok=True)
    if PIPELINE_REGISTRY.supported_tasks.get(TASK, {}).get("impl") is not FlareDetectionPipeline:
        PIPELINE_REGISTRY.register_pipeline(
            TASK, pipeline_class=FlareDetectionPipeline, pt_model=AutoModel
        )


register()
