"""Turn a light curve into model-ready arrays, and map results back to its samples.

The boundary of this module accepts lightkurve ``LightCurve`` objects (Kepler, K2, TESS),
astropy `~astropy.timeseries.TimeSeries` and plain `~astropy.time.Time` / float arrays with a
flux array or `~astropy.units.Quantity`. Everything after `prepare_light_curve` works on plain
float arrays:

1. `prepare_light_curve` picks the flux column, applies the quality bitmask (masked samples
   become NaN, nothing is dropped), validates times and units and reads the target's meta data.
2. `regular_grid` puts the samples on a regular cadence grid, inserting NaN where cadences are
   missing so that the network's dilated convolutions see the true time spacing.
3. `scale_flux` scales the flux the way the model's checkpoint expects.
"""

from __future__ import annotations

import dataclasses
import sys
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from astropy import units as u
from astropy.time import Time, TimeDelta

from .detrending import running_median, stellar_trend
from .exceptions import FCN4FlareWarning, InputError
from .rotation import local_scatter, trend_with_rotation

__all__ = [
    "PreparedLightCurve",
    "GridMap",
    "prepare_light_curve",
    "regular_grid",
    "scale_flux",
    "robust_noise",
    "SCALING_METHODS",
    "QUALITY_BITMASKS",
    "DEFAULT_MIN_SAMPLES",
    "DEFAULT_MAX_GAP",
    "MAX_GRID_SIZE",
]

#: Fewest usable (finite, unflagged) samples `prepare_light_curve` accepts by default: the
#: smallest flare event the published post-processing can keep has three samples.
DEFAULT_MIN_SAMPLES = 3

#: Longest run of NaN that `regular_grid` inserts for a gap, in grid samples. Any value of at
#: least the model's ``config.context`` (263 for the published model) leaves every probability
#: unchanged; 1024 leaves a wide margin while keeping a year-long gap at 2-min cadence from
#: turning into 260,000 empty samples.
DEFAULT_MAX_GAP = 1024

#: Largest grid `regular_grid` will build (only reachable with ``max_gap=None``).
MAX_GRID_SIZE = 100_000_000

#: Valid string values of ``quality_bitmask`` (the lightkurve names).
QUALITY_BITMASKS = ("none", "default", "hard", "hardest")

_DAY_FORMATS = ("jd", "mjd", "bkjd", "btjd")
_LIGHTKURVE_TIME_FORMATS = ("bkjd", "btjd")

# Units whose values are proportional to brightness, so that dividing by the median is
# meaningful. Equivalence is tested without equivalencies (so Jy accepts mJy, not Hz).
_FLUX_UNITS = (
    u.dimensionless_unscaled,
    u.electron,
    u.electron / u.s,
    u.ct,
    u.ct / u.s,
    u.adu,
    u.adu / u.s,
    u.photon,
    u.photon / u.s,
    u.photon / u.s / u.m**2,
    u.Jy,
    u.W / u.m**2,
    u.W / u.m**3,
)

_TARGET_KEYS = ("LABEL", "OBJECT")
_TARGET_ID_KEYS = ("TARGETID", "KEPLERID", "TICID")


# --------------------------------------------------------------------------- dataclasses


@dataclasses.dataclass(frozen=True, eq=False)
class PreparedLightCurve:
    """A light curve checked and converted to the plain arrays the model pipeline needs.

    Built by `prepare_light_curve`; all arrays have one entry per sample of the input, in the
    input's order (nothing is dropped).

    Attributes
    ----------
    time : `~astropy.time.Time`
        The input times, unmodified.
    time_days : ndarray
        The times as floats in days (the input's own day-based format, e.g. BKJD, BTJD, MJD;
        JD for other formats).
    flux : ndarray
        The flux values, NaN where the input was non-finite, masked or quality-flagged.
    flux_unit : `~astropy.units.UnitBase`
        Unit of ``flux`` (dimensionless when the input had none).
    usable : ndarray of bool
        True where ``flux`` is finite: the samples the model sees.
    cadence : `~astropy.units.Quantity` or None
        Median cadence (minutes); None for a single sample.
    cadence_numbers : ndarray of int or None
        The mission's cadence numbers (``CADENCENO``) when present and strictly increasing.
    flux_err : ndarray or None
        Flux uncertainties (NaN where ``flux`` is NaN), when a column for them exists.
    meta : dict
        ``target``, ``target_id``, ``mission``, ``quarter``, ``campaign``, ``sector`` (None when
        unknown), ``flux_column`` (None for arrays) and ``quality_bitmask`` (the int applied,
        or None).

    Examples
    --------
    >>> import numpy as np
    >>> from fcn4flare.preprocessing import prepare_light_curve
    >>> lc = prepare_light_curve(np.arange(5) * 0.02, [1.0, 1.1, np.nan, 0.9, 1.0])
    >>> lc.usable
    array([ True,  True, False,  True,  True])
    >>> lc.cadence  # doctest: +FLOAT_CMP
    <Quantity 28.8 min>
    """

    time: Time
    time_days: np.ndarray
    flux: np.ndarray
    flux_unit: u.UnitBase
    usable: np.ndarray
    cadence: u.Quantity | None
    cadence_numbers: np.ndarray | None = None
    flux_err: np.ndarray | None = None
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.flux)

    def grid(self, max_gap: int | None = DEFAULT_MAX_GAP) -> GridMap:
        """Return the `GridMap` of this light curve (see `regular_grid`).

        Examples
        --------
        >>> from fcn4flare.preprocessing import prepare_light_curve
        >>> lc = prepare_light_curve([0.0, 1.0, 2.0, 4.0], [1.0, 1.0, 1.0, 1.0])
        >>> lc.grid().size
        5
        """
        return regular_grid(self.time_days, self.cadence_numbers, max_gap=max_gap)

    def model_input(
        self, scaling: str = "median", max_gap: int | None = DEFAULT_MAX_GAP
    ) -> tuple[np.ndarray, GridMap]:
        """Return the scaled flux on the regular grid, and the grid to map results back.

        Parameters
        ----------
        scaling : str
            A key of `SCALING_METHODS`; use the model's ``config.input_scaling``.
        max_gap : int or None
            See `regular_grid`.

        Returns
        -------
        flux : ndarray
            Scaled flux on the grid, NaN in gaps and at unusable samples.
        grid : `GridMap`
            ``grid.from_grid(values)`` brings grid arrays back to this light curve's samples.

        Examples
        --------
        >>> from fcn4flare.preprocessing import prepare_light_curve
        >>> lc = prepare_light_curve([0.0, 1.0, 2.0, 4.0], [2.0, 4.0, 2.0, 2.0])
        >>> flux, grid = lc.model_input("median")
        >>> flux
        array([ 1.,  2.,  1., nan,  1.])
        >>> grid.from_grid(flux)
        array([1., 2., 1., 1.])
        """
        grid = self.grid(max_gap=max_gap)
        # Scaled on the grid: trends and rotation phases are counted in cadences, not rows.
        return scale_flux(grid.to_grid(self.flux), scaling), grid


@dataclasses.dataclass(frozen=True, eq=False)
class GridMap:
    """Where each sample of a light curve sits on a regular cadence grid.

    Built by `regular_grid`.

    Attributes
    ----------
    index : ndarray of int
        Grid position of each sample (strictly increasing, starting at 0).
    size : int
        Length of the grid.
    cadence_days : float
        Grid spacing in days (NaN when it could not be determined from a single sample).
    n_shortened_gaps : int
        Number of gaps whose inserted NaN run was capped at ``max_gap``.

    Examples
    --------
    >>> import numpy as np
    >>> from fcn4flare.preprocessing import regular_grid
    >>> grid = regular_grid(np.array([0.0, 0.1, 0.4, 0.5]))
    >>> grid.index, grid.size
    (array([0, 1, 4, 5]), 6)
    >>> grid.to_grid([1.0, 2.0, 3.0, 4.0])
    array([ 1.,  2., nan, nan,  3.,  4.])
    """

    index: np.ndarray
    size: int
    cadence_days: float
    n_shortened_gaps: int = 0

    def __len__(self) -> int:
        return self.size

    def to_grid(self, values: Any, fill: Any = np.nan) -> np.ndarray:
        """Place per-sample ``values`` on the grid; inserted cadences get ``fill``.

        Examples
        --------
        >>> from fcn4flare.preprocessing import regular_grid
        >>> regular_grid([0.0, 2.0], cadence=1.0).to_grid([True, True], fill=False)
        array([ True, False,  True])
        """
        values = np.asarray(values)
        if values.shape[:1] != self.index.shape:
            raise InputError(
                f"GridMap.to_grid: got {values.shape[0] if values.ndim else 0} values for "
                f"{len(self.index)} samples."
            )
        dtype = np.result_type(values.dtype, np.asarray(fill).dtype)
        grid = np.full((self.size, *values.shape[1:]), fill, dtype=dtype)
        grid[self.index] = values
        return grid

    def from_grid(self, values: Any) -> np.ndarray:
        """Return the entries of grid array ``values`` at the original samples.

        Examples
        --------
        >>> from fcn4flare.preprocessing import regular_grid
        >>> regular_grid([0.0, 2.0], cadence=1.0).from_grid([0.1, 0.5, 0.9])
        array([0.1, 0.9])
        """
        values = np.asarray(values)
        if values.shape[:1] != (self.size,):
            raise InputError(
                f"GridMap.from_grid: got {values.shape[0] if values.ndim else 0} values for a "
                f"grid of {self.size}."
            )
        return values[self.index].copy()


# --------------------------------------------------------------------------- scaling


def robust_noise(x: Any) -> float:
    """Robust point-to-point scatter of ``x / nanmedian(x)``.

    ``1.4826 * median(|d - median(d)|) / sqrt(2)`` where ``d`` are the differences of
    consecutive finite values: the standard deviation of white noise, insensitive to slow
    trends and to the few samples a flare occupies.

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
    >>> from fcn4flare.preprocessing import robust_noise
    >>> rng = np.random.default_rng(0)
    >>> flux = 100 * (1 + 0.01 * rng.standard_normal(20000))
    >>> round(robust_noise(flux), 3)
    0.01
    """
    relative = _divide_by_median(x)
    finite = relative[np.isfinite(relative)]
    if finite.size < 3:
        raise InputError(f"robust_noise: needs at least 3 finite flux values, got {finite.size}.")
    d = np.diff(finite)
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / np.sqrt(2))


def _divide_by_median(flux: Any) -> np.ndarray:
    flux = _float_values(flux, "flux")
    finite = flux[np.isfinite(flux)]
    if finite.size == 0:
        raise InputError("scale_flux: the flux has no finite values.")
    median = np.median(finite)
    if not median > 0:
        raise InputError(
            f"scale_flux: the median flux is {median:g}; scaling by the median needs a "
            "positive flux level (pass raw or normalised flux, not residuals around zero)."
        )
    return flux / median


def _scale_median(flux: np.ndarray) -> np.ndarray:
    return _divide_by_median(flux)


def _noise_or_error(flux: np.ndarray, method: str) -> float:
    noise = robust_noise(flux)
    if not noise > 0:
        raise InputError(
            "scale_flux: the robust point-to-point noise of the flux is zero (most consecutive "
            f"samples differ by exactly the same amount), so {method!r} scaling is "
            "undefined; use 'median' or add the real noise."
        )
    return noise


def _scale_median_noise(flux: np.ndarray) -> np.ndarray:
    return (_divide_by_median(flux) - 1.0) / _noise_or_error(flux, "median_noise")


#: Noise units below which ``median_noise_asinh`` is linear; above, it grows logarithmically.
ASINH_SOFTENING = 5.0


def _compress(z: np.ndarray) -> np.ndarray:
    # Light curves span 1 to 1000 noise units (spots, pulsations, huge flares); compressing
    # the large values keeps one loud example from dominating BatchNorm's statistics.
    return ASINH_SOFTENING * np.arcsinh(z / ASINH_SOFTENING)


def _scale_median_noise_asinh(flux: np.ndarray) -> np.ndarray:
    return _compress(_scale_median_noise(flux))


def _scale_running_median_noise_asinh(flux: np.ndarray) -> np.ndarray:
    # The star's own variability (spots, trends) is removed before the compression, so a
    # flare on the bright or faint phase of a spotted star reaches the network at the same
    # size as on a quiet star; the window is long next to most flares and short next to
    # rotation, and it also trims flare tails that are hidden in the noise.
    relative = _divide_by_median(flux)
    noise = _noise_or_error(flux, "running_median_noise_asinh")
    return _compress((relative - running_median(relative)) / noise)


def _scale_trend_noise_asinh(flux: np.ndarray) -> np.ndarray:
    relative = _divide_by_median(flux)
    noise = _noise_or_error(flux, "trend_noise_asinh")
    return _compress((relative - stellar_trend(relative, noise)) / noise)


def _scale_rotation_trend_noise_asinh(flux: np.ndarray) -> np.ndarray:
    # Where the rotation trend is chosen, its residual is divided by its local scatter where
    # that exceeds the noise, so that the changes of spots that the neighbouring rotations do
    # not predict are not taken for slow flares.
    relative = _divide_by_median(flux)
    noise = _noise_or_error(flux, "rotation_trend_noise_asinh")
    trend, period = trend_with_rotation(relative, noise)
    z = (relative - trend) / noise
    if np.isfinite(period):
        z = z / np.fmax(local_scatter(z, int(period) | 1), 1.0)
    return _compress(z)


#: Flux scalings known to `scale_flux`: name -> function of a float array returning a new
#: float array. Add an entry to make a new method available everywhere.
SCALING_METHODS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "median": _scale_median,
    "median_noise": _scale_median_noise,
    "median_noise_asinh": _scale_median_noise_asinh,
    "running_median_noise_asinh": _scale_running_median_noise_asinh,
    "trend_noise_asinh": _scale_trend_noise_asinh,
    "rotation_trend_noise_asinh": _scale_rotation_trend_noise_asinh,
}


def scale_flux(flux: Any, method: str = "median") -> np.ndarray:
    """Scale flux the way a model checkpoint expects.

    Parameters
    ----------
    flux : array-like or `~astropy.units.Quantity`
        Flux; NaN values stay NaN. The unit is irrelevant (every method is a ratio).
    method : str
        ``"median"``: ``flux / nanmedian(flux)``, what the published checkpoints were trained
        on. ``"median_noise"``: ``(flux / nanmedian(flux) - 1) / robust_noise(flux)``. Any key
        of `SCALING_METHODS`.

    Returns
    -------
    ndarray
        A new float64 array.

    Raises
    ------
    InputError
        Unknown method, no finite flux, a median that is not positive, or zero noise.

    Examples
    --------
    >>> import numpy as np
    >>> from fcn4flare.preprocessing import scale_flux
    >>> scale_flux([2.0, 4.0, np.nan, 2.0], "median")
    array([ 1.,  2., nan,  1.])
    >>> scale_flux([1.0, 1.0, 1.1, 1.0], "foo")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    fcn4flare.exceptions.InputError: scale_flux: unknown method 'foo'; valid methods: ...
    """
    try:
        scaling = SCALING_METHODS[method]
    except (KeyError, TypeError):
        raise InputError(
            f"scale_flux: unknown method {method!r}; valid methods: {', '.join(SCALING_METHODS)}."
        ) from None
    return np.asarray(scaling(_float_values(flux, "flux")), dtype=np.float64)


# --------------------------------------------------------------------------- grid


def regular_grid(
    time_days: Any,
    cadence_numbers: Any = None,
    cadence: float | u.Quantity | None = None,
    *,
    max_gap: int | None = DEFAULT_MAX_GAP,
) -> GridMap:
    """Map samples onto a regular cadence grid with the missing cadences inserted.

    The network's dilated convolutions assume one sample per cadence; where cadences are
    missing (data gaps, dropped quality-flagged rows) the grid gets NaN entries so that a
    dilation of 64 always spans 64 cadences.

    With ``cadence_numbers`` (a mission's ``CADENCENO``) the grid position of sample ``i`` is
    ``cadence_numbers[i] - cadence_numbers[0]``. Without them, consecutive samples are
    ``max(1, round(dt / cadence))`` grid steps apart; computing steps from consecutive
    differences (not from ``t - t0``) keeps the slow drift of barycentric times from adding
    spurious one-cadence gaps or collisions over a long light curve.

    Gaps longer than ``max_gap`` missing cadences are shortened to ``max_gap`` NaNs. The
    network couples samples only within ``config.context`` samples (263 for the published
    model) and sees nothing but NaN across such a gap either way, so any ``max_gap`` of at
    least the context gives exactly the same probabilities.

    Parameters
    ----------
    time_days : array-like or `~astropy.units.Quantity`
        Sample times, finite and strictly increasing (days when a plain array).
    cadence_numbers : array-like of int, optional
        Strictly increasing cadence numbers, one per sample.
    cadence : float or `~astropy.units.Quantity`, optional
        Grid spacing (days when a float). Default: the median time step (per cadence number
        when those are given).
    max_gap : int or None
        Cap on the number of NaN cadences inserted for one gap; None for no cap.

    Returns
    -------
    GridMap

    Raises
    ------
    InputError
        Non-finite, unsorted or duplicated times; cadence numbers that do not increase; a
        cadence that is not positive; a grid larger than `MAX_GRID_SIZE`.

    Examples
    --------
    >>> import numpy as np
    >>> from fcn4flare.preprocessing import regular_grid
    >>> t = np.array([0.0, 1.0, 2.0, 2002.0, 2003.0])
    >>> regular_grid(t).size  # 1999 missing cadences capped at DEFAULT_MAX_GAP = 1024
    1029
    >>> regular_grid(t, max_gap=None).size
    2004
    >>> regular_grid(t, cadence_numbers=[10, 11, 13, 20, 21]).index
    array([ 0,  1,  3, 10, 11])
    """
    t = _float_values(time_days, "time_days", unit=u.day)
    if t.ndim != 1:
        raise InputError(f"regular_grid: time must be one-dimensional, got shape {t.shape}.")
    _check_times(t)
    if max_gap is not None and (int(max_gap) != max_gap or max_gap < 0):
        raise InputError(f"regular_grid: max_gap must be a non-negative integer, got {max_gap}.")

    if cadence_numbers is not None:
        steps = _steps_from_cadence_numbers(cadence_numbers, len(t))
    else:
        steps = None
    cadence_days = _grid_cadence(t, steps, cadence)
    if steps is None:
        steps = np.maximum(1, np.rint(np.diff(t) / cadence_days)).astype(np.int64)

    n_shortened = 0
    if max_gap is not None:
        too_long = steps > max_gap + 1
        n_shortened = int(too_long.sum())
        steps = np.where(too_long, max_gap + 1, steps)
    size = 1 + int(steps.sum()) if len(t) else 0
    if size > MAX_GRID_SIZE:
        raise InputError(
            f"regular_grid: the time span needs a grid of {size} samples at a cadence of "
            f"{cadence_days * 1440:g} min (limit {MAX_GRID_SIZE}); check the time unit or "
            "pass a max_gap."
        )
    index = np.concatenate([[0], np.cumsum(steps)]).astype(np.int64) if len(t) else steps
    return GridMap(
        index=index, size=size, cadence_days=float(cadence_days), n_shortened_gaps=n_shortened
    )


def _steps_from_cadence_numbers(cadence_numbers: Any, n: int) -> np.ndarray:
    numbers = np.asarray(cadence_numbers)
    if numbers.shape != (n,):
        raise InputError(f"regular_grid: {numbers.size} cadence numbers given for {n} samples.")
    if not np.issubdtype(numbers.dtype, np.integer):
        as_float = numbers.astype(float)
        if not np.all(np.isfinite(as_float)) or np.any(as_float != np.round(as_float)):
            raise InputError("regular_grid: cadence numbers must be integers.")
    steps = np.diff(numbers.astype(np.int64))
    bad = np.flatnonzero(steps <= 0)
    if bad.size:
        raise InputError(
            f"regular_grid: cadence numbers must increase strictly; they do not at sample "
            f"{bad[0] + 1} ({numbers[bad[0]]} -> {numbers[bad[0] + 1]})."
        )
    return steps


def _grid_cadence(t: np.ndarray, steps: np.ndarray | None, cadence: Any) -> float:
    if cadence is not None:
        value = float(_float_values(cadence, "cadence", unit=u.day))
        if not value > 0 or not np.isfinite(value):
            raise InputError(f"regular_grid: cadence must be positive, got {cadence}.")
        return value
    if len(t) < 2:
        return float("nan")
    dt = np.diff(t)
    return float(np.median(dt if steps is None else dt / steps))


def _check_finite_times(t: np.ndarray, where: str) -> None:
    bad = np.flatnonzero(~np.isfinite(t))
    if bad.size:
        raise InputError(
            f"{where}: {bad.size} time value(s) are not finite (NaN, infinite or masked), at "
            f"sample index(es) {_list_indices(bad)}; remove those samples first."
        )


def _check_times(t: np.ndarray, where: str = "regular_grid") -> None:
    _check_finite_times(t, where)
    dt = np.diff(t)
    backwards = np.flatnonzero(dt < 0)
    if backwards.size:
        i = backwards[0]
        raise InputError(
            f"{where}: times are not sorted: time decreases from sample {i} ({float(t[i])!r}) "
            f"to sample {i + 1} ({float(t[i + 1])!r}) ({backwards.size} such place(s)); sort "
            "the light curve first."
        )
    same = np.flatnonzero(dt == 0)
    if same.size:
        pairs = ", ".join(f"{float(t[i])!r} at samples {i} and {i + 1}" for i in same[:5])
        more = f" and {same.size - 5} more" if same.size > 5 else ""
        raise InputError(f"{where}: duplicated times: {pairs}{more}.")


def _list_indices(indices: np.ndarray, limit: int = 10) -> str:
    shown = ", ".join(str(i) for i in indices[:limit])
    return shown + (f", ... ({indices.size - limit} more)" if indices.size > limit else "")


# --------------------------------------------------------------------------- inputs


def prepare_light_curve(
    data: Any,
    flux: Any = None,
    *,
    flux_column: str | None = None,
    flux_err_column: str | None = None,
    quality_bitmask: str | int | None = "default",
    time_format: str | None = None,
    min_samples: int = DEFAULT_MIN_SAMPLES,
) -> PreparedLightCurve:
    """Check a light curve and convert it to the arrays the model pipeline needs.

    Nothing is dropped and the input is never modified: samples that are quality-flagged or
    have non-finite flux stay in place with NaN flux (``usable`` False), so results can be
    reported at every original sample.

    Parameters
    ----------
    data : LightCurve, `~astropy.timeseries.TimeSeries`, `~astropy.time.Time` or array-like
        A lightkurve light curve (``KeplerLightCurve``, ``TessLightCurve``, ...), a
        ``TimeSeries`` with a flux column, or sample times (then ``flux`` is required).
        Plain numbers are days (see ``time_format``); a `~astropy.units.Quantity` of time is
        converted to days.
    flux : array-like or `~astropy.units.Quantity`, optional
        Flux, one value per time; only when ``data`` holds times.
    flux_column : str, optional
        Column holding the flux. Default: ``pdcsap_flux`` when the table has it (a mission
        pipeline product, what the published model was trained on) unless the table's
        ``FLUX_ORIGIN`` meta names another existing column (lightkurve's ``select_flux`` was
        used); otherwise ``flux``.
    flux_err_column : str, optional
        Column holding flux uncertainties. Default: ``<flux_column>_err``, or ``flux_err``.
    quality_bitmask : {'none', 'default', 'hard', 'hardest'}, int or None
        Quality flags that blank a sample, as in lightkurve (Kepler/K2 or TESS definitions,
        by mission). Applied only to tables with a ``quality`` column; for tables whose
        mission is unknown only an int bitmask is applied. None or ``'none'``: no masking.
    time_format : str, optional
        Format of plain-number times (``'jd'``, ``'mjd'``, ``'bkjd'``, ``'btjd'``, ...).
        Default ``'jd'``; the values are kept as given either way.
    min_samples : int
        Fewest usable samples accepted.

    Returns
    -------
    PreparedLightCurve

    Raises
    ------
    InputError
        Empty input; lengths of time and flux that differ; times that are not finite, not
        sorted or duplicated; a flux unit that is not a brightness (see the docs); all flux
        NaN or masked; fewer than ``min_samples`` usable samples; an unknown column or
        bitmask.

    Examples
    --------
    >>> import numpy as np
    >>> import astropy.units as u
    >>> from fcn4flare.preprocessing import prepare_light_curve
    >>> time = 1000 + np.arange(6) / 720  # 2-min cadence, days
    >>> lc = prepare_light_curve(time, [10, 11, 10, np.inf, 12, 10] * u.electron / u.s,
    ...                          time_format="btjd")
    >>> lc.flux
    array([10., 11., 10., nan, 12., 10.])
    >>> lc.flux_unit, lc.time.format
    (Unit("electron / s"), 'btjd')
    >>> prepare_light_curve(time, np.ones(6) * u.m)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    fcn4flare.exceptions.InputError: prepare_light_curve: flux has unit 'm', which is not a ...
    """
    if _is_table(data):
        if flux is not None:
            raise InputError(
                "prepare_light_curve: data is a table, so flux must not be given separately; "
                "use flux_column to choose its column."
            )
        return _prepare_table(data, flux_column, flux_err_column, quality_bitmask, min_samples)
    if flux is None:
        raise InputError(
            "prepare_light_curve: flux is required when data holds times rather than a light "
            "curve or TimeSeries."
        )
    time = _as_time(data, time_format)
    flux_values, flux_unit = _flux_values(flux)
    return _assemble(
        time=time,
        flux=flux_values,
        flux_unit=flux_unit,
        flux_err=None,
        quality_ok=None,
        cadence_numbers=None,
        meta=_empty_meta(),
        min_samples=min_samples,
    )


def _is_table(data: Any) -> bool:
    if not (hasattr(data, "colnames") and hasattr(data, "meta")):
        return False
    if "time" not in data.colnames:
        raise InputError(
            f"prepare_light_curve: the table has no 'time' column (columns: "
            f"{', '.join(data.colnames)}); pass a LightCurve or TimeSeries, or time and flux."
        )
    return True


def _prepare_table(
    table: Any,
    flux_column: str | None,
    flux_err_column: str | None,
    quality_bitmask: str | int | None,
    min_samples: int,
) -> PreparedLightCurve:
    columns = {name.lower(): name for name in table.colnames}
    flux_column = flux_column or _default_flux_column(table, columns)
    if flux_column not in table.colnames:
        raise InputError(
            f"prepare_light_curve: no column {flux_column!r}; available: "
            f"{', '.join(table.colnames)}."
        )
    time = table["time"]
    if not isinstance(time, Time):
        time = _as_time(time, None)
    flux_values, flux_unit = _flux_values(table[flux_column])

    err_name = flux_err_column or _default_err_column(flux_column, columns)
    flux_err = None
    if err_name is not None:
        if err_name not in table.colnames:
            raise InputError(
                f"prepare_light_curve: no column {err_name!r}; available: "
                f"{', '.join(table.colnames)}."
            )
        flux_err = _masked_to_nan(table[err_name], "flux_err")[0]

    meta = _read_meta(table)
    meta["flux_column"] = flux_column
    quality_ok, meta["quality_bitmask"] = _quality_mask(table, columns, meta, quality_bitmask)
    return _assemble(
        time=time,
        flux=flux_values,
        flux_unit=flux_unit,
        flux_err=flux_err,
        quality_ok=quality_ok,
        cadence_numbers=_cadence_numbers(table, columns),
        meta=meta,
        min_samples=min_samples,
    )


def _default_flux_column(table: Any, columns: Mapping[str, str]) -> str:
    # A lightkurve light curve's ``flux`` is the column its methods (flatten, normalize,
    # select_flux) update, and lightkurve.read sets it to PDCSAP for pipeline products.
    if _is_lightkurve(table) or "pdcsap_flux" not in table.colnames:
        return "flux"
    return "pdcsap_flux"


def _is_lightkurve(data: Any) -> bool:
    lightkurve = sys.modules.get("lightkurve")
    return lightkurve is not None and isinstance(data, lightkurve.LightCurve)


def _default_err_column(flux_column: str, columns: Mapping[str, str]) -> str | None:
    for name in (f"{flux_column}_err", "flux_err" if flux_column == "flux" else None):
        if name is not None and name.lower() in columns:
            return columns[name.lower()]
    return None


def _assemble(
    *,
    time: Time,
    flux: np.ndarray,
    flux_unit: u.UnitBase,
    flux_err: np.ndarray | None,
    quality_ok: np.ndarray | None,
    cadence_numbers: np.ndarray | None,
    meta: dict[str, Any],
    min_samples: int,
) -> PreparedLightCurve:
    if time.ndim != 1 or flux.ndim != 1:
        raise InputError(
            f"prepare_light_curve: time and flux must be one-dimensional, got shapes "
            f"{time.shape} and {flux.shape}."
        )
    n = len(flux)
    if len(time) != n:
        raise InputError(f"prepare_light_curve: time has {len(time)} values but flux has {n}.")
    if n == 0:
        raise InputError("prepare_light_curve: the light curve is empty (no samples).")
    time_days = _time_in_days(time)
    _check_times(time_days, where="prepare_light_curve")

    finite = np.isfinite(flux)
    usable = finite if quality_ok is None else finite & quality_ok
    if not usable.any():
        flagged = 0 if quality_ok is None else int((~quality_ok & finite).sum())
        raise InputError(
            f"prepare_light_curve: no usable flux: {int((~finite).sum())} of {n} values are "
            f"NaN, infinite or masked and {flagged} more are quality-flagged."
        )
    if usable.sum() < min_samples:
        raise InputError(
            f"prepare_light_curve: only {int(usable.sum())} usable samples (finite flux, not "
            f"quality-flagged); at least {min_samples} are needed."
        )
    flux = np.where(usable, flux, np.nan)
    if flux_err is not None:
        flux_err = np.where(usable, flux_err, np.nan)
    if cadence_numbers is not None and not np.all(np.diff(cadence_numbers) > 0):
        warnings.warn(
            "prepare_light_curve: the cadence numbers do not increase strictly; the grid "
            "will be built from the times instead.",
            FCN4FlareWarning,
        )
        cadence_numbers = None
    return PreparedLightCurve(
        time=time,
        time_days=time_days,
        flux=flux,
        flux_unit=flux_unit,
        usable=usable,
        cadence=_median_cadence(time_days, cadence_numbers),
        cadence_numbers=cadence_numbers,
        flux_err=flux_err,
        meta=meta,
    )


def _median_cadence(t: np.ndarray, cadence_numbers: np.ndarray | None) -> u.Quantity | None:
    if len(t) < 2:
        return None
    dt = np.diff(t)
    if cadence_numbers is not None:
        dt = dt / np.diff(cadence_numbers)
    return (float(np.median(dt)) * u.day).to(u.min)


# --------------------------------------------------------------------------- conversions


def _as_time(values: Any, time_format: str | None) -> Time:
    if isinstance(values, Time):
        return values
    if isinstance(values, TimeDelta):
        values = values.to(u.day)
    if isinstance(values, u.Quantity):
        if not values.unit.is_equivalent(u.day):
            raise InputError(
                f"prepare_light_curve: times have unit {values.unit.to_string()!r}, which is "
                "not a time."
            )
        values = values.to_value(u.day)
    days = _masked_to_nan(values, "time")[0]
    _check_finite_times(days, "prepare_light_curve")
    time_format = time_format or "jd"
    if time_format in _LIGHTKURVE_TIME_FORMATS:
        import lightkurve  # noqa: F401  (registers the bkjd and btjd formats)
    try:
        return Time(days, format=time_format, scale="tdb")
    except ValueError as err:
        raise InputError(f"prepare_light_curve: cannot read the times: {err}") from None


def _time_in_days(time: Time) -> np.ndarray:
    days = time.value if time.format in _DAY_FORMATS else time.jd
    days = np.array(days, dtype=float)
    if getattr(time, "masked", False):
        days[np.asarray(time.mask)] = np.nan
    return days


def _flux_values(values: Any) -> tuple[np.ndarray, u.UnitBase]:
    unit = getattr(values, "unit", None)
    unit = u.dimensionless_unscaled if unit is None else u.Unit(unit)
    _check_flux_unit(unit)
    return _masked_to_nan(values, "flux")[0], unit


def _check_flux_unit(unit: u.UnitBase) -> None:
    if isinstance(unit, u.FunctionUnitBase) or unit.is_equivalent(u.mag):
        raise InputError(
            f"prepare_light_curve: flux has unit {unit.to_string()!r}, a logarithmic unit; "
            "convert magnitudes to flux first."
        )
    if not any(unit.is_equivalent(ref) for ref in _FLUX_UNITS):
        raise InputError(
            f"prepare_light_curve: flux has unit {unit.to_string()!r}, which is not a "
            "brightness; accepted are dimensionless, electron(/s), ct(/s), adu(/s), "
            "photon(/s), spectral flux density (Jy, W/m3) and flux (W/m2) units."
        )


def _masked_to_nan(values: Any, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    mask = None
    if hasattr(values, "unmasked") and hasattr(values, "mask"):  # astropy Masked
        mask = np.asarray(values.mask)
        values = values.unmasked
    elif isinstance(values, np.ma.MaskedArray):
        mask = np.ma.getmaskarray(values)
        values = values.data
    array = _float_values(values, name)
    if mask is not None and mask.any():
        array[mask] = np.nan
    return array, mask


def _float_values(values: Any, name: str, unit: u.UnitBase | None = None) -> np.ndarray:
    if isinstance(values, u.Quantity):
        if unit is not None:
            try:
                values = values.to_value(unit)
            except u.UnitConversionError:
                raise InputError(
                    f"{name} has unit {values.unit.to_string()!r}, expected one convertible "
                    f"to {unit.to_string()!r}."
                ) from None
        else:
            values = values.value
    try:
        return np.array(values, dtype=np.float64, copy=True)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be numeric, got {type(values).__name__}.") from None


# --------------------------------------------------------------------------- table details


def _empty_meta() -> dict[str, Any]:
    keys = ("target", "target_id", "mission", "quarter", "campaign", "sector")
    meta: dict[str, Any] = dict.fromkeys(keys)
    meta.update(flux_column=None, quality_bitmask=None)
    return meta


def _read_meta(table: Any) -> dict[str, Any]:
    source = {str(k).upper(): v for k, v in table.meta.items()}
    meta = _empty_meta()
    meta["target"] = _first(source, _TARGET_KEYS)
    meta["target_id"] = _first(source, _TARGET_ID_KEYS)
    meta["mission"] = _mission(table, source)
    for key in ("quarter", "campaign", "sector"):
        meta[key] = source.get(key.upper())
    if meta["target"] is None and meta["target_id"] is not None:
        meta["target"] = str(meta["target_id"])
    return meta


def _first(source: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if source.get(key) not in (None, ""):
            return source[key]
    return None


def _mission(table: Any, source: Mapping[str, Any]) -> str | None:
    mission = source.get("MISSION") or source.get("TELESCOP")
    if mission:
        return str(mission)
    name = type(table).__name__
    if name.startswith("Tess"):
        return "TESS"
    if name.startswith("Kepler"):
        return "Kepler"
    return None


def _quality_mask(
    table: Any,
    columns: Mapping[str, str],
    meta: Mapping[str, Any],
    bitmask: str | int | None,
) -> tuple[np.ndarray | None, int | None]:
    if bitmask is not None and not isinstance(bitmask, (str, int, np.integer)):
        raise InputError(
            f"prepare_light_curve: quality_bitmask must be one of {QUALITY_BITMASKS}, an int "
            f"or None, got {bitmask!r}."
        )
    if isinstance(bitmask, str) and bitmask not in QUALITY_BITMASKS:
        raise InputError(
            f"prepare_light_curve: unknown quality_bitmask {bitmask!r}; valid: "
            f"{', '.join(QUALITY_BITMASKS)} or an int."
        )
    if bitmask is None or bitmask == "none" or "quality" not in columns:
        return None, None
    quality = _masked_to_nan(table[columns["quality"]], "quality")[0]
    quality = np.nan_to_num(quality, nan=0.0).astype(np.int64)
    if isinstance(bitmask, str):
        flags = _quality_flags_class(meta.get("mission"))
        if flags is None:
            if np.any(quality != 0):
                warnings.warn(
                    f"prepare_light_curve: the mission is unknown, so quality_bitmask="
                    f"{bitmask!r} cannot be resolved and no quality flags were applied; pass "
                    "an int bitmask to use the quality column.",
                    FCN4FlareWarning,
                )
            return None, None
        bitmask = flags.OPTIONS[bitmask]
    bitmask = int(bitmask)
    return (quality & bitmask) == 0, bitmask


def _quality_flags_class(mission: str | None) -> Any:
    if mission is None:
        return None
    from lightkurve.utils import KeplerQualityFlags, TessQualityFlags

    mission = mission.strip().upper()
    if mission == "TESS":
        return TessQualityFlags
    if mission in ("KEPLER", "K2"):
        return KeplerQualityFlags
    return None


def _cadence_numbers(table: Any, columns: Mapping[str, str]) -> np.ndarray | None:
    if "cadenceno" not in columns:
        return None
    values = table[columns["cadenceno"]]
    if getattr(values, "mask", None) is not None and np.any(values.mask):
        return None
    numbers = np.asarray(getattr(values, "value", values))
    if not np.issubdtype(numbers.dtype, np.integer):
        return None
    return numbers.astype(np.int64)
