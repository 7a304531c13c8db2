"""What the vetting stage costs and drops, on the fast rotators of ``bench_scale.py``.

Run from the repository root::

    python benchmarks/bench_vetting.py [--threads 2] [--points 30000] [--stars 5]
                                       [--reject-below 0] [--repeats 3] [--refine]

For each of ``--stars`` real-like 2-minute fast rotators (`bench_scale.fast_rotator`, seeds
0, 1, ...; a flare every ~3,000 samples), prints the wall time of ``FlareDetector.run(lc)``
+ ``table()`` without vetting and with ``VettingRules(reject_below=...)`` (the median of
``--repeats`` calls after a warm-up), the candidates, and how many of the injected flares an
event shares a row with, with and without the vetting. Vetting keeps every candidate unless
``reject_below`` is given; the time is that of the template fits.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scale import fast_rotator  # noqa: E402

FLARE_ROWS = 60  # rows of each of fast_rotator's flares


def found(table, starts) -> int:
    """Injected flares (rows ``start .. start + 59``) that share a row with an event."""
    first, last = np.asarray(table["istart"]), np.asarray(table["istop"])
    return sum(bool(np.any((first <= s + FLARE_ROWS - 1) & (last >= s))) for s in starts)


def timed(detector, lc, repeats: int):
    detector.run(lc).table()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        detection = detector.run(lc)
        table = detection.table()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), detection, table


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--points", type=int, default=30_000)
    parser.add_argument("--stars", type=int, default=5)
    parser.add_argument("--reject-below", type=float, default=0.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--refine", action="store_true",
                        help="run the least-squares optimiser on each candidate")
    args = parser.parse_args(argv)

    import torch

    from fcn4flare import FlareDetector
    from fcn4flare.detection.vetting import VettingRules

    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")
    plain = FlareDetector()
    vetted = FlareDetector(vetting=VettingRules(reject_below=args.reject_below,
                                                refine=args.refine))
    print(f"{args.stars} fast rotators of {args.points:,} samples, torch threads "
          f"{args.threads}, vetting reject_below={args.reject_below:g} refine={args.refine}")
    print("star  flares  candidates  found  s (no vetting)  s (vetting)  ratio  kept  found")
    flares = found_plain = found_vetted = 0
    for seed in range(args.stars):
        lc = fast_rotator(args.points, seed=seed)
        starts = lc.meta["FLARE_ROWS"]
        s0, d0, t0 = timed(plain, lc, args.repeats)
        s1, d1, t1 = timed(vetted, lc, args.repeats)
        n0, n1 = found(t0, starts), found(t1, starts)
        flares, found_plain, found_vetted = (flares + len(starts), found_plain + n0,
                                             found_vetted + n1)
        print(f"{seed:4d}  {len(starts):6d}  {len(d0.candidates.start):10d}  {n0:5d}  "
              f"{s0:14.3f}  {s1:11.3f}  {s1 / s0:5.2f}  {len(t1):4d}  {n1:5d}")
    print(f"all: {flares} flares, found {found_plain} without vetting and {found_vetted} "
          "with it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
