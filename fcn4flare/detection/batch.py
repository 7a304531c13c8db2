"""Flares in many light-curve files: one catalogue, failures reported, never fatal.

`detect_flares_in_files` reads each file with ``lightkurve.read`` (every row kept; quality
flags are applied by the pipeline, as on every other entry point), runs the files through
one `~fcn4flare.detection.FlareDetector` in small groups and stacks the flares into one
`~fcn4flare.catalog.FlareTable` with a ``file`` column. A file that cannot be read, is not a
light curve or has no usable flux is reported in `BatchResult.failures` and skipped.

`~fcn4flare.detection.detect_many` is the same search for catalogue runs: a resumable
store on disk, a per-file status table, worker processes or a Dask cluster
(:doc:`/survey`); `detect_flares_in_files` is its in-memory form, kept as it was.

`detect_flares_original` keeps the interface of the original FCN4Flare release: FITS paths
in, the release's list of event dictionaries out.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import errno
import multiprocessing
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from astropy.table import QTable, Table
from astropy.time import Time

from ..catalog import FlareTable
from ..catalog.writer import atomic_path, check_directory
from ..exceptions import InputError
from .detector import FlareDetector

__all__ = [
    "BatchResult",
    "STATUS_COLUMNS",
    "detect_flares_in_files",
    "detect_flares_original",
    "status_table",
    "stream_groups",
]

#: Files run through the model together (their windows share forward passes).
FILES_PER_GROUP = 8

_FITS_SUFFIXES = (".fits", ".fits.gz", ".fit", ".fts")


@dataclasses.dataclass
class BatchResult:
    """What `detect_flares_in_files` and `~fcn4flare.detection.detect_many` found.

    Attributes
    ----------
    table : `~fcn4flare.catalog.FlareTable`
        The flares of all files, in the order of the files, with a ``file`` column.
    failures : list of (str, str)
        ``(path, reason)`` for each file that was skipped (and each file whose plot failed).
    processed : list of str
        The files that were searched (with or without flares).
    status : `~astropy.table.Table` or None
        One row per file: ``file``, ``status`` (``'ok'``, ``'failed'`` or ``'skipped'``),
        ``n_flares``, ``seconds`` and ``error`` (empty when there was none); see
        `~fcn4flare.detection.detect_many`.

    Examples
    --------
    >>> from fcn4flare.detection import BatchResult
    >>> BatchResult.__dataclass_fields__.keys()
    dict_keys(['table', 'failures', 'processed', 'status'])
    """

    table: FlareTable
    failures: list[tuple[str, str]]
    processed: list[str]
    status: Table | None = None

    def __repr__(self) -> str:
        skipped = ""
        if self.status is not None and len(self.status):
            n_skipped = int(np.count_nonzero(np.asarray(self.status["status"]) == "skipped"))
            skipped = f", {n_skipped} skipped" if n_skipped else ""
        return (
            f"<BatchResult: {len(self.table)} flares in {len(self.processed)} files, "
            f"{len(self.failures)} failed{skipped}>"
        )


#: Columns of the status table, in order.
STATUS_COLUMNS = ("file", "status", "n_flares", "seconds", "error")


def status_table(rows: Sequence[tuple[str, str, int, float, str]]) -> Table:
    """The status table of `BatchResult` from ``(file, status, n_flares, seconds, error)``.

    Examples
    --------
    >>> from fcn4flare.detection.batch import status_table
    >>> status_table([("a.fits", "ok", 2, 0.5, "")]).colnames
    ['file', 'status', 'n_flares', 'seconds', 'error']
    """
    columns = list(zip(*rows, strict=True)) if rows else [[], [], [], [], []]
    dtypes = (str, str, np.int64, np.float64, str)
    return Table(
        [np.array(list(values), dtype=dtype) for values, dtype in zip(columns, dtypes,
                                                                      strict=True)],
        names=STATUS_COLUMNS,
    )


@dataclasses.dataclass(frozen=True)
class _Options:
    """Everything a worker needs to build its `FlareDetector`."""

    model: Any
    threshold: float | None
    rules: Any
    flux_column: str | None
    quality_bitmask: str | int | None
    device: str | None

    def detector(self) -> FlareDetector:
        return FlareDetector(
            self.model, rules=self.rules, threshold=self.threshold, device=self.device,
            flux_column=self.flux_column, quality_bitmask=self.quality_bitmask,
        )


@dataclasses.dataclass
class _Outcome:
    path: str
    table: FlareTable | None = None
    reason: str | None = None
    seconds: float = 0.0

    def status_row(self) -> tuple[str, str, int, float, str]:
        """``(file, status, n_flares, seconds, error)`` for the status table."""
        ok = self.table is not None
        return (self.path, "ok" if ok else "failed", len(self.table) if ok else 0,
                float(self.seconds), self.reason or "")


def detect_flares_in_files(
    paths: Any,
    *,
    model: Any = None,
    threshold: float | None = None,
    rules: Any = None,
    flux_column: str | None = None,
    quality_bitmask: str | int | None = "default",
    progress: bool = True,
    plot_dir: str | os.PathLike | None = None,
    n_jobs: int = 1,
    device: Any = None,
) -> BatchResult:
    """Detect flares in many light-curve files.

    Parameters
    ----------
    paths : path-like or iterable of path-like
        Files ``lightkurve.read`` can open (Kepler, K2, TESS, and the high-level products
        it knows), or directories, whose FITS files are all taken.
    model : `~fcn4flare.network.FCN4FlareModel`, str, path-like or None
        The network (see `fcn4flare.detect_flares`); loaded once (per process).
    threshold, rules, flux_column
        See `fcn4flare.detect_flares`.
    quality_bitmask : {'none', 'default', 'hard', 'hardest'}, int or None
        Quality flags whose samples are ignored, as everywhere (NaN to the model; rows are
        kept): ``istart`` etc. are rows of ``lightkurve.read(path, quality_bitmask="none")``,
        the file's own rows.
    progress : bool
        Show a tqdm progress bar.
    plot_dir : path-like, optional
        Save one PNG per file there (light curve, shaded flares, probability), named after
        the file; created if needed (and checked before any work). Each PNG is written to a
        temporary name and renamed into place.
    n_jobs : int
        Worker processes; each loads the model once. 1 (default) works in this process;
        -1 uses every CPU.
    device : str or `torch.device`, optional
        Device for a model read from disk.

    Returns
    -------
    BatchResult
        ``table`` (all flares, ``file`` column first), ``failures`` and ``processed``.

    Raises
    ------
    CheckpointError
        The model cannot be loaded (nothing is processed).
    InputError
        Invalid ``threshold``, ``rules``, ``n_jobs``, a missing directory, or a
        ``plot_dir`` that cannot be created or written in.

    Examples
    --------
    >>> import tempfile
    >>> import torch
    >>> from fcn4flare import FCN4FlareConfig, FCN4FlareModel
    >>> from fcn4flare.detection import detect_flares_in_files
    >>> _ = torch.manual_seed(0)
    >>> model = FCN4FlareModel(FCN4FlareConfig(hidden_dim=8, depth=2, dilation=[1, 2]))
    >>> with tempfile.NamedTemporaryFile(suffix=".fits") as bad:
    ...     result = detect_flares_in_files([bad.name], model=model, progress=False)
    >>> len(result.table), len(result.failures), result.processed
    (0, 1, [])
    """
    files = _file_list(paths)
    detector = _Options(
        model=model,
        threshold=threshold,
        rules=rules,
        flux_column=flux_column,
        quality_bitmask=quality_bitmask,
        device=None if device is None else str(device),
    ).detector()  # checks every option and loads the model once
    plot_paths = _plot_paths(files, plot_dir)
    groups = _groups(range(len(files)), FILES_PER_GROUP)
    payloads = [[(files[i], plot_paths[i]) for i in group] for group in groups]
    outcomes: dict[int, _Outcome] = {}
    with _progress_bar(len(files), progress) as bar:
        for k, done in stream_groups(detector, payloads, n_jobs=n_jobs):
            outcomes.update(zip(groups[k], done, strict=True))
            bar.update(len(done))
    return _collect([outcomes[i] for i in range(len(files))])


def detect_flares_original(
    paths: Any,
    *,
    model: Any = None,
    threshold: float = 0.5,
    device: Any = None,
) -> list[dict[str, Any]] | list[list[dict[str, Any]]]:
    """Flares in Kepler, K2 or TESS FITS files, in the original FCN4Flare release's format.

    Reproduces the release's pipeline: the ``PDCSAP_FLUX`` of every row of the file (no
    quality mask), scaled as the model expects (for the published models: divided by its
    NaN-median), one probability per sample, runs above ``threshold`` and the published
    post-processing rules (``rules="published"``). Differences from the release: the
    probability of a missing (NaN) sample is never above the threshold, so runs do not
    include missing samples; light curves are not padded to a common length, so the last
    samples of the shorter files get the same probabilities as when they are run alone; and
    rows with NaN ``TIME`` are left out (they have no flux either).

    Parameters
    ----------
    paths : path-like or sequence of path-like
        FITS light-curve files (Kepler/K2 ``*_llc.fits``, TESS ``*_lc.fits``).
    model : `~fcn4flare.network.FCN4FlareModel`, str, path-like or None
        The network; None for the default shipped model.
    threshold : float
        Probability threshold (0.5 in the release).
    device : str or `torch.device`, optional
        Device for a model read from disk.

    Returns
    -------
    list of dict, or list of list of dict
        Per file (a single list for a single path), one dict per flare with ``start_idx``,
        ``peak_idx``, ``end_idx`` (rows of the FITS table), ``start_time``, ``peak_time``,
        ``end_time`` (the file's ``TIME`` values, e.g. BKJD), ``duration``
        (``end_time - start_time``, days) and ``confidence`` (mean probability).

    Raises
    ------
    InputError
        A file that cannot be read or lacks the ``TIME``/``PDCSAP_FLUX`` columns.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> import torch
    >>> from astropy.io import fits
    >>> from fcn4flare import FCN4FlareConfig, FCN4FlareModel
    >>> from fcn4flare.detection import detect_flares_original
    >>> _ = torch.manual_seed(0)
    >>> model = FCN4FlareModel(FCN4FlareConfig(hidden_dim=8, depth=2, dilation=[1, 2]))
    >>> columns = [fits.Column(name="TIME", format="D", array=130 + np.arange(500) / 48),
    ...            fits.Column(name="PDCSAP_FLUX", format="E", array=np.ones(500))]
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = f"{tmp}/lc.fits"
    ...     fits.BinTableHDU.from_columns(columns).writeto(path)
    ...     events = detect_flares_original([path], model=model)
    >>> events
    [[]]
    """
    single = isinstance(paths, (str, os.PathLike))
    files = [paths] if single else list(paths)
    read = [_read_release_columns(path) for path in files]
    detector = FlareDetector(model, rules="published", threshold=threshold, device=device,
                             flux_column="pdcsap_flux", quality_bitmask="none")
    labels = [os.fspath(path) for path in files]
    prepared = [detector.prepare(table, label=label)
                for (table, _, _), label in zip(read, labels, strict=True)]
    detections = detector.run_prepared(prepared, labels=labels)
    events = [
        _release_events(detection.table(), rows, time)
        for detection, (_, rows, time) in zip(detections, read, strict=True)
    ]
    return events[0] if single else events


# --------------------------------------------------------------------------- one group


def _process_group(
    detector: FlareDetector, files: Sequence[tuple[str, Path | None]]
) -> list[_Outcome]:
    """Read, detect and plot a few files; every failure stays with its file.

    Each outcome's ``seconds`` is its own reading, table and plot time plus its share (by
    number of rows) of the group's forward passes.
    """
    outcomes = [_Outcome(path) for path, _ in files]
    prepared = {}
    for k, (path, _) in enumerate(files):
        start = time.perf_counter()
        try:
            prepared[k] = detector.prepare(_read_light_curve(path))
        except Exception as err:  # any unreadable file is reported, not fatal
            outcomes[k].reason = _reason(err)
        outcomes[k].seconds += time.perf_counter() - start
    start = time.perf_counter()
    try:
        detected = dict(zip(prepared, _detect(detector, list(prepared.values())), strict=True))
    except Exception:  # find the culprit: run the files one by one
        detected = {}
        for k in prepared:
            try:
                detected[k] = _detect(detector, [prepared[k]])[0]
            except Exception as err:
                outcomes[k].reason = _reason(err)
    _share_seconds(outcomes, prepared, time.perf_counter() - start)
    for k, (detection, table) in detected.items():
        start = time.perf_counter()
        path, plot_path = files[k]
        table.add_column(np.array([path] * len(table), dtype=str), name="file", index=0)
        outcomes[k].table = table
        if plot_path is not None:
            try:
                _save_plot(detection, table, plot_path)
            except Exception as err:  # a failed plot loses only the plot
                outcomes[k].reason = f"plot failed ({_reason(err)})"
        outcomes[k].seconds += time.perf_counter() - start
    return outcomes


def _share_seconds(outcomes: list[_Outcome], prepared: dict[int, Any], seconds: float) -> None:
    sizes = {k: max(1, _n_rows(lc)) for k, lc in prepared.items()}
    total = sum(sizes.values())
    for k, size in sizes.items():
        outcomes[k].seconds += seconds * size / total


def _n_rows(lc: Any) -> int:
    try:
        return len(lc.flux)
    except TypeError:
        return 1


def _detect(detector: FlareDetector, prepared: list[Any]) -> list[tuple[Any, FlareTable]]:
    return [(d, d.table()) for d in detector.run_prepared(prepared)]


def _read_light_curve(path: str) -> Any:
    """The file's light curve with every row: quality flags are the pipeline's job."""
    import lightkurve as lk

    if not os.path.exists(path):
        raise FileNotFoundError(errno.ENOENT, "no such file", path)
    try:
        obj = lk.read(path, quality_bitmask="none")
    except TypeError:  # readers of some high-level products take no bitmask
        obj = lk.read(path)
    if not isinstance(obj, lk.LightCurve):
        raise InputError(f"not a light curve: lightkurve read a {type(obj).__name__}.")
    return obj


def _save_plot(detection: Any, table: FlareTable, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from .plotting import plot_detection

    figure = Figure(figsize=(10, 5))
    FigureCanvasAgg(figure)
    plot_detection(detection, table, ax=figure.add_subplot())
    with atomic_path(path) as part:  # a complete PNG or none
        figure.savefig(part, dpi=100, bbox_inches="tight", format="png")


def _reason(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"


# --------------------------------------------------------------------------- processes

#: The detector of a worker process, set once by `_init_worker`.
_WORKER_DETECTOR: FlareDetector | None = None


def _init_worker(detector: FlareDetector, threads: int) -> None:
    import torch

    global _WORKER_DETECTOR
    torch.set_num_threads(threads)
    _WORKER_DETECTOR = detector  # sent once per process, with its model


def _worker_group(files: list[tuple[str, Path | None]]) -> list[_Outcome]:
    assert _WORKER_DETECTOR is not None, "worker process not initialised"
    return _process_group(_WORKER_DETECTOR, files)


def stream_groups(
    detector: FlareDetector,
    payloads: Sequence[Sequence[tuple[str, Path | None]]],
    *,
    n_jobs: int = 1,
    client: Any = None,
) -> Iterator[tuple[int, list[_Outcome]]]:
    """Search groups of files; yield ``(group number, outcomes)`` as each group is done.

    In this process (``n_jobs=1``), in worker processes (spawned, each given the detector
    once) or on a Dask cluster (``client``, see `fcn4flare.detection._dask`). Groups come in
    the order they finish; a group that fails as a whole (its worker lost too often, say)
    comes back with every file failed, so that nothing is lost silently.
    """
    workers = _n_workers(n_jobs, len(payloads))
    if client is not None:
        from . import _dask

        yield from _dask.stream_groups(client, detector, payloads)
    elif workers == 1:
        for k, payload in enumerate(payloads):
            yield k, _process_group(detector, payload)
    else:
        yield from _run_in_processes(detector, payloads, workers)


def _run_in_processes(
    detector: FlareDetector,
    payloads: Sequence[Sequence[tuple[str, Path | None]]],
    workers: int,
) -> Iterator[tuple[int, list[_Outcome]]]:
    threads = max(1, (os.cpu_count() or 1) // workers)
    # spawn: forking a process that has run torch can deadlock its thread pools.
    pool = concurrent.futures.ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(detector, threads),
    )
    try:
        futures = {pool.submit(_worker_group, list(payload)): k
                   for k, payload in enumerate(payloads)}
        for future in concurrent.futures.as_completed(futures):
            k = futures.pop(future)
            yield k, _group_result(future, payloads[k])
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _group_result(future: Any, payload: Sequence[tuple[str, Path | None]]) -> list[_Outcome]:
    """A finished group's outcomes, or every file failed with the group's error."""
    try:
        return future.result()
    except Exception as err:  # a worker that died, an error outside the per-file guards
        reason = f"its group of files failed: {_reason(err)}"
        return [_Outcome(path, reason=reason) for path, _ in payload]


def _groups(indices: Iterable[int], size: int) -> list[list[int]]:
    indices = list(indices)
    return [indices[first:first + size] for first in range(0, len(indices), size)]


def _n_workers(n_jobs: int, n_groups: int) -> int:
    if not isinstance(n_jobs, (int, np.integer)) or n_jobs == 0 or n_jobs < -1:
        raise InputError(f"n_jobs must be a positive integer or -1, got {n_jobs!r}.")
    wanted = (os.cpu_count() or 1) if n_jobs == -1 else int(n_jobs)
    return max(1, min(wanted, n_groups))


# --------------------------------------------------------------------------- bookkeeping


def _file_list(paths: Any) -> list[str]:
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    if not isinstance(paths, Iterable):
        raise InputError(f"paths must be a path or an iterable of paths, got {paths!r}.")
    return [name for path in paths for name in _files_in(path)]


def _files_in(path: Any) -> list[str]:
    """A directory's FITS files (sorted), or the path itself."""
    if Path(path).is_dir():
        return sorted(
            str(p) for p in Path(path).iterdir() if p.name.lower().endswith(_FITS_SUFFIXES)
        )
    return [os.fspath(path)]


def _plot_paths(files: Sequence[str], plot_dir: Any) -> list[Path | None]:
    if plot_dir is None:
        return [None] * len(files)
    folder = check_directory(plot_dir, label="plot_dir")
    used: set[str] = set()
    out = []
    for path in files:
        stem = _stem(path)
        name, k = stem, 1
        while name in used:
            k += 1
            name = f"{stem}_{k}"
        used.add(name)
        out.append(folder / f"{name}.png")
    return out


def _stem(path: str) -> str:
    name = Path(path).name
    for suffix in _FITS_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return Path(name).stem


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *args: Any) -> None:
        pass


def _progress_bar(total: int, show: bool, initial: int = 0) -> Any:
    if not show:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="file", desc="fcn4flare")


def _collect(outcomes: Sequence[_Outcome]) -> BatchResult:
    tables = [o.table for o in outcomes if o.table is not None]
    failures = [(o.path, o.reason) for o in outcomes if o.reason is not None]
    processed = [o.path for o in outcomes if o.table is not None]
    table = FlareTable.stack(tables) if tables else _empty_table()
    status = status_table([o.status_row() for o in outcomes])
    return BatchResult(table=table, failures=failures, processed=processed, status=status)


def _empty_table() -> FlareTable:
    table = FlareTable.from_events(
        Time([0.0, 1.0], format="jd", scale="tdb"), [1.0, 1.0], [], None, []
    )
    table.add_column(np.array([], dtype=str), name="file", index=0)
    table.meta.pop("CADENCE", None)
    return table


# --------------------------------------------------------------------------- the release


def _read_release_columns(path: Any) -> tuple[QTable, np.ndarray, np.ndarray]:
    """``TIME`` and ``PDCSAP_FLUX`` as the release read them; rows with a finite time."""
    from astropy.io import fits

    try:
        with fits.open(path) as hdul:
            telescope = str(hdul[0].header.get("TELESCOP", "")).strip().upper()
            data = hdul[1].data
            time = np.array(data["TIME"], dtype=np.float64)
            flux = np.array(data["PDCSAP_FLUX"], dtype=np.float64)
            names = [name.upper() for name in data.columns.names]
            cadenceno = np.array(data["CADENCENO"]) if "CADENCENO" in names else None
    except (OSError, KeyError, IndexError, TypeError, ValueError) as err:
        raise InputError(
            f"{os.fspath(path)}: cannot read TIME and PDCSAP_FLUX from HDU 1: {err}"
        ) from err
    rows = np.flatnonzero(np.isfinite(time))
    table = QTable({"time": _mission_time(time[rows], telescope), "pdcsap_flux": flux[rows]})
    if cadenceno is not None:
        table["cadenceno"] = cadenceno[rows].astype(np.int64)
    return table, rows, time


def _mission_time(values: np.ndarray, telescope: str) -> Time:
    """The file's TIME column as what it is: BKJD for Kepler and K2, BTJD for TESS.

    Other files keep their values as plain days (labelled JD); only their differences are used.
    """
    import lightkurve  # noqa: F401  (registers the bkjd and btjd formats)

    time_format = {"KEPLER": "bkjd", "K2": "bkjd", "TESS": "btjd"}.get(telescope, "jd")
    return Time(values, format=time_format, scale="tdb")


def _release_events(flares: FlareTable, rows: np.ndarray, time: np.ndarray) -> list[dict]:
    events = []
    for start, peak, stop, score in zip(
        rows[np.asarray(flares["istart"], dtype=int)],
        rows[np.asarray(flares["ipeak"], dtype=int)],
        rows[np.asarray(flares["istop"], dtype=int)],
        np.asarray(flares["score"], dtype=float),
        strict=True,
    ):
        events.append(
            {
                "start_idx": int(start),
                "peak_idx": int(peak),
                "end_idx": int(stop),
                "start_time": float(time[start]),
                "peak_time": float(time[peak]),
                "end_time": float(time[stop]),
                "duration": float(time[stop] - time[start]),
                "confidence": float(score),
            }
        )
    return events
