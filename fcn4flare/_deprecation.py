"""Old module paths kept working: names looked up there are found where they moved, with a
`~fcn4flare.exceptions.FCN4FlareDeprecationWarning` that says where."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from .exceptions import FCN4FlareDeprecationWarning

__all__ = ["moved_module"]


def moved_module(
    old: str, new: Mapping[str, str], default: str | None = None
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for a module whose names moved.

    Parameters
    ----------
    old : str
        The old module's name.
    new : mapping
        Name -> the module it now lives in.
    default : str, optional
        Where any other name is looked for (public names only).
    """

    def __getattr__(name: str) -> Any:
        where = new.get(name)
        if where is None and default is not None and not name.startswith("_"):
            if hasattr(importlib.import_module(default), name):
                where = default
        if where is None:
            raise AttributeError(f"module {old!r} has no attribute {name!r}")
        warnings.warn(
            f"{old}.{name} has moved to {where}.{name}; the old path is deprecated.",
            FCN4FlareDeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(where), name)

    def __dir__() -> list[str]:
        names = set(new)
        if default is not None:
            names |= {n for n in dir(importlib.import_module(default)) if not n.startswith("_")}
        return sorted(names)

    return __getattr__, __dir__
