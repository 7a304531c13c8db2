"""Speed and memory of fcn4flare at survey scale, next to the machine's float32 matmul rate.

Run from the repository root::

    python benchmarks/bench_scale.py [--threads 2] [--sizes 4000,30000,200000,2000000]
                                     [--batch 8] [--repeats 3] [--model DIR]

Prints, for light curves of 4k, 30k, 200k and 2M samples, each measured in a fresh Python
process:

* **mode**: ``network`` (`fcn4flare.network.predict_probability` on the model's input,
  already scaled) or ``end to end`` (``lc.flares.detect()``: light curve in, `FlareTable`
  out), each ``single`` (one light curve) or ``batched`` (``--batch`` light curves of
  similar length, within 2 %, in one call: `fcn4flare.detect_flares` of the list);
* **samples/s**: the median of ``--repeats`` timed calls after one warm-up call (a single
  timed call, after a warm-up on a short light curve, at 2M samples);
* **of limit**: that rate times the network's FLOP per sample (counted from the model's
  configuration) over the float32 matmul rate measured in the same run (2048 x 2048, the
  larger of ``torch.mm``'s and oneDNN's, median of 20, at the same thread count, before and
  after the table);
* **pre+post**: for ``end to end``, the share of the time not spent in the network (1 minus
  the network's time over the end-to-end time of the same light curves);
* **peak RSS**: the process's peak resident set size during the measured calls
  (``resource.getrusage``, after resetting the peak through ``/proc/self/clear_refs`` on
  Linux, so that making the simulated light curves does not count; elsewhere the peak of the
  whole process) and, in brackets, what the calls added to the resident set before them:
  Python, PyTorch, lightkurve, the model and the light curves themselves are in the first
  number, not in the second. The processes run with glibc's default allocator settings:
  ``--malloc-mmap-threshold 65536`` makes freed blocks go back to the system at once (the
  peak then follows the memory in use more closely), but every large tensor is then mapped
  afresh and the network ran three times slower, so the rates of such a run are not
  representative.

Then AltaiPony 2.1.2 (``detrend("savgol")`` + ``find_flares()``, run by
``benchmarks/peers/run_altaipony.py`` in its own environment) on the same 30k-sample light
curve, when that environment exists (``bash benchmarks/peers/setup_peers.sh altaipony``),
and the wall time of a fresh interpreter that runs ``import fcn4flare``, reads one FITS
light curve (the first of ``../shared/data/lightcurves``, else a simulated one written to a
temporary file) and detects its flares.

``--compare-evaluation`` prints instead how far the folded network's probabilities, events and
flare tables are from the model's own float32 forward pass on the light curves of
``fcn4flare evaluate`` (`compare_on_evaluation`).

The light curves are real-like fast rotators at 2-minute cadence: two spot harmonics with a
period of 0.3-0.5 d and 1-3 % amplitude that drift over the light curve, white noise of
1e-3, a flare every ~3,000 samples, a one-day gap every 13.7 days and 0.5 % of the samples
quality-flagged. Their trend is the rotation trend (the printed ``branch``), the most
costly one. The 1-minute load average is printed first; timings on a shared machine are
pessimistic, and the ratios to the matmul rate (measured alongside) move less than the rates.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _memory import max_rss_mib, release_freed_memory, rss_now_mib

__all__ = ["fast_rotator", "network_flop_per_sample", "matmul_gflops", "compare_on_evaluation",
           "main"]

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = REPO.parent / "shared" / "data" / "lightcurves"
PEERS_DIR = Path(os.environ.get("PEERS_DIR", "/work/peers"))
ALTAIPONY_RUNNER = REPO / "benchmarks" / "peers" / "run_altaipony.py"
CADENCE_DAYS = 2.0 / 1440
DEFAULT_SIZES = (4_000, 30_000, 200_000, 2_000_000)


def fast_rotator(n_points: int, seed: int = 0):
    """A real-like 2-minute-cadence fast rotator of exactly ``n_points`` rows (a LightCurve).

    Two spot harmonics (period 0.3-0.5 d, 1-3 %) whose amplitude drifts by a third over the
    light curve, white noise 1e-3 (``flux_err`` too), an exponential flare every ~3,000
    samples (0.3-5 %), a one-day gap every 13.7 days and 0.5 % of the rows quality-flagged.
    The flares' first rows are in ``meta["FLARE_ROWS"]`` (each lasts 60 rows).
    """
    import lightkurve as lk
    from astropy.time import Time

    rng = np.random.default_rng(seed)
    orbit, gap = 13.7, 1.0
    n_total = int(n_points * orbit / (orbit - gap)) + 1000
    t = np.arange(n_total) * CADENCE_DAYS
    t = t[(t % orbit) < orbit - gap][:n_points]
    period = rng.uniform(0.3, 0.5)
    amplitude = rng.uniform(0.01, 0.03)
    phase = 2 * np.pi * t / period
    drift = 1 + 0.3 * np.sin(2 * np.pi * t / max(t[-1], 1.0) + rng.uniform(0, 6))
    flux = 1 + drift * amplitude * (np.sin(phase) + 0.4 * np.sin(2 * phase + 1.0))
    flux += 1e-3 * rng.standard_normal(n_points)
    decay = np.exp(-np.arange(60) / 8.0)
    starts = rng.choice(n_points - 60, size=max(1, n_points // 3000), replace=False)
    for start in starts:
        flux[start : start + 60] += rng.uniform(0.003, 0.05) * decay
    quality = np.where(rng.random(n_points) < 0.005, 1, 0).astype(np.int32)
    return lk.LightCurve(
        time=Time(2459000.0 + t, format="jd", scale="tdb"),
        flux=flux,
        flux_err=np.full(n_points, 1e-3),
        quality=quality,
        meta={"FLARE_ROWS": sorted(int(row) for row in starts)},
    )


def network_flop_per_sample(config) -> float:
    """Multiply-adds times two per sample of the network, from its configuration.

    The 1x1 mapping (flux and NaN mask to ``hidden_dim``), ``2 * depth`` residual
    convolutions and the head's convolution (``hidden_dim`` to ``hidden_dim``, kernel
    ``kernel_size`` and 3), and the 1x1 projector; biases, BatchNorm (folded) and GELU are
    not counted.
    """
    h, k = config.hidden_dim, config.kernel_size
    mapping = 2 * (config.input_dim + 1) * h
    residual = 2 * config.depth * 2 * h * h * k
    head = 2 * h * h * 3 + 2 * h * config.output_dim
    return float(mapping + residual + head)


def matmul_gflops(threads: int, size: int = 2048, repeats: int = 20) -> float:
    """Best float32 matrix-product rate (GFLOP/s): ``size`` x ``size`` by ``size`` x ``size``.

    The larger of the medians of ``torch.mm`` (the BLAS PyTorch is built with) and of the
    same product as a 1x1 channels-last convolution (oneDNN, what the network runs on): on
    some CPUs the BLAS takes a slower code path than oneDNN does.
    """
    import torch
    from torch.nn import functional as F

    torch.set_num_threads(threads)
    a = torch.randn(size, size)
    b = torch.randn(size, size)
    out = torch.empty(size, size)
    x = a.t().contiguous().view(1, size, 1, size).contiguous(memory_format=torch.channels_last)
    w = b.t().contiguous().view(size, size, 1, 1).contiguous(memory_format=torch.channels_last)
    rates = []
    for product in (lambda: torch.mm(a, b, out=out), lambda: F.conv2d(x, w)):
        with torch.inference_mode():
            for _ in range(3):
                product()
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                product()
                times.append(time.perf_counter() - start)
        rates.append(2 * size**3 / statistics.median(times) / 1e9)
    return max(rates)


# --------------------------------------------------------------------------- child






def _reset_peak() -> bool:
    """Start the peak resident set size afresh (Linux: ``5 > /proc/self/clear_refs``)."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        return True
    except OSError:
        return False




def _curves(n_points: int, count: int) -> list:
    rng = np.random.default_rng(n_points)
    lengths = [n_points] + [int(n_points * rng.uniform(0.98, 1.02)) for _ in range(count - 1)]
    return [fast_rotator(n, seed=k) for k, n in enumerate(lengths[:count])]


def child(kind: str, n_points: int, count: int, model: str | None, repeats: int,
          threads: int) -> dict:
    """Measure one (kind, size, count) case in this fresh process."""
    import torch

    import fcn4flare
    from fcn4flare import FlareDetector, detect_flares, load_model
    from fcn4flare.network import predict_probability

    torch.set_num_threads(threads)
    net = load_model(model)
    detector = FlareDetector(net)
    curves = _curves(n_points, count)
    samples = sum(len(lc) for lc in curves)
    warm = fast_rotator(5000, seed=99)
    warm.flares.detect(model=net)  # first-call costs (imports, caches, oneDNN set-up)
    prepared = [detector.prepare(lc) for lc in curves]
    branches = sorted({d.trend.branch for d in detector.run_prepared(prepared[:1])})
    if kind == "network":
        inputs = [x for _, x, _ in detector._model_inputs(prepared)]
        del prepared

        def call():
            return predict_probability(net, inputs if count > 1 else inputs[0])
    else:
        del prepared

        def call():
            if count > 1:
                return detect_flares(curves, model=net)
            return curves[0].flares.detect(model=net)

    if n_points < 1_000_000:
        call()  # warm-up at this size
    else:
        repeats = 1
    release_freed_memory()
    rss_before = rss_now_mib()
    reset = _reset_peak()  # the peak of the measured calls, not of making the light curves
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - start)
        del result
    peak = max_rss_mib()
    return {"kind": kind, "n_points": n_points, "count": count, "samples": samples,
            "times": times, "rate": samples / statistics.median(times),
            "rss_before_mib": rss_before, "peak_rss_mib": peak, "peak_reset": reset,
            "branches": branches,
            "fcn4flare": fcn4flare.__version__}


def _run_child(args, kind: str, n_points: int, count: int) -> dict:
    command = [sys.executable, __file__, "--_child", kind, str(n_points), str(count),
               "--threads", str(args.threads), "--repeats", str(args.repeats)]
    if args.model:
        command += ["--model", args.model]
    env = dict(os.environ)
    if args.malloc_mmap_threshold > 0:
        env["MALLOC_MMAP_THRESHOLD_"] = str(args.malloc_mmap_threshold)
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode:
        raise RuntimeError(f"{kind} {n_points} x{count} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- peers, start-up


def altaipony_rate(n_points: int) -> tuple[float | None, str]:
    """AltaiPony's samples/s on the ``n_points`` single light curve, or None and why."""
    python = PEERS_DIR / "altaipony-venv" / "bin" / "python"
    if not python.exists():
        return None, (f"skipped: no AltaiPony environment at {python} (run `bash "
                      "benchmarks/peers/setup_peers.sh altaipony`)")
    lc = _curves(n_points, 1)[0]
    keep = lc.quality.value == 0
    with tempfile.TemporaryDirectory(prefix="bench_scale_") as tmp:
        tmp = Path(tmp)
        (tmp / "in").mkdir()
        np.savez(tmp / "in" / "lc.npz", time=np.asarray(lc.time.jd, float)[keep],
                 flux=np.asarray(lc.flux.value, float)[keep],
                 flux_err=np.asarray(lc.flux_err.value, float)[keep], cadence_minutes=2.0)
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "agg"}
        done = subprocess.run([str(python), "-W", "ignore", str(ALTAIPONY_RUNNER),
                               str(tmp / "in"), str(tmp / "out")],
                              capture_output=True, text=True, env=env, check=False)
        if done.returncode:
            return None, f"failed (exit {done.returncode}): {done.stderr[-500:]}"
        with np.load(tmp / "out" / "lc.npz") as out:
            seconds, status = float(out["runtime_s"]), str(out["status"])
            flares = int(out["n_flares"])
    if status != "ok":
        return None, f"failed: {status}"
    return int(keep.sum()) / seconds, (f"{int(keep.sum()):,} samples (quality-flagged rows "
                                       f"left out) in {seconds:.2f} s, {flares} flares")


_STARTUP = """
import time
start = time.perf_counter()
import fcn4flare
imported = time.perf_counter()
import lightkurve as lk
lc = lk.read({path!r})
read = time.perf_counter()
flares = lc.flares.detect()
done = time.perf_counter()
print(imported - start, read - imported, done - read, len(lc), len(flares))
"""


def startup_seconds(threads: int) -> dict:
    """Wall time of a fresh interpreter: import fcn4flare, read one file, detect its flares."""
    files = sorted(DATA_DIR.glob("*.fits")) if DATA_DIR.is_dir() else []
    with tempfile.TemporaryDirectory(prefix="bench_scale_") as tmp:
        if files:
            path, source = files[0], files[0].name
        else:
            path, source = Path(tmp) / "lc.fits", "simulated 18,000-sample light curve"
            fast_rotator(18_000).to_fits(str(path), overwrite=True)
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-W", "ignore", "-c",
                               _STARTUP.format(path=str(path))],
                              capture_output=True, text=True, env=env, check=False)
        wall = time.perf_counter() - start
    if done.returncode:
        raise RuntimeError(f"start-up measurement failed:\n{done.stderr[-2000:]}")
    imported, read, detect, rows, flares = done.stdout.split()[-5:]
    return {"wall": wall, "import": float(imported), "read": float(read),
            "detect": float(detect), "rows": int(rows), "flares": int(flares),
            "source": source}


# --------------------------------------------------------------------------- equality


def compare_on_evaluation(model: str | None, threads: int) -> None:
    """Probabilities, events and flare tables of the folded network against the model's own.

    On the light curves of ``fcn4flare evaluate`` (its full settings): the simulated test sets
    of every cadence family, the real light curves of ``../shared/data/lightcurves`` as they
    are, with ten injection realisations each, and their FFI-like binned versions with
    injections. The trend and the network's input are computed once; the network runs folded
    (one window per pass, and 16 per pass as the evaluation batches them) and as the model's
    own float32 forward pass (``predict_probability(fold=False)``).
    """
    import torch

    from fcn4flare import FlareDetector, load_model
    from fcn4flare.detection.detector import Detection
    from fcn4flare.evaluation import cases
    from fcn4flare.network import predict_probability
    from fcn4flare.scaling import trend_method

    torch.set_num_threads(threads)
    net = load_model(model)
    groups = {f"simulated {family}": cases.simulated_set(family, 64, cases.TEST_SEED + k, 4096)
              for k, family in enumerate(cases.FAMILIES)}
    real = cases.real_curves(DATA_DIR)
    if real:
        groups["real"] = real
        groups["real, injected"] = cases.injection_set(real, 10, cases.INJECTION_TEST_SEED)
        ffi = cases.ffi_like_curves(real)
        groups["FFI-like, injected"] = cases.injection_set(ffi, 10, cases.INJECTION_FFI_SEED)
    detector = FlareDetector(net)
    kind = trend_method(detector.input_scaling)
    thresholds = (0.3, 0.4, 0.5, 0.6, 0.7)
    print(f"{'light curves':>24s} {'n':>4s} {'samples':>9s} {'max |dp| 1':>10s} "
          f"{'max |dp| 16':>11s} {'flipped':>7s} {'flares':>6s} {'tables':>9s} "
          f"{'max rel':>8s}")
    for name, curves in groups.items():
        prepared = [detector.prepare(c.time, c.flux, label=c.name) for c in curves]
        inputs = detector._model_inputs(prepared, [c.name for c in curves])
        xs = [x for _, x, _ in inputs]
        reference = predict_probability(net, xs, fold=False, batch_size=16)
        alone = predict_probability(net, xs, batch_size=1)
        batched = predict_probability(net, xs, batch_size=16)
        pairs = list(zip(alone, batched, reference, strict=True))
        d1 = max(float(np.nanmax(np.abs(a - r), initial=0)) for a, _, r in pairs)
        d16 = max(float(np.nanmax(np.abs(b - r), initial=0)) for _, b, r in pairs)
        flipped = sum(int(np.sum((a > t) != (r > t))) for a, _, r in pairs for t in thresholds)
        same = flares = 0
        worst = 0.0
        for lc, (grid, x, trend), p_fast, p_ref in zip(prepared, inputs, alone, reference,
                                                       strict=True):
            tables = [Detection(lc, grid, x, p, detector.rules, trend=trend, trend_kind=kind
                                ).table() for p in (p_fast, p_ref)]
            flares += len(tables[1])
            rows = len(tables[0]) == len(tables[1]) and all(
                np.array_equal(tables[0][c], tables[1][c]) for c in ("istart", "ipeak", "istop"))
            same += rows
            if rows:
                for c in tables[0].colnames:
                    a, b = tables[0][c], tables[1][c]
                    if not hasattr(a, "jd") and np.asarray(a).dtype.kind == "f" and len(a):
                        a, b = np.asarray(a, float), np.asarray(b, float)
                        scale = np.maximum(np.abs(b), 1e-12)
                        finite = np.isfinite(a) & np.isfinite(b)
                        if finite.any():
                            worst = max(worst, float(np.max(np.abs(a - b)[finite]
                                                            / scale[finite])))
        print(f"{name:>24s} {len(curves):4d} {sum(x.size for x in xs):9,d} {d1:10.1e} "
              f"{d16:11.1e} {flipped:7d} {flares:6d} {same:4d}/{len(curves):<4d} {worst:8.1e}")
    print("max |dp|: largest probability difference, one window per pass (1) and 16 per pass, "
          "against the model's own forward pass;\nflipped: samples on the other side of "
          f"a threshold {thresholds} (one window per pass); tables: flare tables with the same "
          "rows (istart, ipeak, istop);\nmax rel: largest relative difference of a float "
          "column of those tables (scores, amplitudes, ...).")


# --------------------------------------------------------------------------- main


def _print_environment(threads: int) -> None:
    import torch

    import fcn4flare

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"fcn4flare {fcn4flare.__version__}, torch {torch.__version__}, numpy "
          f"{np.__version__}, Python {platform.python_version()}, {platform.machine()}")
    print(f"CPU: {os.cpu_count()} cores ({platform.processor() or 'unknown'}), torch threads "
          f"{threads}, 1-min load average before the run {load:.2f}")
    if load >= 0.5:
        print("NOTE: the CPU was shared with other processes during this run; the timings "
              "are pessimistic.")


def _mib(value: float) -> str:
    return f"{value:,.0f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="checkpoint directory (default: the shipped model)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads [2]")
    parser.add_argument("--sizes", default=",".join(str(s) for s in DEFAULT_SIZES),
                        help="light-curve lengths, comma-separated [4000,30000,200000,2000000]")
    parser.add_argument("--batch", type=int, default=8, help="light curves per batch [8]")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per case [3]")
    parser.add_argument("--skip-batched", action="store_true", help="single light curves only")
    parser.add_argument("--skip-altaipony", action="store_true")
    parser.add_argument("--skip-startup", action="store_true")
    parser.add_argument("--malloc-mmap-threshold", type=int, default=0, metavar="BYTES",
                        help="MALLOC_MMAP_THRESHOLD_ of the measuring processes (glibc); 0 "
                        "keeps the allocator's default [0]")
    parser.add_argument("--compare-evaluation", action="store_true",
                        help="instead: the folded network against the model's own forward "
                        "pass on the evaluation's light curves (probabilities, flare tables)")
    parser.add_argument("--_child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.compare_evaluation:
        _print_environment(args.threads)
        compare_on_evaluation(args.model, args.threads)
        return

    if args._child:
        kind, n_points, count = args._child
        print(json.dumps(child(kind, int(n_points), int(count), args.model, args.repeats,
                               args.threads)))
        return

    from fcn4flare import load_model

    _print_environment(args.threads)
    config = load_model(args.model).config
    flop = network_flop_per_sample(config)
    before = matmul_gflops(args.threads)
    print(f"model: {args.model or 'shipped default'} (hidden {config.hidden_dim}, depth "
          f"{config.depth}, kernel {config.kernel_size}): {flop / 1e6:.3f} MFLOP per sample")
    print(f"float32 matmul (2048^2, best of torch.mm and oneDNN, {args.threads} threads): "
          f"{before:.1f} GFLOP/s, "
          f"so the network's float32 limit is {before * 1e9 / flop:,.0f} samples/s\n")

    sizes = [int(s) for s in args.sizes.split(",") if s]
    counts = [1] if args.skip_batched or args.batch < 2 else [1, args.batch]
    rows = []
    for n_points in sizes:
        for count in counts:
            net = _run_child(args, "network", n_points, count)
            e2e = _run_child(args, "e2e", n_points, count)
            rows.append((n_points, count, net, e2e))
    after = matmul_gflops(args.threads)
    limit = statistics.mean([before, after]) * 1e9 / flop

    print(f"{'samples':>9s} {'curves':>6s} {'mode':>10s} {'samples/s':>10s} {'of limit':>8s} "
          f"{'pre+post':>8s} {'peak RSS':>9s} {'(added)':>9s}  MiB; branch")
    for n_points, count, net, e2e in rows:
        share = 1 - statistics.median(net["times"]) / statistics.median(e2e["times"])
        for m, label, post in ((net, "network", ""), (e2e, "end to end", f"{share:8.0%}")):
            print(f"{n_points:9,d} {count:6d} {label:>10s} {m['rate']:10,.0f} "
                  f"{m['rate'] / limit:8.0%} {post:>8s} {_mib(m['peak_rss_mib']):>9s} "
                  f"{'(' + _mib(m['peak_rss_mib'] - m['rss_before_mib']) + ')':>9s}  "
                  f"{','.join(m['branches'])}")
    print(f"float32 matmul after the table: {after:.1f} GFLOP/s (limit used above: "
          f"{limit:,.0f} samples/s, the mean of before and after)")

    if not args.skip_altaipony:
        n_peer = 30_000 if 30_000 in sizes else sizes[0]
        rate, note = altaipony_rate(n_peer)
        if rate is None:
            print(f"\nAltaiPony at {n_peer:,} samples: {note}")
        else:
            ours = next(e2e["rate"] for n, c, _, e2e in rows if n == n_peer and c == 1)
            print(f"\nAltaiPony 2.1.2 at {n_peer:,} samples: {rate:,.0f} samples/s ({note}); "
                  f"fcn4flare end to end on the same light curve: {ours:,.0f} samples/s "
                  f"({ours / rate:.1f} x)")
    if not args.skip_startup:
        s = startup_seconds(args.threads)
        print(f"\nFresh interpreter, import fcn4flare + read + first detection ({s['source']}, "
              f"{s['rows']:,} rows, {s['flares']} flares): {s['wall']:.2f} s wall "
              f"(import fcn4flare {s['import']:.2f} s, lightkurve.read {s['read']:.2f} s, "
              f"detect {s['detect']:.2f} s; the rest is the interpreter's start and exit)")


if __name__ == "__main__":
    main()
