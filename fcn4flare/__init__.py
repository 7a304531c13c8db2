"""fcn4flare: stellar flare detection with the FCN4Flare fully convolutional network.

``import fcn4flare`` registers the ``flares`` accessor on `lightkurve.LightCurve` and
nothing heavier: PyTorch and the network load on first use (the names below are resolved
lazily, as pandas does for its optional parts).
"""

from __future__ import annotations

try:
    from ._version import version as __version__
except ImportError:  # pragma: no cover - not installed from a git checkout
    __version__ = "0.1.0.dev0"

from ._lazy import lazy_names
from .detection.accessor import register_accessor as _register_accessor
from .exceptions import *  # noqa: F401,F403
from .exceptions import __all__ as _exceptions_all

_register_accessor()

# Public name -> module that defines it; imported on first access.
_LAZY = {
    "FlareDetector": "fcn4flare.detection.detector",
    "Detection": "fcn4flare.detection.detector",
    "DetectionRules": "fcn4flare.detection.rules",
    "detect_flares": "fcn4flare.detection.detector",
    "predict_flare_probability": "fcn4flare.detection.detector",
    "BatchResult": "fcn4flare.detection.batch",
    "detect_flares_in_files": "fcn4flare.detection.batch",
    "detect_flares_original": "fcn4flare.detection.batch",
    "detect_many": "fcn4flare.detection.catalogue_run",
    "FCN4FlareConfig": "fcn4flare.network.model",
    "FCN4FlareModel": "fcn4flare.network.model",
    "FCN4FlareOutput": "fcn4flare.network.model",
    "load_model": "fcn4flare.network.pretrained",
    "FlareTable": "fcn4flare.catalog.table",
    "FFD": "fcn4flare.catalog.ffd",
    "StarTrend": "fcn4flare.trend.choose",
}
_SUBMODULES = ("metrics", "simulate", "training", "evaluation", "catalog", "detection",
               "lightcurve", "trend", "scaling", "network")

__all__ = [*_LAZY, "metrics", "simulate", *_exceptions_all]  # noqa: F405  (lazy names)


__getattr__, __dir__ = lazy_names(__name__, _LAZY, _SUBMODULES)
