"""Run AltaiPony's injection-recovery test (``FlareLightCurve.sample_flare_recovery``) on one
light curve, for ``benchmarks/injection_recovery_map.py``.

It must run with the interpreter of the isolated environment made by
``benchmarks/peers/setup_peers.sh`` (see ``benchmarks/peers/README.md``)::

    /work/peers/altaipony-venv/bin/python benchmarks/peers/run_altaipony_injrec.py \\
        IN.npz OUT.csv --n-flares 300 --amplitude 1e-3 0.3 --fwhm-min 2 120 --seed 0

``IN.npz`` holds ``time`` (days), ``flux`` and ``flux_err`` (already cleaned: finite, sorted).
``OUT.csv`` gets one row per injected flare with AltaiPony's own columns (``amplitude`` and
``duration_d`` as passed to the template, ``ed_inj``, ``peak_time``, ``ed_rec``, ``tstart``,
``tstop``, ...) plus ``peak_amplitude`` and ``fwhm_min`` (the true maximum and the true full
width at half maximum of the injected template, measured numerically), ``recovered`` and
``ed_ratio``. A JSON sidecar ``OUT.json`` holds the settings and the runtime.

What runs (AltaiPony 2.1.2, every threshold at its default)::

    flc = FlareLightCurve(time=..., flux=..., flux_err=...)
    flc.sample_flare_recovery(inject_before_detrending=True, mode="savgol",
                              iterations=N, fakefreq=..., ampl=[...], dur=[...])

``mode`` of ``sample_flare_recovery`` is the *detrending* mode (the distribution of injected
flares is always ``generate_fake_flare_distribution``'s default ``"uniform"``). Each
iteration injects ``max(1, rint(fakefreq * span))`` flares into every continuous observing
period of the raw flux, detrends with ``detrend("savgol")`` and runs ``find_flares()``; an
injected flare counts as recovered when its peak time lies strictly between the ``tstart`` and
``tstop`` of a found event (``merge_fake_and_recovered_events``).

**Matching rule.** AltaiPony's strict ``tstart < peak_time < tstop`` misses many impulsive
flares that *are* found: the peak time is continuous, and when the rise is shorter than a
cadence the first flagged sample comes after it. fcn4flare's ``injection_recovery`` widens each
event by half a cadence on both sides. With ``--match common`` (default) the runner applies
fcn4flare's rule, by widening the events handed to ``merge_fake_and_recovered_events`` (the
``tstart``/``tstop`` written out are AltaiPony's own); ``recovered_altaipony_rule`` always
holds the result of AltaiPony's strict rule. ``--match altaipony`` makes ``recovered`` that.

Three things are changed, all in how the injected flares are made, none in the detection:

- **Seeding.** AltaiPony's ``mod_random`` either reseeds NumPy from OS entropy on every call
  (``d=False``: not reproducible) or reseeds it with the same fixed seed on every call
  (``d=True``: every iteration injects identical flares, and amplitude and duration get the very
  same uniform numbers, so they are perfectly correlated). The runner replaces
  ``altaipony.flarelc.mod_random`` and ``altaipony.fakeflares.mod_random`` by draws from one
  ``numpy.random.default_rng(seed)``.
- **Distribution** (``--sampling loguniform``, the default): amplitude and duration are drawn
  log-uniformly over the given ranges, like fcn4flare's ``injection_recovery``. A linear
  uniform draw over 1e-3..0.3 puts 97 % of the flares above 0.01, which leaves the low
  amplitude rows of a log-spaced map nearly empty. ``--sampling uniform`` keeps AltaiPony's own
  ``generate_fake_flare_distribution`` (with the seeded ``mod_random``).
- **NaN in the Mendoza template** (fixed unless ``--raw-template``). AltaiPony evaluates
  ``flare_eqn`` as ``exp(-D2 x) * erfc(...)``, which is ``inf * 0 = NaN`` for
  ``x = (t - tpeak) / fwhm < -584`` (``exp`` overflows). On a real light curve every sample
  more than ~584 FWHMs before the peak of a short flare (2.4 d for a 6 min FWHM) becomes NaN:
  ``detrend_savgol`` then drops those rows, flares injected there are lost, and ``ed_inj``
  is NaN. The limit of the expression is 0 (the flare has not started), so the runner wraps
  ``altaipony.flarelc.flare_model`` to return 0 where the template is not finite.

**Template parameters.** AltaiPony's ``mendoza2022`` template takes ``fwhm`` (``dur``, days)
and ``ampl``, but the Tovar Mendoza et al. function peaks at 0.9502 ``ampl`` and its measured
FWHM is 1.0866 ``dur``. The requested ranges are therefore the *true* peak amplitude and FWHM,
divided by these factors (measured here on a fine grid) before they are passed to AltaiPony,
and the output carries the true values. For ``davenport2014``, AltaiPony uses
``fwhm = dur / 2``; the same measurement handles it.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import logging
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np

with warnings.catch_warnings():  # lightkurve warns that its optional PRF module is missing
    warnings.simplefilter("ignore")
    import altaipony.fakeflares as fakeflares
    import altaipony.flarelc as flarelc
    from altaipony.flarelc import FlareLightCurve

__all__ = ["template_factors", "run", "main"]

ALTAIPONY_VERSION = importlib.metadata.version("altaipony")


def template_factors(model: str) -> tuple[float, float]:
    """(true peak / ``ampl``, true FWHM / ``dur``) of AltaiPony's flare template ``model``.

    Examples
    --------
    >>> [round(v, 3) for v in template_factors("mendoza2022")]
    [0.95, 1.087]
    """
    t = np.linspace(-5.0, 30.0, 3_500_001)
    flux = fakeflares.flare_model(model, t, 0.0, 1.0, 1.0)
    peak = float(flux.max())
    above = t[flux >= 0.5 * peak]
    return peak, float(above.max() - above.min())


def _seeded_draws(rng: np.random.Generator, sampling: str) -> None:
    """Route AltaiPony's random draws of injected flares through ``rng``."""

    def mod_random(x, d=False, seed=667):  # same signature as AltaiPony's
        return rng.random(x)

    flarelc.mod_random = mod_random
    fakeflares.mod_random = mod_random
    if sampling == "loguniform":
        def generate_fake_flare_distribution(nfake, ampl=(1e-4, 5), dur=(0.005, 0.012),
                                             mode="uniform", **kwargs):
            dur_fake = np.exp(rng.uniform(np.log(dur[0]), np.log(dur[1]), nfake))
            ampl_fake = np.exp(rng.uniform(np.log(ampl[0]), np.log(ampl[1]), nfake))
            return dur_fake, ampl_fake

        flarelc.generate_fake_flare_distribution = generate_fake_flare_distribution


def _finite_template() -> None:
    """Make AltaiPony's template return 0 (its limit) where it overflows to NaN."""
    original = fakeflares.flare_model

    def flare_model(model, *params):
        return np.nan_to_num(original(model, *params), nan=0.0, posinf=0.0, neginf=0.0)

    flarelc.flare_model = flare_model


def _widened_matching(half_cadence_d: float) -> None:
    """Match injected to found flares with fcn4flare's rule (events +- half a cadence)."""
    original = flarelc.merge_fake_and_recovered_events

    def merge_fake_and_recovered_events(injs, recs):
        recs = recs.copy()
        recs["tstart"] = recs["tstart"].astype(float) - half_cadence_d
        recs["tstop"] = recs["tstop"].astype(float) + half_cadence_d
        merged = original(injs, recs)
        merged["tstart"] = merged["tstart"].astype(float) + half_cadence_d
        merged["tstop"] = merged["tstop"].astype(float) - half_cadence_d
        return merged

    flarelc.merge_fake_and_recovered_events = merge_fake_and_recovered_events


def _flares_per_iteration(flcd, fakefreq: float) -> int:
    """How many flares ``inject_fake_flares`` puts into one copy (its own formula)."""
    t = flcd.time.value
    return sum(max(1, int(np.rint(fakefreq * (t[ri - 1] - t[le])))) for le, ri in flcd.gaps)


def run(time_d, flux, flux_err, *, n_flares: int, amplitude, fwhm_min, fakefreq: float,
        seed: int, model: str = "mendoza2022", sampling: str = "loguniform",
        raw_template: bool = False, match: str = "common"):
    """Run ``sample_flare_recovery``; return (per-flare DataFrame, settings dict)."""
    rng = np.random.default_rng(seed)
    _seeded_draws(rng, sampling)
    if not raw_template:
        _finite_template()
    half_cadence_d = 0.5 * float(np.median(np.diff(time_d)))
    if match == "common":
        _widened_matching(half_cadence_d)
    peak_factor, fwhm_factor = template_factors(model)
    ampl = [amplitude[0] / peak_factor, amplitude[1] / peak_factor]
    dur = [fwhm_min[0] / 1440.0 / fwhm_factor, fwhm_min[1] / 1440.0 / fwhm_factor]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        flc = FlareLightCurve(time=time_d, flux=flux, flux_err=flux_err)
        start = time.perf_counter()
        base = flc.detrend("savgol").find_gaps().find_flares()
        per_iteration = _flares_per_iteration(base, fakefreq)
        iterations = math.ceil(n_flares / per_iteration)
        out, _ = flc.sample_flare_recovery(
            inject_before_detrending=True, mode="savgol", iterations=iterations,
            fakefreq=fakefreq, model=model, ampl=ampl, dur=dur)
        runtime = time.perf_counter() - start

    table = out.fake_flares.reset_index(drop=True)
    table["peak_amplitude"] = table["amplitude"].astype(float) * peak_factor
    table["fwhm_min"] = table["duration_d"].astype(float) * 1440.0 * fwhm_factor
    ed_rec = table["ed_rec"].astype(float)
    found = np.isfinite(ed_rec) & (ed_rec != 0)  # as wrap_characterization_of_flares
    peak = table["peak_time"].astype(float)
    strict = found & (table["tstart"].astype(float) < peak) & (peak < table["tstop"].astype(float))
    table["recovered_altaipony_rule"] = strict
    table["recovered"] = found if match == "common" else strict
    table["ed_ratio"] = np.where(table["recovered"], ed_rec / table["ed_inj"].astype(float),
                                 np.nan)
    settings = {
        "altaipony": ALTAIPONY_VERSION, "model": model, "sampling": sampling, "seed": seed,
        "template_nan_fix": not raw_template, "match": match,
        "half_cadence_d": half_cadence_d,
        "fakefreq_per_day": fakefreq, "iterations": iterations,
        "flares_per_iteration": per_iteration, "n_injected": len(table),
        "n_segments": len(base.gaps), "n_real_flares": int(len(base.flares)),
        "ampl_passed": ampl, "dur_passed_days": dur,
        "peak_factor": peak_factor, "fwhm_factor": fwhm_factor, "runtime_s": runtime,
    }
    return table, settings


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", type=Path, help=".npz with time [d], flux, flux_err")
    parser.add_argument("output", type=Path, help="CSV to write (plus a .json sidecar)")
    parser.add_argument("--n-flares", type=int, default=300, help="flares to inject [300]")
    parser.add_argument("--amplitude", type=float, nargs=2, default=(1e-3, 0.3),
                        help="true peak amplitude range, relative flux [1e-3 0.3]")
    parser.add_argument("--fwhm-min", type=float, nargs=2, default=(2.0, 120.0),
                        help="true FWHM range in minutes [2 120]")
    parser.add_argument("--fakefreq", type=float, default=0.5,
                        help="injected flares per day per copy (AltaiPony's fakefreq) [0.5]")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default="mendoza2022",
                        choices=("mendoza2022", "davenport2014"))
    parser.add_argument("--sampling", default="loguniform", choices=("loguniform", "uniform"))
    parser.add_argument("--raw-template", action="store_true",
                        help="keep AltaiPony's NaN-producing template (no fix; see docstring)")
    parser.add_argument("--match", default="common", choices=("common", "altaipony"),
                        help="matching rule of 'recovered' (see docstring) [common]")
    args = parser.parse_args(argv)

    logging.getLogger("altaipony").setLevel(logging.WARNING)
    with np.load(args.input, allow_pickle=False) as data:
        time_d, flux, flux_err = (np.asarray(data[k], dtype=np.float64)
                                  for k in ("time", "flux", "flux_err"))
    table, settings = run(time_d, flux, flux_err, n_flares=args.n_flares,
                          amplitude=args.amplitude, fwhm_min=args.fwhm_min,
                          fakefreq=args.fakefreq, seed=args.seed, model=args.model,
                          sampling=args.sampling, raw_template=args.raw_template, match=args.match)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.output, index=False)
    args.output.with_suffix(".json").write_text(json.dumps(settings, indent=1))
    print(f"AltaiPony {ALTAIPONY_VERSION}: {len(table)} flares in {settings['iterations']} "
          f"iterations, {int(table['recovered'].sum())} recovered, "
          f"{settings['runtime_s']:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
