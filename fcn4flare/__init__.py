"""fcn4flare: stellar flare detection with the FCN4Flare fully convolutional network.

``import fcn4flare`` registers the ``flares`` accessor on `lightkurve.LightCurve`.
"""

try:
    from ._version import version as __version__
except ImportError:  # pragma: no cover - not installed from a git checkout
    __version__ = "0.1.0.dev0"

from . import accessor, metrics, simulate  # noqa: F401  (accessor registers lc.flares)
from .batch import BatchResult, detect_flares_in_files, detect_flares_original
from .detection import detect_flares, predict_flare_probability
from .exceptions import *  # noqa: F401,F403
from .exceptions import __all__ as _exceptions_all
from .model import FCN4FlareConfig, FCN4FlareModel, FCN4FlareOutput
from .pretrained import load_model
from .table import FlareTable

__all__ = [
    "FCN4FlareConfig",
    "FCN4FlareModel",
    "FCN4FlareOutput",
    "FlareTable",
    "detect_flares",
    "predict_flare_probability",
    "detect_flares_in_files",
    "detect_flares_original",
    "BatchResult",
    "load_model",
    "metrics",
    "simulate",
    *_exceptions_all,
]
