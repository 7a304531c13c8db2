"""The star's trend under its flares, chosen once per light curve: `StarTrend`.

`estimate_trend` is the one place that decides which trend describes a star. Its answer is
computed once per light curve (by `fcn4flare.detection.FlareDetector`) and handed to both
the model's input scaling (`fcn4flare.scaling`) and the flare table's quiescent level
(`fcn4flare.catalog`), so both see the same star. Nothing is cached here.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from .._arrays import (
    divide_by_median_with_median,
    point_to_point_noise,
    second_difference_noise,
)
from ..exceptions import InputError
from .rotation import MIN_PERIOD, rotation_period, rotation_trend
from .stellar import (
    QUIET_SCATTER,
    adaptive_trend,
    residual_scatter,
    running_median,
    stellar_trend,
)

__all__ = ["StarTrend", "TREND_METHODS", "estimate_trend", "trend_with_rotation"]

#: Trends `estimate_trend` knows: ``'rotation'`` (`trend_with_rotation`, the default),
#: ``'stellar'`` (`~fcn4flare.trend.stellar_trend`), ``'adaptive'``
#: (`~fcn4flare.trend.adaptive_trend`, with the noise from second differences),
#: ``'rotation_adaptive'`` (`trend_with_rotation`, with the adaptive trend where that would
#: fall back to a running median) and ``'running_median'``
#: (`~fcn4flare.trend.running_median` of `~fcn4flare.trend.BASELINE_WINDOW` samples).
TREND_METHODS = ("rotation", "stellar", "adaptive", "rotation_adaptive", "running_median")


@dataclasses.dataclass(frozen=True, eq=False)
class StarTrend:
    """A star's quiescent flux on a regular grid, and how it was found.

    Attributes
    ----------
    trend : ndarray
        The trend in units of the median flux (relative flux), NaN where the flux is NaN.
    period : float
        Rotation period in grid samples when the trend is the rotation's, NaN otherwise.
    noise : float
        Point-to-point noise of the relative flux (NaN when it cannot be measured).
    median : float
        The median flux the trend is relative to, in the flux's own units (1.0 when the
        values given were relative already).
    branch : str
        Which estimate the trend is: ``'stellar'`` (flare-masked local quadratic),
        ``'running_median'``, ``'rotation'`` (neighbouring rotations), ``'adaptive'``
        (flare-masked local quadratics of the window each stretch needs).

    Examples
    --------
    >>> import numpy as np
    >>> from fcn4flare.trend import estimate_trend
    >>> flux = 200 * (1 + 1e-3 * np.random.default_rng(0).standard_normal(3000))
    >>> star = estimate_trend(flux)
    >>> star.branch, round(star.median), round(star.noise, 4)
    ('stellar', 200, 0.001)
    >>> bool(abs(np.nanmedian(star.quiescent_flux()) - 200) < 0.1)
    True
    """

    trend: np.ndarray
    period: float
    noise: float
    median: float = 1.0
    branch: str = "stellar"

    def __post_init__(self) -> None:
        self.trend.flags.writeable = False

    @property
    def is_rotation(self) -> bool:
        """True when the trend is built from neighbouring rotations."""
        return bool(np.isfinite(self.period))

    def quiescent_flux(self) -> np.ndarray:
        """The trend in the flux's own units (``median * trend``), a new array."""
        return self.median * np.asarray(self.trend, dtype=np.float64)

    def residual(self, relative: Any) -> np.ndarray:
        """``(relative - trend) / noise``: relative flux in noise units above the trend."""
        return (np.asarray(relative, dtype=np.float64) - self.trend) / self.noise


def estimate_trend(flux: Any, method: str = "rotation") -> StarTrend:
    """The trend of a light curve on a regular grid (NaN for missing cadences).

    Parameters
    ----------
    flux : array-like
        Flux on the cadence grid, in any unit of brightness with a positive median.
    method : {'rotation', 'stellar', 'adaptive', 'rotation_adaptive', 'running_median'}
        See `TREND_METHODS`. ``'adaptive'`` fits its trend with the noise from second
        differences (`~fcn4flare.trend.second_difference_noise`) and reports the larger of
        that and the robust scatter of the residual about the trend; so does
        ``'rotation_adaptive'`` where it takes that trend. The others use the noise from
        first differences.
        Where the noise is zero or cannot be measured (fewer than three finite values),
        every method gives the running median.

    Returns
    -------
    StarTrend

    Raises
    ------
    InputError
        Unknown method, no finite flux, or a median that is not positive.

    Examples
    --------
    >>> import numpy as np
    >>> from fcn4flare.trend import estimate_trend
    >>> t = np.arange(4000)
    >>> noise = 1e-3 * np.random.default_rng(5).standard_normal(t.size)
    >>> fast = 1 + 0.02 * np.sin(2 * np.pi * t / 57.3) + noise
    >>> star = estimate_trend(fast)
    >>> star.branch, round(star.period, 1)
    ('rotation', 57.3)
    >>> estimate_trend(fast, "running_median").branch
    'running_median'
    >>> estimate_trend(fast, "adaptive").branch
    'adaptive'
    >>> estimate_trend(fast, "rotation_adaptive").branch  # the rotation repeats itself
    'rotation'
    """
    if method not in TREND_METHODS:
        raise InputError(
            f"estimate_trend: unknown method {method!r}; valid methods: "
            f"{', '.join(TREND_METHODS)}."
        )
    relative, median = divide_by_median_with_median(flux)
    if method == "adaptive":
        return _adaptive(relative, median)
    noise = point_to_point_noise(relative)
    if method == "running_median" or not (np.isfinite(noise) and noise > 0):
        return _running_median(relative, noise, median)
    if method == "stellar":
        chosen = _stellar(relative, noise)
    else:
        chosen = trend_with_rotation(relative, noise)
        if method == "rotation_adaptive" and chosen.branch == "running_median":
            return _adaptive(relative, median)
    return dataclasses.replace(chosen, median=median)


def _running_median(relative: np.ndarray, noise: float, median: float) -> StarTrend:
    return StarTrend(running_median(relative), np.nan, noise, median, "running_median")


def _adaptive(relative: np.ndarray, median: float) -> StarTrend:
    noise = second_difference_noise(relative)
    if not (np.isfinite(noise) and noise > 0):
        return _running_median(relative, noise, median)
    trend = adaptive_trend(relative, noise)
    # The network sees the residual in units of its own scatter where that exceeds the
    # white noise (variability faster than any window follows, correlated noise).
    noise *= max(1.0, residual_scatter(relative, trend, noise))
    return StarTrend(trend, np.nan, float(noise), median, "adaptive")


def trend_with_rotation(values: Any, noise: float) -> StarTrend:
    """`~fcn4flare.trend.stellar_trend`, or `~fcn4flare.trend.rotation_trend` where only that
    follows the star.

    Where `~fcn4flare.trend.stellar_trend` leaves a residual whose robust scatter exceeds
    `~fcn4flare.trend.QUIET_SCATTER` times ``noise`` (a star that varies faster than
    its running median can follow) and `~fcn4flare.trend.rotation_trend`, at the
    `~fcn4flare.trend.rotation_period`, leaves at most that, the rotation trend is returned;
    the stellar trend otherwise. This is the trend of the ``rotation_trend_noise_asinh``
    input scaling, and the quiescent flux that flare tables are measured against.

    Parameters
    ----------
    values : array-like
        Relative flux on a regular grid, NaN for missing samples.
    noise : float
        Point-to-point noise of ``values``.

    Returns
    -------
    StarTrend
        ``trend`` (a new array), ``period`` (NaN unless the rotation trend was chosen),
        ``noise`` and ``branch``; ``median`` is 1 (the values are relative).

    Raises
    ------
    InputError
        ``noise`` is not positive and finite.

    Examples
    --------
    >>> import numpy as np
    >>> from fcn4flare.trend import trend_with_rotation
    >>> t = np.arange(4000)
    >>> noise = 1e-3 * np.random.default_rng(5).standard_normal(t.size)
    >>> fast = 0.02 * np.sin(2 * np.pi * t / 57.3) + noise
    >>> round(trend_with_rotation(fast, 1e-3).period, 1)
    57.3
    >>> slow = 0.02 * np.sin(2 * np.pi * t / 3000) + noise
    >>> bool(np.isnan(trend_with_rotation(slow, 1e-3).period))
    True
    """
    y = np.asarray(values, dtype=np.float64)
    chosen = _stellar(y, noise)
    if not residual_scatter(y, chosen.trend, noise) > QUIET_SCATTER:
        return chosen
    period, _ = rotation_period(y)
    if not (np.isfinite(period) and period >= MIN_PERIOD):
        return chosen
    rotation = rotation_trend(y, noise, period)
    if residual_scatter(y, rotation, noise) > QUIET_SCATTER:
        return chosen
    return StarTrend(rotation, float(period), float(noise), 1.0, "rotation")


def _stellar(y: np.ndarray, noise: float) -> StarTrend:
    trend, quiet = stellar_trend(y, noise, with_branch=True)
    return StarTrend(trend, np.nan, float(noise), 1.0, "stellar" if quiet else "running_median")
