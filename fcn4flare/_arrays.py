"""Small numeric helpers on plain float arrays, one copy each for the whole package.

Nothing here knows about units, times or light-curve objects: the boundary modules
(`fcn4flare.lightcurve`, `fcn4flare.catalog`) strip and re-attach those.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .exceptions import InputError

__all__ = [
    "PADDING_LABEL",
    "find_runs",
    "missing_samples",
    "fill_by_interpolation",
    "point_to_point_noise",
    "second_difference_noise",
    "robust_noise",
    "median_step",
    "divide_by_median",
    "divide_by_median_with_median",
    "float_array",
]

#: Label of a sample that is not a real measurement (padding, an inserted cadence): ignored
#: by the loss and by every metric. The value of the published release.
PADDING_LABEL = -100


def find_runs(mask: Any) -> tuple[np.ndarray, np.ndarray]:
    """Return the first and last (inclusive) index of each run of True in ``mask``.

    Parameters
    ----------
    mask : array-like of bool
        1-D mask.

    Returns
    -------
    starts, stops : ndarray of int
        ``mask[starts[k] : stops[k] + 1]`` is the k-th run.

    Raises
    ------
    InputError
        ``mask`` is not one-dimensional.

    Examples
    --------
    >>> from fcn4flare._arrays import find_runs
    >>> find_runs([True, True, False, False, True, False, True])
    (array([0, 4, 6]), array([1, 4, 6]))
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 1:
        raise InputError(f"find_runs: mask must be one-dimensional, got shape {mask.shape}.")
    edges = np.diff(mask.astype(np.int8), prepend=0, append=0)
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1


def missing_samples(values: np.ndarray) -> np.ndarray:
    """Samples with a NaN in any channel: ``isnan`` of ``(n,)``, any over the last axis of
    ``(n, channels)`` (the network's one mask of a multi-channel input).

    Examples
    --------
    >>> import numpy as np
    >>> from fcn4flare._arrays import missing_samples
    >>> missing_samples(np.array([[1.0, 2.0], [np.nan, 0.0], [3.0, 4.0]])).tolist()
    [False, True, False]
    """
    missing = np.isnan(values)
    return missing if missing.ndim == 1 else missing.any(axis=-1)


def fill_by_interpolation(values: np.ndarray) -> np.ndarray:
    """``values`` with non-finite entries linearly interpolated from their finite neighbours.

    Entries before the first (after the last) finite value take that value. An array with no
    finite value is returned unchanged; a complete one is returned as is (not copied).

    Examples
    --------
    >>> import numpy as np
    >>> from fcn4flare._arrays import fill_by_interpolation
    >>> fill_by_interpolation(np.array([np.nan, 1.0, np.nan, 3.0, np.nan]))
    array([1., 1., 2., 3., 3.])
    """
    known = np.isfinite(values)
    if known.all() or not known.any():
        return values
    index = np.arange(values.size)
    filled = values.copy()
    filled[~known] = np.interp(index[~known], index[known], values[known])
    return filled


def point_to_point_noise(values: Any) -> float:
    """Robust point-to-point scatter: the standard deviation of white noise in ``values``.

    ``1.4826 * median(|d - median(d)|) / sqrt(2)`` where ``d`` are the differences of
    consecutive finite values; insensitive to slow trends and to the few samples a flare
    occupies.

    Returns
    -------
    float
        NaN when fewer than three finite values exist.

    Examples
    --------
    >>> import numpy as np
    >>> from fcn4flare._arrays import point_to_point_noise
    >>> rng = np.random.default_rng(0)
    >>> round(point_to_point_noise(1 + 1e-3 * rng.standard_normal(20000)), 4)
    0.001
    """
    return _difference_noise(values, 1)


def second_difference_noise(values: Any) -> float:
    """Robust white-noise level from second differences: blind to the star's slope.

    ``1.4826 * median(|d - median(d)|) / sqrt(6)`` where ``d = y[i-1] - 2 y[i] + y[i+1]``
    over consecutive finite values. Where the star changes by several noise units per
    cadence (fast rotators at long cadence), consecutive differences carry the slope and
    ``point_to_point_noise`` overestimates the noise (by 1.6-2.9x on the Kepler and K2 files
    of the evaluation); second differences cancel a locally straight trend.

    Returns
    -------
    float
        NaN when fewer than four finite values exist.

    Examples
    --------
    >>> import numpy as np
    >>> from fcn4flare._arrays import point_to_point_noise, second_difference_noise
    >>> t = np.arange(20000)
    >>> noise = 1e-3 * np.random.default_rng(0).standard_normal(t.size)
    >>> steep = 1 + 0.05 * np.sin(2 * np.pi * t / 60) + noise
    >>> round(second_difference_noise(steep), 4), bool(point_to_point_noise(steep) > 2e-3)
    (0.001, True)
    """
    return _difference_noise(values, 2)


def _difference_noise(values: Any, order: int) -> float:
    """White noise from the robust scatter of the ``order``-th differences of the finite
    values (NaN with fewer than ``order + 2`` of them)."""
    values = np.asarray(values, dtype=float)
    finite = values[np.isfinite(values)]
    if finite.size < order + 2:
        return float("nan")
    d = np.diff(finite, n=order)
    gain = np.sqrt(math.comb(2 * order, order))  # std of white noise's differences / noise
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / gain)


def robust_noise(x: Any) -> float:
    """Robust point-to-point scatter of ``x / nanmedian(x)`` (see ``point_to_point_noise``).

    Parameters
    ----------
    x : array-like
        Flux; NaN values are skipped.

    Returns
    -------
    float
        The noise in units of the median flux.

    Raises
    ------
    InputError
        Fewer than three finite values, or a median that is not positive.

    Examples
    --------
    >>> import numpy as np
    >>> from fcn4flare._arrays import robust_noise
    >>> rng = np.random.default_rng(0)
    >>> flux = 100 * (1 + 0.01 * rng.standard_normal(20000))
    >>> round(robust_noise(flux), 3)
    0.01
    """
    relative = divide_by_median(x)
    n_finite = int(np.isfinite(relative).sum())
    if n_finite < 3:
        raise InputError(f"robust_noise: needs at least 3 finite flux values, got {n_finite}.")
    return point_to_point_noise(relative)


def divide_by_median(flux: Any) -> np.ndarray:
    """``flux / nanmedian(flux)`` as a new float array.

    Raises
    ------
    InputError
        No finite value, or a median that is not positive.

    Examples
    --------
    >>> from fcn4flare._arrays import divide_by_median
    >>> divide_by_median([2.0, 4.0, float("nan"), 2.0])
    array([ 1.,  2., nan,  1.])
    """
    return divide_by_median_with_median(flux)[0]


def divide_by_median_with_median(flux: Any) -> tuple[np.ndarray, float]:
    """`divide_by_median` and the median it divided by, found once.

    Examples
    --------
    >>> from fcn4flare._arrays import divide_by_median_with_median
    >>> divide_by_median_with_median([2.0, 4.0, float("nan"), 2.0])
    (array([ 1.,  2., nan,  1.]), 2.0)
    """
    flux = float_array(flux, "flux")
    finite = flux[np.isfinite(flux)]
    if finite.size == 0:
        raise InputError("scale_flux: the flux has no finite values.")
    median = float(np.median(finite))
    del finite
    if not median > 0:
        raise InputError(
            f"scale_flux: the median flux is {median:g}; scaling by the median needs a "
            "positive flux level (pass raw or normalised flux, not residuals around zero)."
        )
    return flux / median, median


def median_step(values: np.ndarray) -> float:
    """Median positive difference of consecutive finite ``values`` (a cadence); NaN if none.

    Examples
    --------
    >>> import numpy as np
    >>> from fcn4flare._arrays import median_step
    >>> median_step(np.array([0.0, 0.5, np.nan, 1.0, 2.0]))
    0.5
    """
    steps = np.diff(values[np.isfinite(values)])
    steps = steps[steps > 0]
    return float(np.median(steps)) if steps.size else float("nan")


def float_array(values: Any, name: str, unit: Any = None, *, one_dimensional: bool = True
                ) -> np.ndarray:
    """A float64 copy of ``values``: masked entries set to NaN, a Quantity converted to ``unit``.

    Parameters
    ----------
    values : array-like, `~astropy.units.Quantity` or masked array
        The values.
    name : str
        Named in error messages.
    unit : `~astropy.units.UnitBase`, optional
        Unit a Quantity is converted to; without it, a Quantity's unit is dropped.
    one_dimensional : bool
        Require (and return) a 1-D array; a scalar becomes one element.

    Raises
    ------
    InputError
        Values that are not numeric, a unit that does not convert, or (with
        ``one_dimensional``) more than one dimension; the message names ``name``.

    Examples
    --------
    >>> import numpy as np
    >>> import astropy.units as u
    >>> from fcn4flare._arrays import float_array
    >>> float_array(np.ma.masked_array([1.0, 2.0], mask=[False, True]), "flux")
    array([ 1., nan])
    >>> float_array([1.0, 2.0] * u.h, "time", u.min)
    array([ 60., 120.])
    """
    from astropy import units as u

    mask = None
    if hasattr(values, "unmasked") and hasattr(values, "mask"):  # astropy Masked
        mask = np.asarray(values.mask)
        values = values.unmasked
    elif isinstance(values, np.ma.MaskedArray):
        mask = np.ma.getmaskarray(values)
        values = values.data
    if isinstance(values, u.Quantity):
        if unit is None:
            values = values.value
        else:
            try:
                values = values.to_value(unit)
            except u.UnitConversionError:
                raise InputError(
                    f"{name} has unit {values.unit.to_string()!r}, expected one convertible "
                    f"to {u.Unit(unit).to_string()!r}."
                ) from None
    try:
        array = np.array(values, dtype=np.float64, copy=True)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be numeric, got {type(values).__name__}.") from None
    if one_dimensional:
        array = np.atleast_1d(array)
        if array.ndim != 1:
            raise InputError(f"{name} must be one-dimensional, got shape {array.shape}")
    if mask is not None and np.any(mask):
        array[np.broadcast_to(mask, array.shape)] = np.nan
    return array
