"""Deprecated module path (Shipped models): use `fcn4flare.network.pretrained`.

Every name still resolves here, with a `~fcn4flare.exceptions.FCN4FlareDeprecationWarning`.
"""

from ._deprecation import moved_module

__getattr__, __dir__ = moved_module(
    __name__,
    {},
    "fcn4flare.network.pretrained",
)
