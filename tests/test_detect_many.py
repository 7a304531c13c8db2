"""Catalogue runs (`fcn4flare.detect_many`, ``fcn4flare detect``): the store on disk, resume
after SIGKILL, the status table, outputs, bad input and a Dask cluster (worker processes on
one machine take the same path, tested in ``test_batch.py``).

Every run uses the tiny ``threshold_model_dir`` of ``conftest.py`` on ``survey``: 29 short
synthetic Kepler light curves and one corrupt file.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table
from astropy.time import Time
from conftest import write_light_curve_fits

import fcn4flare
from fcn4flare import cli
from fcn4flare.catalog import FlareTable, writer
from fcn4flare.detection import catalogue_run, detect_flares_in_files, detect_many
from fcn4flare.exceptions import FCN4FlareWarning, InputError

N_GOOD = 29
CORRUPT = "zz_corrupt.fits"
POSIX_KILL = pytest.mark.skipif(os.name != "posix" or not hasattr(signal, "SIGKILL"),
                                reason="POSIX SIGKILL")


@pytest.fixture(scope="module")
def survey(tmp_path_factory) -> Path:
    """29 Kepler-like light curves of 200 rows (1 or 2 flares each) and a corrupt file."""
    folder = tmp_path_factory.mktemp("survey")
    for k in range(N_GOOD):
        rows = (40,) if k % 3 else (40, 130)
        write_light_curve_fits(folder / f"kplr{k:09d}-2010009091648_llc.fits", "Kepler",
                               n=200, flare_rows=rows, seed=k)
    (folder / CORRUPT).write_bytes(b"SIMPLE  = T  but not a FITS file" * 40)
    return folder


@pytest.fixture(scope="module")
def reference(survey, threshold_model_dir, tmp_path_factory):
    """An uninterrupted run directory (default groups of 8) and its two tables."""
    folder = tmp_path_factory.mktemp("reference") / "run"
    detect_many(survey, output=folder, model=threshold_model_dir, progress=False)
    return folder, FlareTable.read(folder / "flares.ecsv"), Table.read(folder / "status.ecsv")


def _run(sources, model, **kwargs):
    kwargs.setdefault("progress", False)
    return detect_many(sources, model=model, **kwargs)


def _assert_same_catalogue(a, b, *, exact=True):
    """Equal tables; ``exact=False``: the model's scores to 1e-9 (other processes may sum
    in another order with another number of threads)."""
    assert a.colnames == b.colnames
    assert len(a) == len(b)
    for name in a.colnames:
        if isinstance(a[name], Time):
            np.testing.assert_array_equal(a[name].jd1, b[name].jd1)
            np.testing.assert_array_equal(a[name].jd2, b[name].jd2)
            assert a[name].format == b[name].format
        elif not exact and name in ("score", "max_score"):
            np.testing.assert_allclose(_values(a[name]), _values(b[name]), rtol=1e-9)
        else:
            np.testing.assert_array_equal(_values(a[name]), _values(b[name]))
    assert a.meta == b.meta


def _values(column):
    values = np.asarray(column)
    return np.char.decode(values) if values.dtype.kind == "S" else values  # FITS: bytes


def _text(value):
    if np.ma.is_masked(value):  # ECSV and CSV read empty strings back masked
        return ""
    return value.decode() if isinstance(value, bytes) else str(value)  # FITS: bytes


def _status_rows(status):
    """The status table without its timings (they differ from run to run)."""
    return [(_text(f), _text(s), int(n), _text(e))
            for f, s, n, e in zip(status["file"], status["status"], status["n_flares"],
                                  status["error"], strict=True)]


def _store(folder):
    return folder / catalogue_run.STORE_NAME


# --------------------------------------------------------------------------- in memory


def test_status_table_and_the_legacy_function(survey, threshold_model_dir):
    result = _run(survey, threshold_model_dir)
    status = result.status
    assert status.colnames == ["file", "status", "n_flares", "seconds", "error"]
    assert len(status) == N_GOOD + 1
    ok = status["status"] == "ok"
    assert ok.sum() == N_GOOD and status["status"][~ok].tolist() == ["failed"]
    assert status["file"][~ok][0].endswith(CORRUPT) and status["error"][~ok][0]
    assert np.all(status["seconds"][ok] > 0)
    files, counts = np.unique(np.asarray(result.table["file"]), return_counts=True)
    per_file = dict(zip(files, counts, strict=True))
    assert [per_file.get(f, 0) for f in status["file"]] == status["n_flares"].tolist()
    assert int(status["n_flares"].sum()) == len(result.table) == 39
    legacy = detect_flares_in_files(survey, model=threshold_model_dir, progress=False)
    _assert_same_catalogue(result.table, legacy.table)
    assert legacy.failures == result.failures and legacy.processed == result.processed
    assert _status_rows(legacy.status) == _status_rows(status)
    assert fcn4flare.detect_many is detect_many
    assert "detect_many" in fcn4flare.detection.__all__


# --------------------------------------------------------------------------- outputs


@pytest.mark.parametrize("format", ["ecsv", "fits", "parquet"])
def test_run_directory_in_each_format(format, survey, threshold_model_dir, reference,
                                      tmp_path):
    if format == "parquet":
        pytest.importorskip("pyarrow")
    _, flares, status = reference
    folder = tmp_path / "run"
    result = _run(survey, threshold_model_dir, output=folder, format=format, group_size=5)
    assert sorted(p.name for p in folder.iterdir()) == [f"flares.{format}", f"status.{format}"]
    _assert_same_catalogue(FlareTable.read(folder / f"flares.{format}"), flares)
    _assert_same_catalogue(result.table, flares)
    assert _status_rows(Table.read(folder / f"status.{format}")) == _status_rows(status)
    # resumed: every file is skipped, the outputs are rewritten the same
    again = _run(survey, threshold_model_dir, output=folder)
    assert set(again.status["status"]) == {"skipped"}
    _assert_same_catalogue(again.table, flares)
    assert again.processed == result.processed and again.failures == result.failures


def test_catalogue_file_with_or_without_status(survey, threshold_model_dir, reference,
                                               tmp_path):
    _, flares, status = reference
    result = _run(survey, threshold_model_dir, output=tmp_path / "flares.fits")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flares.fits"]
    _assert_same_catalogue(FlareTable.read(tmp_path / "flares.fits"), result.table)
    with pytest.raises(InputError, match="holds no run to resume; pass overwrite=True"):
        _run(survey, threshold_model_dir, output=tmp_path / "flares.fits")
    _run(survey, threshold_model_dir, output=tmp_path / "flares.fits", overwrite=True,
         status_file=tmp_path / "status.ecsv")
    assert _status_rows(Table.read(tmp_path / "status.ecsv")) == _status_rows(status)
    again = _run(survey, threshold_model_dir, output=tmp_path / "flares.fits",
                 status_file=tmp_path / "status.ecsv")  # a status table makes it resumable
    assert set(again.status["status"]) == {"skipped"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flares.fits", "status.ecsv"]
    with pytest.raises(InputError, match="status table must be ECSV, FITS or Parquet"):
        _run(survey, threshold_model_dir, output=tmp_path / "flares.fits",
             status_file=tmp_path / "status.csv")


def test_a_finished_run_grows_with_new_files(survey, threshold_model_dir, reference, tmp_path):
    folder, flares, status = reference
    files = sorted(str(p) for p in survey.iterdir())
    first = _run(files[:12], threshold_model_dir, output=tmp_path / "run")
    assert first.status["status"].tolist() == ["ok"] * 12
    grown = _run(files, threshold_model_dir, output=tmp_path / "run")
    assert grown.status["status"].tolist() == ["skipped"] * 12 + ["ok"] * 17 + ["failed"]
    np.testing.assert_array_equal(grown.status["seconds"][:12], first.status["seconds"])
    _assert_same_catalogue(grown.table, flares)
    assert _status_rows(Table.read(tmp_path / "run" / "status.ecsv")) == _status_rows(status)


def test_retry_failed(survey, threshold_model_dir, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    good = write_light_curve_fits(data / "kplr000000100-2010009091648_llc.fits", "Kepler",
                                  n=200, flare_rows=(40,)).path
    flaky = data / "kplr000000101-2010009091648_llc.fits"
    flaky.write_bytes(b"half-copied")
    first = _run(data, threshold_model_dir, output=tmp_path / "run")
    assert first.status["status"].tolist() == ["ok", "failed"]
    write_light_curve_fits(flaky, "Kepler", n=200, flare_rows=(60,))
    kept = _run(data, threshold_model_dir, output=tmp_path / "run")
    assert kept.status["status"].tolist() == ["skipped", "skipped"]
    assert kept.failures == first.failures
    retried = _run(data, threshold_model_dir, output=tmp_path / "run", retry_failed=True)
    assert retried.status["status"].tolist() == ["skipped", "ok"]
    assert retried.failures == [] and retried.processed == [str(good), str(flaky)]
    assert list(retried.table["file"]) == [str(good), str(flaky)]


def test_other_settings_do_not_resume(survey, threshold_model_dir, tmp_path):
    files = sorted(str(p) for p in survey.glob("kplr*"))[:3]
    _run(files, threshold_model_dir, output=tmp_path / "run")
    before = (tmp_path / "run" / "flares.ecsv").read_bytes()
    with pytest.raises(InputError, match=r"other settings: THRESH 0\.5 \(now 0\.9\)"):
        _run(files, threshold_model_dir, output=tmp_path / "run", threshold=0.9)
    with pytest.raises(InputError, match="pass format='ecsv'"):
        _run(files, threshold_model_dir, output=tmp_path / "run", format="fits")
    assert (tmp_path / "run" / "flares.ecsv").read_bytes() == before
    replaced = _run(files, threshold_model_dir, output=tmp_path / "run", threshold=0.9,
                    resume=False, overwrite=True)
    assert replaced.table.meta["THRESH"] == 0.9
    assert set(replaced.status["status"]) == {"ok"}


# --------------------------------------------------------------------------- kill and resume

# Runs detect_many in a child, in groups of one file, each a little slowed so that the
# parent can kill it while it works. (Its environment is the parent's: same torch threads,
# same sums, so that its flares are bit for bit the parent's.)
_CHILD = r"""
import sys, time
import fcn4flare.detection.batch as batch
import fcn4flare.detection.catalogue_run as run

survey, output, model = sys.argv[1:]
search = batch._process_group
def slowly(detector, files):
    time.sleep(0.05)
    return search(detector, files)
batch._process_group = slowly
run.detect_many(survey, output=output, model=model, group_size=1, progress=False)
"""


def _committed(folder):
    """The commit markers in a run's store (not the temporaries being written)."""
    return sorted(p.name for p in (_store(folder) / "parts").glob("*.json") if p.stem.isdigit())


@POSIX_KILL
def test_sigkill_at_any_moment_loses_and_doubles_nothing(survey, threshold_model_dir,
                                                         reference, tmp_path):
    _, flares, status = reference
    folder = tmp_path / "run"
    stderr = open(tmp_path / "stderr.txt", "w")  # noqa: SIM115  (closed below)
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(survey), str(folder), str(threshold_model_dir)],
        stdout=subprocess.DEVNULL, stderr=stderr, env=dict(os.environ, MPLBACKEND="Agg"),
    )
    try:
        deadline = time.monotonic() + 120
        while not (_store(folder) / "parts").is_dir() or len(_committed(folder)) < 6:
            assert child.poll() is None, (tmp_path / "stderr.txt").read_text()[-3000:]
            assert time.monotonic() < deadline, "the run committed nothing in 120 s"
            time.sleep(0.01)
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        stderr.close()
    committed = len(_committed(folder))
    assert 6 <= committed < N_GOOD + 1, "killed too late: nothing left to resume"
    assert not (folder / "flares.ecsv").exists()  # nothing consolidated, nothing half-written

    resumed = _run(survey, threshold_model_dir, output=folder)
    assert list(resumed.status["status"]).count("skipped") == committed
    _assert_same_catalogue(resumed.table, flares)
    _assert_same_catalogue(FlareTable.read(folder / "flares.ecsv"), flares)
    assert _status_rows(Table.read(folder / "status.ecsv")) == _status_rows(status)
    assert sorted(p.name for p in folder.iterdir()) == ["flares.ecsv", "status.ecsv"]


class _Killed(BaseException):
    """Stands for SIGKILL in-process: nothing after it runs but ``finally`` blocks, which
    only close the store's lock (SIGKILL releases it too)."""


def test_killed_between_catalogue_and_status(survey, threshold_model_dir, reference,
                                             monkeypatch, tmp_path):
    _, flares, status = reference
    folder = tmp_path / "run"
    write = catalogue_run.write_table

    def write_and_die(table, path, *args, **kwargs):
        write(table, path, *args, **kwargs)
        raise _Killed

    monkeypatch.setattr(catalogue_run, "write_table", write_and_die)
    with pytest.raises(_Killed):
        _run(survey, threshold_model_dir, output=folder, group_size=7)
    monkeypatch.undo()
    assert (folder / "flares.ecsv").is_file() and not (folder / "status.ecsv").exists()
    assert len(_committed(folder)) == 5
    resumed = _run(survey, threshold_model_dir, output=folder)
    assert set(resumed.status["status"]) == {"skipped"}
    _assert_same_catalogue(FlareTable.read(folder / "flares.ecsv"), flares)
    assert _status_rows(Table.read(folder / "status.ecsv")) == _status_rows(status)
    assert not _store(folder).exists()


def test_killed_while_a_finished_run_grows(survey, threshold_model_dir, reference,
                                           monkeypatch, tmp_path):
    # The new catalogue is in place, the status table is still the earlier run's.
    _, flares, status = reference
    folder = tmp_path / "run"
    files = sorted(str(p) for p in survey.iterdir())
    _run(files[:12], threshold_model_dir, output=folder)
    write = catalogue_run.write_table

    def write_and_die(table, path, *args, **kwargs):
        write(table, path, *args, **kwargs)
        raise _Killed

    monkeypatch.setattr(catalogue_run, "write_table", write_and_die)
    with pytest.raises(_Killed):
        _run(files, threshold_model_dir, output=folder)
    monkeypatch.undo()
    assert len(Table.read(folder / "status.ecsv")) == 12
    resumed = _run(files, threshold_model_dir, output=folder)
    assert set(resumed.status["status"]) == {"skipped"}
    _assert_same_catalogue(FlareTable.read(folder / "flares.ecsv"), flares)
    assert _status_rows(Table.read(folder / "status.ecsv")) == _status_rows(status)


def test_an_interrupted_run_is_resumed_and_its_leftovers_dropped(survey, threshold_model_dir,
                                                                 reference, monkeypatch,
                                                                 tmp_path):
    _, flares, _ = reference
    folder = tmp_path / "run"
    commit = catalogue_run._Store.commit

    def commit_three(store, outcomes):
        if store.seq == 3:
            raise KeyboardInterrupt
        commit(store, outcomes)

    monkeypatch.setattr(catalogue_run._Store, "commit", commit_three)
    with pytest.raises(KeyboardInterrupt):
        _run(survey, threshold_model_dir, output=folder, group_size=4)
    monkeypatch.undo()
    parts = _store(folder) / "parts"
    (parts / "000004.ecsv").write_text("a part whose commit marker was never written")
    (parts / ".tmp-1234abcd-000005.json").write_text("{")
    with pytest.raises(InputError, match="unfinished run is kept in .*; run again without "
                                         "resume=False to resume it, or pass overwrite=True"):
        _run(survey, threshold_model_dir, output=folder, resume=False)
    resumed = _run(survey, threshold_model_dir, output=folder, group_size=4)
    assert list(resumed.status["status"]).count("skipped") == 12
    _assert_same_catalogue(resumed.table, flares)


@pytest.mark.skipif(os.name != "posix", reason="POSIX file locks")
def test_two_runs_on_one_output(survey, threshold_model_dir, monkeypatch, tmp_path):
    import fcntl

    def interrupt(store, outcomes):
        raise KeyboardInterrupt

    files = sorted(str(p) for p in survey.glob("kplr*"))[:4]
    monkeypatch.setattr(catalogue_run._Store, "commit", interrupt)
    with pytest.raises(KeyboardInterrupt):
        _run(files, threshold_model_dir, output=tmp_path / "run")
    monkeypatch.undo()
    fd = os.open(_store(tmp_path / "run") / "lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(InputError, match="another fcn4flare run is writing there"):
            _run(files, threshold_model_dir, output=tmp_path / "run")
    finally:
        os.close(fd)
    assert len(_run(files, threshold_model_dir, output=tmp_path / "run").processed) == 4


# --------------------------------------------------------------------------- bad input


def test_missing_and_unreadable_files_are_recorded(survey, threshold_model_dir, tmp_path):
    good = sorted(str(p) for p in survey.glob("kplr*"))[0]
    missing = str(tmp_path / "gone.fits")
    result = _run([missing, good, str(survey / CORRUPT)], threshold_model_dir,
                  output=tmp_path / "run")
    assert result.status["status"].tolist() == ["failed", "ok", "failed"]
    reasons = dict(result.failures)
    assert reasons[missing] == f"FileNotFoundError: [Errno 2] no such file: '{missing}'"
    assert "Traceback" not in reasons[str(survey / CORRUPT)]


def test_sources_that_name_no_light_curve(tmp_path, threshold_model_dir):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.md").write_text("no light curves")
    (tmp_path / "empty.txt").write_text("# nothing\n\n")
    cases = {
        tmp_path / "notes": f"directory {tmp_path / 'notes'} holds no light-curve files "
                            "(*.fits, *.fits.gz, *.fit, *.fts); recursive=True",
        tmp_path / "missing.txt": f"list of files {tmp_path / 'missing.txt'} does not exist",
        f"@{tmp_path / 'nope'}": f"list of files {tmp_path / 'nope'} does not exist",
        tmp_path / "empty.txt": f"list of files {tmp_path / 'empty.txt'} names no files",
    }
    for source, message in cases.items():
        with pytest.raises(InputError) as info:
            _run(source, tmp_path / "no_model", output=tmp_path / "run")
        assert message in str(info.value)
    with pytest.raises(InputError, match="no light-curve files given"):
        _run([], threshold_model_dir)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.txt", "notes"]


def test_lists_of_files_and_duplicates(survey, threshold_model_dir, tmp_path):
    names = sorted(p.name for p in survey.glob("kplr*"))[:3]
    listing = tmp_path / "survey_list.txt"
    relative = Path(os.path.relpath(survey, tmp_path))  # ../survey0: from the list's folder
    listing.write_text(f"# three files\n{relative / names[0]}\n\n"
                       f"{survey / names[1]}\n{relative / names[2]}\n")
    from_list = _run(listing, threshold_model_dir)
    from_at = _run(f"@{listing}", threshold_model_dir)
    with pytest.warns(FCN4FlareWarning, match="1 file.* listed more than once"):
        doubled = _run([listing, survey / names[1]], threshold_model_dir)
    expected = [str(survey / name) for name in names]
    assert from_list.processed == from_at.processed == doubled.processed == expected
    assert len(doubled.status) == 3


def test_nested_directories(survey, threshold_model_dir, tmp_path):
    nested = tmp_path / "mast" / "kplr000000001"
    nested.mkdir(parents=True)
    name = sorted(survey.glob("kplr*"))[0]
    (nested / name.name).write_bytes(name.read_bytes())
    with pytest.raises(InputError, match="holds no light-curve files"):
        _run(tmp_path / "mast", threshold_model_dir)
    assert _run(tmp_path / "mast", threshold_model_dir, recursive=True).processed == [
        str(nested / name.name)]


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("missing/run", "output {tmp}/missing/run: directory {tmp}/missing does not exist"),
        ("missing/flares.ecsv", "directory {tmp}/missing does not exist"),
        ("a_file/run", "{tmp}/a_file is not a directory"),
        ("a_file", "output {tmp}/a_file exists and is not a directory"),
        ("flares.xyz", "unknown catalogue format '.xyz'"),
    ],
)
def test_bad_outputs_fail_before_any_work(output, message, survey, tmp_path):
    (tmp_path / "a_file").write_text("not a directory")
    with pytest.raises(InputError) as info:  # the model does not exist: not reached
        _run(survey, tmp_path / "no_model", output=tmp_path / output)
    assert message.format(tmp=tmp_path) in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]


def test_read_only_output_directory(survey, threshold_model_dir, tmp_path, monkeypatch):
    if hasattr(os, "geteuid") and os.geteuid() != 0:  # root writes anywhere
        tmp_path.chmod(0o500)
        try:
            with pytest.raises(InputError, match="cannot write in directory"):
                _run(survey, threshold_model_dir, output=tmp_path / "run")
        finally:
            tmp_path.chmod(0o700)

    def refuse(folder, name):
        raise PermissionError(13, "Permission denied", str(folder))

    monkeypatch.setattr(writer, "_create_temporary", refuse)
    for output in ("run", "flares.ecsv"):
        with pytest.raises(InputError, match=f"cannot write in directory {tmp_path}: "
                                             "Permission denied"):
            _run(survey, threshold_model_dir, output=tmp_path / output)
    assert list(tmp_path.iterdir()) == []


def test_bad_options(survey, threshold_model_dir, tmp_path):
    for kwargs, message in [({"group_size": 0}, "group_size must be a positive integer"),
                            ({"n_jobs": 0}, "n_jobs must be"),
                            ({"output": tmp_path / "run", "format": "hdf5"},
                             "format must be one of 'ecsv', 'fits', 'parquet'"),
                            ({"output": tmp_path / "run", "status_file": tmp_path / "s.ecsv"},
                             "status_file is for a catalogue file"),
                            ({"client": 42}, "client must be a distributed.Client")]:
        with pytest.raises(InputError, match=message):
            _run(survey, threshold_model_dir, **kwargs)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- CLI


def _cli(*args, model):
    return cli.main(["detect", *map(str, args), "--model", str(model), "--no-progress"])


def test_cli_run_directory_resume_and_list(survey, threshold_model_dir, reference, tmp_path,
                                           caplog, capsys):
    _, flares, status = reference
    run = f"{tmp_path / 'run'}/"
    with caplog.at_level(logging.INFO, logger="fcn4flare"):
        assert _cli(survey, "-o", run, "--group-size", "16", model=threshold_model_dir) == 0
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and warned[0].startswith(f"failed {survey / CORRUPT}: ")
    _assert_same_catalogue(FlareTable.read(tmp_path / "run" / "flares.ecsv"), flares)
    assert _status_rows(Table.read(tmp_path / "run" / "status.ecsv")) == _status_rows(status)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="fcn4flare"):
        assert _cli(survey, "-o", run, model=threshold_model_dir) == 0
    assert "0 file(s) searched, 0 failed, 30 skipped" in caplog.text
    assert _cli(survey, "-o", run, "--no-resume", model=threshold_model_dir) == 1
    assert "pass --overwrite to replace it" in capsys.readouterr().err

    listing = tmp_path / "files.txt"
    listing.write_text("\n".join(str(p) for p in sorted(survey.glob("kplr*"))[:2]))
    out = tmp_path / "two.fits"
    assert _cli(f"@{listing}", "-o", out, "--status", tmp_path / "two_status.ecsv",
                model=threshold_model_dir) == 0
    assert len(set(FlareTable.read(out)["file"])) == 2
    assert Table.read(tmp_path / "two_status.ecsv")["status"].tolist() == ["ok", "ok"]


def test_cli_bad_sources(tmp_path, threshold_model_dir, capsys):
    (tmp_path / "empty").mkdir()
    assert _cli(tmp_path / "empty", "-o", tmp_path / "flares.ecsv",
                model=threshold_model_dir) == 1
    err = capsys.readouterr().err
    assert err.startswith("fcn4flare detect: error: directory ") and "Traceback" not in err
    assert _cli(tmp_path / "missing.fits", model=threshold_model_dir) == 1
    assert "none of 1 file(s) could be processed" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]


# --------------------------------------------------------------------------- Dask


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=logging.CRITICAL)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def test_dask_local_cluster(dask_client, survey, threshold_model_dir, reference, tmp_path,
                            capsys):
    _, flares, status = reference
    result = _run(survey, threshold_model_dir, output=tmp_path / "run", client=dask_client,
                  group_size=3)
    _assert_same_catalogue(result.table, flares, exact=False)
    assert _status_rows(result.status) == _status_rows(status)
    address = dask_client.scheduler.address  # a scheduler's address: connected, then closed
    assert _cli(survey, "-o", tmp_path / "cli.ecsv", "--scheduler", address,
                model=threshold_model_dir) == 0
    _assert_same_catalogue(FlareTable.read(tmp_path / "cli.ecsv"), flares, exact=False)
    plugins = dask_client.run(lambda dask_worker: list(dask_worker.plugins))
    assert not any(name.startswith("fcn4flare-") for names in plugins.values() for name in names)


def test_dask_unreachable_scheduler(survey, threshold_model_dir, tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    from fcn4flare.detection import _dask

    monkeypatch.setattr(_dask, "CONNECT_TIMEOUT", 1)
    with pytest.raises(InputError, match="cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'"):
        _run(survey, threshold_model_dir, output=tmp_path / "run", client="tcp://127.0.0.1:9")
    assert list(tmp_path.iterdir()) == []


def test_dask_worker_lost_mid_run(dask_client, survey, threshold_model_dir, reference,
                                  monkeypatch, tmp_path):
    _, flares, status = reference
    pids = dask_client.run(os.getpid)
    commit = catalogue_run._Store.commit
    killed = []

    def commit_and_kill_a_busy_worker(store, outcomes):
        commit(store, outcomes)
        if not killed:
            busy = [w for w, keys in dask_client.processing().items() if keys and w in pids]
            victim = pids[busy[0] if busy else next(iter(pids))]
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

    monkeypatch.setattr(catalogue_run._Store, "commit", commit_and_kill_a_busy_worker)
    result = _run(survey, threshold_model_dir, output=tmp_path / "run", client=dask_client,
                  group_size=1)
    assert killed
    _assert_same_catalogue(result.table, flares, exact=False)
    assert _status_rows(result.status) == _status_rows(status)
    assert killed[0] not in dask_client.run(os.getpid).values()  # it was really lost
