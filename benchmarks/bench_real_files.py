"""Flares found by ``lc.flares.detect()`` in the real mission light curves of ../shared/data.

Run from the repository root::

    python benchmarks/bench_real_files.py [--model DIR] [--threshold 0.5] [--rules default]

For each FITS file in ``../shared/data/lightcurves`` (relative to the repository root; the
script says so and exits cleanly when the folder is absent) it prints the mission, the
number of rows ``lightkurve.read`` returns (default quality bitmask), the number of flares,
the time to read the file and the time of ``lc.flares.detect()``, then the flares
(``tpeak``, ``duration``, ``amplitude``, ``score``). The model is loaded once, before the
first file, and that time is printed separately; detection times exclude it.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

__all__ = ["DATA_DIR", "main"]

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "lightcurves"


def _mission(lc) -> str:
    meta = lc.meta
    mission = meta.get("MISSION") or meta.get("TELESCOP") or "unknown"
    for key in ("QUARTER", "CAMPAIGN", "SECTOR"):
        if meta.get(key) is not None:
            return f"{mission} {key.lower()} {meta[key]}"
    return str(mission)


def _print_flares(flares) -> None:
    if not len(flares):
        print("    (no flares)")
        return
    print(f"    {'tpeak':>14s} {'duration [h]':>12s} {'amplitude':>10s} {'score':>6s}")
    for row in flares:
        tpeak = row["tpeak"]
        print(f"    {tpeak.value:14.5f} {row['duration'].to_value('h'):12.2f} "
              f"{float(row['amplitude']):10.4f} {row['score']:6.3f}")
    print(f"    (tpeak in {flares['tpeak'].format.upper()})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="checkpoint directory (default: the shipped model)")
    parser.add_argument("--data", type=Path, default=DATA_DIR, help=f"folder [{DATA_DIR}]")
    parser.add_argument("--threshold", type=float, default=0.5, help="probability [0.5]")
    parser.add_argument("--rules", default="default", choices=("default", "published"))
    parser.add_argument("--threads", type=int, default=2, help="torch threads [2]")
    args = parser.parse_args(argv)

    files = sorted(args.data.glob("*.fits")) if args.data.is_dir() else []
    if not files:
        print(f"No light curves in {args.data}: nothing to do (the shared data are absent).")
        return 0

    import lightkurve as lk
    import torch

    import fcn4flare
    from fcn4flare.network import DEFAULT_MODEL, available_models

    if args.model is None and DEFAULT_MODEL not in available_models():
        parser.error("no shipped default model in this installation; pass --model DIR")
    torch.set_num_threads(args.threads)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"fcn4flare {fcn4flare.__version__}, torch {torch.__version__}, "
          f"{os.cpu_count()} cores, {args.threads} torch threads, {platform.machine()}; "
          f"1-min load average before the run {load:.2f}")
    if load >= 0.5:
        print("NOTE: the CPU was shared with other processes during this run; the timings "
              "are pessimistic.")

    start = time.perf_counter()
    model = fcn4flare.load_model(args.model)
    print(f"model {args.model or DEFAULT_MODEL}: loaded in {time.perf_counter() - start:.2f} s "
          f"(hidden {model.config.hidden_dim}, depth {model.config.depth}); "
          f"threshold {args.threshold}, rules {args.rules}\n")

    total_points = total_seconds = 0.0
    for path in files:
        start = time.perf_counter()
        lc = lk.read(path)
        read_seconds = time.perf_counter() - start
        start = time.perf_counter()
        flares = lc.flares.detect(model=model, threshold=args.threshold, rules=args.rules)
        seconds = time.perf_counter() - start
        total_points += len(lc)
        total_seconds += seconds
        print(f"{path.name}\n  {_mission(lc)}, {lc.meta.get('OBJECT', '')}: {len(lc)} points, "
              f"{len(flares)} flares; detect {seconds:.2f} s "
              f"({len(lc) / seconds:,.0f} points/s), read {read_seconds:.2f} s")
        _print_flares(flares)
        print()
    print(f"all {len(files)} files: {total_points:,.0f} points in {total_seconds:.2f} s of "
          f"detection ({total_points / total_seconds:,.0f} points/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
