"""Time the training-example generator of ``fcn4flare.simulate``.

Run from the repository root::

    python benchmarks/bench_simulate.py [n_examples]

Prints the mean and 95th-percentile wall time of ``simulate_training_example`` for 4096-point
examples at every cadence family, on one core, plus the share of examples with labelled flares
and the mean fraction of labelled samples.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from fcn4flare.simulate import CADENCES, simulate_training_example


def main(n_examples: int = 300, n_points: int = 4096) -> None:
    rng = np.random.default_rng(2024)
    simulate_training_example(n_points, 2.0, rng)  # warm caches (template geometry)
    print(f"{'family':16s} {'mean ms':>8s} {'p95 ms':>8s} {'with flares':>12s} {'label frac':>11s}")
    for name, minutes in CADENCES.items():
        times, has_flare, fraction = [], [], []
        for _ in range(n_examples):
            start = time.perf_counter()
            _, labels = simulate_training_example(n_points, minutes, rng)
            times.append(time.perf_counter() - start)
            has_flare.append(labels.any())
            fraction.append(labels.mean())
        ms = 1e3 * np.array(times)
        print(f"{name:16s} {ms.mean():8.2f} {np.percentile(ms, 95):8.2f} "
              f"{np.mean(has_flare):12.2f} {np.mean(fraction):11.4f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
