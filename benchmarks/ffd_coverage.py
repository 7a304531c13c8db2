"""Does `fcn4flare.catalog.FFD` recover a known power-law index, within its stated error?

For each true index and sample size, draws ``--seeds`` populations of flare equivalent
durations from a power law above ``x_min`` (inverse-CDF sampling), fits them with
``FFD(...).fit_powerlaw()`` (with ``x_min`` known, and with ``x_min`` chosen from the data by
the KS criterion on a population that is log-normal below a break, with the estimator's own
error and with the default bootstrap error), and prints the mean fitted index, the mean
stated error, the scatter of the fits and the coverage of the 1-sigma interval (the fraction
of fits within ``alpha_err`` of the truth; 0.68 is right).

    python benchmarks/ffd_coverage.py [--seeds 400] [--ks-seeds 40]
"""

from __future__ import annotations

import argparse
import time
import warnings

import astropy.units as u
import numpy as np

from fcn4flare.catalog import FFD
from fcn4flare.exceptions import FCN4FlareWarning


def power_law(rng: np.random.Generator, alpha: float, n: int, x_min: float) -> np.ndarray:
    return x_min * (1.0 - rng.random(n)) ** (-1.0 / (alpha - 1.0))


def with_break(rng: np.random.Generator, alpha: float, n: int, x_min: float) -> np.ndarray:
    below = np.exp(rng.normal(np.log(x_min) - 1.0, 0.6, 2 * n))
    return np.concatenate([below[below < x_min], power_law(rng, alpha, n, x_min)])


def run(seeds: int, ks_seeds: int) -> None:
    print(f"{'case':<30}{'alpha':>6}{'n':>6}{'mean fit':>10}{'mean err':>10}{'scatter':>9}"
          f"{'coverage':>10}{'x_min (median)':>16}")
    cases = [("x_min known", power_law, {"x_min": 10 * u.s}, seeds, (1.8, 2.0, 2.3)),
             ("x_min from data, MLE error", with_break, {"n_bootstrap": 0}, seeds,
              (1.8, 2.0, 2.3)),
             ("x_min from data, bootstrap", with_break, {}, ks_seeds, (2.0,))]
    for case, draw, options, n_seeds, alphas in cases:
        for alpha in alphas:
            for n in (50, 200):
                fits, errs, xmins = [], [], []
                for seed in range(n_seeds):
                    rng = np.random.default_rng([seed, int(alpha * 100), n])
                    values = draw(rng, alpha, n, 10.0)
                    ffd = FFD(values * u.s, observing_time=100 * u.d)
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", FCN4FlareWarning)
                        fit = ffd.fit_powerlaw(**options)
                    fits.append(fit.alpha)
                    errs.append(fit.alpha_err)
                    xmins.append(fit.x_min.to_value(u.s))
                fits, errs = np.array(fits), np.array(errs)
                coverage = np.mean(np.abs(fits - alpha) <= errs)
                print(f"{case:<30}{alpha:>6.1f}{n:>6d}{fits.mean():>10.3f}{errs.mean():>10.3f}"
                      f"{fits.std():>9.3f}{coverage:>10.3f}{np.median(xmins):>14.1f} s",
                      flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=400,
                        help="populations per case without bootstrap [400]")
    parser.add_argument("--ks-seeds", type=int, default=40,
                        help="populations per case with the bootstrap error [40]")
    args = parser.parse_args()
    started = time.perf_counter()
    run(args.seeds, args.ks_seeds)
    print(f"{time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
