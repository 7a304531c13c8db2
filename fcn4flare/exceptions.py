"""Exception and warning classes raised by fcn4flare."""

from __future__ import annotations

__all__ = [
    "FCN4FlareError",
    "InputError",
    "CheckpointError",
    "FCN4FlareWarning",
    "FCN4FlareDeprecationWarning",
]


class FCN4FlareError(Exception):
    """Base class of every error raised on purpose by fcn4flare."""


class InputError(FCN4FlareError, ValueError):
    """The data handed to fcn4flare cannot be used; the message says why."""


class CheckpointError(FCN4FlareError, OSError):
    """A model checkpoint is missing, unreadable or not an FCN4Flare model."""


class FCN4FlareWarning(UserWarning):
    """Something was accepted but deserves the user's attention."""


class FCN4FlareDeprecationWarning(FCN4FlareWarning, DeprecationWarning):
    """A name or call that still works but has moved or will go; the message says where."""
