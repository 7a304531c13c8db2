"""Flare injection into light curves, the training-example generator and the built-in example.

Flares are added to the flux normalised by its median (equivalently, ``median * model`` is added
in the original flux units): a flare's amplitude is relative to the quiescent star and does not
scale with spot modulation or instrumental trends.  Every flare is integrated over the exposure
of the data and labelled with the human convention of :mod:`fcn4flare.simulate.labels`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import lightkurve as lk
import numpy as np
from astropy import units as u
from astropy.table import QTable
from astropy.time import Time

from ..exceptions import InputError
from .backgrounds import add_contaminants, synthetic_background
from .distributions import cadence_family, draw_flare_parameters
from .labels import flare_label_region, point_to_point_sigma
from .templates import FLARE_TEMPLATES, _component_flux, _to_days, flare_equivalent_duration

__all__ = ["inject_flares", "simulate_training_example", "example_light_curve",
           "P_ACTIVE_STAR", "ACTIVE_FLARE_RATE_RANGE"]

# Training-example mix.
_P_NO_FLARES = 0.15
_FLARE_RATE_RANGE = (0.5, 8.0)  # mean extra flares per 4096 samples, log-uniform
# GJ 1243 flares about 20 times a day: ~57 flares per 4096 Kepler short-cadence samples.
#: Fraction of simulated stars that are very active, and their range of flare rates (mean
#: extra flares per 4096 samples, log-uniform).
P_ACTIVE_STAR = 0.2
ACTIVE_FLARE_RATE_RANGE = (8.0, 64.0)
_MAX_FLARES = 100
_P_COMPLEX = 0.2  # Guenther et al. (2020): 22 % multi-component; GJ 1243: 19 %
_P_DAVENPORT = 0.25
_P_CONTAMINANTS = 0.35
_P_EDGE_FLARE = 0.05  # flare peaking just before the first sample


@dataclass
class _Event:
    """One flare event: one or more template components (days, relative flux)."""

    tpeak: list = field(default_factory=list)
    fwhm: list = field(default_factory=list)
    amplitude: list = field(default_factory=list)
    template: str = "mendoza2022"


@dataclass
class _Rendered:
    flux: np.ndarray
    label: np.ndarray
    regions: list
    peaks: list
    snrs: list


def _tail_length(amplitude: float, sigma: float) -> float:
    """FWHMs after the peak until the slow Mendoza decay is below 1 % of the noise."""
    return max(np.log(max(100.0 * amplitude / sigma, 2.0)) / 0.169, 3.0)


def _render(t: np.ndarray, events: list, exposure: float, sigma: float,
            observed: np.ndarray) -> _Rendered:
    """Model flux of all events, their union label and each event's labelled region."""
    flux = np.zeros(t.size)
    label = np.zeros(t.size, dtype=bool)
    regions, peaks, snrs = [], [], []
    for ev in events:
        tp, fw, amp = (np.asarray(v, dtype=float) for v in (ev.tpeak, ev.fwhm, ev.amplitude))
        reach = max(_tail_length(a, sigma) * w for a, w in zip(amp, fw, strict=True))
        lo = max(int(np.searchsorted(t, tp.min() - 1.5 * fw.max() - exposure)) - 1, 0)
        hi = min(int(np.searchsorted(t, tp.max() + reach + exposure)) + 1, t.size)
        if hi <= lo:
            regions.append(None)
            peaks.append(0.0)
            snrs.append(0.0)
            continue
        window = t[lo:hi]
        model = np.zeros(window.size)
        for p, w, a in zip(tp, fw, amp, strict=True):
            model += _component_flux(window, p, w, a, exposure, ev.template)
        flux[lo:hi] += model
        seen = np.where(observed[lo:hi], model, 0.0)
        peaks.append(float(seen.max()))
        snrs.append(float(np.sqrt(np.dot(seen, seen)) / sigma))
        region = flare_label_region(seen, sigma)
        if region is not None:
            region = (region[0] + lo, region[1] + lo)
            label[region[0] : region[1] + 1] = True
        regions.append(region)
    label &= observed
    return _Rendered(flux, label, regions, peaks, snrs)


def _draw_events(span: float, cadence_minutes: float, sigma: float, n_points: int,
                 rng: np.random.Generator) -> list:
    if rng.random() < _P_NO_FLARES:
        return []
    rates = ACTIVE_FLARE_RATE_RANGE if rng.random() < P_ACTIVE_STAR else _FLARE_RATE_RANGE
    rate = np.exp(rng.uniform(*np.log(rates))) * n_points / 4096
    n = min(1 + int(rng.poisson(rate)), _MAX_FLARES)
    params = draw_flare_parameters(n, cadence_minutes, rng, noise_sigma=sigma)
    fwhm = params["fwhm_minutes"] / 1440.0
    amp = params["amplitude"]
    tpeak = rng.uniform(0.0, span, n)
    edge = rng.random(n) < _P_EDGE_FLARE
    tpeak[edge] = -rng.uniform(0.0, 3.0, int(edge.sum())) * fwhm[edge]
    events = []
    for tp, fw, a in zip(tpeak, fwhm, amp, strict=True):
        ev = _Event([tp], [fw], [a], "davenport2014" if rng.random() < _P_DAVENPORT
                    else "mendoza2022")
        if rng.random() < _P_COMPLEX:
            for _ in range(int(rng.integers(1, 4))):
                sign = -1.0 if rng.random() < 0.2 else 1.0
                ev.tpeak.append(tp + sign * fw * rng.uniform(0.3, 4.0))
                ev.fwhm.append(fw * np.exp(rng.uniform(np.log(0.3), np.log(3.0))))
                ev.amplitude.append(a * np.exp(rng.uniform(np.log(0.05), np.log(0.8))))
        events.append(ev)
    return events


def _prepare_background(background, n_points: int, rng: np.random.Generator) -> np.ndarray:
    flux = np.asarray(background, dtype=float)
    if flux.ndim != 1:
        raise InputError(f"background must be one-dimensional, got shape {flux.shape}")
    if flux.size < n_points:
        raise InputError(
            f"background has {flux.size} samples, fewer than n_points={n_points}"
        )
    if flux.size > n_points:
        start = int(rng.integers(0, flux.size - n_points + 1))
        flux = flux[start : start + n_points]
    flux = np.where(np.isfinite(flux), flux, np.nan)
    if np.count_nonzero(np.isfinite(flux)) < 3:
        raise InputError("background has fewer than 3 finite samples")
    median = np.nanmedian(flux)
    if not median > 0:
        raise InputError(f"background must be positive relative flux, median is {median}")
    return flux / median


def simulate_training_example(
    n_points: int,
    cadence_minutes: float,
    rng: np.random.Generator,
    *,
    background=None,
) -> tuple[np.ndarray, np.ndarray]:
    """One training light curve with per-sample flare labels.

    The synthetic star (see `synthetic_background`) gets, in 35 % of the examples, one or two
    kinds of flare look-alikes (`add_contaminants`), then flares: none in 15 % of the examples,
    otherwise ``1 + Poisson(rate)`` with a rate drawn log-uniformly between 0.5 and 8 per
    4096 samples, or, for 20 % of them (very active stars such as GJ 1243), between 8 and 64.
    Flare parameters come from `draw_flare_parameters` with the example's noise level; 25 % use
    the Davenport (2014) template, 20 % are complex (two to four components), all are integrated
    over the family's exposure time.

    Parameters
    ----------
    n_points : int
        Number of samples.
    cadence_minutes : float
        Sampling interval in minutes (any value; flare distributions come from the nearest
        family in `CADENCES`).
    rng : numpy.random.Generator
        Random generator; the result is a deterministic function of its state.
    background : array-like, optional
        Real relative flux (NaN gaps allowed) to inject into instead of a synthetic star.  A
        random window of ``n_points`` samples is used if it is longer; it is divided by its
        median.  Real flares already in it are labelled 0.

    Returns
    -------
    flux : numpy.ndarray
        float64 relative flux around 1.0, NaN in gaps.
    labels : numpy.ndarray
        float32, 1.0 inside flares, 0.0 elsewhere and at NaN samples.

    Examples
    --------
    >>> import numpy as np
    >>> from fcn4flare.simulate import simulate_training_example
    >>> flux, labels = simulate_training_example(4096, 29.4, np.random.default_rng(7))
    >>> flux.dtype, labels.dtype, flux.shape == labels.shape
    (dtype('float64'), dtype('float32'), True)
    >>> bool(np.all(labels[np.isnan(flux)] == 0))
    True
    """
    if int(n_points) != n_points or n_points < 1:
        raise InputError(f"n_points must be a positive integer, got {n_points}")
    n_points = int(n_points)
    family = cadence_family(cadence_minutes)
    if background is None:
        # very short examples are cut from a longer star so that the noise is well defined
        flux, sigma = synthetic_background(max(n_points, 64), cadence_minutes, rng)
        flux = flux[:n_points]
        if rng.random() < _P_CONTAMINANTS:
            flux = add_contaminants(flux, cadence_minutes, rng, sigma)
            # fast variability (aliased pulsations, eclipses) hides flare tails from a human
            sigma = max(sigma, point_to_point_sigma(flux))
    else:
        flux = _prepare_background(background, n_points, rng)
        sigma = point_to_point_sigma(flux)
        if not sigma > 0:
            sigma = 1e-3
    cadence = cadence_minutes / 1440.0
    t = np.arange(n_points) * cadence
    events = _draw_events(n_points * cadence, cadence_minutes, sigma, n_points, rng)
    observed = np.isfinite(flux)
    rendered = _render(t, events, family.exposure_fraction * cadence, sigma, observed)
    return flux + rendered.flux, rendered.label.astype(np.float32)


def _as_light_curve(lc, flux) -> lk.LightCurve:
    if isinstance(lc, lk.LightCurve):
        if flux is not None:
            raise InputError("give flux only together with a time array, not a LightCurve")
        return lc
    if flux is None:
        raise InputError("inject_flares needs a LightCurve, or a time array and flux=")
    time = lc if isinstance(lc, Time) else Time(np.asarray(lc, dtype=float), format="jd")
    flux_arr = np.asarray(flux, dtype=float)
    if flux_arr.shape != time.shape:
        raise InputError(f"time and flux lengths differ: {time.shape} vs {flux_arr.shape}")
    return lk.LightCurve(time=time, flux=flux_arr)


def _plain_flux(lc: lk.LightCurve) -> np.ndarray:
    flux = lc.flux
    values = np.asarray(getattr(flux, "unmasked", flux).value, dtype=float).copy()
    mask = getattr(flux, "mask", None)
    if mask is not None:
        values[np.asarray(mask, dtype=bool)] = np.nan
    values[~np.isfinite(values)] = np.nan
    return values


def _per_flare(value, n: int, name: str, unit=None) -> np.ndarray | None:
    if value is None:
        return None
    arr = _to_days(value, name) if unit == "days" else np.asarray(value, dtype=float)
    arr = np.broadcast_to(np.atleast_1d(arr), (n,)) if np.size(arr) == 1 else np.asarray(arr)
    if arr.shape != (n,):
        raise InputError(f"{name} must be a scalar or have n_flares={n} values, got {arr.size}")
    return np.array(arr, dtype=float)


def _place_flares(t: np.ndarray, observed: np.ndarray, fwhm: np.ndarray, cadence: float,
                  rng: np.random.Generator) -> np.ndarray:
    """Peak times on observed samples, separated by ten FWHMs plus two cadences."""
    candidates = t[observed]
    placed = np.full(fwhm.size, np.nan)
    for i in range(fwhm.size):
        for _ in range(1000):
            tp = rng.choice(candidates) + rng.uniform(-0.5, 0.5) * cadence
            gap = 5.0 * (fwhm[: i] + fwhm[i]) + 2.0 * cadence
            if np.all(np.abs(placed[:i] - tp) > gap):
                placed[i] = tp
                break
        else:
            raise InputError(
                f"could not place {fwhm.size} non-overlapping flares; reduce n_flares or "
                "fwhm, or give tpeak"
            )
    return placed


def inject_flares(
    lc,
    n_flares: int = 5,
    *,
    flux=None,
    amplitude=None,
    fwhm=None,
    tpeak=None,
    template: str = "mendoza2022",
    exposure_time=None,
    noise_sigma: float | None = None,
    seed=None,
):
    """Add synthetic flares to a light curve and return it with the truth.

    Parameters
    ----------
    lc : `~lightkurve.LightCurve` or array-like
        The light curve (not modified).  Alternatively a time array (`~astropy.time.Time`, or
        numbers read as JD) together with ``flux=``.
    n_flares : int
        Number of flares to inject (ignored when ``tpeak`` is a sequence: its length counts).
    flux : array-like, optional
        Flux values when ``lc`` is a time array.
    amplitude : float or array-like, optional
        Peak flux of each flare relative to the median flux.  Drawn from the catalogue
        distribution of the light curve's cadence family when omitted.
    fwhm : float, array-like or `~astropy.units.Quantity`, optional
        Full width at half maximum (plain numbers are days); drawn like ``amplitude`` when
        omitted.
    tpeak : `~astropy.time.Time` or array-like, optional
        Peak times (plain numbers: days since the first sample).  Drawn uniformly over observed
        samples, at least ten FWHMs apart, when omitted.
    template : {"mendoza2022", "davenport2014"}
        Flare shape.
    exposure_time : float or `~astropy.units.Quantity`, optional
        Exposure over which the flares are integrated; the median sampling interval by default.
    noise_sigma : float, optional
        Noise of the normalised flux used for the labels; the point-to-point scatter of the
        light curve by default.
    seed : int or numpy.random.Generator, optional
        Random seed or generator.

    Returns
    -------
    new_lc : `~lightkurve.LightCurve`
        A copy with the flares added to ``flux`` (additively on the median-normalised flux)
        and a boolean ``flare_label`` column (combined with an existing one).
    truth : `~astropy.table.QTable`
        One row per flare: ``tpeak`` (Time), ``fwhm``, ``amplitude``, ``observed_peak`` (peak
        of the exposure-integrated flare), ``equivalent_duration`` (s), ``snr`` (matched
        filter), ``labelled``, ``start_index``/``stop_index`` (inclusive; -1 if unlabelled),
        ``duration`` (labelled span) and ``template``.

    Examples
    --------
    >>> import numpy as np
    >>> import astropy.units as u
    >>> import lightkurve as lk
    >>> from fcn4flare.simulate import inject_flares
    >>> flux = 1 + 1e-3 * np.random.default_rng(0).standard_normal(3600)
    >>> lc = lk.LightCurve(time=np.arange(3600) * 2 / 1440, flux=flux)
    >>> new, truth = inject_flares(lc, 3, amplitude=0.05, fwhm=10 * u.min, seed=1)
    >>> len(truth), bool(truth["labelled"].all()), bool(new["flare_label"].any())
    (3, True, True)
    >>> "flare_label" in lc.colnames  # the input is untouched
    False
    """
    rng = np.random.default_rng(seed)
    lc = _as_light_curve(lc, flux)
    if template not in FLARE_TEMPLATES:
        raise InputError(f"unknown flare template {template!r}; choose one of "
                         f"{', '.join(FLARE_TEMPLATES)}")
    if len(lc) < 3:
        raise InputError("the light curve needs at least 3 samples")
    values = _plain_flux(lc)
    observed = np.isfinite(values)
    if observed.sum() < 3:
        raise InputError("the light curve has fewer than 3 finite flux values")
    median = float(np.nanmedian(values))
    if not median > 0:
        raise InputError(f"flux must be positive (median {median}); normalise it first")
    t = np.asarray((lc.time - lc.time[0]).to_value(u.day), dtype=float)
    if np.any(np.diff(t) <= 0):
        raise InputError("light-curve times must be strictly increasing")
    cadence = float(np.median(np.diff(t)))
    exposure = cadence if exposure_time is None else float(_to_days(exposure_time,
                                                                    "exposure_time"))
    sigma = point_to_point_sigma(values / median) if noise_sigma is None else float(noise_sigma)
    if not sigma > 0:
        raise InputError("cannot estimate the noise of the light curve; give noise_sigma")

    if tpeak is not None:
        if isinstance(tpeak, Time):
            peaks = np.atleast_1d((tpeak - lc.time[0]).to_value(u.day))
        else:
            peaks = np.atleast_1d(_to_days(tpeak, "tpeak"))
        n_flares = peaks.size
    if n_flares < 0:
        raise InputError(f"n_flares must be non-negative, got {n_flares}")
    drawn = draw_flare_parameters(n_flares, cadence * 1440, rng)
    amps = _per_flare(amplitude, n_flares, "amplitude")
    amps = drawn["amplitude"] if amps is None else amps
    widths = _per_flare(fwhm, n_flares, "fwhm", unit="days")
    widths = drawn["fwhm_minutes"] / 1440 if widths is None else widths
    if np.any(widths <= 0) or np.any(~np.isfinite(widths)):
        raise InputError("fwhm must be positive and finite")
    if tpeak is None:
        peaks = _place_flares(t, observed, widths, cadence, rng)

    events = [
        _Event([p], [w], [a], template) for p, w, a in zip(peaks, widths, amps, strict=True)
    ]
    rendered = _render(t, events, exposure, sigma, observed)

    new = lc.copy()
    new.flux = lc.flux + (rendered.flux * median) * lc.flux.unit
    previous = np.asarray(new["flare_label"], dtype=bool) if "flare_label" in new.colnames \
        else np.zeros(len(new), dtype=bool)
    new["flare_label"] = previous | rendered.label
    truth = _truth_table(lc, t, events, rendered, exposure, sigma, template)
    return new, truth


def _truth_table(lc, t, events, rendered, exposure, sigma, template) -> QTable:
    n = len(events)
    start = np.array([-1 if r is None else r[0] for r in rendered.regions], dtype=int)
    stop = np.array([-1 if r is None else r[1] for r in rendered.regions], dtype=int)
    labelled = start >= 0
    duration = np.where(labelled, t[np.clip(stop, 0, None)] - t[np.clip(start, 0, None)], 0.0)
    fwhm = np.array([ev.fwhm[0] for ev in events], dtype=float)
    amp = np.array([ev.amplitude[0] for ev in events], dtype=float)
    truth = QTable()
    truth["tpeak"] = lc.time[0] + np.array([ev.tpeak[0] for ev in events], dtype=float) * u.day
    truth["fwhm"] = (fwhm * u.day).to(u.min)
    truth["amplitude"] = amp
    truth["observed_peak"] = np.array(rendered.peaks, dtype=float)
    truth["equivalent_duration"] = flare_equivalent_duration(fwhm, amp, template=template) \
        if n else np.zeros(0) * u.s
    truth["snr"] = np.array(rendered.snrs, dtype=float)
    truth["labelled"] = labelled
    truth["start_index"] = start
    truth["stop_index"] = stop
    truth["duration"] = (duration * u.day).to(u.min)
    truth["template"] = np.array([template] * n, dtype=str) if n else np.zeros(0, dtype=str)
    truth.meta["noise_sigma"] = sigma
    truth.meta["exposure_time"] = exposure * u.day
    truth.meta["injection"] = "additive on the flux normalised by its median"
    truth.meta["labels"] = "fcn4flare.simulate.labels.flare_label_region"
    return truth


# The built-in example: a GJ 1243-like M dwarf in Kepler short cadence (58.85 s), 3 days.
_EXAMPLE_FLARES = (
    # (tpeak [d], fwhm [min], amplitude, template)
    (0.31, 4.0, 0.45, "mendoza2022"),        # large impulsive flare
    (0.83, 2.0, 0.012, "mendoza2022"),       # small, short
    (1.22, 45.0, 0.02, "mendoza2022"),       # slow, gradual
    (1.71, 6.0, 0.08, "davenport2014"),      # classical, Davenport shape
    (2.42, 1.5, 0.004, "mendoza2022"),       # near the detection limit
)
_EXAMPLE_COMPLEX = ([2.05, 2.056, 2.07], [3.0, 8.0, 5.0], [0.15, 0.06, 0.03])


def example_light_curve(seed: int = 42) -> lk.LightCurve:
    """A deterministic synthetic flare-star light curve for examples and tutorials.

    About 3 days of a GJ 1243-like M dwarf at Kepler short cadence (58.85 s): spot modulation
    with a 0.59-day period, 1e-3 white noise, a 2.4-hour data gap and six flares of different
    shapes (large impulsive, small, slow gradual, Davenport-shaped, complex three-peak, and one
    near the detection limit).  No download is involved.

    Parameters
    ----------
    seed : int
        Seed of the noise and spot evolution; the flares are always the same.

    Returns
    -------
    `~lightkurve.LightCurve`
        Normalised flux with ``flux_err``, ``quality`` and a boolean ``flare_label`` column;
        ``meta["INJECTED_FLARES"]`` holds the truth table (one row per flare, as returned by
        `inject_flares` plus ``n_components``).

    Examples
    --------
    >>> from fcn4flare.simulate import example_light_curve
    >>> lc = example_light_curve()
    >>> lc.meta["OBJECT"], len(lc), len(lc.meta["INJECTED_FLARES"])
    ('fcn4flare example', 4405, 6)
    """
    rng = np.random.default_rng(seed)
    cadence = 58.84876 / 86400.0
    n = int(round(3.0 / cadence))
    t = np.arange(n) * cadence
    sigma = 1e-3
    flux = 1.0 + sigma * rng.standard_normal(n)
    envelope = 1.0 + 0.1 * np.interp(t, [0, 1, 2, 3], rng.standard_normal(4))
    angle = 2 * np.pi * t / 0.5926
    flux += 0.012 * envelope * (np.sin(angle) + 0.25 * np.sin(2 * angle + 0.7))
    observed = np.ones(n, dtype=bool)
    observed[(t > 1.45) & (t < 1.55)] = False

    events = [_Event([tp], [fw / 1440], [a], tmpl) for tp, fw, a, tmpl in _EXAMPLE_FLARES]
    events.append(_Event(list(_EXAMPLE_COMPLEX[0]), [w / 1440 for w in _EXAMPLE_COMPLEX[1]],
                         list(_EXAMPLE_COMPLEX[2]), "mendoza2022"))
    events.sort(key=lambda ev: ev.tpeak[0])
    exposure = 0.9206 * cadence
    rendered = _render(t, events, exposure, sigma, observed)
    flux = np.where(observed, flux + rendered.flux, np.nan)

    time = Time(539.5 + t, format="bkjd", scale="tdb")
    lc = lk.LightCurve(time=time, flux=flux, flux_err=np.full(n, sigma))
    lc["quality"] = np.zeros(n, dtype=np.int32)
    lc["flare_label"] = rendered.label
    truth = _truth_table(lc, t, events, rendered, exposure, sigma, "mendoza2022")
    truth["template"] = [ev.template for ev in events]
    truth["equivalent_duration"] = u.Quantity(
        [flare_equivalent_duration(ev.fwhm, ev.amplitude, template=ev.template).sum()
         for ev in events]
    )
    truth["n_components"] = [len(ev.tpeak) for ev in events]
    lc.meta.update({
        "OBJECT": "fcn4flare example",
        "MISSION": "Kepler",
        "TELESCOP": "Kepler",
        "LABEL": "fcn4flare example",
        "SYNTHETIC": True,
        "FLUX_ORIGIN": "synthetic",
        "CADENCE_MINUTES": cadence * 1440,
        "SEED": seed,
        "INJECTED_FLARES": truth,
    })
    return lc
