"""Injection-recovery map of one real light curve: fcn4flare against AltaiPony 2.1.2.

What it measures: synthetic flares (Tovar Mendoza et al. 2022 template, amplitude and FWHM
drawn log-uniformly and seeded) are injected into copies of ONE real light curve, each tool
searches the copies, and the recovered fraction is binned on the same amplitude x FWHM grid
(log-spaced edges; by default 5 x 5 cells over 1e-3..0.3 relative flux and 2 min..2 h). For
each tool it prints the map (recovered fraction and number injected per cell), the fraction
recovered overall, the median recovered/injected equivalent-duration ratio and the runtime,
and it saves both maps side by side as a PNG.

- **fcn4flare**: ``fcn4flare.detection.injection_recovery`` with the shipped default model
  (``FlareDetector()``), ``n_flares`` per copy (ten FWHMs apart), seeded.
- **AltaiPony**: ``FlareLightCurve.sample_flare_recovery(inject_before_detrending=True,
  mode="savgol")`` with its default ``find_flares`` thresholds, run by
  ``benchmarks/peers/run_altaipony_injrec.py`` in the isolated AltaiPony environment (made by
  ``bash benchmarks/peers/setup_peers.sh altaipony``; the project environment never imports
  altaipony). The runner seeds AltaiPony's draws, draws log-uniformly, fixes a NaN overflow of
  AltaiPony's Mendoza template and converts AltaiPony's template parameters to the true peak
  amplitude and FWHM; see its docstring.

Both tools get the same cleaned light curve: ``lightkurve.read(path)`` (default quality
bitmask, which drops flagged cadences), ``remove_nans()``, ``normalize()``, then the first
``--days`` days. An injected flare counts as recovered when its peak time lies within a found
event widened by half a cadence (fcn4flare's rule, applied to AltaiPony too unless
``--altaipony-match altaipony``; AltaiPony's own strict rule is always reported as well).
Injected flares whose peak falls on a flare already in the light curve are not scored
(fcn4flare) or not placed there (AltaiPony).

Run from the repository root::

    python benchmarks/injection_recovery_map.py [--file FITS] [--days 8] [--n-flares 300]
        [--seed 0] [--figure docs/_static/injection_recovery_map.png]

The default light curve, ``../shared/data/lightcurves/tess2018206045859-s0001-0000000358108509
-0120-s_lc.fits`` (relative to the repository root), is a TESS sector 1 2-min light curve; the
script says so and exits cleanly when it is absent, and skips AltaiPony (with a message) when
its environment is missing (``PEERS_DIR``, default ``../peers`` next to the repository, as in
``setup_peers.sh``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

__all__ = ["main", "binned_map", "format_map"]

REPO = Path(__file__).resolve().parents[1]
DEFAULT_FILE = (REPO.parent / "shared" / "data" / "lightcurves"
                / "tess2018206045859-s0001-0000000358108509-0120-s_lc.fits")
DEFAULT_FIGURE = REPO / "docs" / "_static" / "injection_recovery_map.png"
RUNNER = REPO / "benchmarks" / "peers" / "run_altaipony_injrec.py"
PEERS_DIR = Path(os.environ.get("PEERS_DIR", REPO.parent / "peers"))


def binned_map(amplitude, fwhm_min, recovered, a_edges, f_edges):
    """Recovered fraction (NaN where empty) and counts on the amplitude x FWHM grid.

    Examples
    --------
    >>> p, n = binned_map([0.01, 0.01, 0.1], [5, 5, 50], [True, False, True],
    ...                   [1e-3, 0.03, 0.3], [2, 20, 120])
    >>> p.tolist(), n.tolist()
    [[0.5, nan], [nan, 1.0]]
    """
    amplitude = np.asarray(amplitude, float)
    fwhm_min = np.asarray(fwhm_min, float)
    recovered = np.asarray(recovered, float)
    counts, _, _ = np.histogram2d(amplitude, fwhm_min, bins=(a_edges, f_edges))
    hits, _, _ = np.histogram2d(amplitude, fwhm_min, bins=(a_edges, f_edges), weights=recovered)
    with np.errstate(invalid="ignore", divide="ignore"):
        probability = np.where(counts > 0, hits / counts, np.nan)
    return probability, counts.astype(np.int64)


def format_map(title, probability, counts, a_edges, f_edges) -> str:
    """The map as a text table: amplitude rows (high at the top), FWHM columns."""
    head = "amplitude \\ FWHM [min]"
    cols = [f"{lo:.3g}-{hi:.3g}" for lo, hi in zip(f_edges[:-1], f_edges[1:], strict=True)]
    width = max(11, *(len(c) for c in cols))
    lines = [title, f"  {head:>22s} " + " ".join(f"{c:>{width}s}" for c in cols)]
    for i in range(len(a_edges) - 2, -1, -1):
        cells = []
        for j in range(len(f_edges) - 1):
            p = probability[i, j]
            cell = "   -" if not np.isfinite(p) else f"{p:4.2f}"
            cells.append(f"{cell} ({counts[i, j]:3d})".rjust(width))
        row = f"{a_edges[i]:.2g}-{a_edges[i + 1]:.2g}"
        lines.append(f"  {row:>22s} " + " ".join(cells))
    lines.append("  (recovered fraction, number injected per cell)")
    return "\n".join(lines)


def _median_ed_ratio(recovered, ed_ratio) -> tuple[float, int]:
    ratio = np.asarray(ed_ratio, float)[np.asarray(recovered, bool)]
    ratio = ratio[np.isfinite(ratio)]
    return (float(np.median(ratio)) if ratio.size else float("nan")), int(ratio.size)


def _note(recovered, ed_ratio) -> str:
    recovered = np.asarray(recovered, bool)
    median, _ = _median_ed_ratio(recovered, ed_ratio)
    return (f"{recovered.mean():.0%} of {recovered.size} recovered, "
            f"median ED ratio {median:.2f}")


def _summary(name, recovered, ed_ratio, seconds, extra="") -> str:
    recovered = np.asarray(recovered, bool)
    value, n_ratio = _median_ed_ratio(recovered, ed_ratio)
    median = f"{value:.3f}" if n_ratio else "n/a"
    return (f"{name}: {int(recovered.sum())}/{recovered.size} recovered "
            f"({recovered.mean():.3f}); median ED ratio (recovered/injected) {median} "
            f"over {n_ratio} recovered flares; runtime {seconds:.1f} s{extra}")


def _read_light_curve(path: Path, days: float | None):
    import lightkurve as lk

    lc = lk.read(path).remove_nans().normalize()
    if days:
        t = np.asarray(lc.time.value, float)
        lc = lc[t < t.min() + days]
    return lc


def _run_fcn4flare(lc, args, a_range, f_range):
    import astropy.units as u
    import torch

    from fcn4flare.detection import FlareDetector, injection_recovery

    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    span = float(np.ptp(np.asarray(lc.time.value, float)))
    # injection_recovery lets the flares of one copy fill at most half the light curve, at
    # ten FWHMs (of the widest) each.
    per_copy = max(1, min(args.flares_per_copy, int(0.5 * span / (10 * f_range[1] / 1440))))
    copies = math.ceil(args.n_flares / per_copy)
    start = time.perf_counter()
    detector = FlareDetector()
    result = injection_recovery(lc, amplitude=a_range, fwhm=(f_range[0] * u.min,
                                f_range[1] * u.min), n_flares=per_copy,
                                n_realisations=copies, seed=args.seed, detector=detector,
                                n_jobs=1)
    seconds = time.perf_counter() - start
    return result, seconds, per_copy, copies, detector.model_name


def _run_altaipony(lc, args, a_range, f_range):
    python = args.altaipony_python
    if not python.exists():
        print(f"AltaiPony skipped: no interpreter at {python} "
              "(run `bash benchmarks/peers/setup_peers.sh altaipony`).")
        return None
    with tempfile.TemporaryDirectory(prefix="injrec_") as tmp:
        tmp = Path(tmp)
        np.savez(tmp / "lc.npz", time=np.asarray(lc.time.value, float),
                 flux=np.asarray(lc.flux.value, float),
                 flux_err=np.asarray(lc.flux_err.value, float))
        command = [str(python), "-W", "ignore", str(RUNNER), str(tmp / "lc.npz"),
                   str(tmp / "out.csv"), "--n-flares", str(args.n_flares),
                   "--amplitude", repr(a_range[0]), repr(a_range[1]),
                   "--fwhm-min", repr(f_range[0]), repr(f_range[1]),
                   "--fakefreq", repr(args.fakefreq), "--seed", str(args.seed),
                   "--match", args.altaipony_match]
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "agg"}
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            print(f"AltaiPony failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
            return None
        import pandas as pd

        table = pd.read_csv(tmp / "out.csv")
        settings = json.loads((tmp / "out.json").read_text())
    return table, settings, seconds


def _figure(path: Path, panels, a_edges, f_edges, title: str) -> None:
    import matplotlib

    matplotlib.use("agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels) + 1, 4.6),
                             sharey=True, constrained_layout=True)
    axes = np.atleast_1d(axes)
    mesh = None
    for ax, (name, probability, counts, note) in zip(axes, panels, strict=True):
        mesh = ax.pcolormesh(f_edges, a_edges, np.ma.masked_invalid(probability),
                             cmap="viridis", vmin=0, vmax=1)
        for i in range(len(a_edges) - 1):
            for j in range(len(f_edges) - 1):
                x, y = np.sqrt(f_edges[j] * f_edges[j + 1]), np.sqrt(a_edges[i] * a_edges[i + 1])
                p = probability[i, j]
                text = "-" if not np.isfinite(p) else f"{p:.2f}\n({counts[i, j]})"
                ax.text(x, y, text, ha="center", va="center", fontsize=8,
                        color="black" if (not np.isfinite(p) or p >= 0.6) else "white")
        ax.set_facecolor("0.85")  # cells without injected flares
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("injected FWHM [min]")
        ax.set_title(f"{name}\n{note}", fontsize=10)
    axes[0].set_ylabel("injected peak amplitude [relative flux]")
    fig.colorbar(mesh, ax=axes, label="recovery probability")
    fig.suptitle(title, fontsize=11)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE,
                        help="light curve FITS [TESS S1 TIC 358108509 in ../shared/data]")
    parser.add_argument("--days", type=float, default=8.0,
                        help="use only the first DAYS days (0: all) [8]")
    parser.add_argument("--n-flares", type=int, default=300,
                        help="flares to inject per tool (rounded up to whole copies) [300]")
    parser.add_argument("--amplitude", type=float, nargs=2, default=(1e-3, 0.3),
                        help="peak amplitude range = outer grid edges [1e-3 0.3]")
    parser.add_argument("--fwhm", type=float, nargs=2, default=(2.0, 120.0),
                        help="FWHM range in minutes = outer grid edges [2 120]")
    parser.add_argument("--amplitude-bins", type=int, default=5, help="[5]")
    parser.add_argument("--fwhm-bins", type=int, default=5, help="[5]")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--flares-per-copy", type=int, default=4,
                        help="fcn4flare: flares per injected copy (capped by what fits) [4]")
    parser.add_argument("--fakefreq", type=float, default=0.5,
                        help="AltaiPony: flares per day per copy (its fakefreq) [0.5]")
    parser.add_argument("--altaipony-match", choices=("common", "altaipony"), default="common",
                        help="AltaiPony matching rule in the map: fcn4flare's (common) or "
                             "AltaiPony's strict tstart < tpeak < tstop [common]")
    parser.add_argument("--altaipony-python", type=Path,
                        default=PEERS_DIR / "altaipony-venv" / "bin" / "python")
    parser.add_argument("--skip-altaipony", action="store_true")
    parser.add_argument("--figure", type=Path, default=DEFAULT_FIGURE,
                        help="PNG to write [docs/_static/injection_recovery_map.png]")
    args = parser.parse_args(argv)

    if not args.file.is_file():
        print(f"Light curve {args.file} not found: nothing to do (the shared data are absent).")
        return 0
    a_range, f_range = tuple(args.amplitude), tuple(args.fwhm)
    a_edges = np.geomspace(*a_range, args.amplitude_bins + 1)
    f_edges = np.geomspace(*f_range, args.fwhm_bins + 1)

    lc = _read_light_curve(args.file, args.days)
    t = np.asarray(lc.time.value, float)
    cadence = 1440 * float(np.median(np.diff(t)))
    noise = float(np.std(np.diff(np.asarray(lc.flux.value, float)))) / np.sqrt(2)
    target = lc.meta.get("OBJECT") or lc.meta.get("LABEL") or ""
    print(f"{args.file.name} ({target}): {len(lc)} cadences over {np.ptp(t):.2f} d "
          f"(first {args.days:g} d), cadence {cadence:.2f} min, point-to-point noise "
          f"{noise:.4f} (relative flux)")
    print(f"grid: amplitude edges {np.array2string(a_edges, precision=3)}; FWHM edges [min] "
          f"{np.array2string(f_edges, precision=3)}; seed {args.seed}; "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}\n")

    panels, totals = [], []
    result, seconds, per_copy, copies, model_name = _run_fcn4flare(lc, args, a_range, f_range)
    _, _, probability, counts = result.recovery_map(a_edges, f_edges)
    recovered = np.asarray(result.table["recovered"], bool)
    print(format_map(f"fcn4flare ({model_name}, threshold {result.meta['threshold']}, rules "
                     f"{result.meta['rules']}): {copies} copies x {per_copy} flares",
                     probability, counts, a_edges, f_edges))
    summary = _summary("fcn4flare", recovered, result.table["ed_ratio"], seconds,
                       f"; {result.n_skipped} injected on real flares not scored")
    print(summary + "\n")
    panels.append(("fcn4flare", probability, counts,
                   _note(recovered, result.table["ed_ratio"])))
    totals.append(seconds)

    peer = None if args.skip_altaipony else _run_altaipony(lc, args, a_range, f_range)
    if peer is not None:
        table, settings, seconds = peer
        probability, counts = binned_map(table["peak_amplitude"], table["fwhm_min"],
                                         table["recovered"].astype(bool), a_edges, f_edges)
        print(format_map(f"AltaiPony {settings['altaipony']} (detrend savgol, find_flares "
                         f"defaults, match {settings['match']}): {settings['iterations']} "
                         f"iterations x {settings['flares_per_iteration']} flares",
                         probability, counts, a_edges, f_edges))
        strict = table["recovered_altaipony_rule"].astype(bool)
        print(_summary("AltaiPony", table["recovered"].astype(bool), table["ed_ratio"],
                       seconds, f" (sample_flare_recovery alone {settings['runtime_s']:.1f} s)"))
        print(f"AltaiPony with its own strict rule (tstart < tpeak < tstop): "
              f"{int(strict.sum())}/{strict.size} recovered ({strict.mean():.3f}); "
              f"{settings['n_real_flares']} flare(s) found in the un-injected light curve")
        panels.append((f"AltaiPony {settings['altaipony']}", probability, counts,
                       _note(table["recovered"].astype(bool), table["ed_ratio"])))
        totals.append(seconds)

    _figure(args.figure, panels, a_edges, f_edges,
            f"Injection-recovery, {target} ({args.file.name.split('-')[1]}, first "
            f"{args.days:g} d, {cadence:.0f}-min cadence)")
    print(f"\nfigure: {args.figure}; total runtime {sum(totals):.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
