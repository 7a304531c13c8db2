"""Names of a package resolved on first use (PEP 562), so that importing it stays light."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["lazy_names"]


def lazy_names(
    module: str, names: Mapping[str, str], submodules: Iterable[str] = ()
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``module`` that import ``names`` when first asked.

    Parameters
    ----------
    module : str
        The module's ``__name__`` (it must be in `sys.modules`, as it is while it runs).
    names : mapping
        Public name -> the module that defines it (an absolute name). The value found is
        kept in ``module``'s namespace, so each is imported once.
    submodules : iterable of str
        Submodules of ``module`` given as attributes (imported, not kept).

    Examples
    --------
    >>> import types, sys
    >>> from fcn4flare._lazy import lazy_names
    >>> demo = sys.modules["demo"] = types.ModuleType("demo")
    >>> demo.__getattr__, demo.__dir__ = lazy_names("demo", {"sqrt": "math"})
    >>> demo.sqrt(4.0), "sqrt" in vars(demo)
    (2.0, True)
    >>> del sys.modules["demo"]
    """
    namespace = sys.modules[module].__dict__
    lazy = dict(names)
    subs = tuple(submodules)

    def __getattr__(name: str) -> Any:
        if name in lazy:
            value = getattr(importlib.import_module(lazy[name]), name)
            namespace[name] = value
            return value
        if name in subs:
            return importlib.import_module(f"{module}.{name}")
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted({*namespace, *lazy, *subs})

    return __getattr__, __dir__
