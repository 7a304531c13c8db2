"""The input boundary: light curves in, plain arrays on a regular cadence grid out.

`prepare_light_curve` accepts the user's object (lightkurve, ``TimeSeries``, ``Time`` and
flux arrays), applies the quality mask (flagged rows become NaN, none is dropped), checks
times and units and strips them, once; `regular_grid` / `GridMap` map rows to the grid.
"""

from .grid import *  # noqa: F401,F403
from .grid import __all__ as _grid_all
from .prepare import *  # noqa: F401,F403
from .prepare import __all__ as _prepare_all

__all__ = [*_grid_all, *_prepare_all]
