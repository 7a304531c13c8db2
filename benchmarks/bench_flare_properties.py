"""How well flare tables recover the amplitude and equivalent duration of injected flares.

Run from the repository root::

    python benchmarks/bench_flare_properties.py [--realisations 6] [--flares 8]

For each FITS file in ``../shared/data/lightcurves`` (the script says so and exits cleanly
when the folder is absent) it injects flares with `fcn4flare.simulate.inject_flares`
(seeds 100, 101, ...), runs ``lc.flares.detect()`` with the shipped model, matches each
injected flare to the detected flare whose peak is nearest (within 0.1 d), and prints the
median and interquartile range of measured / injected amplitude (the peak of the
exposure-integrated flare) and equivalent duration. Equivalent durations are expected to
fall short of 1: events end where the model's probability drops, before the faint end of the
tail.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import astropy.units as u
import numpy as np

__all__ = ["DATA_DIR", "ratios", "main"]

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "lightcurves"


def ratios(path: Path, realisations: int, flares: int) -> np.ndarray:
    """Rows of (measured / injected amplitude, measured / injected equivalent duration)."""
    import lightkurve as lk

    import fcn4flare  # noqa: F401  (registers lc.flares)
    from fcn4flare.simulate import inject_flares

    lc = lk.read(path).normalize()
    rows = []
    for seed in range(realisations):
        injected, truth = inject_flares(lc, flares, seed=100 + seed)
        found = injected.flares.detect()
        if not len(found):
            continue
        peaks = found["tpeak"].value
        for flare in truth:
            nearest = int(np.argmin(np.abs(peaks - flare["tpeak"].value)))
            if abs(peaks[nearest] - flare["tpeak"].value) > 0.1:
                continue
            amplitude = u.Quantity(found["amplitude"][nearest]).to_value(u.one)
            ed = u.Quantity(found["equivalent_duration"][nearest]).to_value(u.s)
            true_ed = u.Quantity(flare["equivalent_duration"]).to_value(u.s)
            rows.append((amplitude / float(flare["observed_peak"]), ed / true_ed))
    return np.array(rows).reshape(-1, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA_DIR, help=f"folder [{DATA_DIR}]")
    parser.add_argument("--realisations", type=int, default=6, help="per file [6]")
    parser.add_argument("--flares", type=int, default=8, help="per realisation [8]")
    args = parser.parse_args()
    files = sorted(args.data.glob("*.fits")) if args.data.is_dir() else []
    if not files:
        print(f"no light curves in {args.data}: nothing to measure")
        return
    warnings.filterwarnings("ignore")
    print(f"{'file':45s} {'matched':>7s}  {'amplitude ratio':>22s}  {'ED ratio':>22s}")
    for path in files:
        r = ratios(path, args.realisations, args.flares)
        if not len(r):
            print(f"{path.name:45s} {0:7d}")
            continue
        cells = [f"{np.median(c):.2f} ({np.percentile(c, 25):.2f}-{np.percentile(c, 75):.2f})"
                 for c in r.T]
        print(f"{path.name:45s} {len(r):7d}  {cells[0]:>22s}  {cells[1]:>22s}")


if __name__ == "__main__":
    main()
