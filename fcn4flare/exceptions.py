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
    """Base class of every error raised on purpose by fcn4flare.

    Examples
    --------
    Catch it to handle any of the package's errors (and no bug of the caller's):

    >>> import fcn4flare
    >>> try:
    ...     fcn4flare.detect_flares([1.0, 2.0, 3.0], flux=[1.0, 1.0])
    ... except fcn4flare.FCN4FlareError as err:
    ...     print(type(err).__name__)
    InputError
    """


class InputError(FCN4FlareError, ValueError):
    """The data handed to fcn4flare cannot be used; the message says why.

    A `ValueError` too, so code written for NumPy's errors still catches it.

    Examples
    --------
    >>> from fcn4flare.detection import DetectionRules
    >>> from fcn4flare.exceptions import InputError
    >>> try:
    ...     DetectionRules.resolve({"min_point": 3})
    ... except InputError as err:
    ...     print(err)  # doctest: +ELLIPSIS
    unknown rule(s) 'min_point'; valid rules: merge_gap, min_points, ...
    """


class CheckpointError(FCN4FlareError, OSError):
    """A model checkpoint is missing, unreadable or not an FCN4Flare model.

    An `OSError` too, as for any file that cannot be read.

    Examples
    --------
    >>> import fcn4flare
    >>> try:
    ...     fcn4flare.load_model("no/such/checkpoint")
    ... except fcn4flare.CheckpointError as err:
    ...     print(isinstance(err, OSError))
    True
    """


class FCN4FlareWarning(UserWarning):
    """Something was accepted but deserves the user's attention."""


class FCN4FlareDeprecationWarning(FCN4FlareWarning, DeprecationWarning):
    """A name or call that still works but has moved or will go; the message says where."""
