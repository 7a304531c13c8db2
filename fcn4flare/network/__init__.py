"""The FCN4Flare network: model, loss, windowed exact inference and shipped checkpoints.

Importing this package imports PyTorch (``import fcn4flare`` alone does not).
"""

from .inference import *  # noqa: F401,F403
from .inference import __all__ as _inference_all
from .model import *  # noqa: F401,F403
from .model import __all__ as _model_all
from .pretrained import *  # noqa: F401,F403
from .pretrained import __all__ as _pretrained_all

__all__ = [*_model_all, *_inference_all, *_pretrained_all]
