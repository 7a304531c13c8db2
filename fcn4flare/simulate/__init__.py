"""Synthetic flares, stars and light curves: templates, injection and training data.

See ``docs/simulate.rst`` for the narrative documentation.
"""

from __future__ import annotations

from . import backgrounds, distributions, injection, labels, templates
from .backgrounds import *  # noqa: F401,F403
from .distributions import *  # noqa: F401,F403
from .injection import *  # noqa: F401,F403
from .labels import *  # noqa: F401,F403
from .templates import *  # noqa: F401,F403

__all__ = (
    templates.__all__
    + distributions.__all__
    + labels.__all__
    + backgrounds.__all__
    + injection.__all__
)
