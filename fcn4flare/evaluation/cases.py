"""The light curves of the model evaluation: simulated sets, real files and injections into them.

Part of `fcn4flare.evaluation` (run by ``fcn4flare evaluate``); the protocol is described in
``docs/benchmarks.rst``. Every set is a deterministic function of its seed.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import numpy as np
from astropy.table import QTable
from scipy.ndimage import median_filter

from .._arrays import find_runs
from ..exceptions import InputError
from ..lightcurve import GridMap, prepare_light_curve, regular_grid
from ..simulate import (
    CADENCES,
    inject_flares,
    point_to_point_sigma,
    simulate_training_example,
)

__all__ = [
    "Curve",
    "FAMILIES",
    "TEST_SEED",
    "VALIDATION_SEED",
    "INJECTION_TEST_SEED",
    "INJECTION_TUNING_SEED",
    "AMPLITUDE_RANGE_SIGMA",
    "FWHM_RANGE_CADENCES",
    "simulated_set",
    "read_real_curve",
    "file_label",
    "excursion_mask",
    "inject_realisation",
    "injection_set",
    "real_curves",
    "FFI_BINS_MINUTES",
    "INJECTION_FFI_SEED",
    "bin_curve",
    "ffi_like_curves",
]

#: Cadence families evaluated (all of `fcn4flare.simulate.CADENCES`, in its order).
FAMILIES: tuple[str, ...] = tuple(CADENCES)

# Seeds. Training draws from SeedSequence([2024, stream, epoch, index]); these plain integer
# seeds give unrelated streams. Family k uses TEST_SEED + k (test) or VALIDATION_SEED + k.
TEST_SEED = 777_000
VALIDATION_SEED = 778_000
# Injection realisation r into real file j: seed + 100 * j + r.
INJECTION_TEST_SEED = 10_000
INJECTION_TUNING_SEED = 20_000
# Injections into the FFI-like binned light curves: seed + 100 * j + r, j over `ffi_like_curves`.
INJECTION_FFI_SEED = 30_000

#: Bin widths (minutes) of the FFI-like light curves made from the TESS 2-min files.
FFI_BINS_MINUTES: tuple[float, ...] = (10.0, 30.0)
# A bin needs at least this fraction of its 2-min samples (else it is NaN, like a flagged FFI).
_MIN_BIN_FILL = 0.5

#: Injected intrinsic peak amplitudes, in units of the point-to-point scatter (log-uniform).
AMPLITUDE_RANGE_SIGMA = (1.0, 100.0)
#: Injected FWHMs, in cadences (log-uniform).
FWHM_RANGE_CADENCES = (0.5, 20.0)
# Excursions of a real light curve above a running median (see `excursion_mask`).
EXCURSION_WINDOW_DAYS = 0.3
EXCURSION_SIGMA = 3.0
EXCURSION_SINGLE_SIGMA = 5.0
EXCURSION_GROW_SIGMA = 1.0
EXCURSION_PAD = 2
# One injected flare per this many usable samples (at least _MIN_INJECTED).
_SAMPLES_PER_INJECTED_FLARE = 500
_MIN_INJECTED = 4


@dataclass(eq=False)
class Curve:
    """One light curve of the evaluation, as plain arrays.

    Attributes
    ----------
    name : str
        Unique name (used for the peers' file names and in the tables).
    group : str
        Cadence family (simulated) or file name (real).
    time : ndarray
        Times in days.
    flux : ndarray
        Flux, NaN where unusable (quality-flagged, missing, gaps).
    flux_err : ndarray
        Uncertainties, NaN when unknown.
    cadence_minutes : float
        Nominal sampling interval.
    labels : ndarray of bool or None
        Per-sample flare labels (None for real light curves without injections).
    neutral : ndarray of bool
        Samples left out of every score: the surroundings of injected flares too faint to be
        labelled (a detection there is neither right nor wrong).
    unknown : ndarray of bool
        Samples left out of every score because the un-injected light curve may hold an
        unlabelled real flare there (`excursion_mask`); all False for simulated curves.
    truth : QTable or None
        The injection's truth table (`fcn4flare.simulate.inject_flares`).
    source : Curve or None
        The un-injected light curve an injection was made into.
    meta : dict
        The light curve's metadata (mission, target, quarter/campaign/sector, time format;
        the seed of an injection).
    """

    name: str
    group: str
    time: np.ndarray
    flux: np.ndarray
    flux_err: np.ndarray
    cadence_minutes: float
    labels: np.ndarray | None = None
    neutral: np.ndarray | None = None
    unknown: np.ndarray | None = None
    truth: QTable | None = None
    source: Curve | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.neutral is None:
            self.neutral = np.zeros(self.time.size, dtype=bool)
        if self.unknown is None:
            self.unknown = np.zeros(self.time.size, dtype=bool)

    @property
    def usable(self) -> np.ndarray:
        """Samples with a finite flux: the samples every method is scored on."""
        return np.isfinite(self.flux)

    @property
    def scored(self) -> np.ndarray:
        """Samples that enter the scores: usable, neither neutral nor unknown."""
        return self.usable & ~self.neutral & ~self.unknown

    @cached_property
    def grid(self) -> GridMap:
        """Where each sample sits on the regular cadence grid (as
        `~fcn4flare.detection.detect_flares` places it); scores are computed on the grid, where
        missing cadences break events."""
        return regular_grid(self.time)

    def on_grid(self, values: np.ndarray, fill: float | bool) -> np.ndarray:
        """Per-sample ``values`` placed on `grid`; missing cadences get ``fill``."""
        return self.grid.to_grid(values, fill=fill)

    @property
    def span_days(self) -> float:
        """Time from the first to the last usable sample."""
        t = self.time[self.usable]
        return float(t[-1] - t[0]) if t.size else 0.0


def simulated_set(family: str, n_examples: int, seed: int, length: int = 4096) -> list[Curve]:
    """``n_examples`` simulated light curves of one cadence family.

    Drawn by `~fcn4flare.simulate.simulate_training_example`.

    All examples come one after the other from ``numpy.random.default_rng(seed)``.

    Parameters
    ----------
    family : str
        A key of `fcn4flare.simulate.CADENCES` (one of `FAMILIES`).
    n_examples : int
        Number of light curves.
    seed : int
        Seed of the generator (the protocol uses ``TEST_SEED + k`` or
        ``VALIDATION_SEED + k`` for family ``k``).
    length : int
        Samples per light curve.

    Returns
    -------
    list of Curve
        Labelled light curves named ``sim_<family>_<seed>_<i>``, grouped by ``family``.

    Examples
    --------
    >>> from fcn4flare.evaluation.cases import simulated_set
    >>> curves = simulated_set("tess_2min", 2, seed=1, length=512)
    >>> [c.name for c in curves], curves[0].labels.dtype
    (['sim_tess_2min_1_0000', 'sim_tess_2min_1_0001'], dtype('bool'))
    """
    cadence = float(CADENCES[family])
    rng = np.random.default_rng(seed)
    time = np.arange(length) * cadence / 1440.0
    curves = []
    for i in range(n_examples):
        flux, labels = simulate_training_example(length, cadence, rng)
        curves.append(Curve(
            name=f"sim_{family}_{seed}_{i:04d}", group=family, time=time.copy(), flux=flux,
            flux_err=np.full(length, np.nan), cadence_minutes=cadence,
            labels=labels.astype(bool),
        ))
    return curves


def read_real_curve(path: Path) -> Curve:
    """A mission FITS light curve, read with lightkurve and prepared as fcn4flare prepares it.

    PDCSAP flux, lightkurve's default quality bitmask (flagged samples become NaN), times in
    the mission's own day-based format (BKJD or BTJD).

    Parameters
    ----------
    path : path-like
        A file ``lightkurve.read`` opens.

    Returns
    -------
    Curve
        Unlabelled, grouped by the file name, with `excursion_mask` as ``unknown``.
    """
    import lightkurve as lk

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lc = lk.read(str(path))
    prepared = prepare_light_curve(lc)
    flux_err = prepared.flux_err if prepared.flux_err is not None else \
        np.full(len(prepared), np.nan)
    meta = {key: value for key, value in prepared.meta.items() if value is not None}
    meta["time_format"] = prepared.time.format
    time = np.asarray(prepared.time_days, dtype=float)
    return Curve(
        name=Path(path).name.removesuffix(".fits"), group=Path(path).name, time=time,
        flux=prepared.flux.copy(), flux_err=np.asarray(flux_err, dtype=float),
        cadence_minutes=float(prepared.cadence.value),
        unknown=excursion_mask(time, prepared.flux), meta=meta,
    )


def real_curves(data_dir: Path, files: int | None = None) -> list[Curve]:
    """The real light curves of the evaluation: every ``*.fits`` file of ``data_dir``.

    Parameters
    ----------
    data_dir : path-like
        Directory of the FITS light curves.
    files : int, optional
        Keep only this many, the ones with the fewest samples (the quick run); all if None.

    Returns
    -------
    list of Curve
        Sorted by name; empty when the directory does not exist or holds no FITS file.
    """
    paths = sorted(Path(data_dir).glob("*.fits")) if Path(data_dir).is_dir() else []
    curves = [read_real_curve(p) for p in paths]
    if files is not None:
        curves = sorted(curves, key=lambda c: c.time.size)[:files]
        curves.sort(key=lambda c: c.name)
    return curves


def file_label(curve: Curve) -> str:
    """A short name of a real light curve for tables: mission and quarter/campaign/sector.

    Parameters
    ----------
    curve : Curve
        A light curve from `read_real_curve`.

    Returns
    -------
    str
        E.g. ``'Kepler Q2'``, ``'TESS S1'``; the curve's name when the metadata say neither.

    Examples
    --------
    >>> import numpy as np
    >>> from fcn4flare.evaluation.cases import Curve, file_label
    >>> curve = Curve("a", "a.fits", np.arange(3.0), np.ones(3), np.ones(3), 2.0,
    ...               meta={"mission": "TESS", "sector": 1})
    >>> file_label(curve)
    'TESS S1'
    """
    meta = curve.meta
    binned = f" binned {meta['binned_minutes']:g} min" if meta.get("binned_minutes") else ""
    for key, prefix in (("quarter", "Q"), ("campaign", "C"), ("sector", "S")):
        if meta.get(key) is not None:
            return f"{meta.get('mission', '')} {prefix}{meta[key]}".strip() + binned
    return curve.name


def bin_curve(curve: Curve, minutes: float) -> Curve:
    """A light curve averaged into bins of ``minutes``: a full-frame-image-like light curve.

    Bins start at the first sample and are ``minutes`` wide. A bin's flux is the mean of its
    usable samples, its time their mean time, its error the root sum of squares of their
    errors over their number; bins with fewer than half of the samples the bin can hold stay
    NaN (as a flagged full-frame image would). `excursion_mask` is recomputed on the bins.

    Parameters
    ----------
    curve : Curve
        An unlabelled light curve whose cadence is shorter than ``minutes``.
    minutes : float
        Bin width.

    Returns
    -------
    Curve
        Named ``<name>_bin<minutes>``, grouped as ``<group> binned <minutes> min``, with
        ``meta['binned_minutes']``.

    Raises
    ------
    InputError
        ``minutes`` not longer than the cadence, or a labelled curve.

    Examples
    --------
    >>> import numpy as np
    >>> from fcn4flare.evaluation.cases import Curve, bin_curve
    >>> t = np.arange(0, 1, 2 / 1440)
    >>> flux = 1 + 0.01 * np.random.default_rng(0).standard_normal(t.size)
    >>> curve = Curve("a", "a.fits", t, flux, np.full(t.size, 0.01), 2.0)
    >>> binned = bin_curve(curve, 10)
    >>> binned.time.size, round(float(binned.flux_err[0]), 5), binned.cadence_minutes
    (144, 0.00447, 10.0)
    """
    if curve.labels is not None:
        raise InputError(f"{curve.name}: bin the un-injected light curve, then inject")
    per_bin = minutes / curve.cadence_minutes
    if not per_bin > 1:
        raise InputError(f"{curve.name}: bins of {minutes:g} min are not longer than its "
                         f"{curve.cadence_minutes:g}-min cadence")
    width = minutes / 1440.0
    which = np.floor((curve.time - curve.time[0]) / width + 1e-9).astype(int)
    n_bins = int(which[-1]) + 1
    usable = curve.usable
    count = np.bincount(which[usable], minlength=n_bins).astype(float)
    flux_sum = np.bincount(which[usable], curve.flux[usable], minlength=n_bins)
    time_sum = np.bincount(which[usable], curve.time[usable], minlength=n_bins)
    err = np.where(np.isfinite(curve.flux_err), curve.flux_err, np.nan)[usable]
    var_sum = np.bincount(which[usable], np.nan_to_num(err) ** 2, minlength=n_bins)
    err_missing = np.bincount(which[usable], ~np.isfinite(err), minlength=n_bins) > 0
    filled = count >= _MIN_BIN_FILL * per_bin
    centre = curve.time[0] + (np.arange(n_bins) + 0.5) * width
    with np.errstate(invalid="ignore", divide="ignore"):
        time = np.where(filled, time_sum / count, centre)
        flux = np.where(filled, flux_sum / count, np.nan)
        flux_err = np.where(filled & ~err_missing, np.sqrt(var_sum) / count, np.nan)
    return Curve(
        name=f"{curve.name}_bin{minutes:g}", group=f"{curve.group} binned {minutes:g} min",
        time=time, flux=flux, flux_err=flux_err, cadence_minutes=float(minutes),
        unknown=excursion_mask(time, flux), meta={**curve.meta, "binned_minutes": minutes},
    )


def ffi_like_curves(curves: list[Curve],
                    bins: tuple[float, ...] = FFI_BINS_MINUTES) -> list[Curve]:
    """The TESS 2-min light curves of ``curves`` binned to each of ``bins`` minutes.

    Parameters
    ----------
    curves : list of Curve
        Real light curves (`real_curves`); only TESS ones at a cadence of at most 2 min are
        binned.
    bins : tuple of float
        Bin widths in minutes.

    Returns
    -------
    list of Curve
        Source by source, bin by bin (`bin_curve`); empty without a TESS 2-min curve.
    """
    sources = [c for c in curves if str(c.meta.get("mission", "")).upper() == "TESS"
               and c.cadence_minutes <= 2.0 + 1e-6]
    return [bin_curve(c, minutes) for c in sources for minutes in bins]


def excursion_mask(time: np.ndarray, flux: np.ndarray) -> np.ndarray:
    """Upward excursions of a light curve: where unlabelled real flares may be.

    On the usable samples of the median-normalised flux, the residual from a running median
    of ``EXCURSION_WINDOW_DAYS`` is compared with the point-to-point scatter sigma: runs of at
    least two samples above ``EXCURSION_SIGMA`` sigma, or single samples above
    ``EXCURSION_SINGLE_SIGMA`` sigma, grown on both sides while the residual stays above
    ``EXCURSION_GROW_SIGMA`` sigma, then padded by ``EXCURSION_PAD`` samples. The rule knows
    nothing of the detectors, so the same samples are left out for every method and model.

    Parameters
    ----------
    time : ndarray
        Times in days.
    flux : ndarray
        Flux, NaN where unusable.

    Returns
    -------
    ndarray of bool
        The excursions, one value per sample (all False with fewer than 10 usable samples).
    """
    usable = np.flatnonzero(np.isfinite(flux))
    mask = np.zeros(flux.size, dtype=bool)
    if usable.size < 10:
        return mask
    relative = flux[usable] / np.median(flux[usable])
    cadence = float(np.median(np.diff(time[usable])))
    window = max(9, int(round(EXCURSION_WINDOW_DAYS / cadence)) | 1)
    sigma = point_to_point_sigma(relative)
    residual = (relative / median_filter(relative, size=window, mode="nearest") - 1) / sigma
    starts, stops = find_runs(residual > EXCURSION_SIGMA)
    grow_starts, grow_stops = find_runs(residual > EXCURSION_GROW_SIGMA)
    found = np.zeros(usable.size, dtype=bool)
    for start, stop in zip(starts, stops, strict=True):
        if stop > start or residual[start] > EXCURSION_SINGLE_SIGMA:
            k = np.searchsorted(grow_starts, start, side="right") - 1  # the run holding it
            found[grow_starts[k] : grow_stops[k] + 1] = True
    mask[usable[found]] = True
    padded = mask.copy()
    for shift in range(1, EXCURSION_PAD + 1):
        padded[shift:] |= mask[:-shift]
        padded[:-shift] |= mask[shift:]
    return padded


def _loguniform(rng: np.random.Generator, bounds: tuple[float, float], size: int) -> np.ndarray:
    low, high = np.log(bounds[0]), np.log(bounds[1])
    return np.exp(rng.uniform(low, high, size))


def inject_realisation(curve: Curve, seed: int, label: str) -> Curve:
    """Inject non-overlapping flares spread in amplitude and FWHM into a real light curve.

    Intrinsic peak amplitudes are log-uniform in `AMPLITUDE_RANGE_SIGMA` times the
    point-to-point scatter of the median-normalised flux; FWHMs are log-uniform in
    `FWHM_RANGE_CADENCES` cadences; peak times are placed by
    `~fcn4flare.simulate.inject_flares` (at least ten FWHMs plus two cadences apart). Labels
    are the injection's ``flare_label``.

    Parameters
    ----------
    curve : Curve
        The un-injected light curve.
    seed : int
        Seed of the realisation.
    label : str
        Name of the new curve.

    Returns
    -------
    Curve
        A copy with the injected flux, the labels, ``neutral`` (the surroundings of flares
        too faint to be labelled), the injection's ``truth`` and ``source=curve``.
    """
    rng = np.random.default_rng(seed)
    usable = curve.usable
    median = float(np.nanmedian(curve.flux))
    sigma = point_to_point_sigma(curve.flux / median)
    cadence_days = float(np.median(np.diff(curve.time[usable])))
    n_flares = max(_MIN_INJECTED, int(usable.sum()) // _SAMPLES_PER_INJECTED_FLARE)
    for attempt in range(10):
        amplitude = sigma * _loguniform(rng, AMPLITUDE_RANGE_SIGMA, n_flares)
        fwhm = cadence_days * _loguniform(rng, FWHM_RANGE_CADENCES, n_flares)
        try:
            new, truth = inject_flares(curve.time, n_flares, flux=curve.flux,
                                       amplitude=amplitude, fwhm=fwhm, noise_sigma=sigma,
                                       seed=rng)
            break
        except InputError as error:  # could not place them all apart: fewer flares
            if attempt == 9 or "could not place" not in str(error):
                raise
            n_flares = max(1, n_flares - 1)
    flux = np.asarray(new.flux.value, dtype=float)
    flux[~usable] = np.nan
    labels = np.asarray(new["flare_label"], dtype=bool) & usable
    truth["noise_sigma"] = sigma
    truth["amplitude_sigma"] = np.asarray(truth["amplitude"]) / sigma
    truth["peak_sigma"] = np.asarray(truth["observed_peak"]) / sigma
    truth["fwhm_cadences"] = fwhm / cadence_days
    start, stop = np.asarray(truth["start_index"]), np.asarray(truth["stop_index"])
    truth["length_cadences"] = np.where(truth["labelled"], stop - start + 1, 0)
    neutral = _unlabelled_surroundings(curve.time, truth, fwhm, cadence_days)
    _check_separate_labels(labels, truth, label)
    return replace(curve, name=label, flux=flux, labels=labels, neutral=neutral & usable,
                   truth=truth, source=curve, meta={**curve.meta, "seed": seed})


def _unlabelled_surroundings(time: np.ndarray, truth: QTable, fwhm: np.ndarray,
                             cadence_days: float) -> np.ndarray:
    """Samples from 2 FWHM + 1 cadence before to 10 FWHM + 2 cadences after each unlabelled
    injected flare's peak."""
    neutral = np.zeros(time.size, dtype=bool)
    # inject_flares read the plain times as JD, so the truth's peak times are on their scale.
    tpeak = np.asarray(truth["tpeak"].jd, dtype=float)
    for peak, width, labelled in zip(tpeak, fwhm, truth["labelled"], strict=True):
        if not labelled:
            neutral |= (time >= peak - 2 * width - cadence_days) & \
                (time <= peak + 10 * width + 2 * cadence_days)
    return neutral


def _check_separate_labels(labels: np.ndarray, truth: QTable, label: str) -> None:
    """Warn when two labelled flares touch (their labels would merge into one event)."""
    starts, stops = find_runs(labels)
    run_of = np.searchsorted(starts, np.asarray(truth["start_index"])[truth["labelled"]],
                             side="right") - 1
    if np.unique(run_of).size < run_of.size:
        warnings.warn(f"{label}: labelled injected flares touch each other")


def injection_set(curves: list[Curve], realisations: int, base_seed: int) -> list[Curve]:
    """``realisations`` independent injections into each curve (seed ``base + 100 j + r``).

    Parameters
    ----------
    curves : list of Curve
        The un-injected light curves (``j`` is the position in this list).
    realisations : int
        Injections per curve (``r = 0 .. realisations - 1``).
    base_seed : int
        `INJECTION_TEST_SEED` or `INJECTION_TUNING_SEED`.

    Returns
    -------
    list of Curve
        File by file, realisation by realisation; named ``<curve>_inj<seed>``.
    """
    injected = []
    for j, curve in enumerate(curves):
        for r in range(realisations):
            seed = base_seed + 100 * j + r
            injected.append(inject_realisation(curve, seed, f"{curve.name}_inj{seed}"))
    return injected
