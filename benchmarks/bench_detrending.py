"""Time and peak memory of each input scaling of `fcn4flare.scaling.scale_flux`.

Run from the repository root::

    python benchmarks/bench_detrending.py [--repeats 3]

For a quiet star and a fast rotator (a spotted star of period 57 samples, 30 times the noise
in amplitude: the rotation trend's case), at a Kepler long-cadence quarter (4,600 samples)
and a Kepler short-cadence month or TESS sector (70,000 samples), it prints the median wall
time of ``--repeats`` calls and the peak memory that `tracemalloc` sees during one call.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np

import fcn4flare.trend
from fcn4flare.scaling import SCALING_METHODS, scale_flux

__all__ = ["star", "main"]


def star(n: int, rotator: bool, seed: int = 0) -> np.ndarray:
    """Flux of a quiet star or of a fast rotator, noise 1e-3, with gaps."""
    t = np.arange(n)
    rng = np.random.default_rng(seed)
    flux = 1 + 1e-3 * rng.standard_normal(n)
    if rotator:
        phase = 2 * np.pi * t / 57.3
        flux += 0.02 * np.sin(phase) + 0.01 * np.sin(2 * phase + 1)
    else:
        flux += 2e-3 * np.sin(2 * np.pi * t / 5000)
    flux[n // 3: n // 3 + 60] = np.nan
    return flux


def _timed(flux: np.ndarray, method: str) -> float:
    fcn4flare.trend._last_trend.clear()  # time the computation, not the kept last answer
    start = time.perf_counter()
    scale_flux(flux, method)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed calls [3]")
    args = parser.parse_args()
    print(f"{'scaling':28s} {'star':12s} {'samples':>8s} {'median s':>9s} {'peak MB':>8s}")
    for n in (4600, 70000):
        for rotator in (False, True):
            flux = star(n, rotator)
            for method in SCALING_METHODS:
                scale_flux(flux, method)
                times = [_timed(flux, method) for _ in range(args.repeats)]
                fcn4flare.trend._last_trend.clear()
                tracemalloc.start()
                scale_flux(flux, method)
                peak = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
                kind = "fast rotator" if rotator else "quiet"
                print(f"{method:28s} {kind:12s} {n:8d} {np.median(times):9.3f} {peak / 1e6:8.1f}")


if __name__ == "__main__":
    main()
