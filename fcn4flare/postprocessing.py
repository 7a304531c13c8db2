"""Deprecated module path (Probabilities to events): use `fcn4flare.detection.rules`.

Every name still resolves here, with a `~fcn4flare.exceptions.FCN4FlareDeprecationWarning`.
"""

from ._deprecation import moved_module

__getattr__, __dir__ = moved_module(
    __name__,
    {"find_runs": "fcn4flare._arrays"},
    "fcn4flare.detection.rules",
)
