"""Injection-recovery tests: how completely, and how faithfully, the detector finds flares
in one star's own light curve.

`injection_recovery` injects synthetic flares (seeded; amplitude and FWHM drawn from ranges
or grids; several per realisation, ten FWHMs apart) into copies of the light curve, runs the
same `~fcn4flare.detection.FlareDetector` on each copy, and matches every injected flare to
the detected events. The result, `InjectionRecovery`, holds the per-flare table, the
recovery probability on an amplitude x FWHM grid (`InjectionRecovery.recovery_map`, with a
`~InjectionRecovery.plot`) and the recovered/injected ratio of equivalent durations that
corrects measured energies (`InjectionRecovery.ed_ratio`), in the spirit of AltaiPony's
``sample_flare_recovery`` (Ilin et al. 2021) and Davenport (2016).

An injected flare counts as recovered when its peak time falls inside a detected event
(between the event's ``tstart`` and ``tstop``, widened by half a cadence); flares whose peak
falls inside an event already present in the un-injected light curve are not scored.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import multiprocessing
from collections.abc import Callable, Sequence
from typing import Any

import astropy.units as u
import numpy as np
from astropy.table import QTable, vstack
from astropy.time import Time

from ..exceptions import InputError

__all__ = ["injection_recovery", "InjectionRecovery"]

# Injected flares are at least this many FWHMs apart (as `fcn4flare.simulate.inject_flares`
# places them), so that one realisation holds at most span / (this * fwhm) flares.
_SEPARATION_FWHM = 10.0


@dataclasses.dataclass
class InjectionRecovery:
    """The outcome of `injection_recovery`: one row per injected flare.

    Attributes
    ----------
    table : `~astropy.table.QTable`
        Columns ``realisation`` (int), ``tpeak`` (`~astropy.time.Time`), ``amplitude``
        (dimensionless, relative to the median flux), ``fwhm`` (min), ``equivalent_duration``
        (s, of the instantaneous flare), ``recovered`` (bool), ``recovered_amplitude``,
        ``recovered_equivalent_duration`` (s), ``amplitude_ratio`` and ``ed_ratio``
        (recovered / injected; NaN when not recovered), ``recovered_tstart``,
        ``recovered_tstop`` (`~astropy.time.Time`, NaN-masked when not recovered) and
        ``score`` (the event's mean probability).
    n_skipped : int
        Injected flares not scored because they fell on a flare of the light curve itself.
    meta : dict
        Settings of the run (seed, ranges, template, realisations, model, threshold).
    """

    table: QTable
    n_skipped: int = 0
    meta: dict = dataclasses.field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.table)

    @property
    def recovery_fraction(self) -> float:
        """Fraction of the scored injected flares that were recovered."""
        recovered = np.asarray(self.table["recovered"], dtype=bool)
        return float(recovered.mean()) if recovered.size else float("nan")

    def recovery_map(
        self, amplitude_bins: Any = 8, fwhm_bins: Any = 8
    ) -> tuple[np.ndarray, u.Quantity, np.ndarray, np.ndarray]:
        """Recovery probability on an amplitude x FWHM grid.

        Parameters
        ----------
        amplitude_bins, fwhm_bins : int or array-like
            Number of logarithmic bins spanning the injected values, or the bin edges
            (FWHM edges as a time Quantity or in minutes).

        Returns
        -------
        amplitude_edges : ndarray
        fwhm_edges : `~astropy.units.Quantity`
            In minutes.
        probability : ndarray, shape (n_amplitude, n_fwhm)
            Recovered fraction per cell; NaN where a cell holds no injected flare.
        counts : ndarray of int
            Injected flares per cell.
        """
        amplitude = np.asarray(self.table["amplitude"], dtype=float)
        fwhm = self.table["fwhm"].to_value(u.min)
        a_edges = _edges(amplitude_bins, amplitude, "amplitude_bins")
        f_edges = _edges(_minutes(fwhm_bins, "fwhm_bins"), fwhm, "fwhm_bins")
        recovered = np.asarray(self.table["recovered"], dtype=float)
        counts, _, _ = np.histogram2d(amplitude, fwhm, bins=(a_edges, f_edges))
        hits, _, _ = np.histogram2d(amplitude, fwhm, bins=(a_edges, f_edges),
                                    weights=recovered)
        with np.errstate(invalid="ignore", divide="ignore"):
            probability = np.where(counts > 0, hits / counts, np.nan)
        return a_edges, f_edges * u.min, probability, counts.astype(np.int64)

    def recovery_probability(self, bins: Any = 10, column: str = "equivalent_duration"
                             ) -> tuple[u.Quantity, np.ndarray]:
        """Recovered fraction against the injected ``column`` (for `fcn4flare.catalog.FFD`).

        Parameters
        ----------
        bins : int or array-like
            Number of logarithmic bins spanning the injected values, or the bin edges.
        column : {'equivalent_duration', 'amplitude'}
            Which injected quantity to bin.

        Returns
        -------
        centres : `~astropy.units.Quantity`
            Geometric bin centres (bins without injections are left out).
        probability : ndarray
            Recovered fraction per bin, usable as ``FFD(..., recovery_probability=(centres,
            probability))``.
        """
        values, unit = _column_values(self.table, column)
        edges = _edges(bins, values, "bins")
        recovered = np.asarray(self.table["recovered"], dtype=float)
        counts, _ = np.histogram(values, edges)
        hits, _ = np.histogram(values, edges, weights=recovered)
        keep = counts > 0
        centres = np.sqrt(edges[:-1] * edges[1:])[keep]
        return centres * unit, hits[keep] / counts[keep]

    def ed_ratio(self, bins: Any = 10) -> tuple[u.Quantity, np.ndarray]:
        """Median recovered/injected equivalent duration against the recovered one.

        Divide a measured equivalent duration (or energy) by this ratio, interpolated at
        its value, to correct it for what the detector's extent and the quiescent level
        leave out.

        Parameters
        ----------
        bins : int or array-like
            Number of logarithmic bins of recovered equivalent duration, or the edges (s).

        Returns
        -------
        centres : `~astropy.units.Quantity`
            Geometric bin centres in s (bins without recovered flares are left out).
        ratio : ndarray
            Median ED ratio per bin.
        """
        recovered = np.asarray(self.table["recovered"], dtype=bool)
        measured = self.table["recovered_equivalent_duration"].to_value(u.s)[recovered]
        ratio = np.asarray(self.table["ed_ratio"], dtype=float)[recovered]
        keep = np.isfinite(measured) & (measured > 0) & np.isfinite(ratio)
        if not keep.any():
            raise InputError("no recovered flare with a positive equivalent duration.")
        measured, ratio = measured[keep], ratio[keep]
        edges = _edges(_seconds(bins), measured, "bins")
        index = np.clip(np.searchsorted(edges, measured, side="right") - 1, 0, edges.size - 2)
        centres, medians = [], []
        for k in range(edges.size - 1):
            inside = index == k
            if inside.any():
                centres.append(np.sqrt(edges[k] * edges[k + 1]))
                medians.append(float(np.median(ratio[inside])))
        return np.array(centres) * u.s, np.array(medians)

    def plot(self, ax: Any = None, amplitude_bins: Any = 8, fwhm_bins: Any = 8,
             **kwargs: Any) -> Any:
        """The recovery probability map: FWHM across, amplitude up, log axes.

        Parameters
        ----------
        ax : `~matplotlib.axes.Axes`, optional
            Where to draw; default a new figure.
        amplitude_bins, fwhm_bins
            As in `recovery_map`.
        **kwargs
            Passed to `~matplotlib.axes.Axes.pcolormesh` (default ``cmap='viridis'``,
            ``vmin=0``, ``vmax=1``).

        Returns
        -------
        `~matplotlib.axes.Axes`
        """
        import matplotlib.pyplot as plt

        a_edges, f_edges, probability, counts = self.recovery_map(amplitude_bins, fwhm_bins)
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4.5))
        options = {"cmap": "viridis", "vmin": 0.0, "vmax": 1.0, **kwargs}
        mesh = ax.pcolormesh(f_edges.to_value(u.min), a_edges, probability, **options)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("injected FWHM [min]")
        ax.set_ylabel("injected amplitude")
        ax.figure.colorbar(mesh, ax=ax, label="recovery probability")
        title = self.meta.get("TARGET")
        ax.set_title(f"Injection-recovery{': ' + str(title) if title else ''} "
                     f"({int(counts.sum())} flares)")
        return ax


def injection_recovery(
    lc: Any,
    *,
    amplitude: Any = (1e-3, 1.0),
    fwhm: Any = (2 * u.min, 4 * u.hour),
    n_flares: int = 5,
    n_realisations: int = 20,
    template: str = "mendoza2022",
    seed: int | None = 0,
    detector: Any = None,
    n_jobs: int = 1,
    progress: bool = False,
    **detector_options: Any,
) -> InjectionRecovery:
    """Inject synthetic flares into a light curve and measure how many are recovered.

    Parameters
    ----------
    lc : `~lightkurve.LightCurve`
        The star's light curve (not modified).
    amplitude : (float, float) or array-like
        A range ``(low, high)`` drawn log-uniformly, or a sequence of more than two values
        drawn from with equal probability (a grid). Amplitudes are relative to the median
        flux.
    fwhm : (Quantity, Quantity) or Quantity array
        A range or a grid of full widths at half maximum, as for ``amplitude``; plain
        numbers are minutes.
    n_flares : int
        Flares injected per realisation (ten FWHMs apart; fewer when they do not fit).
    n_realisations : int
        Copies of the light curve, each with its own flares.
    template : {'mendoza2022', 'davenport2014'}
        Shape of the injected flares.
    seed : int or None
        Seed of every random draw; the result is a deterministic function of it.
    detector : `~fcn4flare.detection.FlareDetector`, optional
        The detector to test; default one built from ``detector_options``.
    n_jobs : int
        Worker processes (1: in this process; -1: one per CPU). The detector is sent to
        each worker once.
    progress : bool
        Show a progress bar (tqdm) over realisations.
    **detector_options
        ``model``, ``threshold``, ``rules``, ... of `~fcn4flare.detection.FlareDetector`.

    Returns
    -------
    InjectionRecovery

    Raises
    ------
    InputError
        A range that is not positive and increasing, amplitudes the star cannot hold
        (above 100 times the median flux, or flares wider than a tenth of the light curve),
        a bad ``n_flares``, ``n_realisations`` or ``n_jobs``, or an unusable light curve.

    Examples
    --------
    >>> import numpy as np
    >>> import astropy.units as u
    >>> import lightkurve as lk
    >>> import torch
    >>> from fcn4flare import FCN4FlareConfig, FCN4FlareModel
    >>> from fcn4flare.detection import injection_recovery
    >>> _ = torch.manual_seed(0)
    >>> model = FCN4FlareModel(FCN4FlareConfig(hidden_dim=8, depth=2, dilation=[1, 2]))
    >>> flux = 1 + 1e-3 * np.random.default_rng(0).standard_normal(2000)
    >>> lc = lk.LightCurve(time=2459000 + np.arange(2000) / 720, flux=flux)
    >>> result = injection_recovery(lc, amplitude=(0.01, 0.1), fwhm=(5 * u.min, 20 * u.min),
    ...                             n_flares=3, n_realisations=2, model=model, threshold=0.5)
    >>> len(result), result.table["fwhm"].unit
    (6, Unit("min"))
    """
    from .detector import FlareDetector

    draw_amplitude = _sampler(amplitude, "amplitude", u.dimensionless_unscaled)
    draw_fwhm = _sampler(fwhm, "fwhm", u.min)
    n_flares = _count("n_flares", n_flares)
    n_realisations = _count("n_realisations", n_realisations)
    workers = _workers(n_jobs)
    if detector is None:
        detector = FlareDetector(**detector_options)
    elif detector_options:
        raise InputError(
            f"give either detector= or detector options, not both "
            f"({', '.join(sorted(detector_options))})."
        )
    base = detector.run(lc)
    span_days = float(np.ptp(_days(base.prepared.time)))
    _check_capacity(draw_amplitude.high, draw_fwhm.high, n_flares, span_days)
    existing = base.table()
    real = _event_windows(existing)

    seeds = np.random.SeedSequence(seed).spawn(n_realisations)
    jobs = [(k, lc, seeds[k], draw_amplitude, draw_fwhm, n_flares, template, real)
            for k in range(n_realisations)]
    results = _run_all(detector, jobs, workers, progress)
    tables = [table for table, _ in results]
    skipped = sum(n for _, n in results)
    table = vstack(tables) if tables else QTable()
    meta = {
        "TARGET": existing.meta.get("TARGET", ""),
        "seed": seed,
        "amplitude": draw_amplitude.describe(),
        "fwhm": draw_fwhm.describe(),
        "n_flares": n_flares,
        "n_realisations": n_realisations,
        "template": template,
        "model": detector.model_name,
        "threshold": detector.rules.threshold,
        "rules": detector.rules.name,
    }
    table.meta.update(meta)
    return InjectionRecovery(table=table, n_skipped=skipped, meta=meta)


# ----------------------------------------------------------------------------- drawing


@dataclasses.dataclass(frozen=True)
class _Sampler:
    """Draws values from a log-uniform range or a grid (plain floats in ``unit``)."""

    name: str
    unit: u.UnitBase
    low: float
    high: float
    grid: tuple[float, ...] | None

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        if self.grid is not None:
            return rng.choice(np.array(self.grid), size=size)
        return np.exp(rng.uniform(np.log(self.low), np.log(self.high), size))

    def describe(self) -> str:
        unit = "" if self.unit == u.dimensionless_unscaled else f" {self.unit}"
        if self.grid is not None:
            return f"grid of {len(self.grid)} values {self.low:g}-{self.high:g}{unit}"
        return f"log-uniform {self.low:g}-{self.high:g}{unit}"


def _sampler(value: Any, name: str, unit: u.UnitBase) -> _Sampler:
    if isinstance(value, u.Quantity):
        values = _in_unit(value, unit, name)
    elif isinstance(value, (tuple, list, np.ndarray)) and any(
        isinstance(v, u.Quantity) for v in value
    ):
        values = np.array([float(_in_unit(u.Quantity(v), unit, name)) for v in value])
    else:
        try:
            values = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            raise InputError(f"{name} must be a (low, high) range or a grid of numbers, "
                             f"got {value!r}.") from None
    values = np.atleast_1d(values).ravel()
    if values.size < 2 or not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise InputError(
            f"{name} must be a (low, high) range or a grid of at least two positive, finite "
            f"values; got {value!r}."
        )
    if values.size == 2:
        low, high = float(values[0]), float(values[1])
        if not high > low:
            raise InputError(f"{name} range must be increasing, got ({low:g}, {high:g}).")
        return _Sampler(name, unit, low, high, None)
    return _Sampler(name, unit, float(values.min()), float(values.max()),
                    tuple(float(v) for v in values))


def _in_unit(value: u.Quantity, unit: u.UnitBase, name: str) -> np.ndarray:
    try:
        return np.asarray(value.to_value(unit), dtype=float)
    except u.UnitConversionError:
        raise InputError(f"{name} is in {value.unit}, which is not convertible to {unit}."
                         ) from None


def _check_capacity(amplitude: float, fwhm_minutes: float, n_flares: int,
                    span_days: float) -> None:
    if amplitude > 100:
        raise InputError(
            f"amplitude up to {amplitude:g} times the median flux is outside what a light "
            "curve can hold here (at most 100)."
        )
    fwhm_days = fwhm_minutes / 1440.0
    # Random placement needs room to spare: the flares may fill half of the light curve.
    needed = n_flares * fwhm_days * _SEPARATION_FWHM
    if needed > 0.5 * span_days:
        raise InputError(
            f"{n_flares} flare(s) of FWHM up to {fwhm_minutes:g} min need "
            f"{_SEPARATION_FWHM:g} FWHMs each ({needed:.3g} d), more than half of the light "
            f"curve's {span_days:.3g} d; lower n_flares or the fwhm range."
        )


def _count(name: str, value: Any) -> int:
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise InputError(f"{name} must be a positive whole number, got {value!r}.")
    return int(value)


def _workers(n_jobs: Any) -> int:
    import os

    if isinstance(n_jobs, bool) or int(n_jobs) != n_jobs or n_jobs == 0 or n_jobs < -1:
        raise InputError(f"n_jobs must be a positive whole number or -1, got {n_jobs!r}.")
    return os.cpu_count() or 1 if n_jobs == -1 else int(n_jobs)


# ----------------------------------------------------------------------------- running

# The detector of a worker process, set once by `_init_worker`.
_WORKER: dict[str, Any] = {}


def _init_worker(detector: Any) -> None:
    _WORKER["detector"] = detector


def _in_worker(job: tuple) -> tuple[QTable, int]:
    return _realisation(_WORKER["detector"], *job)


def _run_all(detector: Any, jobs: Sequence[tuple], workers: int, progress: bool
             ) -> list[tuple[QTable, int]]:
    bar = _progress(len(jobs), progress)
    results: list[tuple[QTable, int]] = []
    try:
        if workers == 1 or len(jobs) == 1:
            for job in jobs:
                results.append(_realisation(detector, *job))
                bar(1)
            return results
        # spawn: a forked child can inherit a lock held by a PyTorch/OpenMP thread and hang
        with concurrent.futures.ProcessPoolExecutor(
            max_workers=min(workers, len(jobs)), initializer=_init_worker,
            initargs=(detector,), mp_context=multiprocessing.get_context("spawn"),
        ) as pool:
            for result in pool.map(_in_worker, jobs):
                results.append(result)
                bar(1)
        return results
    finally:
        bar(0, close=True)


def _progress(total: int, enabled: bool) -> Callable[..., None]:
    if not enabled:
        return lambda n, close=False: None
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc="injection-recovery", unit="realisation")

    def update(n: int, close: bool = False) -> None:
        if n:
            bar.update(n)
        if close:
            bar.close()

    return update


def _realisation(detector: Any, index: int, lc: Any, seed: np.random.SeedSequence,
                 draw_amplitude: _Sampler, draw_fwhm: _Sampler, n_flares: int,
                 template: str, real: tuple[np.ndarray, np.ndarray]) -> tuple[QTable, int]:
    from ..simulate import inject_flares

    rng = np.random.default_rng(seed)
    amplitude = draw_amplitude.draw(rng, n_flares)
    fwhm = draw_fwhm.draw(rng, n_flares) * u.min
    injected, truth = inject_flares(lc, n_flares, amplitude=amplitude, fwhm=fwhm,
                                    template=template, seed=rng)
    if "flare_label" not in lc.colnames:
        injected.remove_column("flare_label")
    found = detector.run(injected).table()
    on_real = _inside(np.asarray(truth["tpeak"].jd, dtype=float), *real) >= 0
    return _match(index, truth[~on_real], found), int(on_real.sum())


def _event_windows(table: Any) -> tuple[np.ndarray, np.ndarray]:
    """Start and stop (JD) of each event, widened by half a cadence on each side."""
    if not len(table):
        return np.zeros(0), np.zeros(0)
    half = 0.5 * float(table.meta.get("CADENCE", 0.0)) / 1440.0
    return (np.asarray(table["tstart"].jd, dtype=float) - half,
            np.asarray(table["tstop"].jd, dtype=float) + half)


def _inside(t: np.ndarray, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """Index of the first window holding each time, -1 for none."""
    hit = np.full(t.size, -1, dtype=np.int64)
    for k in range(t.size):
        inside = np.flatnonzero((starts <= t[k]) & (t[k] <= stops))
        if inside.size:
            hit[k] = inside[0]
    return hit


def _match(index: int, truth: QTable, found: Any) -> QTable:
    n = len(truth)
    tpeak = truth["tpeak"]
    hit = _inside(np.asarray(tpeak.jd, dtype=float), *_event_windows(found))
    recovered = hit >= 0
    table = QTable()
    table["realisation"] = np.full(n, index, dtype=np.int64)
    table["tpeak"] = tpeak
    table["amplitude"] = np.asarray(truth["amplitude"], dtype=float) * u.dimensionless_unscaled
    table["fwhm"] = truth["fwhm"].to(u.min)
    table["equivalent_duration"] = truth["equivalent_duration"].to(u.s)
    table["recovered"] = recovered
    amp = np.full(n, np.nan)
    ed = np.full(n, np.nan)
    score = np.full(n, np.nan)
    tstart = np.full(n, np.nan)
    tstop = np.full(n, np.nan)
    if recovered.any():
        rows = hit[recovered]
        amp[recovered] = np.asarray(found["amplitude"], dtype=float)[rows]
        ed[recovered] = found["equivalent_duration"].to_value(u.s)[rows]
        score[recovered] = np.asarray(found["score"], dtype=float)[rows]
        tstart[recovered] = np.asarray(found["tstart"].jd, dtype=float)[rows]
        tstop[recovered] = np.asarray(found["tstop"].jd, dtype=float)[rows]
    table["recovered_amplitude"] = amp * u.dimensionless_unscaled
    table["recovered_equivalent_duration"] = ed * u.s
    with np.errstate(invalid="ignore", divide="ignore"):
        table["amplitude_ratio"] = amp / table["amplitude"].value
        table["ed_ratio"] = ed / table["equivalent_duration"].to_value(u.s)
    table["recovered_tstart"] = _like(tpeak, tstart)
    table["recovered_tstop"] = _like(tpeak, tstop)
    table["score"] = score
    # Two injected flares in one detected event: the detector merged them, and only the
    # first is counted as found (one flare, one row).
    if recovered.any():
        _, first = np.unique(hit[recovered], return_index=True)
        duplicate = np.ones(int(recovered.sum()), dtype=bool)
        duplicate[first] = False
        table["recovered"][np.flatnonzero(recovered)[duplicate]] = False
    return table


def _like(reference: Time, jd: np.ndarray) -> Time:
    value = Time(np.where(np.isfinite(jd), jd, 0.0), format="jd", scale=reference.scale)
    value.format = reference.format
    return value


# ----------------------------------------------------------------------------- helpers


def _days(time: Any) -> np.ndarray:
    if isinstance(time, Time):
        return np.asarray(time.jd, dtype=float)
    return np.asarray(getattr(time, "value", time), dtype=float)


def _minutes(value: Any, name: str) -> Any:
    if isinstance(value, u.Quantity):
        return _in_unit(value, u.min, name)
    return value


def _seconds(value: Any) -> Any:
    if isinstance(value, u.Quantity):
        return _in_unit(value, u.s, "bins")
    return value


def _column_values(table: QTable, column: str) -> tuple[np.ndarray, u.UnitBase]:
    if column not in ("equivalent_duration", "amplitude"):
        raise InputError(
            f"column must be 'equivalent_duration' or 'amplitude', got {column!r}."
        )
    values = table[column]
    unit = getattr(values, "unit", None) or u.dimensionless_unscaled
    return np.asarray(getattr(values, "value", values), dtype=float), unit


def _edges(bins: Any, values: np.ndarray, name: str) -> np.ndarray:
    values = values[np.isfinite(values) & (values > 0)]
    if np.ndim(bins) == 0:
        if isinstance(bins, bool) or int(bins) != bins or bins < 1:
            raise InputError(f"{name} must be a positive number of bins or the bin edges.")
        if values.size == 0:
            raise InputError("no injected flare to bin.")
        low, high = values.min(), values.max()
        if high <= low:
            high = low * 1.0001
        return np.geomspace(low, high * (1 + 1e-9), int(bins) + 1)
    edges = np.asarray(bins, dtype=float)
    if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0) or edges[0] <= 0:
        raise InputError(f"{name} edges must be positive and increasing.")
    return edges
