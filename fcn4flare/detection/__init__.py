"""From probabilities to flares: `FlareDetector`, `Detection`, `DetectionRules`, the
``lc.flares`` accessor and batch runs over many files.

The names are resolved on first use, so that ``import fcn4flare`` (which registers the
accessor from here) does not import PyTorch.
"""

from __future__ import annotations

from .._lazy import lazy_names
from .rules import *  # noqa: F401,F403
from .rules import __all__ as _rules_all

_LAZY = {
    "FlareDetector": "detector",
    "Detection": "detector",
    "detect_flares": "detector",
    "predict_flare_probability": "detector",
    "FlareAccessor": "accessor",
    "register_accessor": "accessor",
    "ACCESSOR_NAME": "accessor",
    "injection_recovery": "recovery",
    "InjectionRecovery": "recovery",
    "BatchResult": "batch",
    "detect_flares_in_files": "batch",
    "detect_flares_original": "batch",
    "detect_many": "catalogue_run",
}

__all__ = [*_rules_all, *_LAZY]


__getattr__, __dir__ = lazy_names(
    __name__, {name: f"{__name__}.{module}" for name, module in _LAZY.items()})
