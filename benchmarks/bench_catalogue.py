"""Wall time of a catalogue run over many real light curves: serial, processes, Dask, killed.

Run from the repository root::

    python benchmarks/bench_catalogue.py [--n 1000] [--bad 5] [--kill-after 40]

It builds a folder of ``--n`` light-curve files (links, each under its own name, to the real
Kepler, K2 and TESS files of ../shared/data/lightcurves, taken in turn, so that the mix of
lengths is that of the missions) plus ``--bad`` corrupt files, and runs
`fcn4flare.detect_many` on it into a fresh run directory four times:

``serial``
    ``n_jobs=1``: this process, all the machine's torch threads.
``processes``
    ``n_jobs=<cores>``: worker processes, one torch thread each.
``dask``
    ``client=`` a `distributed.LocalCluster` of ``<cores>`` worker processes, one thread
    each (the cluster's start-up is timed apart).
``killed + resumed``
    ``n_jobs=<cores>`` in a child process that is sent SIGKILL (with its workers) after
    ``--kill-after`` seconds, then the same call again on the same output, which continues.
    The wall time is that of both parts together.

For each it prints the wall time, files and samples per second, flares found and files
failed, and checks that its catalogue and status table have the serial run's rows (same
files, same flares to the microsecond, no row lost or doubled). It exits cleanly where the
data folder is absent; temporary files go to ``--work`` (a temporary folder by default).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["DATA_DIR", "main"]

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "lightcurves"

_CHILD = """
import sys
from fcn4flare import detect_many
detect_many(sys.argv[1], output=sys.argv[2], n_jobs=int(sys.argv[3]), progress=False)
"""


def _build_folder(data: Path, folder: Path, n: int, n_bad: int) -> dict[str, int]:
    """Links to the real files, taken in turn; returns the samples of each real file."""
    import lightkurve as lk

    real = sorted(data.glob("*.fits"))
    samples = {str(path): len(lk.read(path)) for path in real}
    folder.mkdir(parents=True)
    for k in range(n):
        source = real[k % len(real)]
        (folder / f"lc{k:05d}_{source.name}").symlink_to(source)
    for k in range(n_bad):
        (folder / f"corrupt{k:03d}.fits").write_bytes(b"SIMPLE  =   T" + bytes(2867))
    return samples


def _rows(output: Path) -> tuple[list[tuple[str, float]], list[tuple[str, str, int]]]:
    """``(file, tpeak)`` of each flare and ``(file, status, n_flares)`` of each file, sorted."""
    from astropy.table import Table

    flares = Table.read(output / "flares.ecsv")
    status = Table.read(output / "status.ecsv")
    peaks = sorted((Path(f).name, round(float(t.jd), 8))
                   for f, t in zip(flares["file"], flares["tpeak"], strict=True))
    files = sorted((Path(f).name, str(s), int(n)) for f, s, n in
                   zip(status["file"], status["status"], status["n_flares"], strict=True))
    return peaks, files


def _killed_and_resumed(folder: Path, output: Path, n_jobs: int, kill_after: float) -> tuple[
        float, int]:
    """Wall time of a run killed after ``kill_after`` s and resumed; files done before it."""
    from fcn4flare import detect_many

    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(folder), str(output),
                              str(n_jobs)], start_new_session=True)
    try:
        child.wait(timeout=kill_after)
        raise SystemExit("the run to kill finished first: give a smaller --kill-after")
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)  # the run and its worker processes, at once
        child.wait()
    store = output / ".fcn4flare-run" / "parts"
    done = (sum(len(json.loads(p.read_text())["files"]) for p in store.glob("[0-9]*.json"))
            if store.is_dir() else 0)
    detect_many(folder, output=output, n_jobs=n_jobs, progress=False)
    return time.perf_counter() - start, done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA_DIR, help=f"folder [{DATA_DIR}]")
    parser.add_argument("--n", type=int, default=1000, help="light curves [1000]")
    parser.add_argument("--bad", type=int, default=5, help="corrupt files added [5]")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="worker processes [cores]")
    parser.add_argument("--kill-after", type=float, default=40.0,
                        help="seconds before SIGKILL in the killed run [40]")
    parser.add_argument("--modes", default="serial,processes,dask,resume",
                        help="comma-separated subset of serial,processes,dask,resume")
    parser.add_argument("--work", type=Path, help="folder for the files (default: temporary)")
    args = parser.parse_args(argv)

    if not args.data.is_dir() or not any(args.data.glob("*.fits")):
        print(f"no light curves in {args.data}: nothing to time")
        return 0
    import logging

    import torch

    from fcn4flare import detect_many

    modes = args.modes.split(",")
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        work = Path(tmp)
        folder = work / "light_curves"
        samples = _build_folder(args.data, folder, args.n, args.bad)
        total = sum(samples[str(args.data / p.name.split("_", 1)[1])]
                    for p in folder.glob("lc*.fits"))
        print(f"python {platform.python_version()}, torch {torch.__version__}, "
              f"{os.cpu_count()} cores, {torch.get_num_threads()} torch threads here")
        print(f"{args.n} light curves ({len(samples)} real files in turn, {total:,} samples) "
              f"+ {args.bad} corrupt files; {args.jobs} workers for processes and dask\n")

        results: list[tuple[str, float, Path, str]] = []
        if "serial" in modes:
            start = time.perf_counter()
            detect_many(folder, output=work / "serial", progress=False)
            results.append(("serial", time.perf_counter() - start, work / "serial", ""))
        if "processes" in modes:
            start = time.perf_counter()
            detect_many(folder, output=work / "processes", n_jobs=args.jobs, progress=False)
            results.append(("processes", time.perf_counter() - start, work / "processes", ""))
        if "dask" in modes:
            import distributed

            start = time.perf_counter()
            cluster = distributed.LocalCluster(n_workers=args.jobs, threads_per_worker=1,
                                               processes=True, dashboard_address=None,
                                               silence_logs=logging.CRITICAL)
            client = distributed.Client(cluster)
            client.wait_for_workers(args.jobs)
            started = time.perf_counter() - start
            start = time.perf_counter()
            detect_many(folder, output=work / "dask", client=client, progress=False)
            results.append(("dask", time.perf_counter() - start, work / "dask",
                            f"cluster start-up {started:.1f} s apart"))
            client.close()
            cluster.close()
        if "resume" in modes:
            wall, done = _killed_and_resumed(folder, work / "resumed", args.jobs,
                                             args.kill_after)
            results.append(("killed + resumed", wall, work / "resumed",
                            f"SIGKILL at {args.kill_after:.0f} s, {done} files committed "
                            "before it"))

        reference = _rows(results[0][2]) if results else None
        print(f"{'mode':18s} {'wall [s]':>9s} {'files/s':>8s} {'samples/s':>10s} "
              f"{'flares':>7s} {'failed':>7s} {'rows as first':>13s}  note")
        for mode, wall, output, note in results:
            peaks, files = _rows(output)
            failed = sum(status == "failed" for _, status, _ in files)
            same = "yes" if (peaks, files) == reference else "NO"
            print(f"{mode:18s} {wall:9.1f} {args.n / wall:8.2f} {total / wall:10,.0f} "
                  f"{len(peaks):7d} {failed:7d} {same:>13s}  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
