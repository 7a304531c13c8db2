"""How often `fit_flare` fits complex flares down to the noise.

Run from the repository root::

    python benchmarks/bench_fit_components.py [--flares 60] [--seed 7]

Simulates ``--flares`` complex flares (2 and 3 components alternately, peaks 2-15 minutes
apart, FWHM 2-20 minutes, amplitudes 0.02-0.1) on a spotted star with 0.2 % white noise at
1- and 2-minute cadence, fits each with the true number of components and the true noise,
and prints the fraction that converged, the reduced chi-square (median, 90th percentile,
largest, fraction below 1.2; 1 is the noise) and the median time per fit.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

import numpy as np


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flares", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    from fcn4flare.catalog import fit_flare
    from fcn4flare.simulate import flare_model

    warnings.simplefilter("ignore")
    rng = np.random.default_rng(args.seed)
    noise = 2e-3
    success, redchi2, seconds = [], [], []
    for k in range(args.flares):
        cadence = (1 + k % 2) / 1440
        t = np.arange(0.0, 0.6, cadence)
        n = 2 + k % 2
        tpeak = 0.3 + np.cumsum(np.r_[0.0, rng.uniform(2, 15, n - 1)]) / 1440
        fwhm = rng.uniform(2, 20, n) / 1440
        amplitude = 0.1 * rng.uniform(0.2, 1.0, n)
        star = 1 + 0.01 * np.sin(2 * np.pi * t / 0.8)
        flux = star * (1 + flare_model(t, tpeak, fwhm, amplitude, exposure_time=cadence))
        flux += noise * rng.standard_normal(t.size)
        start = time.perf_counter()
        fit = fit_flare(t, flux, noise, tstart=tpeak[0] - 3 * cadence,
                        tstop=tpeak[-1] + 3 * fwhm.max(), n_components=n)
        seconds.append(time.perf_counter() - start)
        success.append(fit.success)
        redchi2.append(fit.chi2 / fit.dof)
    redchi2 = np.array(redchi2)
    print(f"{args.flares} complex flares (seed {args.seed}): converged {np.mean(success):.3f}; "
          f"reduced chi-square median {np.median(redchi2):.3f}, 90th percentile "
          f"{np.percentile(redchi2, 90):.3f}, largest {redchi2.max():.2f}, below 1.2 "
          f"{np.mean(redchi2 < 1.2):.3f}; {1e3 * np.median(seconds):.0f} ms per fit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
