"""Deprecated module path (trends under a star's flares): use `fcn4flare.trend`.

Every name still resolves here, with a `~fcn4flare.exceptions.FCN4FlareDeprecationWarning`.
"""

from ._deprecation import moved_module

__getattr__, __dir__ = moved_module(
    __name__,
    {},
    "fcn4flare.trend",
)
