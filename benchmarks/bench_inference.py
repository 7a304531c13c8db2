"""Inference speed and memory of fcn4flare on the CPU.

Run from the repository root::

    python benchmarks/bench_inference.py [--model DIR] [--threads 2] [--repeats 5]

Prints

1. throughput (points/s) of `fcn4flare.predict_flare_probability` on a simulated
   10,000-point, 2-minute-cadence light curve: the median of ``--repeats`` timed calls after
   one warm-up call, for the model given (default: the shipped default model) and for a
   network of the published size (``FCN4FlareConfig()``: hidden 128, depth 10) with seeded
   random weights;
2. memory and wall time of ``lc.flares.detect()`` on light curves of 200,000, 500,000 and
   2,000,000 samples (and of 500,000 samples with other ``chunk_size`` values), each in a
   fresh Python process: the peak resident set size (``resource.getrusage``), the resident
   set size just before the call (so the difference is what detection needed), and the
   ``tracemalloc`` peak of Python-level allocations during a second call (NumPy arrays
   included, PyTorch's tensors not). By default these processes run with glibc's
   ``MALLOC_MMAP_THRESHOLD_=65536`` so that the peak RSS is reproducible and reflects the
   memory in use (``--malloc-mmap-threshold 0`` measures the allocator's default behaviour,
   which keeps freed blocks and varies from run to run).

The light curves are white noise plus sparse exponential flares and a one-day gap every
13.7 days, built with NumPy and lightkurve directly (the flare simulator would dominate).
The 1-minute load average is printed first: when other processes use the CPU the numbers
are pessimistic, and the output says so.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc

import numpy as np
from _memory import max_rss_mib, release_freed_memory, rss_now_mib

__all__ = ["simulated_light_curve", "main"]

CADENCE_DAYS = 2.0 / 1440
THROUGHPUT_POINTS = 10_000
MEMORY_CASES = [  # (samples, chunk_size); None: the default chunk size
    (200_000, None),
    (500_000, None),
    (2_000_000, None),
    (500_000, 4096),
    (500_000, 8192),
]


def simulated_light_curve(n_points: int, seed: int = 0):
    """A 2-minute-cadence `lightkurve.LightCurve` of exactly ``n_points`` rows.

    White noise (1e-3) on a flat star, one exponential flare every ~5,000 samples
    (amplitudes 0.005-0.2) and no rows during one day of every 13.7 (orbit gaps).
    """
    import lightkurve as lk
    from astropy.time import Time

    rng = np.random.default_rng(seed)
    orbit, gap = 13.7, 1.0
    # Enough cadences that n_points of them remain once the gaps are removed.
    n_total = int(n_points * orbit / (orbit - gap)) + 1000
    t = np.arange(n_total) * CADENCE_DAYS
    t = t[(t % orbit) < orbit - gap][:n_points]
    flux = 1.0 + 1e-3 * rng.standard_normal(n_points)
    decay = np.exp(-np.arange(30) / 5.0)
    for start in rng.choice(n_points - 30, size=max(1, n_points // 5000), replace=False):
        flux[start : start + 30] += rng.uniform(0.005, 0.2) * decay
    return lk.LightCurve(
        time=Time(2459000.0 + t, format="jd", scale="tdb"),
        flux=flux,
        flux_err=np.full(n_points, 1e-3),
    )


# --------------------------------------------------------------------------- throughput


def _published_size_model():
    import torch

    from fcn4flare import FCN4FlareConfig, FCN4FlareModel

    torch.manual_seed(0)
    return FCN4FlareModel(FCN4FlareConfig()).eval()


def throughput(model, repeats: int, **kwargs) -> tuple[float, list[float]]:
    """Median points/s of `predict_flare_probability` and the individual times (s)."""
    from fcn4flare import load_model, predict_flare_probability

    net = load_model(model)
    lc = simulated_light_curve(THROUGHPUT_POINTS)
    predict_flare_probability(lc, model=net, **kwargs)  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        predict_flare_probability(lc, model=net, **kwargs)
        times.append(time.perf_counter() - start)
    return THROUGHPUT_POINTS / statistics.median(times), times


def _describe(model) -> str:
    from fcn4flare import load_model

    config = load_model(model).config
    return (f"hidden {config.hidden_dim}, depth {config.depth}, "
            f"receptive field {config.receptive_field}, scaling {config.input_scaling}")


# --------------------------------------------------------------------------- memory






def memory_child(model: str | None, n_points: int, chunk_size: int | None, threads: int) -> dict:
    """Measure one case in this (fresh) process; called through ``--_child``."""
    import torch

    import fcn4flare  # noqa: F401  (registers lc.flares)
    from fcn4flare import load_model

    torch.set_num_threads(threads)
    net = load_model(model)
    lc = simulated_light_curve(n_points)
    kwargs = {} if chunk_size is None else {"chunk_size": chunk_size}
    lc[:1000].flares.detect(model=net, **kwargs)  # first-call costs (imports, caches)
    release_freed_memory()
    rss_before, max_before = rss_now_mib(), max_rss_mib()

    start = time.perf_counter()
    flares = lc.flares.detect(model=net, **kwargs)
    wall = time.perf_counter() - start
    max_after = max_rss_mib()

    del flares
    release_freed_memory()
    tracemalloc.start()
    start = time.perf_counter()
    lc.flares.detect(model=net, **kwargs)
    wall_traced = time.perf_counter() - start
    _, python_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "n_points": n_points,
        "chunk_size": chunk_size,
        "wall_s": wall,
        "wall_traced_s": wall_traced,
        "rss_before_mib": rss_before,
        "max_rss_before_mib": max_before,
        "max_rss_mib": max_after,
        "tracemalloc_peak_mib": python_peak / 2**20,
    }


def memory(
    model: str | None, n_points: int, chunk_size: int | None, threads: int, mmap_threshold: int
) -> dict:
    """Run `memory_child` in a fresh interpreter and return its measurements.

    ``mmap_threshold`` > 0 sets glibc's ``MALLOC_MMAP_THRESHOLD_`` in that interpreter:
    large blocks are then mapped and unmapped one by one, so the peak RSS follows the memory
    actually in use instead of what the allocator kept from earlier calls (with glibc's
    adaptive default, repeated runs of one case differed by over 100 MiB).
    """
    command = [sys.executable, __file__, "--_child", str(n_points), str(chunk_size or 0),
               "--threads", str(threads)]
    if model is not None:
        command += ["--model", model]
    env = dict(os.environ)
    if mmap_threshold > 0:
        env["MALLOC_MMAP_THRESHOLD_"] = str(mmap_threshold)
    result = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if result.returncode:
        raise RuntimeError(f"memory measurement failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- main


def _default_model() -> str | None:
    from fcn4flare.network import DEFAULT_MODEL, available_models

    return None if DEFAULT_MODEL in available_models() else "missing"


def _print_environment(threads: int) -> None:
    import torch

    import fcn4flare

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    cores = os.cpu_count()
    print(f"fcn4flare {fcn4flare.__version__}, torch {torch.__version__}, numpy {np.__version__}, "
          f"Python {platform.python_version()}, {platform.machine()}")
    print(f"CPU: {cores} cores ({platform.processor() or 'unknown'}), torch threads {threads}, "
          f"1-min load average before the run {load:.2f}")
    if load >= 0.5:
        print("NOTE: the CPU was shared with other processes during this run; the timings "
              "are pessimistic.")
    print()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="checkpoint directory (default: the shipped model)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads [2]")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per model [5]")
    parser.add_argument("--skip-memory", action="store_true", help="throughput only")
    parser.add_argument("--skip-throughput", action="store_true", help="memory only")
    parser.add_argument("--malloc-mmap-threshold", type=int, default=65536, metavar="BYTES",
                        help="MALLOC_MMAP_THRESHOLD_ for the memory runs (glibc); 0 keeps the "
                        "allocator's default [65536]")
    parser.add_argument("--_child", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    if args._child:
        n_points, chunk_size = args._child
        print(json.dumps(memory_child(args.model, n_points, chunk_size or None, args.threads)))
        return
    model = args.model
    if model is None:
        model = _default_model()
        if model == "missing":
            parser.error("no shipped default model in this installation; pass --model DIR")
    name = model or "shipped default model"

    _print_environment(args.threads)
    print(f"Throughput of predict_flare_probability, {THROUGHPUT_POINTS:,} points at 2-min "
          f"cadence, median of {args.repeats} after a warm-up:")
    from fcn4flare.network import DEFAULT_BATCH_SIZE, DEFAULT_CHUNK_SIZE

    cases = [
        (f"{name} (chunk_size {DEFAULT_CHUNK_SIZE})", model, {}),
        ("published size, random weights", _published_size_model(), {}),
        (f"{name}, chunk_size=8192 (two windows instead of one)", model, {"chunk_size": 8192}),
    ]
    for label, net, kwargs in cases if not args.skip_throughput else []:
        rate, times = throughput(net, args.repeats, **kwargs)
        print(f"  {label}\n    ({_describe(net)})\n    {rate:12,.0f} points/s "
              f"(calls {', '.join(f'{t:.3f}' for t in times)} s)")
    if args.skip_memory:
        return

    allocator = (f"MALLOC_MMAP_THRESHOLD_={args.malloc_mmap_threshold}"
                 if args.malloc_mmap_threshold > 0 else "default allocator settings")
    print(f"\nlc.flares.detect() with {name}, each case in a fresh process "
          f"(default chunk_size {DEFAULT_CHUNK_SIZE}, batch_size {DEFAULT_BATCH_SIZE}, "
          f"{allocator}):")
    print(f"  {'samples':>9s} {'chunk':>6s} {'wall s':>7s} {'RSS before':>10s} "
          f"{'max RSS':>8s} {'max-before':>10s} {'tracemalloc':>11s} {'points/s':>9s}  (MiB)")
    for n_points, chunk_size in MEMORY_CASES:
        m = memory(model, n_points, chunk_size, args.threads, args.malloc_mmap_threshold)
        before = m["rss_before_mib"]
        extra = m["max_rss_mib"] - before if before is not None else float("nan")
        # '*': the process peak was reached before detection (the extra is an upper bound)
        mark = " " if m["max_rss_mib"] > m["max_rss_before_mib"] else "*"
        print(f"  {n_points:9,d} {chunk_size or DEFAULT_CHUNK_SIZE:6d} {m['wall_s']:7.2f} "
              f"{before or float('nan'):10.1f} {m['max_rss_mib']:8.1f}{mark}{extra:10.1f} "
              f"{m['tracemalloc_peak_mib']:11.1f} {m['n_points'] / m['wall_s']:9,.0f}")
    print("  max-before: what detection added to the resident set (peak minus the RSS just "
          "before the call);\n  tracemalloc: peak Python/NumPy allocations during a second "
          "call (torch tensors are not traced);\n  *: the process peak came before the call, "
          "so max-before is an upper bound.")


if __name__ == "__main__":
    main()
