"""Flare properties: quiescent level, amplitude, equivalent duration and energy.

The public functions accept astropy `~astropy.time.Time` and `~astropy.units.Quantity`
objects, convert them once, run on plain float arrays and put units back on the results.
Event index ranges are inclusive (``flux[start:stop + 1]`` is the flare), as returned by
the post-processing step.
"""

from __future__ import annotations

import warnings
from typing import Any

import astropy.units as u
import numpy as np
from astropy.time import Time
from numpy.lib.stride_tricks import sliding_window_view

from .._arrays import fill_by_interpolation, median_step
from ..exceptions import InputError

__all__ = [
    "DEFAULT_WINDOW", "quiescent_flux", "measure_flares", "flare_energy", "characterize_flares",
]

#: Default length, in samples, of the running-median window of the quiescent level.
DEFAULT_WINDOW = 25

# Error of a median relative to that of a mean (sqrt(pi / 2)), and the samples the quiescent
# level beside a flare is the median of (half the default running-median window).
_MEDIAN_EFFICIENCY = 1.2533
_LEVEL_SAMPLES = DEFAULT_WINDOW // 2

# Upper bound on the number of window elements handed to nanmedian at once (memory cap).
_BLOCK_ELEMENTS = 2**21


def quiescent_flux(
    flux: Any, flare_mask: Any = None, *, window: int = DEFAULT_WINDOW
) -> np.ndarray | u.Quantity:
    """Running median of the non-flaring flux, a robust estimate of the quiescent level.

    Each sample gets the median of the finite, unflagged samples in a centred window of
    ``window`` samples (an even ``window`` is rounded up to the next odd number; windows
    are truncated at the ends of the light curve). Samples whose window holds no usable
    sample (inside a flare longer than the window, or in a long gap) are filled by linear
    interpolation, in sample index, between their nearest estimated neighbours. Following
    the local median rather than one global value lets amplitudes be measured against
    the local brightness of a spotted, rotating star.

    Parameters
    ----------
    flux : array-like or `~astropy.units.Quantity`
        One-dimensional flux; NaN and masked values are ignored.
    flare_mask : array-like of bool, optional
        True for samples that belong to flares; they are ignored. Default: none.
    window : int, optional
        Window length in samples (default 25, ``DEFAULT_WINDOW``).
        Choose it longer than the flares and shorter than the rotational modulation.

    Returns
    -------
    quiescent : `~numpy.ndarray` or `~astropy.units.Quantity`
        The quiescent level at every sample, in the unit of ``flux``.

    Raises
    ------
    InputError
        If ``flux`` is not one-dimensional and numeric, ``flare_mask`` has another length,
        ``window`` is not a positive integer, or no sample is finite and unflagged.

    Examples
    --------
    A one-sample flare on a flat star does not disturb the quiescent level:

    >>> import numpy as np
    >>> from fcn4flare.catalog import quiescent_flux
    >>> flux = np.ones(9)
    >>> flux[4] = 3.0
    >>> mask = flux > 2
    >>> quiescent_flux(flux, mask, window=5)
    array([1., 1., 1., 1., 1., 1., 1., 1., 1.])
    """
    values = _float_values(flux, "flux")
    usable = np.isfinite(values)
    if flare_mask is not None:
        mask = np.asarray(flare_mask, dtype=bool)
        if mask.shape != values.shape:
            raise InputError(
                f"flare_mask has shape {mask.shape} but flux has shape {values.shape}"
            )
        usable &= ~mask
    if not usable.any():
        raise InputError("no finite flux outside flares: cannot estimate the quiescent level")
    half = _window_half_width(window)
    level = _running_nanmedian(np.where(usable, values, np.nan), half)
    level = fill_by_interpolation(level)
    if isinstance(flux, u.Quantity):
        return level * flux.unit
    return level


def measure_flares(
    time: Any,
    flux: Any,
    starts: Any,
    stops: Any,
    *,
    peaks: Any = None,
    quiescent: Any = None,
    window: int | u.Quantity = DEFAULT_WINDOW,
) -> dict[str, np.ndarray | u.Quantity]:
    """Peak, amplitude, equivalent duration and sample count of each flare.

    For each event ``[start, stop]`` (inclusive sample indices) with relative flux
    ``r = (f - q) / q`` above the quiescent level ``q``:

    - ``peak``: the index of the highest finite flux in the run (unless ``peaks`` is given);
    - ``amplitude``: ``r`` at the peak, dimensionless;
    - ``equivalent_duration``: the integral of ``r`` over the event, in seconds: the
      trapezoid rule over the finite samples of the run, plus half a cadence at each end
      times the first and last value of ``r``. On a regular grid this equals the sum of
      ``r`` times the cadence, i.e. every sample counts for its full exposure;
    - ``n_points``: the number of samples in the run with finite time, flux and ``q``.

    NaN samples inside a run are skipped (the trapezoid bridges them). A run with no
    finite sample gives NaN amplitude and equivalent duration, ``n_points`` 0 and its
    start as peak.

    Parameters
    ----------
    time : `~astropy.time.Time`, `~astropy.units.Quantity` or array-like
        Sample times; plain numbers are taken as days.
    flux : array-like or `~astropy.units.Quantity`
        Flux, the same length as ``time``; NaN and masked values are ignored.
    starts, stops : array-like of int
        First and last (inclusive) sample index of each flare.
    peaks : array-like of int, optional
        Peak index of each flare; default: the argmax of the flux in each run.
    quiescent : float, array-like or `~astropy.units.Quantity`, optional
        Quiescent flux (scalar or one value per sample). Default:
        `~fcn4flare.catalog.quiescent_flux` of ``flux`` with all the flares masked.
    window : int or `~astropy.units.Quantity`, optional
        Window of the default quiescent estimate: samples, or a time converted with the
        median cadence. Ignored when ``quiescent`` is given.

    Returns
    -------
    properties : dict
        ``peak`` (int array), ``amplitude`` (dimensionless Quantity),
        ``equivalent_duration`` (Quantity in s) and ``n_points`` (int array), one value
        per flare.

    Raises
    ------
    InputError
        If the arrays disagree in length, an index is outside the light curve or a run is
        reversed, a peak lies outside its run, or the cadence cannot be determined.

    Examples
    --------
    A boxcar flare of height 0.1 lasting five 2-minute samples on a flat star has an
    equivalent duration of 0.1 x 5 x 120 s = 60 s:

    >>> import numpy as np
    >>> import astropy.units as u
    >>> from fcn4flare.catalog import measure_flares
    >>> time = np.arange(200) * 2 * u.min
    >>> flux = np.ones(200)
    >>> flux[100:105] = 1.1
    >>> props = measure_flares(time, flux, [100], [104])
    >>> props["amplitude"]  # doctest: +FLOAT_CMP
    <Quantity [0.1]>
    >>> props["equivalent_duration"]  # doctest: +FLOAT_CMP
    <Quantity [60.] s>
    >>> props["n_points"]
    array([5])
    """
    days = _elapsed_days(time)
    values = _float_values(flux, "flux")
    if values.shape != days.shape:
        raise InputError(f"flux has {values.size} samples but time has {days.size}")
    starts, stops = _event_ranges(starts, stops, values.size)
    peaks = _checked_peaks(peaks, starts, stops, values.size)
    if starts.size == 0:
        return _properties(
            np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(0, np.int64)
        )

    cadence = _cadence_days(days)
    level = _quiescent_values(quiescent, flux, values, starts, stops, window, cadence)
    relative = (values - level) / level
    usable = np.isfinite(relative) & np.isfinite(days)
    if peaks is None:
        peaks = _argmax_peaks(np.where(usable, values, np.nan), starts, stops)

    n_events = starts.size
    amplitude = relative[peaks]
    equivalent_duration = np.full(n_events, np.nan)
    n_points = np.zeros(n_events, dtype=np.int64)
    for k, (start, stop) in enumerate(zip(starts, stops, strict=True)):
        run = slice(start, stop + 1)
        keep = usable[run]
        n_points[k] = np.count_nonzero(keep)
        equivalent_duration[k] = _equivalent_duration_days(
            days[run][keep], relative[run][keep], cadence
        )
    return _properties(peaks, amplitude, equivalent_duration * 86400.0, n_points)


def flare_energy(equivalent_duration: Any, luminosity: Any) -> u.Quantity:
    """Flare energy: equivalent duration times the quiescent luminosity.

    This is the usual bolometric or band-integrated energy estimate (e.g. as in AltaiPony
    and Davenport 2016): the flare emits, over its equivalent duration, what the star
    emits in the band while quiescent.

    Parameters
    ----------
    equivalent_duration : `~astropy.units.Quantity` or array-like
        Equivalent durations; plain numbers are taken as seconds.
    luminosity : `~astropy.units.Quantity` or array-like
        Quiescent luminosity of the star in the band (scalar or one per flare); plain
        numbers are taken as erg/s.

    Returns
    -------
    energy : `~astropy.units.Quantity`
        Energies in erg.

    Raises
    ------
    InputError
        If a Quantity has a unit of the wrong kind.

    Examples
    --------
    >>> import astropy.units as u
    >>> from fcn4flare.catalog import flare_energy
    >>> flare_energy([60.0, 600.0] * u.s, 1e30 * u.erg / u.s)  # doctest: +FLOAT_CMP
    <Quantity [6.e+31, 6.e+32] erg>
    """
    seconds = _quantity_value(equivalent_duration, u.s, "equivalent_duration")
    erg_per_s = _quantity_value(luminosity, u.erg / u.s, "luminosity")
    return seconds * erg_per_s * u.erg


def _properties(
    peaks: np.ndarray, amplitude: np.ndarray, ed_seconds: np.ndarray, n_points: np.ndarray
) -> dict[str, np.ndarray | u.Quantity]:
    return {
        "peak": np.asarray(peaks, dtype=np.int64),
        "amplitude": np.asarray(amplitude, dtype=float) * u.dimensionless_unscaled,
        "equivalent_duration": np.asarray(ed_seconds, dtype=float) * u.s,
        "n_points": np.asarray(n_points, dtype=np.int64),
    }


def _equivalent_duration_days(days: np.ndarray, relative: np.ndarray, cadence: float) -> float:
    """Trapezoid of ``relative`` over ``days`` plus half a cadence at each end."""
    if relative.size == 0:
        return np.nan
    ends = 0.5 * cadence * (relative[0] + relative[-1])
    trapezoid = np.sum(0.5 * (relative[1:] + relative[:-1]) * np.diff(days))
    return float(trapezoid + ends)


def _argmax_peaks(values: np.ndarray, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    peaks = starts.copy()
    for k, (start, stop) in enumerate(zip(starts, stops, strict=True)):
        run = values[start : stop + 1]
        if np.isfinite(run).any():
            peaks[k] = start + int(np.nanargmax(run))
    return peaks


def _quiescent_values(
    quiescent: Any,
    flux: Any,
    values: np.ndarray,
    starts: np.ndarray,
    stops: np.ndarray,
    window: int | u.Quantity,
    cadence_days: float,
) -> np.ndarray:
    if quiescent is None:
        samples = _window_in_samples(window, cadence_days)
        mask = _events_mask(starts, stops, values.size)
        return np.asarray(quiescent_flux(values, mask, window=samples))
    if isinstance(quiescent, u.Quantity) and isinstance(flux, u.Quantity):
        try:
            quiescent = quiescent.to(flux.unit)
        except u.UnitConversionError as err:
            raise InputError(
                f"quiescent is in {quiescent.unit}, which cannot be converted to the flux "
                f"unit {flux.unit}"
            ) from err
    level = np.asarray(getattr(quiescent, "value", quiescent), dtype=float)
    if level.ndim == 0:
        return np.full(values.shape, float(level))
    if level.shape != values.shape:
        raise InputError(
            f"quiescent must be a scalar or have one value per sample ({values.size}), "
            f"got shape {level.shape}"
        )
    return level.copy()


def _events_mask(starts: np.ndarray, stops: np.ndarray, size: int) -> np.ndarray:
    edges = np.zeros(size + 1, dtype=np.int64)
    np.add.at(edges, starts, 1)
    np.add.at(edges, stops + 1, -1)
    return np.cumsum(edges[:-1]) > 0


def _running_nanmedian(values: np.ndarray, half: int) -> np.ndarray:
    padded = np.pad(values, half, constant_values=np.nan)
    windows = sliding_window_view(padded, 2 * half + 1)
    out = np.empty(values.size)
    rows = max(1, _BLOCK_ELEMENTS // (2 * half + 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows give NaN
        for first in range(0, values.size, rows):
            out[first : first + rows] = np.nanmedian(windows[first : first + rows], axis=1)
    return out


def _window_half_width(window: Any) -> int:
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
        raise InputError(f"window must be a positive number of samples, got {window!r}")
    return int(window) // 2


def _window_in_samples(window: int | u.Quantity, cadence_days: float) -> int:
    if isinstance(window, u.Quantity):
        try:
            days = window.to_value(u.d)
        except u.UnitConversionError as err:
            raise InputError(f"window must be a time or a number of samples, got {window}") from err
        if not np.isfinite(days) or days <= 0:
            raise InputError(f"window must be positive, got {window}")
        return max(3, int(round(days / cadence_days)))
    _window_half_width(window)
    return int(window)


def _cadence_days(days: np.ndarray) -> float:
    cadence = median_step(days)
    if not np.isfinite(cadence):
        raise InputError("need at least two distinct finite times to determine the cadence")
    return cadence


def _event_ranges(starts: Any, stops: Any, size: int) -> tuple[np.ndarray, np.ndarray]:
    starts = _index_array(starts, "starts", size)
    stops = _index_array(stops, "stops", size)
    if starts.shape != stops.shape:
        raise InputError(f"got {starts.size} starts but {stops.size} stops")
    reversed_runs = np.flatnonzero(stops < starts)
    if reversed_runs.size:
        k = reversed_runs[0]
        raise InputError(f"event {k} ends (index {stops[k]}) before it starts ({starts[k]})")
    return starts, stops


def _checked_peaks(
    peaks: Any, starts: np.ndarray, stops: np.ndarray, size: int
) -> np.ndarray | None:
    if peaks is None:
        return None
    peaks = _index_array(peaks, "peaks", size)
    if peaks.shape != starts.shape:
        raise InputError(f"got {peaks.size} peaks for {starts.size} events")
    outside = np.flatnonzero((peaks < starts) | (peaks > stops))
    if outside.size:
        k = outside[0]
        raise InputError(
            f"peak {peaks[k]} of event {k} lies outside its run [{starts[k]}, {stops[k]}]"
        )
    return peaks


def _index_array(values: Any, name: str, size: int) -> np.ndarray:
    array = np.atleast_1d(np.asarray(values))
    if array.ndim != 1:
        raise InputError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.size == 0:
        return np.zeros(0, dtype=np.int64)
    if array.dtype.kind not in "iu":
        if array.dtype.kind != "f" or not np.all(np.isfinite(array) & (array == np.round(array))):
            raise InputError(f"{name} must hold integer sample indices")
    array = array.astype(np.int64)
    bad = np.flatnonzero((array < 0) | (array >= size))
    if bad.size:
        raise InputError(
            f"{name}[{bad[0]}] = {array[bad[0]]} is outside the light curve (0 .. {size - 1})"
        )
    return array


def _elapsed_days(time: Any) -> np.ndarray:
    """Sample times in days: offsets from the first finite time for `Time` input."""
    if isinstance(time, Time):
        jd1 = _float_values(time.jd1, "time")
        jd2 = _float_values(time.jd2, "time")
        finite = np.isfinite(jd1 + jd2)
        if not finite.any():
            return jd1 + jd2
        first = int(np.argmax(finite))
        return (jd1 - jd1[first]) + (jd2 - jd2[first])
    if isinstance(time, u.Quantity):
        try:
            return _float_values(time.to(u.d), "time")
        except u.UnitConversionError as err:
            raise InputError(f"time must be in units of time, got {time.unit}") from err
    return _float_values(time, "time")


def _quantity_value(values: Any, unit: u.UnitBase, name: str) -> np.ndarray:
    if isinstance(values, u.Quantity):
        try:
            return np.asarray(values.to_value(unit), dtype=float)
        except u.UnitConversionError as err:
            raise InputError(f"{name} must be convertible to {unit}, got {values.unit}") from err
    try:
        return np.asarray(values, dtype=float)
    except (TypeError, ValueError) as err:
        raise InputError(f"{name} must be numeric") from err


def _float_values(values: Any, name: str) -> np.ndarray:
    """A 1-D float copy of ``values``: units dropped, masked entries set to NaN."""
    mask = getattr(values, "mask", None)
    data = getattr(values, "unmasked", values)
    if isinstance(data, np.ma.MaskedArray):
        data = data.data
    if isinstance(data, u.Quantity):
        data = data.value
    try:
        array = np.array(data, dtype=float)
    except (TypeError, ValueError) as err:
        raise InputError(f"{name} must be numeric") from err
    array = np.atleast_1d(array)
    if array.ndim != 1:
        raise InputError(f"{name} must be one-dimensional, got shape {array.shape}")
    if mask is not None and np.any(mask):
        array[np.broadcast_to(np.asarray(mask, dtype=bool), array.shape)] = np.nan
    return array


def characterize_flares(
    table: Any,
    lc: Any,
    *,
    fit: bool = True,
    template: str = "mendoza2022",
    n_components: int = 1,
    background_order: int = 2,
    luminosity: Any = None,
    teff: Any = None,
    radius: Any = None,
    mission: Any = None,
    teff_err: Any = None,
    radius_err: Any = None,
    luminosity_err: Any = None,
    quality_bitmask: str | int | None = "default",
) -> Any:
    """A copy of a flare table with uncertainties, shape, template fit and energy columns.

    Added columns (each with a description in ``table[name].info.description``):

    - ``amplitude_err`` (dimensionless) and ``equivalent_duration_err`` (s): from the flux
      errors of the light curve, or from its robust point-to-point scatter where it has none.
      The ED error adds, in quadrature, the error of the quiescent level (a median of about
      12 samples beside the flare, shared by all the flare's samples), which dominates for
      long flares;
    - ``rise_time``, ``decay_time`` (min): from the first flagged sample to the peak, and from
      the peak to the last flagged sample;
    - ``fwhm`` (min): time the flux stays above half the amplitude around the peak, the
      crossings interpolated linearly between samples (a flare unresolved by the cadence gets
      less than one cadence);
    - with ``fit=True``, the template fit of `~fcn4flare.catalog.fit_flare` on a local
      quadratic background: ``fit_tpeak`` (Time), ``fit_amplitude``, ``fit_fwhm`` (min),
      ``fit_equivalent_duration`` (s), each with ``_err``, ``fit_redchi2`` and ``delta_bic``
      (BIC of the background alone minus BIC of template + background; > 0 favours a flare);
    - with ``luminosity`` or ``teff`` and ``radius``: ``energy`` and ``energy_err`` (erg),
      the equivalent duration times the star's luminosity in the mission's band
      (`~fcn4flare.catalog.flare_energies`).

    Parameters
    ----------
    table : `~fcn4flare.catalog.FlareTable`
        Flares found in ``lc`` (its ``istart``, ``ipeak``, ``istop`` are rows of ``lc``).
    lc : `~lightkurve.LightCurve`
        The light curve the flares were found in.
    fit : bool
        Fit a flare template to every flare.
    template : {'mendoza2022', 'davenport2014'}
        Template of the fit.
    n_components : int
        Components of the fit (more than one for complex flares).
    background_order : int
        Degree of the fit's background polynomial in time (`~fcn4flare.catalog.fit_flare`).
        A flare of an hour or more on a spotted star may need 3-4: on a simulated 45-minute
        flare the quadratic gave an ED of 173 s for a true 107 s, order 4 gave 121 s.
    luminosity : `~astropy.units.Quantity`, optional
        Quiescent luminosity of the star in the band.
    teff, radius : `~astropy.units.Quantity`, optional
        Effective temperature and radius, for a blackbody band luminosity instead.
    mission : str, optional
        ``'kepler'``, ``'k2'`` or ``'tess'``; default: the light curve's.
    teff_err, radius_err, luminosity_err : `~astropy.units.Quantity`, optional
        Their uncertainties, propagated into ``energy_err``.
    quality_bitmask : {'none', 'default', 'hard', 'hardest'}, int or None
        Quality flags whose samples are ignored, as in detection.

    Returns
    -------
    `~fcn4flare.catalog.FlareTable`
        A new table; the one given is not changed.

    Raises
    ------
    InputError
        A table without ``istart``/``ipeak``/``istop``/``amplitude``/``equivalent_duration``
        columns, rows outside the light curve, a ``background_order`` that is not a whole
        number >= 0, or energies asked for without a luminosity or both ``teff`` and
        ``radius``.

    Examples
    --------
    >>> import numpy as np
    >>> import astropy.units as u
    >>> import lightkurve as lk
    >>> from astropy.time import Time
    >>> from fcn4flare.catalog import FlareTable, characterize_flares
    >>> from fcn4flare.simulate import flare_model
    >>> days = np.arange(1000) * 2 / 1440
    >>> noise = 1e-3 * np.random.default_rng(0).standard_normal(1000)
    >>> flux = 1 + noise + flare_model(days, 0.7, 10 * u.min, 0.05, exposure_time=2 * u.min)
    >>> lc = lk.LightCurve(time=Time(2459000 + days, format="jd"), flux=flux,
    ...                    flux_err=np.full(1000, 1e-3))
    >>> table = FlareTable.from_events(lc.time, lc.flux, [502], None, [540], meta={})
    >>> out = characterize_flares(table, lc, luminosity=1e31 * u.erg / u.s)
    >>> round(float(out["fit_fwhm"][0].to_value(u.min)))
    10
    >>> out["energy"].unit, bool(out["equivalent_duration_err"][0] < 5 * u.s)
    (Unit("erg"), True)
    """
    from .._arrays import point_to_point_noise

    needed = ("istart", "ipeak", "istop", "amplitude", "equivalent_duration")
    missing = [name for name in needed if name not in getattr(table, "colnames", ())]
    if missing:
        raise InputError(
            f"characterize_flares needs a flare table with the columns {', '.join(needed)}; "
            f"missing: {', '.join(missing)}."
        )
    from .fit import _integer

    background_order = _integer(background_order, "background_order", 0)
    time, flux, flux_err = _light_curve_arrays(lc, quality_bitmask)
    days = _elapsed_days(time)
    n = len(flux)
    starts = _index_array(table["istart"], "istart", n)
    peaks = _index_array(table["ipeak"], "ipeak", n)
    stops = _index_array(table["istop"], "istop", n)
    cadence = _cadence_days(days)
    amplitude = np.asarray(getattr(table["amplitude"], "value", table["amplitude"]), float)

    out = table.copy()
    level = flux[peaks] / (1.0 + amplitude)  # the quiescent flux the table measured against
    mask = _events_mask(starts, stops, n)
    relative_noise = point_to_point_noise(np.where(mask, np.nan, flux)) / np.nanmedian(flux)
    amp_err = np.full(len(out), np.nan)
    ed_err = np.full(len(out), np.nan)
    rise = np.full(len(out), np.nan)
    decay = np.full(len(out), np.nan)
    fwhm = np.full(len(out), np.nan)
    for k, (start, peak, stop) in enumerate(zip(starts, peaks, stops, strict=True)):
        run = slice(start, stop + 1)
        if flux_err is not None and np.isfinite(flux_err[run]).any():
            sigma = flux_err[run] / level[k]
        else:
            sigma = np.full(stop - start + 1, relative_noise)
        sigma = sigma[np.isfinite(flux[run]) & np.isfinite(sigma)]
        # the quiescent level's own error is shared by every sample of the flare
        level_sigma = _MEDIAN_EFFICIENCY * np.median(sigma) / np.sqrt(_LEVEL_SAMPLES) \
            if sigma.size else np.nan
        ed_err[k] = cadence * np.hypot(np.sqrt(np.sum(sigma**2)),
                                       level_sigma * sigma.size) * 86400.0
        peak_sigma = flux_err[peak] / level[k] if flux_err is not None else relative_noise
        amp_err[k] = peak_sigma if np.isfinite(peak_sigma) else relative_noise
        rise[k] = days[peak] - days[start]
        decay[k] = days[stop] - days[peak]
        fwhm[k] = _half_maximum_width(days, flux / level[k] - 1.0, start, peak, stop)
    out["amplitude_err"] = amp_err * u.dimensionless_unscaled
    out["equivalent_duration_err"] = ed_err * u.s
    out["rise_time"] = (rise * u.d).to(u.min)
    out["decay_time"] = (decay * u.d).to(u.min)
    out["fwhm"] = (fwhm * u.d).to(u.min)
    descriptions = {
        "amplitude_err": "1-sigma error of amplitude, from the flux errors or the scatter",
        "equivalent_duration_err": "1-sigma error of equivalent_duration, from the flux errors",
        "rise_time": "tpeak - tstart",
        "decay_time": "tstop - tpeak",
        "fwhm": "Time above half the amplitude around the peak (interpolated crossings)",
    }
    if fit:
        _add_template_fits(out, time, flux, flux_err, starts, stops, template, n_components,
                           background_order, descriptions)
    if luminosity is not None or teff is not None or radius is not None:
        from .energy import flare_energies, mission_of

        if luminosity is None and mission is None:
            mission = mission_of(lc)
        energy, energy_err = flare_energies(
            out["equivalent_duration"], luminosity=luminosity, teff=teff, radius=radius,
            mission=mission, teff_err=teff_err, radius_err=radius_err,
            luminosity_err=luminosity_err, equivalent_duration_err=out["equivalent_duration_err"],
        )
        out["energy"] = energy
        out["energy_err"] = energy_err
        descriptions["energy"] = "equivalent_duration x the star's luminosity in the band"
        descriptions["energy_err"] = "1-sigma error of energy (ED and luminosity errors)"
    for name, text in descriptions.items():
        out[name].info.description = text
    return out


def _light_curve_arrays(lc: Any, quality_bitmask: Any
                        ) -> tuple[Time, np.ndarray, np.ndarray | None]:
    from ..lightcurve import prepare_light_curve

    prepared = prepare_light_curve(lc, quality_bitmask=quality_bitmask)
    return prepared.time, prepared.flux, prepared.flux_err


def _half_maximum_width(days: np.ndarray, relative: np.ndarray, start: int, peak: int,
                        stop: int) -> float:
    half = 0.5 * relative[peak]
    if not np.isfinite(half) or half <= 0:
        return np.nan

    def crossing(step: int, end: int) -> float:
        i = peak
        while i != end:
            j = i + step
            if np.isfinite(relative[j]) and relative[j] < half:
                frac = (relative[i] - half) / (relative[i] - relative[j])
                return days[i] + frac * (days[j] - days[i])
            i = j
        return days[end]

    left = crossing(-1, max(start - 1, 0))
    right = crossing(1, min(stop + 1, days.size - 1))
    return float(right - left)


def _add_template_fits(out: Any, time: Time, flux: np.ndarray, flux_err: np.ndarray | None,
                       starts: np.ndarray, stops: np.ndarray, template: str,
                       n_components: int, background_order: int, descriptions: dict) -> None:
    from .fit import fit_flare

    names = ("amplitude", "amplitude_err", "fwhm", "fwhm_err", "equivalent_duration",
             "equivalent_duration_err")
    units = {"fwhm": u.min, "fwhm_err": u.min, "equivalent_duration": u.s,
             "equivalent_duration_err": u.s}
    n = len(out)
    values = {name: np.full(n, np.nan) for name in names}
    delta_bic = np.full(n, np.nan)
    redchi2 = np.full(n, np.nan)
    tpeak = np.full(n, np.nan)
    days = _elapsed_days(time)
    for k, (start, stop) in enumerate(zip(starts, stops, strict=True)):
        margin = max(int(stop - start + 1), 10)
        part = slice(max(start - margin, 0), min(stop + margin + 1, flux.size))
        try:
            result = fit_flare(days[part], flux[part],
                               None if flux_err is None else flux_err[part],
                               tstart=days[start], tstop=days[stop], template=template,
                               n_components=n_components,
                               background_order=background_order)
        except InputError:
            continue
        delta_bic[k] = result.delta_bic
        if not result.success:
            continue
        redchi2[k] = result.chi2 / max(result.dof, 1)
        tpeak[k] = result.tpeak.to_value(u.day)
        for name in names:
            values[name][k] = getattr(result, name).to_value(units.get(name, u.one))
    fitted = time[0] + np.where(np.isfinite(tpeak), tpeak - days[0], 0.0) * u.d
    fitted.format = time.format
    out["fit_tpeak"] = fitted
    for name in names:
        out[f"fit_{name}"] = values[name] * units.get(name, u.dimensionless_unscaled)
        descriptions[f"fit_{name}"] = f"Template fit: {name.replace('_', ' ')}"
    out["fit_redchi2"] = redchi2
    out["delta_bic"] = delta_bic
    descriptions["fit_tpeak"] = "Template fit: peak time (tpeak where the fit failed)"
    descriptions["fit_redchi2"] = "Template fit: reduced chi-square"
    descriptions["delta_bic"] = (
        "BIC of the background alone minus BIC of template + background (> 0 favours a flare)"
    )
