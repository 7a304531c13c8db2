"""The model's input: flux on the cadence grid scaled by the method its config names.

Every method is a function of the relative flux (flux over its median) and of the star's
`~fcn4flare.trend.StarTrend`; a model records its method in ``config.input_scaling`` and is
run, and trained, with exactly that method (`fcn4flare.detection.FlareDetector`,
`fcn4flare.training`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from ._arrays import divide_by_median, float_array
from .exceptions import InputError
from .trend import StarTrend, estimate_trend, local_scatter

__all__ = ["SCALING_METHODS", "ScalingMethod", "ASINH_SOFTENING", "scale_flux", "trend_method",
           "scaling_channels"]

#: Noise units below which the ``*_asinh`` methods are linear; above, they grow
#: logarithmically.
ASINH_SOFTENING = 5.0


@dataclasses.dataclass(frozen=True)
class ScalingMethod:
    """One input scaling: its function and the trend it subtracts.

    Attributes
    ----------
    function : callable
        ``function(relative, star) -> ndarray`` of the relative flux and the
        `~fcn4flare.trend.StarTrend`.
    trend : str or None
        The `~fcn4flare.trend.estimate_trend` method whose trend the function uses; None when
        it uses none (the flare table then uses the default ``'rotation'`` trend).
    needs_noise : bool
        Whether the method divides by the noise (and so fails on noiseless flux).
    channels : int
        Input channels the function gives: 1 (an array like the flux) or more (an array of
        shape ``(n, channels)``, channels last); a model's ``config.input_dim`` must match.
    """

    function: Callable[[np.ndarray, StarTrend], np.ndarray]
    trend: str | None = None
    needs_noise: bool = True
    channels: int = 1


def _compress(z: np.ndarray) -> np.ndarray:
    # Light curves span 1 to 1000 noise units (spots, pulsations, huge flares); compressing
    # the large values keeps one loud example from dominating BatchNorm's statistics.
    return ASINH_SOFTENING * np.arcsinh(z / ASINH_SOFTENING)


def _median(relative: np.ndarray, star: StarTrend) -> np.ndarray:
    return relative


def _median_noise(relative: np.ndarray, star: StarTrend) -> np.ndarray:
    return (relative - 1.0) / star.noise


def _median_noise_asinh(relative: np.ndarray, star: StarTrend) -> np.ndarray:
    return _compress(_median_noise(relative, star))


def _trend_noise_asinh(relative: np.ndarray, star: StarTrend) -> np.ndarray:
    # The star's own variability (spots, trends) is removed before the compression, so a
    # flare on the bright or faint phase of a spotted star reaches the network at the same
    # size as on a quiet star.
    return _compress(star.residual(relative))


def _rotation_trend_noise_asinh(relative: np.ndarray, star: StarTrend) -> np.ndarray:
    # Where the rotation trend is chosen, its residual is divided by its local scatter where
    # that exceeds the noise, so that the changes of spots that the neighbouring rotations do
    # not predict are not taken for slow flares.
    z = star.residual(relative)
    if star.is_rotation:
        z = z / np.fmax(local_scatter(z, int(star.period) | 1), 1.0)
    return _compress(z)


def _rotation_adaptive_and_flux_asinh(relative: np.ndarray, star: StarTrend) -> np.ndarray:
    # Channel 0 is the trend residual of rotation_adaptive_trend_noise_asinh, channel 1 the
    # median-normalised flux in the same noise units: beside the residual, the network sees
    # the light curve the trend was fitted to, and so where a trend absorbed a flare or
    # missed the star.
    return np.stack([_rotation_trend_noise_asinh(relative, star),
                     _median_noise_asinh(relative, star)], axis=-1)


#: Input scalings known to `scale_flux`, by the name a model's ``config.input_scaling`` uses.
#: ``median`` is what the published checkpoints were trained on. Add an entry (a
#: `ScalingMethod`, or a plain function of the flux array) to make a method available
#: everywhere.
SCALING_METHODS: dict[str, ScalingMethod] = {
    "median": ScalingMethod(_median, needs_noise=False),
    "median_noise": ScalingMethod(_median_noise),
    "median_noise_asinh": ScalingMethod(_median_noise_asinh),
    "running_median_noise_asinh": ScalingMethod(_trend_noise_asinh, trend="running_median"),
    "trend_noise_asinh": ScalingMethod(_trend_noise_asinh, trend="stellar"),
    "rotation_trend_noise_asinh": ScalingMethod(_rotation_trend_noise_asinh, trend="rotation"),
    "adaptive_trend_noise_asinh": ScalingMethod(_trend_noise_asinh, trend="adaptive"),
    "rotation_adaptive_trend_noise_asinh": ScalingMethod(_rotation_trend_noise_asinh,
                                                         trend="rotation_adaptive"),
    "rotation_adaptive_and_flux_asinh": ScalingMethod(_rotation_adaptive_and_flux_asinh,
                                                      trend="rotation_adaptive", channels=2),
}


def _method(name: Any) -> ScalingMethod:
    try:
        method = SCALING_METHODS[name]
    except (KeyError, TypeError):
        raise InputError(
            f"scale_flux: unknown method {name!r}; valid methods: {', '.join(SCALING_METHODS)}."
        ) from None
    if not isinstance(method, ScalingMethod):  # a plain function of the flux (the old form)
        return ScalingMethod(_flux_function(method), needs_noise=False)
    return method


def _flux_function(function: Callable[[np.ndarray], np.ndarray]) -> Callable:
    def scaled(relative: np.ndarray, star: StarTrend) -> np.ndarray:
        return function(relative * star.median)

    return scaled


def trend_method(method: str) -> str:
    """The `~fcn4flare.trend.estimate_trend` method that input scaling ``method`` uses.

    Methods that subtract no trend get the default, ``'rotation'``: the trend the flare table
    is measured against.

    Examples
    --------
    >>> from fcn4flare.scaling import trend_method
    >>> trend_method("trend_noise_asinh"), trend_method("median")
    ('stellar', 'rotation')
    """
    return _method(method).trend or "rotation"


def scaling_channels(method: str) -> int:
    """Input channels that input scaling ``method`` gives (a model's ``config.input_dim``).

    Examples
    --------
    >>> from fcn4flare.scaling import scaling_channels
    >>> scaling_channels("rotation_trend_noise_asinh"), scaling_channels(
    ...     "rotation_adaptive_and_flux_asinh")
    (1, 2)
    """
    return _method(method).channels


def scale_flux(flux: Any, method: str = "median", trend: StarTrend | None = None) -> np.ndarray:
    """Scale flux the way a model expects it.

    Parameters
    ----------
    flux : array-like or `~astropy.units.Quantity`
        Flux on the cadence grid; NaN values stay NaN. The unit is irrelevant (every method
        is a ratio).
    method : str
        A key of `SCALING_METHODS`: ``"median"`` (``flux / nanmedian(flux)``, what the
        published checkpoints were trained on), ``"median_noise"``
        (``(flux / nanmedian(flux) - 1) / noise``), ``"median_noise_asinh"``, those that
        subtract a trend first (``"running_median_noise_asinh"``, ``"trend_noise_asinh"``,
        ``"rotation_trend_noise_asinh"``, ``"adaptive_trend_noise_asinh"``,
        ``"rotation_adaptive_trend_noise_asinh"``) and ``"rotation_adaptive_and_flux_asinh"``
        (two channels: that last residual and ``"median_noise_asinh"``).
    trend : `~fcn4flare.trend.StarTrend`, optional
        The star's trend, from `~fcn4flare.trend.estimate_trend` with `trend_method`
        (``method``), when it is already known; computed here otherwise.

    Returns
    -------
    ndarray
        A new float64 array: the flux's shape for one-channel methods, ``(n, channels)``
        for the others (`scaling_channels`).

    Raises
    ------
    InputError
        Unknown method, no finite flux, a median that is not positive, zero noise, or a
        ``trend`` of another length.

    Examples
    --------
    >>> import numpy as np
    >>> from fcn4flare.scaling import scale_flux
    >>> scale_flux([2.0, 4.0, np.nan, 2.0], "median")
    array([ 1.,  2., nan,  1.])
    >>> scale_flux([1.0, 1.0, 1.1, 1.0], "foo")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    fcn4flare.exceptions.InputError: scale_flux: unknown method 'foo'; valid methods: ...
    """
    scaling = _method(method)
    values = float_array(flux, "flux", one_dimensional=False)
    if not isinstance(SCALING_METHODS[method], ScalingMethod):
        return np.asarray(SCALING_METHODS[method](values), dtype=np.float64)
    relative = divide_by_median(values)
    if scaling.needs_noise or scaling.trend is not None:
        if trend is None:
            trend = estimate_trend(values, trend_method(method))
        elif np.shape(trend.trend) != relative.shape:
            raise InputError(
                f"scale_flux: the trend has {np.size(trend.trend)} values for "
                f"{relative.size} flux values."
            )
        if scaling.needs_noise and not np.isfinite(trend.noise):
            raise InputError(
                "scale_flux: the noise needs at least 3 finite flux values, got "
                f"{int(np.isfinite(relative).sum())}."
            )
        if scaling.needs_noise and not trend.noise > 0:
            raise InputError(
                "scale_flux: the robust point-to-point noise of the flux is zero (most "
                "consecutive samples differ by exactly the same amount), so "
                f"{method!r} scaling is undefined; use 'median' or add the real noise."
            )
    else:
        trend = StarTrend(np.full(relative.shape, np.nan), np.nan, np.nan, 1.0, "none")
    return np.asarray(scaling.function(relative, trend), dtype=np.float64)
