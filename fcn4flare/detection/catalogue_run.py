"""Catalogue runs: `detect_many` searches any number of light-curve files into one catalogue.

A run given an ``output`` streams: each group of files (`batch.FILES_PER_GROUP`, or
``group_size``) is searched, its flares and the status of its files are written to a store
on disk, and nothing of it stays in memory but one status row per file. The store is
append-only; every file in it is written to a temporary name and renamed into place:

``<store>/run.json``
    The run's settings (model checksum, threshold, rules, flux column, quality mask), the
    format of its outputs and whether it continues an earlier, finished run.
``<store>/parts/000001.ecsv``
    The flares of one group's files (ECSV, times as ``jd1``/``jd2``: exact).
``<store>/parts/000001.json``
    The status of that group's files (``file``, ``status``, ``n_flares``, ``seconds``,
    ``error``); written after the flares, it is the group's commit marker. A flares part
    without one is left over from a killed run and is deleted on the next start.

At the end the committed parts are consolidated into one catalogue and one status table
(each written to a temporary name and renamed into place) and the store is removed, its
``run.json`` first. A run killed at any moment (SIGKILL included) and started again with the
same ``output`` therefore finds either its store (and continues it: the files of committed
groups are skipped, those of the others searched again, so no row is lost or doubled) or,
after the end, the consolidated files; the catalogue on disk is never half-written.

Where things are, for ``output``:

- a catalogue file (a path with a catalogue suffix, ``flares.fits``): the catalogue there,
  the status table only where ``status_file`` is given, the store next to it as
  ``.flares.fits.fcn4flare-run``;
- a run directory (an existing directory, or a path without a suffix, ``survey/``):
  ``flares.<ext>`` and ``status.<ext>`` inside it (``ecsv``, ``fits`` or ``parquet``: the
  ``format`` argument), and the store ``.fcn4flare-run``. A finished run directory can be
  continued: files in its status table are skipped, new ones searched and added.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import warnings
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from astropy.table import Table

from ..catalog import FlareTable
from ..catalog.writer import (
    atomic_open,
    atomic_path,
    check_directory,
    check_output,
    table_format,
    write_table,
)
from ..exceptions import FCN4FlareWarning, InputError
from . import batch
from .batch import STATUS_COLUMNS, BatchResult, status_table

__all__ = ["FORMATS", "LIST_SUFFIXES", "STORE_NAME", "detect_many", "expand_sources"]

#: ``format=`` names: the astropy format and the suffix of a run directory's two files.
FORMATS: dict[str, tuple[str, str]] = {
    "ecsv": ("ascii.ecsv", ".ecsv"),
    "fits": ("fits", ".fits"),
    "parquet": ("parquet", ".parquet"),
}
#: Suffixes of text files that list light-curve paths, one a line (``#`` starts a comment).
LIST_SUFFIXES = (".txt",)
#: Name of the store of a run directory (a catalogue file's is ``.<name>.fcn4flare-run``).
STORE_NAME = ".fcn4flare-run"

_MANIFEST = "run.json"
_LOCK = "lock"
_CATALOGUE_STEM = "flares"
_STATUS_STEM = "status"


@dataclasses.dataclass(frozen=True)
class _Names:
    """How the arguments are named in messages (the CLI names its options)."""

    output: str = "output"
    status: str = "status_file"
    overwrite: str = "overwrite=True"
    no_resume: str = "resume=False"


def detect_many(
    sources: Any,
    *,
    output: str | os.PathLike | None = None,
    format: str | None = None,
    status_file: str | os.PathLike | None = None,
    resume: bool = True,
    overwrite: bool = False,
    retry_failed: bool = False,
    n_jobs: int = 1,
    client: Any = None,
    progress: bool = True,
    group_size: int | None = None,
    recursive: bool = False,
    model: Any = None,
    threshold: float | None = None,
    rules: Any = None,
    flux_column: str | None = None,
    quality_bitmask: str | int | None = "default",
    plot_dir: str | os.PathLike | None = None,
    device: Any = None,
) -> BatchResult:
    """Detect flares in many light-curve files: one catalogue, resumable, on processes or Dask.

    Parameters
    ----------
    sources : path-like or iterable of path-like
        Light-curve files (anything ``lightkurve.read`` opens), directories (their FITS
        files, ``recursive`` or not) and lists of files (a ``.txt`` file, or a path after
        ``@``: one path a line, relative paths taken from the list's folder, ``#`` comments).
        A file listed twice is searched once (with a warning).
    output : path-like, optional
        Where the catalogue goes, written as the run streams (:doc:`/survey`): a catalogue
        file (``flares.fits``) or a run directory (``survey/``; also any existing
        directory or path without a suffix). None: nothing is written, everything is kept
        in memory (``resume`` does not apply).
    format : {'ecsv', 'fits', 'parquet'} or str, optional
        A run directory's format ('ecsv' unless it holds a run already); for a catalogue
        file, an astropy format instead of the suffix's.
    status_file : path-like, optional
        Where a catalogue file's status table goes (a run directory has its own).
    resume : bool
        Continue the run found at ``output``: files whose search is committed there (ok or
        failed) are skipped. False: start again (with ``overwrite``, when there is one).
    overwrite : bool
        Replace what is at ``output`` when it is not resumed (an existing catalogue file
        holds no run to resume unless its ``status_file`` is there).
    retry_failed : bool
        When resuming, search again the files that failed.
    n_jobs : int
        Worker processes on this machine (spawned; each gets the model once); -1: one per
        CPU. Ignored with ``client``.
    client : ``distributed.Client`` or str, optional
        A Dask client, or a scheduler's address (connected here and closed at the end): the
        groups of files are its tasks, the model is sent once to each worker (a worker
        plugin), a group lost with its worker is run again. Workers must see the files (and
        ``plot_dir``) at the same paths. Needs the extra ``fcn4flare[dask]``.
    progress : bool
        Show a tqdm progress bar (in files; the skipped ones count as done).
    group_size : int, optional
        Files per group (one task, one part in the store); default ``FILES_PER_GROUP``
        of ``fcn4flare.detection.batch`` (8).
    recursive : bool
        Take the FITS files of directories' subdirectories too.
    model, threshold, rules, flux_column, quality_bitmask, plot_dir, device
        As for `~fcn4flare.detection.detect_flares_in_files`. A resumed run must use the
        settings it was started with (checked: model checksum, threshold, rules, flux
        column, quality mask).

    Returns
    -------
    BatchResult
        ``table``: the whole catalogue (with ``output``: the one written, rows of earlier
        runs included; in memory, since it is the flares only, a few hundred bytes each;
        the light curves never are); ``status``: one row per file with ``status`` ``'ok'``,
        ``'failed'`` or ``'skipped'`` (searched by an earlier run on this output: its
        ``n_flares``, ``seconds`` and ``error`` are that run's); ``failures``: ``(file,
        error)`` of every failed file (and each failed plot); ``processed``: every file whose
        flares are in ``table``. When no file could be searched at all, no catalogue file is
        written (a warning says so; a run directory's status table still is).

    Raises
    ------
    InputError
        Before any work and without writing anything: invalid options, a list of files
        that cannot be read, a directory without light curves, no files at all, an output
        whose directory is missing or read-only, an existing output not to be replaced, a
        run to resume made with other settings, another run writing the same output, an
        unreachable Dask scheduler.
    CheckpointError
        The model cannot be loaded.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import torch
    >>> from fcn4flare import FCN4FlareConfig, FCN4FlareModel, detect_many
    >>> _ = torch.manual_seed(0)
    >>> model = FCN4FlareModel(FCN4FlareConfig(hidden_dim=8, depth=2, dilation=[1, 2]))
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     bad = Path(tmp) / "corrupt.fits"
    ...     _ = bad.write_bytes(b"not FITS")
    ...     result = detect_many([bad], output=Path(tmp) / "run", model=model,
    ...                          progress=False)  # doctest: +IGNORE_WARNINGS
    ...     written = sorted(p.name for p in (Path(tmp) / "run").iterdir())
    >>> result.status["status"].tolist(), written
    (['failed'], ['status.ecsv'])

    A survey directory on four processes; run again after a crash, it continues:

    >>> result = detect_many("kepler_q9/", output="survey/", n_jobs=4)  # doctest: +SKIP
    """
    return _detect_many(
        sources, output=output, format=format, status_file=status_file, resume=resume,
        overwrite=overwrite, retry_failed=retry_failed, n_jobs=n_jobs, client=client,
        progress=progress, group_size=group_size, recursive=recursive, model=model,
        threshold=threshold, rules=rules, flux_column=flux_column,
        quality_bitmask=quality_bitmask, plot_dir=plot_dir, device=device,
    )


def _detect_many(
    sources: Any,
    *,
    output: Any,
    format: str | None,
    status_file: Any,
    resume: bool,
    overwrite: bool,
    retry_failed: bool,
    n_jobs: int,
    client: Any,
    progress: bool,
    group_size: int | None,
    recursive: bool,
    model: Any,
    threshold: float | None,
    rules: Any,
    flux_column: str | None,
    quality_bitmask: str | int | None,
    plot_dir: Any,
    device: Any,
    kind: str = "auto",
    names: _Names = _Names(),
) -> BatchResult:
    """`detect_many`, with the CLI's choices: ``kind`` of output and ``names`` in messages."""
    size = _group_size(group_size)
    batch._n_workers(n_jobs, 1)  # checks n_jobs
    files = _unique(expand_sources(sources, recursive=recursive))
    plan = None
    if output is not None:
        plan = plan_output(output, format=format, status_file=status_file, overwrite=overwrite,
                           resume=resume, kind=kind, names=names)
    plot_paths = batch._plot_paths(files, plot_dir)
    detector = batch._Options(
        model=model, threshold=threshold, rules=rules, flux_column=flux_column,
        quality_bitmask=quality_bitmask, device=None if device is None else str(device),
    ).detector()  # checks every option and loads the model once
    settings = _settings(detector, flux_column, quality_bitmask)
    if plan is not None:
        _check_settings(plan, settings, names)
    dask_client, owned = (None, False)
    if client is not None:
        from . import _dask

        dask_client, owned = _dask.connect(client)
    try:
        if plan is None:
            return _in_memory(detector, files, plot_paths, size, n_jobs, dask_client, progress)
        store = _Store(plan)
        try:
            store.open(settings)
            return _streamed(store, detector, files, plot_paths, size, n_jobs, dask_client,
                             progress, retry_failed)
        finally:
            store.close()
    finally:
        if owned:
            dask_client.close()


# --------------------------------------------------------------------------- sources


def expand_sources(sources: Any, *, recursive: bool = False) -> list[str]:
    """The light-curve files named by ``sources`` (files, directories, lists of files).

    Parameters
    ----------
    sources : path-like or iterable of path-like
        See `detect_many`. A path that does not exist is kept (its search fails and says
        so); a missing list of files is an error.
    recursive : bool
        Look into the subdirectories of directories.

    Returns
    -------
    list of str
        In the order given; each directory's files sorted.

    Raises
    ------
    InputError
        A list of files that cannot be read or names no file, a directory without
        light-curve files, or no file at all.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from fcn4flare.detection.catalogue_run import expand_sources
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = (Path(tmp) / "files.txt").write_text("# two files\\na.fits\\n\\nb.fits\\n")
    ...     names = expand_sources(Path(tmp) / "files.txt")
    ...     [Path(name).relative_to(tmp).as_posix() for name in names]
    ['a.fits', 'b.fits']
    """
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    if not isinstance(sources, Iterable):
        raise InputError(f"sources must be a path or an iterable of paths, got {sources!r}.")
    files = [name for source in sources for name in _expand(source, recursive, lists=True)]
    if not files:
        raise InputError("no light-curve files given.")
    return files


def _expand(source: Any, recursive: bool, *, lists: bool) -> list[str]:
    if not isinstance(source, (str, os.PathLike)):
        raise InputError(f"a source must be a path, got {source!r}.")
    text = os.fspath(source)
    if lists and text.startswith("@"):
        return _read_list(Path(text[1:]), recursive)
    path = Path(text)
    if path.is_dir():
        return _light_curves_in(path, recursive)
    if lists and path.suffix.lower() in LIST_SUFFIXES:
        return _read_list(path, recursive)
    return [text]


def _light_curves_in(folder: Path, recursive: bool) -> list[str]:
    if recursive:
        found = sorted(str(p) for p in folder.rglob("*")
                       if p.name.lower().endswith(batch._FITS_SUFFIXES) and not p.is_dir())
    else:
        found = batch._files_in(folder)
    if not found:
        patterns = ", ".join(f"*{suffix}" for suffix in batch._FITS_SUFFIXES)
        where = "or its subdirectories " if recursive else ""
        hint = "" if recursive else "; recursive=True (--recursive) looks into subdirectories"
        raise InputError(
            f"directory {folder} {where}holds no light-curve files ({patterns}){hint}."
        )
    return found


def _read_list(path: Path, recursive: bool) -> list[str]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise InputError(f"list of files {path} does not exist.") from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"list of files {path} cannot be read: {err}") from None
    names = [line.strip() for line in text.splitlines()]
    names = [name for name in names if name and not name.startswith("#")]
    if not names:
        raise InputError(f"list of files {path} names no files.")
    folder = path.parent
    return [entry for name in names
            for entry in _expand(name if os.path.isabs(name) else os.path.normpath(folder / name),
                                 recursive, lists=False)]


def _unique(files: Sequence[str]) -> list[str]:
    seen: dict[str, None] = dict.fromkeys(files)
    if len(seen) < len(files):
        twice = sorted({f for f in files if files.count(f) > 1}) if len(files) < 10_000 else []
        shown = f": {', '.join(twice[:3])}{' ...' if len(twice) > 3 else ''}" if twice else ""
        warnings.warn(f"{len(files) - len(seen)} file(s) listed more than once are searched "
                      f"once{shown}", FCN4FlareWarning, stacklevel=4)
    return list(seen)


def _group_size(size: Any) -> int:
    if size is None:
        return int(batch.FILES_PER_GROUP)
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise InputError(f"group_size must be a positive integer, got {size!r}.")
    return int(size)


# --------------------------------------------------------------------------- output plan


@dataclasses.dataclass(frozen=True)
class _Plan:
    """Where a run writes, checked before any work; ``resume_from``: 'store', 'base' or ''."""

    label: str
    catalogue: Path
    catalogue_format: str
    status: Path | None
    status_format: str | None
    store: Path
    directory: Path | None
    format_name: str
    resume_from: str = ""
    discard: bool = False


def plan_output(
    output: Any,
    *,
    format: str | None = None,
    status_file: Any = None,
    overwrite: bool = False,
    resume: bool = True,
    kind: str = "auto",
    names: _Names = _Names(),
) -> _Plan:
    """Check where a run writes, without writing anything (see `detect_many`).

    ``kind`` is 'auto', 'file' or 'directory' (the CLI takes a directory only when the
    path ends with a separator).
    """
    text = os.fspath(output)
    path = Path(text)
    directory = kind == "directory" or (
        kind == "auto" and (path.is_dir() or text.endswith(("/", os.sep)) or not path.suffix)
    )
    if directory:
        if status_file is not None:
            raise InputError(
                f"{names.status} is for a catalogue file; the run directory {path} keeps its "
                f"status table inside."
            )
        plan = _directory_plan(path, format, overwrite, names)
    else:
        plan = _file_plan(path, format, status_file, names)
    return _with_mode(plan, overwrite, resume, names)


def _directory_plan(path: Path, format: str | None, overwrite: bool, names: _Names) -> _Plan:
    label = f"{names.output} {path}"
    if path.exists() and not path.is_dir():
        raise InputError(f"{label} exists and is not a directory.")
    if path.is_dir():
        check_directory(path, create=False, label=label)
    else:
        parent = path.parent
        if not parent.exists():
            raise InputError(f"{label}: directory {parent} does not exist.")
        check_directory(parent, create=False, label=label)
    recorded = _recorded_format(path)
    name = _format_name(format, label) if format is not None else (recorded or "ecsv")
    if recorded and name != recorded and not overwrite:
        raise InputError(f"{label} holds a run written as {recorded}; pass format={recorded!r} "
                         f"(or {names.overwrite} to start again).")
    astropy_format, suffix = FORMATS[name]
    catalogue = path / f"{_CATALOGUE_STEM}{suffix}"
    table_format(catalogue, label=names.output)  # .parquet needs pyarrow
    return _Plan(label, catalogue, astropy_format, path / f"{_STATUS_STEM}{suffix}",
                 astropy_format, path / STORE_NAME, path, name)


def _file_plan(path: Path, format: str | None, status_file: Any, names: _Names) -> _Plan:
    astropy_format = FORMATS[format][0] if format in FORMATS else format
    chosen = check_output(path, overwrite=True, format=astropy_format, label=names.output)
    status = status_format = None
    if status_file is not None:
        status = Path(status_file)
        status_format = check_output(status, overwrite=True, label=names.status)
        if status_format not in {astropy_format for astropy_format, _ in FORMATS.values()}:
            raise InputError(f"{names.status} {status}: the status table must be ECSV, FITS "
                             f"or Parquet (.ecsv, .fits, .parquet), which keep the settings "
                             f"of the run.")
        if os.path.abspath(status) == os.path.abspath(path):
            raise InputError(f"{names.status} {status} is the catalogue itself.")
    store = path.parent / f".{path.name}{STORE_NAME}"
    return _Plan(f"{names.output} {path}", path, chosen, status, status_format, store, None,
                 format or chosen)


def _with_mode(plan: _Plan, overwrite: bool, resume: bool, names: _Names) -> _Plan:
    has_store = (plan.store / _MANIFEST).is_file()
    has_base = plan.status is not None and plan.status.is_file()
    existing = [p for p in (plan.catalogue, plan.status) if p is not None and p.exists()]
    if resume and has_store:
        return dataclasses.replace(plan, resume_from="store")
    if resume and has_base:
        return dataclasses.replace(plan, resume_from="base")
    if has_store and not overwrite:
        raise InputError(
            f"{plan.label}: an unfinished run is kept in {plan.store}; run again without "
            f"{names.no_resume} to resume it, or pass {names.overwrite} to start again."
        )
    if existing and not overwrite:
        nothing = " and holds no run to resume" if resume else ""
        raise InputError(f"{existing[0]} exists{nothing}; pass {names.overwrite} to replace it.")
    return dataclasses.replace(plan, discard=has_store or bool(existing))


def _format_name(format: str, label: str) -> str:
    name = str(format).lower()
    for short, (astropy_format, _) in FORMATS.items():
        if name in (short, astropy_format):
            return short
    raise InputError(f"{label}: format must be one of {', '.join(map(repr, FORMATS))}, "
                     f"got {format!r}.")


def _recorded_format(folder: Path) -> str | None:
    """The format of the run already in a run directory, if any."""
    manifest = _read_json(folder / STORE_NAME / _MANIFEST)
    if manifest and manifest.get("format") in FORMATS:
        return manifest["format"]
    for short, (_, suffix) in FORMATS.items():
        if (folder / f"{_STATUS_STEM}{suffix}").is_file():
            return short
    return None


# --------------------------------------------------------------------------- settings


def _settings(detector: Any, flux_column: str | None, quality_bitmask: Any) -> dict[str, Any]:
    """What a resumed run must share with the run it continues (FITS-header-safe keys)."""
    rules = repr(detector.rules).encode()
    return {
        "MODELSUM": str(detector.model.checksum()),
        "THRESH": float(detector.rules.threshold),
        "RULES": str(detector.rules.name),
        "RULESUM": hashlib.sha256(rules).hexdigest()[:16],
        "FLUXCOL": flux_column or "",
        "QUALITY": str(quality_bitmask),
    }


def _check_settings(plan: _Plan, settings: dict[str, Any], names: _Names) -> None:
    if plan.resume_from == "store":
        manifest = _read_json(plan.store / _MANIFEST)
        if manifest is None or not isinstance(manifest.get("settings"), dict):
            raise InputError(f"{plan.label}: the run kept in {plan.store} cannot be read; "
                             f"pass {names.overwrite} with {names.no_resume} to start again.")
        recorded = manifest["settings"]
    elif plan.resume_from == "base":
        status = _read_status(plan, names)
        recorded = dict(status.meta)
        if np.any(np.asarray(status["status"]) == "ok") and not plan.catalogue.is_file():
            raise InputError(f"{plan.label}: {plan.status} lists searched files but the "
                             f"catalogue {plan.catalogue} is missing; pass {names.overwrite} "
                             f"with {names.no_resume} to start again.")
    else:
        return
    differ = [key for key, value in settings.items() if recorded.get(key) != value]
    if differ:
        shown = ", ".join(f"{key} {recorded.get(key)!r} (now {settings[key]!r})"
                          for key in differ)
        raise InputError(
            f"{plan.label}: the run there was made with other settings: {shown}; use another "
            f"output, or pass {names.overwrite} with {names.no_resume} to start again."
        )


def _read_status(plan: _Plan, names: _Names) -> Table:
    try:
        status = _read_table(Table, plan.status, plan.status_format)
    except Exception as err:  # a status table written by someone else, or damaged
        raise InputError(f"{plan.label}: cannot read the status table {plan.status} "
                         f"({type(err).__name__}: {err}); pass {names.overwrite} with "
                         f"{names.no_resume} to start again.") from None
    missing = [name for name in STATUS_COLUMNS if name not in status.colnames]
    if missing:
        raise InputError(f"{plan.label}: {plan.status} is not a status table (no "
                         f"{', '.join(missing)}); pass {names.overwrite} with "
                         f"{names.no_resume} to start again.")
    return status


# --------------------------------------------------------------------------- the store


class _Store:
    """The append-only store of a run (see the module's description)."""

    def __init__(self, plan: _Plan) -> None:
        self.plan = plan
        self.root = plan.store
        self.parts = plan.store / "parts"
        self.use_base = plan.resume_from == "base"
        self.seq = 0
        self._lock: int | None = None

    def open(self, settings: dict[str, Any]) -> None:
        """Create (or take over) the store; the first thing written by a run."""
        if self.plan.directory is not None:
            self.plan.directory.mkdir(exist_ok=True)
        self.root.mkdir(exist_ok=True)
        self._lock = _lock(self.root / _LOCK, self.plan.label)
        if self.plan.resume_from == "store":
            manifest = _read_json(self.root / _MANIFEST) or {}
            self.use_base = bool(manifest.get("use_base"))
            self.parts.mkdir(exist_ok=True)
            self._clean()
            return
        (self.root / _MANIFEST).unlink(missing_ok=True)
        shutil.rmtree(self.parts, ignore_errors=True)  # left by a run now replaced
        self.parts.mkdir()
        manifest = {"fcn4flare_run": 1, "format": self.plan.format_name,
                    "use_base": self.use_base, "settings": settings}
        with atomic_open(self.root / _MANIFEST) as stream:
            json.dump(manifest, stream, indent=1)

    def _clean(self) -> None:
        """Drop what a killed run left uncommitted; find the next part number."""
        committed = set()
        for path in self._markers():
            record = _read_json(path)
            flares = record.get("flares") if isinstance(record, dict) else "?"
            if record is None or (flares and not (self.parts / str(flares)).is_file()):
                path.unlink()
                continue
            committed.add(path.stem)
        for path in self.parts.iterdir():
            if path.name.startswith(".tmp-") or path.stem not in committed:
                path.unlink()
        self.seq = max((int(stem) for stem in committed), default=0)

    def commit(self, outcomes: Sequence[batch._Outcome]) -> None:
        """Write one group's flares, then its status (the commit marker)."""
        self.seq += 1
        stem = f"{self.seq:06d}"
        tables = [o.table for o in outcomes if o.table is not None]
        flares = None
        if tables:
            flares = f"{stem}.ecsv"
            _write_part(FlareTable.stack(tables), self.parts / flares)
        record = {"flares": flares,
                  "files": [dict(zip(STATUS_COLUMNS, o.status_row(), strict=True))
                            for o in outcomes]}
        with atomic_open(self.parts / f"{stem}.json") as stream:
            json.dump(record, stream)

    def committed(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """``(part number, record)`` of every committed part, in order."""
        for path in self._markers():
            record = _read_json(path)
            if record is not None:
                yield int(path.stem), record

    def _markers(self) -> list[Path]:
        """The commit markers, in order (``000001.json``; not the ``.tmp-`` ones)."""
        return sorted(p for p in self.parts.glob("*.json") if p.stem.isdigit())

    def finish(self) -> None:
        """Remove the store, its manifest first (after it, the consolidated files stand)."""
        (self.root / _MANIFEST).unlink(missing_ok=True)
        shutil.rmtree(self.root, ignore_errors=True)

    def close(self) -> None:
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None


def _lock(path: Path, label: str) -> int | None:
    """An exclusive lock on ``path`` (POSIX), released when the process ends however it ends."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no lock
        return None
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise InputError(f"{label}: another fcn4flare run is writing there (it holds "
                         f"{path}); wait for it to end or stop it.") from None
    return fd


def _write_part(table: FlareTable, path: Path) -> None:
    """ECSV through astropy.io.ascii, times as jd1/jd2: the part reads back exactly."""
    from astropy.io import ascii
    from astropy.table.info import serialize_method_as
    from astropy.time import Time

    with atomic_path(path) as tmp, serialize_method_as(table, {Time: "jd1_jd2"}):
        ascii.write(table, tmp, format="ecsv", overwrite=True)


def _read_part(path: Path) -> FlareTable:
    return FlareTable.read(path, format="ascii.ecsv")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


# --------------------------------------------------------------------------- running


def _payloads(files: Sequence[str], plot_paths: Sequence[Path | None],
              todo: Sequence[int], size: int) -> tuple[list[list[int]], list[list[Any]]]:
    groups = batch._groups(todo, size)
    return groups, [[(files[i], plot_paths[i]) for i in group] for group in groups]


def _in_memory(detector: Any, files: list[str], plot_paths: list[Path | None], size: int,
               n_jobs: int, client: Any, progress: bool) -> BatchResult:
    groups, payloads = _payloads(files, plot_paths, range(len(files)), size)
    outcomes: dict[int, batch._Outcome] = {}
    with batch._progress_bar(len(files), progress) as bar:
        for k, done in batch.stream_groups(detector, payloads, n_jobs=n_jobs, client=client):
            outcomes.update(zip(groups[k], done, strict=True))
            bar.update(len(done))
    return batch._collect([outcomes[i] for i in range(len(files))])


def _streamed(store: _Store, detector: Any, files: list[str], plot_paths: list[Path | None],
              size: int, n_jobs: int, client: Any, progress: bool,
              retry_failed: bool) -> BatchResult:
    earlier = _committed_rows(store)
    redo = ("failed",) if retry_failed else ()
    todo = [i for i, f in enumerate(files) if f not in earlier or earlier[f]["status"] in redo]
    groups, payloads = _payloads(files, plot_paths, todo, size)
    searched: set[str] = set()
    with batch._progress_bar(len(files), progress, initial=len(files) - len(todo)) as bar:
        for _, done in batch.stream_groups(detector, payloads, n_jobs=n_jobs, client=client):
            store.commit(done)
            searched.update(o.path for o in done)
            bar.update(len(done))
    return _consolidate(store, files, searched)


def _committed_rows(store: _Store) -> dict[str, dict[str, Any]]:
    """The status row of each file in the run so far (the latest part wins)."""
    rows = {}
    if store.use_base:
        base = _read_table(Table, store.plan.status, store.plan.status_format)
        rows = {str(row["file"]): _plain_row(row) for row in base}
        for row in rows.values():
            row["part"] = 0
    for seq, record in store.committed():
        for row in record["files"]:
            rows[row["file"]] = {**row, "part": seq}
    return rows


def _plain_row(row: Any) -> dict[str, Any]:
    return {"file": _text(row["file"]), "status": _text(row["status"]),
            "n_flares": int(row["n_flares"]), "seconds": float(row["seconds"]),
            "error": _text(row["error"])}


def _text(value: Any) -> str:
    """A string cell as written: ECSV reads empty strings back masked, FITS as bytes."""
    if np.ma.is_masked(value):
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _read_table(cls: Any, path: Path, format: str) -> Any:
    kwargs = {"character_as_bytes": False} if format == "fits" else {}
    return cls.read(path, format=format, **kwargs)


def _consolidate(store: _Store, files: list[str], searched: set[str]) -> BatchResult:
    """One catalogue and one status table from the store; then the store goes."""
    plan = store.plan
    rows = _committed_rows(store)
    order = {f: i for i, f in enumerate(files)}
    for f in rows:
        order.setdefault(f, len(order))
    ranked = sorted(rows.values(), key=lambda row: order[row["file"]])
    pieces = _catalogue_pieces(store, rows)
    any_ok = any(row["status"] == "ok" for row in ranked)
    table = FlareTable.stack(pieces) if pieces and any_ok else batch._empty_table()
    if len(table):
        keys = np.array([order[f] for f in np.asarray(table["file"], dtype=str)])
        table = table[np.argsort(keys, kind="stable")]
    record = status_table([tuple(row[name] for name in STATUS_COLUMNS) for row in ranked])
    record.meta.update(_manifest_settings(store))
    if any_ok:
        write_table(table, plan.catalogue, format=plan.catalogue_format, overwrite=True)
    else:
        if plan.catalogue.exists():  # a catalogue replaced by this run
            plan.catalogue.unlink()
        warnings.warn(f"{plan.label}: none of {len(ranked)} file(s) could be searched; no "
                      "catalogue written.", FCN4FlareWarning, stacklevel=4)
    if plan.status is not None:
        write_table(record, plan.status, format=plan.status_format, overwrite=True)
    store.finish()
    return _result(table, ranked, searched)


def _catalogue_pieces(store: _Store, rows: dict[str, dict[str, Any]]) -> list[FlareTable]:
    """The committed flares, each file's from the part that holds its latest search."""
    pieces = []
    if store.use_base and any(row["part"] == 0 and row["status"] == "ok"
                              for row in rows.values()):
        base = _read_table(FlareTable, store.plan.catalogue, store.plan.catalogue_format)
        pieces.append(_rows_of(base, rows, 0))
    for seq, record in store.committed():
        if record.get("flares"):
            pieces.append(_rows_of(_read_part(store.parts / record["flares"]), rows, seq))
    return pieces


def _rows_of(table: FlareTable, rows: dict[str, dict[str, Any]], part: int) -> FlareTable:
    files = np.asarray(table["file"], dtype=str)
    keep = np.array([rows.get(f, {}).get("part") == part for f in files], dtype=bool)
    return table[keep]


def _manifest_settings(store: _Store) -> dict[str, Any]:
    manifest = _read_json(store.root / _MANIFEST) or {}
    return dict(manifest.get("settings", {}))


def _result(table: FlareTable, ranked: list[dict[str, Any]], searched: set[str]) -> BatchResult:
    """This call's view: a file not searched now is 'skipped' (its row is an earlier run's)."""
    shown = [(row["file"], row["status"] if row["file"] in searched else "skipped",
              row["n_flares"], row["seconds"], row["error"]) for row in ranked]
    return BatchResult(
        table=table,
        failures=[(row["file"], row["error"]) for row in ranked if row["error"]],
        processed=[row["file"] for row in ranked if row["status"] == "ok"],
        status=status_table(shown),
    )
