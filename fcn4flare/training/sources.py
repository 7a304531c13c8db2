"""Readers of labelled real light curves: the published data set layout and FITS + events CSV.

Both return a list of `LabelledLightCurve`: flux at any positive level with NaN gaps, one
label per sample (1 flare, 0 not, ``-100`` for a cadence that is not a real sample), and the
star and file it came from, which the splits need.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._arrays import PADDING_LABEL
from ..exceptions import FCN4FlareWarning, InputError

__all__ = [
    "LabelledLightCurve",
    "read_published_dataset",
    "read_events_csv",
    "read_fits_light_curve",
    "read_fits_directory",
    "load_backgrounds",
    "PADDING_LABEL",
    "STAR_ID_KEYS",
    "FILE_KEYS",
]

#: Label of a sample that is padding or an inserted cadence (ignored by loss and metrics).

#: Metadata keys searched, in this order, for a light curve's star identifier.
STAR_ID_KEYS = (
    "kic_id", "kic", "kepler_id", "keplerid", "epic_id", "epic", "tic_id", "tic", "ticid",
    "targetid", "target_id", "star_id", "star", "target", "object",
)

#: Metadata keys searched, in this order, for a light curve's file name.
FILE_KEYS = ("file_name", "filename", "file", "path")

_SPLIT_PATTERN = re.compile(r"^(train|training|validation|valid|val|dev|test)(?:$|[-_.])", re.I)
_SPLIT_ALIASES = {"training": "train", "valid": "validation", "val": "validation",
                  "dev": "validation"}
_FILE_STAR_PATTERNS = (
    re.compile(r"kplr(\d+)", re.I),
    re.compile(r"ktwo(\d+)", re.I),
    re.compile(r"tess\d+-s\d+-(\d+)-", re.I),
    re.compile(r"hlsp_\w+?_tess_\w+?_(\d{9,16})", re.I),
)
_FITS_SUFFIXES = (".fits", ".fits.gz", ".fit", ".fts")


@dataclasses.dataclass
class LabelledLightCurve:
    """One light curve with per-sample flare labels.

    Attributes
    ----------
    flux : ndarray
        Flux at any positive level (it is scaled later), NaN where missing.
    labels : ndarray of int8
        1 inside a flare, 0 outside, ``-100`` where the sample is not real (an inserted
        cadence); same length as ``flux``.
    star_id : str
        Identifier of the star (KIC/EPIC/TIC number as a string without leading zeros).
    file : str
        File name the light curve came from.
    split : str, optional
        ``'train'``, ``'validation'`` or ``'test'`` when the source fixed it (the published
        data set's own split).
    cadence_minutes : float, optional
        Sampling interval, when known.

    Examples
    --------
    >>> import numpy as np
    >>> from fcn4flare.training import LabelledLightCurve
    >>> lc = LabelledLightCurve(np.ones(4), np.array([0, 1, 1, 0]), star_id="1", file="a.fits")
    >>> lc.labels.dtype, len(lc)
    (dtype('int8'), 4)
    """

    flux: np.ndarray
    labels: np.ndarray
    star_id: str
    file: str
    split: str | None = None
    cadence_minutes: float | None = None

    def __post_init__(self) -> None:
        self.flux = np.asarray(self.flux, dtype=np.float64)
        self.labels = np.asarray(self.labels).astype(np.int8)
        if self.flux.ndim != 1 or self.flux.shape != self.labels.shape:
            raise InputError(
                f"{self.file}: flux and labels must be 1-D of one length; got shapes "
                f"{self.flux.shape} and {self.labels.shape}."
            )
        bad = ~np.isin(self.labels, (0, 1, PADDING_LABEL))
        if bad.any():
            raise InputError(
                f"{self.file}: labels must be 0, 1 or {PADDING_LABEL}; found "
                f"{sorted(set(self.labels[bad].tolist()))[:5]}."
            )

    def __len__(self) -> int:
        return len(self.flux)


def normalise_star_id(value: Any) -> str:
    """A star identifier as a string; numbers lose their leading zeros (``'008935655'`` ->
    ``'8935655'``) so that ids from metadata and from file names agree."""
    text = str(value).strip()
    for prefix in ("kic", "epic", "tic", "kplr", "ktwo"):
        if text.lower().startswith(prefix) and text[len(prefix):].strip(" _-").isdigit():
            text = text[len(prefix):].strip(" _-")
            break
    return str(int(text)) if text.isdigit() else text


def star_id_from_file_name(name: str) -> str | None:
    """The KIC/EPIC/TIC number in a mission file name, or None."""
    base = os.path.basename(str(name))
    for pattern in _FILE_STAR_PATTERNS:
        match = pattern.search(base)
        if match:
            return normalise_star_id(match.group(1))
    return None


# --------------------------------------------------------------------------- published layout


def read_published_dataset(
    path: str | os.PathLike,
    *,
    flux_column: str = "flux_norm",
    label_column: str = "label",
    metadata_column: str = "metadata",
) -> list[LabelledLightCurve]:
    """Read a data set in the layout of the published ``kepler_flare`` data set.

    Each row is one light curve with a list column of median-normalised flux
    (``flux_norm``), a list column of per-sample labels (``label``, bool or 0/1; ``-100``
    is read as padding) and a struct column ``metadata``. The star of a row is the first of
    `STAR_ID_KEYS` found in ``metadata`` or among the other columns (the published set has
    ``kic_id``); failing that, the number in the file name (``file_name``, see `FILE_KEYS`),
    e.g. ``kplr008935655-...`` -> ``8935655``.

    Parameters
    ----------
    path : path-like
        A Parquet file, an Arrow IPC file or stream (``.arrow``, as written by
        ``datasets.save_to_disk``), or a directory searched recursively for them. A file
        whose name or folder starts with ``train``, ``validation`` (``valid``, ``val``) or
        ``test`` (as in a download of the published data set: ``data/train-00000-of-00002
        .parquet``) gives its rows that split.
    flux_column, label_column, metadata_column : str
        Column names.

    Returns
    -------
    list of LabelledLightCurve

    Raises
    ------
    InputError
        No such path, no readable table, a missing column, flux and label lists of different
        lengths, or no way to tell the star of a row.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import pyarrow as pa, pyarrow.parquet as pq
    >>> from fcn4flare.training import read_published_dataset
    >>> meta = {"kic_id": "008935655", "file_name": "kplr008935655-2009_llc.fits"}
    >>> table = pa.table({"flux_norm": [[1.0, 1.5, 1.0]], "label": [[False, True, False]],
    ...                   "metadata": [meta]})
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     pq.write_table(table, pathlib.Path(tmp) / "train-00000-of-00001.parquet")
    ...     (lc,) = read_published_dataset(tmp)
    >>> lc.star_id, lc.split, lc.labels.tolist()
    ('8935655', 'train', [0, 1, 0])
    """
    root = Path(path)
    if not root.exists():
        raise InputError(f"read_published_dataset: {root} does not exist.")
    files = _table_files(root)
    if not files:
        raise InputError(
            f"read_published_dataset: no .parquet or .arrow files found in {root}."
        )
    records: list[LabelledLightCurve] = []
    for file in files:
        table = _read_table(file)
        split = _split_from_path(file, root)
        records.extend(
            _records_from_table(table, file, split, flux_column, label_column, metadata_column)
        )
    if not records:
        raise InputError(f"read_published_dataset: {root} holds no rows.")
    return records


def _table_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    found = [
        p for p in root.rglob("*")
        if p.is_file() and p.suffix in (".parquet", ".arrow") and not p.name.startswith(".")
    ]
    return sorted(found)


def _read_table(file: Path) -> Any:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - pyarrow is in the test extra
        raise InputError(
            "Reading the published data set needs pyarrow: pip install pyarrow"
        ) from exc
    try:
        if file.suffix == ".parquet":
            return pq.read_table(file)
        try:
            with pa.memory_map(str(file)) as source:
                return pa.ipc.open_file(source).read_all()
        except pa.ArrowInvalid:
            with pa.memory_map(str(file)) as source:
                return pa.ipc.open_stream(source).read_all()
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"read_published_dataset: cannot read {file}: {exc}") from exc


def _split_from_path(file: Path, root: Path) -> str | None:
    parts = file.relative_to(root).parts if file != root else (file.name,)
    for part in parts:
        match = _SPLIT_PATTERN.match(part)
        if match:
            name = match.group(1).lower()
            return _SPLIT_ALIASES.get(name, name)
    return None


def _list_column(table: Any, name: str, file: Path) -> tuple[np.ndarray, np.ndarray]:
    """Flattened values and per-row lengths of a list column."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if name not in table.column_names:
        raise InputError(
            f"{file}: no column {name!r}; columns are {', '.join(table.column_names)}."
        )
    column = table.column(name).combine_chunks()
    if not pa.types.is_list(column.type) and not pa.types.is_large_list(column.type):
        raise InputError(f"{file}: column {name!r} must hold lists, not {column.type}.")
    lengths = pc.fill_null(pc.list_value_length(column), 0).to_numpy(zero_copy_only=False)
    values = column.flatten()
    if pa.types.is_boolean(values.type):
        values = pc.fill_null(values, False).cast(pa.int8())
    return values.to_numpy(zero_copy_only=False), lengths.astype(np.int64)


def _row_metadata(table: Any, metadata_column: str) -> list[dict[str, Any]]:
    scalar_columns = [
        name for name in table.column_names
        if name != metadata_column and not str(table.schema.field(name).type).startswith(
            ("list", "large_list")
        )
    ]
    rows = [{} for _ in range(table.num_rows)]
    for name in scalar_columns:
        for row, value in zip(rows, table.column(name).to_pylist(), strict=True):
            row[name.lower()] = value
    if metadata_column in table.column_names:
        for row, value in zip(rows, table.column(metadata_column).to_pylist(), strict=True):
            if isinstance(value, Mapping):
                row.update({str(k).lower(): v for k, v in value.items()})
    return rows


def _identify(meta: Mapping[str, Any], file: Path, row: int) -> tuple[str, str]:
    file_name = next((str(meta[k]) for k in FILE_KEYS if meta.get(k) not in (None, "")), None)
    star = next((meta[k] for k in STAR_ID_KEYS if meta.get(k) not in (None, "")), None)
    if star is None and file_name is not None:
        star = star_id_from_file_name(file_name)
    if star is None:
        raise InputError(
            f"{file}, row {row}: cannot tell which star this light curve belongs to. The "
            f"metadata needs one of {', '.join(STAR_ID_KEYS)} or a mission file name "
            f"(kplr/ktwo/tess...) under one of {', '.join(FILE_KEYS)}; found keys "
            f"{sorted(meta)}."
        )
    return normalise_star_id(star), file_name or f"{file.name}#{row}"


def _records_from_table(
    table: Any,
    file: Path,
    split: str | None,
    flux_column: str,
    label_column: str,
    metadata_column: str,
) -> list[LabelledLightCurve]:
    flux, flux_lengths = _list_column(table, flux_column, file)
    labels, label_lengths = _list_column(table, label_column, file)
    if not np.array_equal(flux_lengths, label_lengths):
        row = int(np.flatnonzero(flux_lengths != label_lengths)[0])
        raise InputError(
            f"{file}, row {row}: {flux_column} has {flux_lengths[row]} values but "
            f"{label_column} has {label_lengths[row]}."
        )
    flux = np.asarray(flux, dtype=np.float64)
    labels = np.asarray(labels).astype(np.int16)
    metadata = _row_metadata(table, metadata_column)
    offsets = np.concatenate([[0], np.cumsum(flux_lengths)])
    records = []
    for row in range(table.num_rows):
        start, stop = offsets[row], offsets[row + 1]
        if stop == start:
            continue
        star, name = _identify(metadata[row], file, row)
        row_labels = labels[start:stop]
        row_flux = flux[start:stop].copy()
        row_flux[row_labels == PADDING_LABEL] = np.nan
        records.append(
            LabelledLightCurve(row_flux, row_labels, star_id=star, file=name, split=split)
        )
    return records


# --------------------------------------------------------------------------- FITS + events


def read_events_csv(path: str | os.PathLike) -> dict[str, list[tuple[float, float]]]:
    """Read a CSV of flare events: file name -> list of (start, end) times.

    The CSV needs the columns ``file`` (the light-curve file's name, without folders),
    ``start`` and ``end`` (times in the file's own time system, e.g. BKJD or BTJD days);
    other columns are ignored. Files keep their order of first appearance, which the
    per-file split relies on.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from fcn4flare.training import read_events_csv
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = pathlib.Path(tmp) / "events.csv"
    ...     _ = path.write_text("file,start,end\\nb.fits,1.5,1.6\\na.fits,2.0,2.1\\n")
    ...     read_events_csv(path)
    {'b.fits': [(1.5, 1.6)], 'a.fits': [(2.0, 2.1)]}
    """
    path = Path(path)
    try:
        with open(path, newline="") as fh:
            reader = csv.DictReader(fh)
            fields = {name.strip().lower(): name for name in reader.fieldnames or ()}
            missing = [c for c in ("file", "start", "end") if c not in fields]
            if missing:
                raise InputError(
                    f"{path}: the events CSV needs columns file, start, end; missing "
                    f"{', '.join(missing)} (found {', '.join(fields) or 'none'})."
                )
            events: dict[str, list[tuple[float, float]]] = {}
            for line, row in enumerate(reader, start=2):
                try:
                    start, end = float(row[fields["start"]]), float(row[fields["end"]])
                except (TypeError, ValueError):
                    raise InputError(
                        f"{path}, line {line}: start and end must be numbers."
                    ) from None
                name = os.path.basename(str(row[fields["file"]]).strip())
                events.setdefault(name, []).append((start, end))
    except OSError as exc:
        raise InputError(f"Cannot read the events CSV {path}: {exc}") from exc
    return events


def _label_times(time_days: np.ndarray, events: Iterable[tuple[float, float]]) -> np.ndarray:
    """1 where ``start <= round(t, 4) <= end`` for any event, as the release labelled."""
    rounded = np.round(time_days, 4)
    labels = np.zeros(len(time_days), dtype=np.int8)
    for start, end in events:
        labels[(rounded >= start) & (rounded <= end)] = 1
    return labels


def read_fits_light_curve(
    path: str | os.PathLike,
    events: Sequence[tuple[float, float]] = (),
    *,
    quality_bitmask: str | int = "default",
) -> LabelledLightCurve:
    """Read a Kepler/K2/TESS light-curve file and label the samples inside the events.

    The file is read with ``lightkurve.read``; the flux is the PDCSAP flux, quality-flagged
    samples become NaN, and missing cadences are inserted (NaN flux, label ``-100``) so that
    the samples sit on a regular grid, as `fcn4flare.lightcurve` prepares them for the
    model. A sample is labelled 1 when its time, rounded to 4 decimals, lies in
    ``[start, end]`` of an event (the rule of the published data set).

    Parameters
    ----------
    path : path-like
        The FITS file.
    events : sequence of (start, end)
        Flare events in the file's time system (BKJD for Kepler/K2, BTJD for TESS).
    quality_bitmask : str or int
        Quality flags that blank a sample (lightkurve's names or an int).

    Returns
    -------
    LabelledLightCurve

    Examples
    --------
    >>> from fcn4flare.training import read_fits_light_curve
    >>> lc = read_fits_light_curve("kplr010002792-2009259160929_llc.fits",
    ...                            [(260.0, 260.1)])  # doctest: +SKIP
    """
    import lightkurve

    from ..lightcurve import prepare_light_curve

    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = lightkurve.read(str(path), quality_bitmask="none")
    except Exception as exc:  # lightkurve raises many types for unreadable files
        raise InputError(f"Cannot read the light curve {path}: {exc}") from exc
    prepared = prepare_light_curve(table, quality_bitmask=quality_bitmask)
    labels = _label_times(prepared.time_days, events)
    grid = prepared.grid()
    star = prepared.meta.get("target_id") or star_id_from_file_name(path.name) or path.stem
    cadence = None if prepared.cadence is None else float(prepared.cadence.to_value("min"))
    return LabelledLightCurve(
        grid.to_grid(prepared.flux),
        grid.to_grid(labels, fill=PADDING_LABEL),
        star_id=normalise_star_id(star),
        file=path.name,
        cadence_minutes=cadence,
    )


def _fits_files(directory: Path) -> dict[str, Path]:
    if not directory.is_dir():
        raise InputError(f"{directory} is not a directory of FITS files.")
    files: dict[str, Path] = {}
    for path in sorted(directory.rglob("*")):
        if path.is_file() and path.name.lower().endswith(_FITS_SUFFIXES):
            files.setdefault(path.name, path)
    if not files:
        raise InputError(f"No FITS files (*.fits, *.fits.gz) found in {directory}.")
    return files


def read_fits_directory(
    directory: str | os.PathLike,
    events_csv: str | os.PathLike,
    *,
    quality_bitmask: str | int = "default",
) -> list[LabelledLightCurve]:
    """Read every light-curve file under ``directory`` and label it from an events CSV.

    Files are matched to the CSV's ``file`` column by name (folders are ignored); a file
    without events is an example with no flare. The list starts with the files in the
    CSV's order of first appearance (the order the published per-file split used), then the
    others by name. Files that cannot be read are skipped with a warning.

    Parameters
    ----------
    directory : path-like
        Searched recursively for ``*.fits`` and ``*.fits.gz``.
    events_csv : path-like
        See `read_events_csv`.
    quality_bitmask : str or int
        See `read_fits_light_curve`.

    Returns
    -------
    list of LabelledLightCurve

    Examples
    --------
    >>> from fcn4flare.training import read_fits_directory
    >>> records = read_fits_directory("lightcurves/", "events.csv")  # doctest: +SKIP
    """
    files = _fits_files(Path(directory))
    events = read_events_csv(events_csv)
    unknown = [name for name in events if name not in files]
    if unknown:
        warnings.warn(
            f"{len(unknown)} file(s) of {events_csv} are not in {directory} and are ignored "
            f"(e.g. {unknown[:3]}).",
            FCN4FlareWarning,
        )
    order = [name for name in events if name in files]
    order += [name for name in files if name not in events]
    records, failed = [], []
    for name in order:
        try:
            records.append(
                read_fits_light_curve(
                    files[name], events.get(name, ()), quality_bitmask=quality_bitmask
                )
            )
        except InputError as exc:
            failed.append(f"{name}: {exc}")
    if failed:
        warnings.warn(
            f"{len(failed)} file(s) could not be used and were skipped; first: {failed[0]}",
            FCN4FlareWarning,
        )
    if not records:
        raise InputError(f"None of the FITS files in {directory} could be read.")
    return records


def load_backgrounds(
    directory: str | os.PathLike,
    cadences: Mapping[str, float],
    *,
    quality_bitmask: str | int = "default",
    tolerance: float = 0.1,
) -> dict[str, list[np.ndarray]]:
    """Read light curves to serve as real backgrounds of simulated flares.

    Each file's flux is divided by its median and filed under the cadence of ``cadences``
    closest to its own (within ``tolerance``, relative); files matching no cadence are
    skipped with a warning. Any flares already in these light curves will be labelled as
    no flare, so choose quiet stars.

    Parameters
    ----------
    directory : path-like
        Searched recursively for FITS light-curve files.
    cadences : mapping
        Cadence name -> minutes (``fcn4flare.simulate.CADENCES``).
    quality_bitmask : str or int
        See `read_fits_light_curve`.
    tolerance : float
        Largest relative difference between a file's cadence and the matched one.

    Returns
    -------
    dict
        Cadence name -> list of relative-flux arrays (NaN in gaps).

    Examples
    --------
    >>> from fcn4flare.training import load_backgrounds
    >>> backgrounds = load_backgrounds("quiet_stars/", {"kepler_long": 29.4})  # doctest: +SKIP
    """
    found: dict[str, list[np.ndarray]] = {}
    skipped = []
    for name, path in _fits_files(Path(directory)).items():
        try:
            record = read_fits_light_curve(path, quality_bitmask=quality_bitmask)
        except InputError as exc:
            skipped.append(f"{name}: {exc}")
            continue
        minutes = record.cadence_minutes
        best = None
        if minutes:
            best = min(cadences, key=lambda c: abs(cadences[c] - minutes))
            if abs(cadences[best] - minutes) > tolerance * cadences[best]:
                best = None
        if best is None:
            skipped.append(f"{name}: cadence {minutes} min matches none of {dict(cadences)}")
            continue
        flux = record.flux / np.nanmedian(record.flux)
        found.setdefault(best, []).append(flux)
    if skipped:
        warnings.warn(
            f"{len(skipped)} background file(s) skipped; first: {skipped[0]}", FCN4FlareWarning
        )
    if not found:
        raise InputError(f"No usable background light curves in {directory}.")
    return found
