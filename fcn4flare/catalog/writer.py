"""The one writer of the package: every file goes to a temporary name and is renamed into place.

A file written by fcn4flare is first written under a hidden temporary name in its own
directory (``.tmp-<random>-<name>``, so that it keeps its suffixes), flushed to disk
(``fsync``) and then renamed over the destination with `os.replace`, which is atomic on
POSIX and Windows. Readers therefore see either the previous file or the complete new one,
never a half-written one; on an error the temporary is removed and the previous file is left
as it was. (A process killed with SIGKILL cannot clean up: its hidden temporary stays, the
destination is untouched.)

- `atomic_path`: a context manager giving the temporary path to write to, for writers that
  take a file name (astropy, matplotlib's ``savefig``, ...);
- `atomic_open`: the same for code that writes to an open file;
- `write_table`: an astropy table (e.g. a `~fcn4flare.catalog.FlareTable`) in the format
  given by its suffix (`TABLE_SUFFIXES`), with full precision in text formats;
- `check_output` and `check_directory`: the checks to make *before* a long run, so that it
  does not fail at its end (unknown suffix, missing or read-only directory, existing file).
"""

from __future__ import annotations

import contextlib
import errno
import importlib.util
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from ..exceptions import InputError

__all__ = [
    "TABLE_SUFFIXES",
    "atomic_open",
    "atomic_path",
    "check_directory",
    "check_output",
    "table_format",
    "write_table",
]

#: Catalogue suffixes and the astropy format each one is written in. ``.parquet`` needs
#: pyarrow. ``.txt`` is an aligned plain-text table (read it back with ``format="ascii"``).
TABLE_SUFFIXES: dict[str, str] = {
    ".ecsv": "ascii.ecsv",
    ".fits": "fits",
    ".fit": "fits",
    ".fits.gz": "fits",
    ".csv": "ascii.csv",
    ".parquet": "parquet",
    ".txt": "ascii.fixed_width_two_line",
}

# Formats that store the display formats (``col.info.format``) as metadata without applying
# them to the values. Every other format is written with the display formats removed, so that
# text keeps every digit (``repr`` of each float) and reads back to the same numbers.
_KEEPS_DISPLAY_FORMATS = frozenset({"ascii.ecsv", "ecsv", "fits", "parquet", "hdf5"})

_TMP_PREFIX = ".tmp-"
_MAX_NAME_BYTES = 255


# --------------------------------------------------------------------------- formats


def _suffix_of(path: str | os.PathLike) -> str:
    """The longest entry of `TABLE_SUFFIXES` that ends the name, else its last suffix."""
    name = Path(path).name.lower()
    matches = [suffix for suffix in TABLE_SUFFIXES if name.endswith(suffix)]
    if matches:
        return max(matches, key=len)
    return Path(name).suffix


def _supported() -> str:
    return ", ".join(TABLE_SUFFIXES)


def table_format(
    path: str | os.PathLike,
    format: str | None = None,
    *,
    strict: bool = True,
    label: str | None = None,
) -> str:
    """The astropy format a table written to ``path`` is written in.

    Parameters
    ----------
    path : path-like
        The destination; its suffix chooses the format (`TABLE_SUFFIXES`).
    format : str, optional
        An astropy format name; when given it is returned as is.
    strict : bool
        True (default): only the suffixes of `TABLE_SUFFIXES`. False: other suffixes that
        astropy recognises (``.html``, ``.tex``, ``.hdf5``, ...) are accepted too.
    label : str, optional
        How the file is named in error messages (e.g. ``"--output"``).

    Returns
    -------
    str

    Raises
    ------
    InputError
        An unknown suffix (the message lists the supported ones), or ``.parquet`` without
        pyarrow.

    Examples
    --------
    >>> from fcn4flare.catalog.writer import table_format
    >>> table_format("flares.fits.gz"), table_format("FLARES.CSV")
    ('fits', 'ascii.csv')
    >>> table_format("flares.xyz")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    fcn4flare.exceptions.InputError: flares.xyz: unknown catalogue format '.xyz'; ...
    """
    if format is not None:
        return format
    named = f"{label} {os.fspath(path)}" if label else os.fspath(path)
    suffix = _suffix_of(path)
    if suffix in TABLE_SUFFIXES:
        chosen = TABLE_SUFFIXES[suffix]
        if chosen == "parquet" and importlib.util.find_spec("pyarrow") is None:
            raise InputError(
                f"{named}: writing {suffix} needs pyarrow (pip install pyarrow); "
                f"or use another suffix: {_supported()}."
            )
        return chosen
    if not strict:
        from astropy.io import registry
        from astropy.table import QTable

        found = registry.identify_format("write", QTable, os.fspath(path), None, [], {})
        if len(found) == 1:
            return found[0]
    shown = f"'{suffix}'" if suffix else "(no suffix)"
    raise InputError(
        f"{named}: unknown catalogue format {shown}; use one of the suffixes "
        f"{_supported()}" + ("" if strict else ", or pass format=") + "."
    )


# --------------------------------------------------------------------------- checks


def check_directory(
    path: str | os.PathLike, *, create: bool = True, label: str = "directory"
) -> Path:
    """Make sure files can be written in the directory ``path`` (creating it if asked).

    Writability is tested by creating and removing a hidden temporary file there.

    Parameters
    ----------
    path : path-like
    create : bool
        Create the directory (and its parents) when missing.
    label : str
        How the directory is named in error messages (e.g. ``"--plot-dir"``).

    Returns
    -------
    Path

    Raises
    ------
    InputError
        The directory is missing (with ``create=False``), cannot be created, is a file, or
        cannot be written in.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from fcn4flare.catalog.writer import check_directory
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     folder = check_directory(pathlib.Path(tmp) / "plots" / "run1")
    ...     folder.is_dir(), list(folder.iterdir())
    (True, [])
    """
    folder = Path(path)
    if create:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise InputError(f"{label} {folder} exists and is not a directory.") from None
        except OSError as err:
            raise InputError(f"{label} {folder} cannot be created: {_why(err)}.") from None
    elif not folder.exists():
        raise InputError(f"{label}: directory {folder} does not exist.")
    if not folder.is_dir():
        raise InputError(f"{label}: {folder} is not a directory.")
    try:
        probe, fd = _create_temporary(folder, "write-probe")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise InputError(f"{label}: cannot write in directory {folder}: {_why(err)}.") from None
    return folder


def check_output(
    path: str | os.PathLike,
    *,
    overwrite: bool = False,
    format: str | None = None,
    label: str = "output",
) -> str:
    """Check, before any work, that a catalogue can be written to ``path``.

    Nothing is created but a temporary probe file, which is removed.

    Parameters
    ----------
    path : path-like
        The catalogue to write; its suffix gives the format unless ``format`` is given.
    overwrite : bool
        Whether an existing file may be replaced.
    format : str, optional
        An astropy format name, instead of the suffix's.
    label : str
        How the file is named in error messages (e.g. ``"--output"``).

    Returns
    -------
    str
        The astropy format to pass to `write_table`.

    Raises
    ------
    InputError
        Unknown suffix (the message lists the supported ones), missing or unwritable
        directory, a directory at ``path``, or an existing file without ``overwrite``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from fcn4flare.catalog.writer import check_output
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     check_output(pathlib.Path(tmp) / "flares.ecsv")
    'ascii.ecsv'
    """
    target = Path(path)
    chosen = table_format(target, format, label=label)
    if target.is_dir():
        raise InputError(
            f"{label} {target} is a directory; give a file name such as {target / 'flares.ecsv'}."
        )
    if target.exists() and not overwrite:
        raise InputError(f"{label} {target} exists; pass overwrite=True to replace it.")
    folder = _real(target).parent
    if not folder.exists():
        raise InputError(f"{label} {target}: directory {folder} does not exist.")
    check_directory(folder, create=False, label=f"{label} {target}")
    return chosen


# --------------------------------------------------------------------------- atomic files


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, overwrite: bool = True) -> Iterator[Path]:
    """Give a temporary path to write to; rename it to ``path`` when the block succeeds.

    The temporary is created (empty) in the destination's directory with a name ending in
    the destination's name, so that writers choosing a format or compression from the
    suffix (``.fits.gz``, ``.png``) do the right thing. When the block ends without an
    error, the file is flushed to disk, given the mode of the file it replaces (or the
    umask's default) and renamed into place; the directory is then flushed too. When the
    block raises (``KeyboardInterrupt`` included), the temporary is removed and ``path`` is
    left as it was.

    Parameters
    ----------
    path : path-like
        The destination. A symbolic link is followed: its target is replaced.
    overwrite : bool
        False: raise `FileExistsError` if ``path`` exists, before the block runs and again
        (atomically, where the file system has hard links) when the file is put in place.

    Yields
    ------
    Path
        The temporary file; writers must be allowed to overwrite it.

    Raises
    ------
    FileExistsError
        ``path`` exists and ``overwrite`` is False.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from fcn4flare.catalog.writer import atomic_path
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     out = pathlib.Path(tmp) / "notes.txt"
    ...     with atomic_path(out) as part:
    ...         _ = part.write_text("all or nothing")
    ...     out.read_text(), [p.name for p in pathlib.Path(tmp).iterdir()]
    ('all or nothing', ['notes.txt'])
    """
    target = _real(Path(path))
    if not overwrite and os.path.lexists(target):
        raise _exists(target)
    tmp, fd = _create_temporary(target.parent, target.name)
    os.close(fd)
    try:
        yield tmp
        _fsync_file(tmp)
        os.chmod(tmp, _mode_for(target))
        _put_in_place(tmp, target, overwrite)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(target.parent)


@contextlib.contextmanager
def atomic_open(
    path: str | os.PathLike, mode: str = "w", *, overwrite: bool = True, **kwargs: Any
) -> Iterator[IO[Any]]:
    """``open()`` for writing, through `atomic_path`: ``path`` appears only once complete.

    Parameters
    ----------
    path : path-like
    mode : str
        ``"w"`` or ``"wb"`` (``"x"``/``"xb"`` mean ``overwrite=False``).
    overwrite : bool
        See `atomic_path`.
    **kwargs
        Passed to ``open()`` (``encoding``, ``newline``, ...).

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> from fcn4flare.catalog.writer import atomic_open
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     with atomic_open(pathlib.Path(tmp) / "a.json") as stream:
    ...         json.dump({"n": 1}, stream)
    ...     json.loads((pathlib.Path(tmp) / "a.json").read_text())
    {'n': 1}
    """
    if mode.replace("b", "") not in ("w", "x"):
        raise InputError(f"atomic_open writes new files: mode 'w' or 'wb', got {mode!r}")
    if "x" in mode:
        overwrite, mode = False, mode.replace("x", "w")
    with atomic_path(path, overwrite=overwrite) as tmp, open(tmp, mode, **kwargs) as stream:
        yield stream
        stream.flush()


def write_table(
    table: Any,
    output: Any,
    *args: Any,
    format: str | None = None,
    overwrite: bool = False,
    strict: bool = False,
    **kwargs: Any,
) -> Any:
    """Write an astropy table atomically, text formats with every digit.

    What `~fcn4flare.catalog.FlareTable.write` does. The format comes from the suffix of
    ``output`` (`TABLE_SUFFIXES`, or any astropy knows unless ``strict``) or ``format``.
    Display formats (``col.info.format``, e.g. the 3 decimals of ``score``) are kept where
    the format stores them without applying them (ECSV, FITS, Parquet, HDF5) and removed
    otherwise, so that a CSV or text table reads back to exactly the same floats.

    Parameters
    ----------
    table : `~astropy.table.Table`
    output : path-like or file-like
        A file-like object is written to directly (no atomic rename is possible).
    *args, **kwargs
        Passed to astropy's ``Table.write`` (``serialize_meta``, ``serialize_method``,
        ``write_indices``, ...).
    format : str, optional
        Astropy format name.
    overwrite : bool
        Replace an existing file; otherwise `FileExistsError` (an `OSError`, as astropy).
    strict : bool
        Accept only the suffixes of `TABLE_SUFFIXES` (see `table_format`).

    Returns
    -------
    Path or the file-like ``output``

    Examples
    --------
    >>> import io
    >>> from astropy.table import Table
    >>> from fcn4flare.catalog.writer import write_table
    >>> t = Table({"score": [0.999994]})
    >>> t["score"].info.format = ".3f"
    >>> stream = write_table(t, io.StringIO(), format="ascii.csv")
    >>> stream.getvalue().split()
    ['score', '0.999994']
    """
    from astropy.table.connect import TableWrite

    if not isinstance(output, (str, os.PathLike)):
        plain = _for_format(table, format)
        TableWrite(plain, type(plain))(output, *args, format=format, overwrite=overwrite,
                                       **kwargs)
        return output
    chosen = table_format(output, format, strict=strict)
    plain = _for_format(table, chosen)
    with atomic_path(output, overwrite=overwrite) as tmp:
        TableWrite(plain, type(plain))(tmp, *args, format=chosen, overwrite=True, **kwargs)
    return Path(output)


# --------------------------------------------------------------------------- helpers


def _for_format(table: Any, format: str | None) -> Any:
    """``table``, or a copy sharing its data without display formats (for text formats)."""
    if format in _KEEPS_DISPLAY_FORMATS:
        return table
    if not any(getattr(table[name].info, "format", None) for name in table.colnames):
        return table
    plain = table.copy(copy_data=False)
    for name in plain.colnames:
        if getattr(plain[name].info, "format", None) is not None:
            plain[name].info.format = None
    return plain


def _real(path: Path) -> Path:
    """A symbolic link's target (so that the link is kept and its file replaced)."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def _create_temporary(folder: Path, name: str) -> tuple[Path, int]:
    """Create ``folder/.tmp-<random>-<name>`` exclusively; return its path and descriptor."""
    for _ in range(100):
        token = secrets.token_hex(4)
        candidate = f"{_TMP_PREFIX}{token}-{name}"
        if len(os.fsencode(candidate)) > _MAX_NAME_BYTES:
            candidate = f"{_TMP_PREFIX}{token}{_tail(name)}"
        tmp = folder / candidate
        try:
            # 0o666: the umask applies, as for a file made by open().
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                         0o666)
        except FileExistsError:
            continue
        return tmp, fd
    raise FileExistsError(errno.EEXIST, "no free temporary name", os.fspath(folder))


def _tail(name: str) -> str:
    """The suffixes of a name, at most 40 characters (for names too long to extend)."""
    suffix = "".join(Path(name).suffixes[-2:])
    return suffix[-40:] if len(suffix) <= 40 else ""


def _mode_for(target: Path) -> int:
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _put_in_place(tmp: Path, target: Path, overwrite: bool) -> None:
    if overwrite:
        os.replace(tmp, target)
        return
    try:
        os.link(tmp, target)  # fails if target exists: no race with another writer
    except FileExistsError:
        raise _exists(target) from None
    except OSError:  # no hard links on this file system
        if os.path.lexists(target):
            raise _exists(target) from None
        os.replace(tmp, target)
        return
    os.unlink(tmp)


def _exists(target: Path) -> FileExistsError:
    return FileExistsError(
        errno.EEXIST,
        f'File {target} already exists. If you mean to replace it then use the argument '
        f'"overwrite=True".',
    )


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_directory(folder: Path) -> None:
    """Flush the rename to disk (POSIX; a no-op where directories cannot be opened)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _why(err: OSError) -> str:
    return err.strerror or str(err)
