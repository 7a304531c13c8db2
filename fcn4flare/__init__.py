"""fcn4flare: stellar flare detection with the FCN4Flare fully convolutional network."""

try:
    from ._version import version as __version__
except ImportError:  # pragma: no cover - not installed from a git checkout
    __version__ = "0.1.0.dev0"

from .exceptions import *  # noqa: F401,F403
from .model import FCN4FlareConfig, FCN4FlareModel, FCN4FlareOutput  # noqa: F401
