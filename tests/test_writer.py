"""Tests of fcn4flare.catalog.writer: atomic writes, full precision, checks before the work."""

from __future__ import annotations

import errno
import io
import os
import stat

import numpy as np
import pytest
from astropy.io.registry import compat
from astropy.time import Time

from fcn4flare.catalog import FlareTable, writer
from fcn4flare.catalog.writer import (
    TABLE_SUFFIXES,
    atomic_open,
    atomic_path,
    check_directory,
    check_output,
    table_format,
    write_table,
)
from fcn4flare.exceptions import InputError

HAVE_PYARROW = writer.importlib.util.find_spec("pyarrow") is not None
SUFFIXES = [
    ".ecsv", ".fits", ".fit", ".fits.gz", ".csv", ".txt",
    pytest.param(".parquet", marks=pytest.mark.skipif(not HAVE_PYARROW, reason="no pyarrow")),
]  # fmt: skip
TEXT_SUFFIXES = [".csv", ".txt"]
FLOAT_COLUMNS = ("duration", "amplitude", "equivalent_duration", "score", "max_score")
POSIX = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")


def catalogue(scores=(0.999994, 0.1234567890123)) -> FlareTable:
    """Two flares whose floats need every digit (display formats round all of them)."""
    n = 400
    time = Time(59000.0 + np.arange(n) * 2.0 / 1440.0, format="mjd", scale="tdb")
    flux = np.ones(n)
    flux[100:105] = [1.123456789012345, 1.0734, 1.03, 1.02, 1.01]
    flux[250:253] = [1.000123456789, 1.00007, 1.00003]
    return FlareTable.from_events(
        time, flux, [100, 250], None, [104, 252], scores, [0.99999999, 0.5 + 1e-12],
        meta={"TARGET": "KIC 1234567"},
    )


def read_back(path) -> FlareTable:
    text = path.name.endswith(".txt")
    return FlareTable.read(path, format="ascii") if text else FlareTable.read(path)


def failing_write(after: BaseException):
    """A registry ``write`` that writes the real file, cuts it in half, then raises."""
    real = compat.default_registry.write

    def write(data, *args, **kwargs):
        real(data, *args, **kwargs)
        with open(args[0], "r+b") as stream:
            stream.truncate(max(1, os.path.getsize(args[0]) // 2))
        raise after

    return write


def recording_write(calls: list):
    real = compat.default_registry.write

    def write(data, *args, **kwargs):
        calls.append(os.fspath(args[0]))
        return real(data, *args, **kwargs)

    return write


# --------------------------------------------------------------------------- precision


@pytest.mark.parametrize("suffix", TEXT_SUFFIXES)
def test_text_formats_keep_every_digit(tmp_path, suffix):
    table = catalogue()
    path = tmp_path / f"flares{suffix}"
    table.write(path)
    text = path.read_text()
    assert "0.999994" in text and "0.1234567890123" in text
    back = read_back(path)
    for name in FLOAT_COLUMNS:
        np.testing.assert_array_equal(np.asarray(back[name], dtype=float), table[name].value)
    # the display formats are still there for printing
    assert table["max_score"].info.format == ".3f"
    assert "1.000" in "\n".join(table.pformat(max_width=-1))


def test_explicit_format_and_file_like_output_keep_every_digit(tmp_path):
    table = catalogue()
    table.write(tmp_path / "flares.dat", format="ascii.csv")
    assert "0.999994" in (tmp_path / "flares.dat").read_text()
    stream = io.StringIO()
    table.write(stream, format="ascii.csv")
    assert "0.999994" in stream.getvalue()


# --------------------------------------------------------------------------- atomicity


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_written_through_a_temporary_in_the_same_directory(tmp_path, suffix, monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(compat.default_registry, "write", recording_write(calls))
    path = tmp_path / f"flares{suffix}"
    table = catalogue()
    table.write(path)
    [written] = calls
    assert written != str(path)
    assert os.path.dirname(written) == str(tmp_path)
    assert os.path.basename(written).startswith(".tmp-") and written.endswith(path.name)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]
    back = read_back(path)  # and it is the complete file, every float exact
    for name in FLOAT_COLUMNS:
        np.testing.assert_array_equal(np.asarray(back[name], dtype=float), table[name].value)
    if suffix.endswith(".gz"):  # the temporary kept the suffix that asks for compression
        assert path.read_bytes()[:2] == b"\x1f\x8b"


@pytest.mark.parametrize("error", [OSError(errno.ENOSPC, "No space left on device"),
                                   KeyboardInterrupt()], ids=["disk-full", "interrupt"])
@pytest.mark.parametrize("suffix", SUFFIXES)
def test_failed_write_keeps_the_previous_file(tmp_path, suffix, error, monkeypatch):
    path = tmp_path / f"flares{suffix}"
    catalogue().write(path)
    before = path.read_bytes()
    monkeypatch.setattr(compat.default_registry, "write", failing_write(error))
    with pytest.raises(type(error)):
        catalogue(scores=(0.1, 0.2)).write(path, overwrite=True)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_failed_write_creates_nothing(tmp_path, suffix, monkeypatch):
    monkeypatch.setattr(compat.default_registry, "write",
                        failing_write(OSError(errno.EIO, "I/O error")))
    with pytest.raises(OSError, match="I/O error"):
        catalogue().write(tmp_path / f"flares{suffix}")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_existing_file_is_refused_before_writing(tmp_path, suffix, monkeypatch):
    path = tmp_path / f"flares{suffix}"
    path.write_bytes(b"previous")
    calls: list[str] = []
    monkeypatch.setattr(compat.default_registry, "write", recording_write(calls))
    with pytest.raises(FileExistsError, match="overwrite=True"):
        catalogue().write(path)
    assert calls == [] and path.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_data_is_flushed_before_the_rename(tmp_path, monkeypatch):
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}") if os.path.isdir(
            "/proc/self/fd") else str(fd)))
        return real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", os.fspath(src)))
        return real_replace(src, dst)

    monkeypatch.setattr(writer.os, "fsync", fsync)
    monkeypatch.setattr(writer.os, "replace", replace)
    catalogue().write(tmp_path / "flares.ecsv", overwrite=True)
    kinds = [kind for kind, _ in events]
    assert kinds[:2] == ["fsync", "replace"]  # the file, then the rename (then the folder)
    if os.path.isdir("/proc/self/fd"):
        assert events[0][1] == events[1][1]  # the temporary that is renamed was flushed


@POSIX
def test_mode_follows_the_umask_and_the_replaced_file(tmp_path):
    path = tmp_path / "flares.csv"
    umask = os.umask(0o022)
    try:
        catalogue().write(path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
        path.chmod(0o640)
        catalogue().write(path, overwrite=True)
        assert stat.S_IMODE(path.stat().st_mode) == 0o640
    finally:
        os.umask(umask)


@POSIX
def test_a_symbolic_link_is_kept_and_its_target_replaced(tmp_path):
    target = tmp_path / "real.ecsv"
    catalogue().write(target)
    link = tmp_path / "flares.ecsv"
    link.symlink_to(target)
    catalogue(scores=(0.25, 0.75)).write(link, overwrite=True)
    assert link.is_symlink()
    assert FlareTable.read(target)["score"].tolist() == [0.25, 0.75]


def test_atomic_open_and_path(tmp_path):
    path = tmp_path / "notes.txt"
    with atomic_open(path) as stream:
        stream.write("first")
    with pytest.raises(ZeroDivisionError), atomic_open(path) as stream:
        stream.write("second, half")
        1 / 0  # noqa: B018
    assert path.read_text() == "first"
    with pytest.raises(FileExistsError), atomic_open(path, "x") as stream:
        stream.write("never")
    with atomic_path(tmp_path / "plot.png") as part:
        assert part.parent == tmp_path and part.name.endswith("plot.png") and part.exists()
        part.write_bytes(b"\x89PNG")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "plot.png"]


# --------------------------------------------------------------------------- checks


def test_unknown_suffix_lists_the_supported_ones(tmp_path):
    with pytest.raises(InputError) as info:
        catalogue().write(tmp_path / "flares.xyz")
    message = str(info.value)
    assert "unknown catalogue format '.xyz'" in message
    assert all(suffix in message for suffix in TABLE_SUFFIXES)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("a.ecsv", "ascii.ecsv"), ("a.FITS", "fits"), ("a.fit", "fits"), ("a.fits.gz", "fits"),
     ("a.csv", "ascii.csv"), ("a.txt", "ascii.fixed_width_two_line")],
)
def test_format_from_the_suffix(name, fmt):
    assert table_format(name) == fmt


def test_parquet_without_pyarrow_is_a_clear_error(monkeypatch):
    real = writer.importlib.util.find_spec
    monkeypatch.setattr(writer.importlib.util, "find_spec",
                        lambda name, *a: None if name == "pyarrow" else real(name, *a))
    with pytest.raises(InputError, match="needs pyarrow"):
        table_format("flares.parquet")


def test_check_output(tmp_path):
    assert check_output(tmp_path / "flares.fits.gz") == "fits"
    assert list(tmp_path.iterdir()) == []  # the probe is removed
    with pytest.raises(InputError, match="directory .*missing does not exist"):
        check_output(tmp_path / "missing" / "flares.ecsv")
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="is not a directory"):
        check_output(tmp_path / "file" / "flares.ecsv")
    (tmp_path / "old.csv").write_text("previous")
    with pytest.raises(InputError, match="exists; pass overwrite=True"):
        check_output(tmp_path / "old.csv")
    assert check_output(tmp_path / "old.csv", overwrite=True) == "ascii.csv"
    (tmp_path / "folder.ecsv").mkdir()
    with pytest.raises(InputError, match="is a directory"):
        check_output(tmp_path / "folder.ecsv", overwrite=True)


def test_unwritable_directory_is_reported(tmp_path, monkeypatch):
    def refuse(folder, name):
        raise PermissionError(errno.EACCES, "Permission denied", os.fspath(folder))

    monkeypatch.setattr(writer, "_create_temporary", refuse)
    with pytest.raises(InputError, match="cannot write in directory .*Permission denied"):
        check_output(tmp_path / "flares.ecsv", label="--output")
    with pytest.raises(InputError, match="--plot-dir: cannot write in directory"):
        check_directory(tmp_path, label="--plot-dir")


@POSIX
@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes anywhere")
def test_read_only_directory_is_reported(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(InputError, match="cannot write in directory"):
            check_output(folder / "flares.ecsv")
    finally:
        folder.chmod(0o755)


def test_check_directory_creates_or_explains(tmp_path):
    folder = check_directory(tmp_path / "a" / "b")
    assert folder.is_dir() and list(folder.iterdir()) == []
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="exists and is not a directory"):
        check_directory(tmp_path / "file")
    with pytest.raises(InputError, match="cannot be created"):
        check_directory(tmp_path / "file" / "sub")
    with pytest.raises(InputError, match="does not exist"):
        check_directory(tmp_path / "nope", create=False)


def test_write_table_for_plain_astropy_tables(tmp_path):
    from astropy.table import Table

    table = Table({"x": [1 / 3]})
    table["x"].info.format = ".2f"
    path = write_table(table, tmp_path / "x.csv")
    assert path.read_text().split() == ["x", repr(1 / 3)]
    with pytest.raises(InputError, match="or pass format="):
        write_table(table, tmp_path / "x.unknown")
