"""The star's own variability under its flares: trends, the rotation, and `StarTrend`.

`estimate_trend` computes a light curve's `StarTrend` once; the input scaling
(`fcn4flare.scaling`) and the flare table (`fcn4flare.catalog`) both use that one answer.
"""

from .._arrays import robust_noise, second_difference_noise
from .choose import *  # noqa: F401,F403
from .choose import __all__ as _choose_all
from .rotation import *  # noqa: F401,F403
from .rotation import __all__ as _rotation_all
from .stellar import *  # noqa: F401,F403
from .stellar import __all__ as _stellar_all

__all__ = [*_choose_all, *_rotation_all, *_stellar_all, "robust_noise", "second_difference_noise"]
