"""The ``fcn4flare detect`` and ``fcn4flare info`` commands, run in-process.

Every test passes ``--model`` a tiny model written by ``conftest.py``: nothing here needs
the default shipped model.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import FLARE_FLAGGED, make_threshold_model

from fcn4flare import cli
from fcn4flare.catalog import FlareTable, writer
from fcn4flare.network import FCN4FlareModel


@pytest.fixture
def garbage_file(tmp_path):
    path = tmp_path / "garbage.fits"
    path.write_bytes(b"this is not a FITS file" * 100)
    return path


def _detect(*args, model):
    return cli.main(["detect", *map(str, args), "--model", str(model), "--no-progress"])


# --------------------------------------------------------------------------- detect


def test_one_catalogue_for_several_files(kepler_file, tess_file, threshold_model_dir, tmp_path):
    output = tmp_path / "flares.ecsv"
    status = _detect(kepler_file.path, tess_file.path, "-o", output, model=threshold_model_dir)
    assert status == 0
    table = FlareTable.read(output)
    assert isinstance(table, FlareTable)
    assert table.colnames[0] == "file"
    paths = [str(kepler_file.path), str(tess_file.path)]
    assert list(table["file"]) == [paths[0]] * 3 + [paths[1]] * 3
    np.testing.assert_array_equal(table["istop"] - table["istart"], FLARE_FLAGGED - 1)
    assert set(table["target"]) == {"KIC 1234567", "TIC 7654321"}
    assert table.meta["MODEL"] == str(threshold_model_dir)
    assert table.meta["THRESH"] == 0.5


def test_options_reach_the_catalogue(kepler_file, threshold_model_dir, tmp_path):
    output = tmp_path / "flares.ecsv"
    status = _detect(kepler_file.path, "-o", output, "--threshold", "0.9", "--rules",
                     "published", model=threshold_model_dir)
    assert status == 0
    table = FlareTable.read(output)
    assert (table.meta["THRESH"], table.meta["RULES"]) == (0.9, "published")


def test_without_threshold_the_model_s_own_is_used(kepler_file, tmp_path):
    model = make_threshold_model()
    model.config.detection_threshold = 0.9
    model_dir = model.save_pretrained(tmp_path / "model")
    output = tmp_path / "flares.ecsv"
    assert _detect(kepler_file.path, "-o", output, model=model_dir) == 0
    assert FlareTable.read(output).meta["THRESH"] == 0.9


def test_a_folder_is_its_fits_files(kepler_file, threshold_model_dir, tmp_path):
    output = tmp_path / "flares.ecsv"
    assert _detect(kepler_file.path.parent, "-o", output, model=threshold_model_dir) == 0
    assert set(FlareTable.read(output)["file"]) == {str(kepler_file.path)}


def test_bad_file_is_reported_and_skipped(
    kepler_file, garbage_file, threshold_model_dir, tmp_path, caplog
):
    output = tmp_path / "flares.ecsv"
    with caplog.at_level(logging.WARNING, logger="fcn4flare"):
        status = _detect(garbage_file, kepler_file.path, "-o", output, model=threshold_model_dir)
    assert status == 0
    skipped = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(skipped) == 1 and str(garbage_file) in skipped[0]
    table = FlareTable.read(output)
    assert set(table["file"]) == {str(kepler_file.path)} and len(table) == 3


def test_all_files_bad_is_exit_status_1(garbage_file, threshold_model_dir, tmp_path, capsys):
    output = tmp_path / "flares.ecsv"
    missing = tmp_path / "missing.fits"
    status = _detect(garbage_file, missing, "-o", output, model=threshold_model_dir)
    assert status == 1
    assert "none of 2 file(s) could be processed" in capsys.readouterr().err
    assert not output.exists()


def test_plot_dir_gets_one_png_per_file(kepler_file, tess_file, threshold_model_dir, tmp_path):
    plots = tmp_path / "plots"
    status = _detect(kepler_file.path, tess_file.path, "-o", tmp_path / "flares.ecsv",
                     "--plot-dir", plots, model=threshold_model_dir)
    assert status == 0
    pngs = sorted(p.name for p in plots.iterdir())
    assert pngs == sorted(f.path.name.replace(".fits", ".png") for f in (kepler_file, tess_file))
    for name in pngs:
        assert (plots / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_without_output_the_table_is_printed(kepler_file, threshold_model_dir, capsys):
    assert _detect(kepler_file.path, model=threshold_model_dir) == 0
    out = capsys.readouterr().out
    assert "tpeak" in out and "amplitude" in out
    assert out.count(str(kepler_file.path)) == 3


def test_example_prints_a_table(threshold_model_dir, tmp_path, capsys):
    plots = tmp_path / "plots"
    status = cli.main(["detect", "--example", "--model", str(threshold_model_dir),
                       "--plot-dir", str(plots)])
    assert status == 0
    lines = capsys.readouterr().out.splitlines()
    header = lines[0].split()
    assert header[:4] == ["target", "tstart", "tpeak", "tstop"]
    rows = [line for line in lines[3:] if line.strip()]
    assert rows and all(line.split()[:2] == ["fcn4flare", "example"] for line in rows)
    assert (plots / "fcn4flare_example.png").is_file()


@pytest.mark.parametrize("args", [[], ["--example", "FILE"]])
def test_files_or_example_but_not_both(args, kepler_file, threshold_model_dir, capsys):
    args = [str(kepler_file.path) if a == "FILE" else a for a in args]
    assert _detect(*args, model=threshold_model_dir) == 1
    assert "give light-curve FILEs or --example" in capsys.readouterr().err


def test_existing_output_needs_overwrite(kepler_file, threshold_model_dir, tmp_path, capsys):
    output = tmp_path / "flares.ecsv"
    output.write_text("keep me")
    assert _detect(kepler_file.path, "-o", output, model=threshold_model_dir) == 1
    assert "pass --overwrite" in capsys.readouterr().err
    assert output.read_text() == "keep me"
    assert _detect(kepler_file.path, "-o", output, "--overwrite", model=threshold_model_dir) == 0
    assert len(FlareTable.read(output)) == 3


@pytest.mark.parametrize(
    "suffix",
    [".fits", ".fits.gz", ".csv", ".txt",
     pytest.param(".parquet", marks=pytest.mark.skipif(
         not writer.importlib.util.find_spec("pyarrow"), reason="no pyarrow"))],
)
def test_each_suffix_writes_the_catalogue_in_full(suffix, kepler_file, threshold_model_dir,
                                                  tmp_path):
    output = tmp_path / f"flares{suffix}"
    assert _detect(kepler_file.path, "-o", output, model=threshold_model_dir) == 0
    table = FlareTable.read(output, format="ascii") if suffix == ".txt" else FlareTable.read(output)
    assert len(table) == 3
    max_score = np.asarray(table["max_score"], dtype=float)
    assert np.all((max_score > 0.999) & (max_score < 1))  # not rounded to 3 decimals
    assert sorted(p.name for p in tmp_path.iterdir()) == [output.name]


def _layout(tmp_path):
    (tmp_path / "file").write_text("not a directory")
    (tmp_path / "folder.ecsv").mkdir()
    return sorted(p.name for p in tmp_path.iterdir())


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("flares.xyz", "--output {tmp}/flares.xyz: unknown catalogue format '.xyz'; use one of "
                       "the suffixes .ecsv, .fits, .fit, .fits.gz, .csv, .parquet, .txt."),
        ("flares", "unknown catalogue format (no suffix)"),
        ("missing/flares.ecsv", "directory {tmp}/missing does not exist"),
        ("file/flares.ecsv", "{tmp}/file is not a directory"),
        ("folder.ecsv", "--output {tmp}/folder.ecsv is a directory"),
    ],
)
def test_bad_output_fails_before_any_work(output, message, kepler_file, tmp_path, capsys):
    before = _layout(tmp_path)
    # the model does not exist: the output is checked before it is loaded
    status = _detect(kepler_file.path, "-o", tmp_path / output, "--overwrite",
                     model=tmp_path / "no_such_model")
    assert status == 1
    err = capsys.readouterr().err
    assert err.startswith("fcn4flare detect: error: --output ")
    assert message.format(tmp=tmp_path) in err
    assert "Traceback" not in err and sorted(p.name for p in tmp_path.iterdir()) == before


def test_existing_output_fails_before_any_work(kepler_file, tmp_path, capsys):
    output = tmp_path / "flares.ecsv"
    output.write_text("keep me")
    assert _detect(kepler_file.path, "-o", output, model=tmp_path / "no_such_model") == 1
    assert "pass --overwrite" in capsys.readouterr().err
    assert output.read_text() == "keep me"


def test_unwritable_output_directory_fails_before_any_work(kepler_file, tmp_path, capsys,
                                                           monkeypatch):
    def refuse(folder, name):
        raise PermissionError(13, "Permission denied", str(folder))

    monkeypatch.setattr(writer, "_create_temporary", refuse)
    status = _detect(kepler_file.path, "-o", tmp_path / "flares.ecsv",
                     model=tmp_path / "no_such_model")
    assert status == 1
    err = capsys.readouterr().err
    assert f"cannot write in directory {tmp_path}: Permission denied" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("plot_dir", "message"),
    [("file", "--plot-dir {tmp}/file exists and is not a directory"),
     ("file/plots", "--plot-dir {tmp}/file/plots cannot be created")],
)
def test_bad_plot_dir_fails_before_any_work(plot_dir, message, kepler_file, tmp_path, capsys):
    (tmp_path / "file").write_text("not a directory")
    status = _detect(kepler_file.path, "-o", tmp_path / "flares.ecsv", "--plot-dir",
                     tmp_path / plot_dir, model=tmp_path / "no_such_model")
    assert status == 1
    assert message.format(tmp=tmp_path) in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_plot_dir_is_created_before_any_work(kepler_file, tmp_path, capsys):
    plots = tmp_path / "new" / "plots"
    assert _detect(kepler_file.path, "--plot-dir", plots, model=tmp_path / "no_such_model") == 1
    assert "no_such_model" in capsys.readouterr().err  # failed at the model, after the check
    assert plots.is_dir() and list(plots.iterdir()) == []


# A CLI run whose table writer starts writing the file it is given and then stalls, as a
# writer killed mid-file would: it writes a few bytes, reports the path in $MARKER, sleeps.
_STALLED_CLI = r"""
import os, sys, time
from astropy.io.registry import compat

def stalled(data, *args, **kwargs):
    output = os.fspath(args[0])
    with open(output, "w") as stream:
        stream.write("# %ECSV 1.0\n# ---\n# half a cata")
        stream.flush()
    marker = os.environ["FCN4FLARE_TEST_MARKER"]
    with open(marker + ".part", "w") as note:
        note.write(output)
    os.replace(marker + ".part", marker)
    time.sleep(120)

compat.default_registry.write = stalled
from fcn4flare.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.skipif(os.name != "posix" or not hasattr(signal, "SIGKILL"), reason="POSIX kill")
def test_kill_during_the_write_keeps_the_previous_catalogue(kepler_file, threshold_model_dir,
                                                            tmp_path):
    output = tmp_path / "flares.ecsv"
    previous = FlareTable.read(_previous_catalogue(kepler_file, threshold_model_dir, output))
    before = output.read_bytes()
    marker = tmp_path / "writing"
    command = [sys.executable, "-c", _STALLED_CLI, "detect", str(kepler_file.path), "-o",
               str(output), "--overwrite", "--model", str(threshold_model_dir), "--no-progress"]
    env = dict(os.environ, FCN4FLARE_TEST_MARKER=str(marker), MPLBACKEND="Agg")
    with open(tmp_path / "stderr.txt", "w") as stderr:
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr, env=env,
                                 cwd=tmp_path)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            if child.poll() is not None:
                pytest.fail(f"the CLI ended ({child.returncode}) before writing: "
                            f"{(tmp_path / 'stderr.txt').read_text()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail("the CLI did not reach its write in 120 s")
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    being_written = marker.read_text()
    assert being_written != str(output)
    assert os.path.dirname(being_written) == str(tmp_path)
    assert output.read_bytes() == before
    assert len(FlareTable.read(output)) == len(previous)


def _previous_catalogue(kepler_file, model_dir, output):
    assert _detect(kepler_file.path, "-o", output, model=model_dir) == 0
    return output


def test_missing_model_is_exit_status_1(kepler_file, tmp_path, capsys):
    status = _detect(kepler_file.path, model=tmp_path / "no_such_model")
    assert status == 1
    assert capsys.readouterr().err.startswith("fcn4flare detect: error:")


# --------------------------------------------------------------------------- info


def test_info_prints_config_and_checksum(random_model_dir, capsys):
    assert cli.main(["info", "--model", str(random_model_dir)]) == 0
    out = capsys.readouterr().out
    model = FCN4FlareModel.from_pretrained(random_model_dir)
    config_text, checksum_line = out.rstrip("\n").rsplit("\n", 1)
    assert json.loads(config_text) == model.config.to_dict()
    assert checksum_line == f"checksum: {model.checksum()}"


def test_info_prints_the_model_card_when_there_is_one(random_model_dir, tmp_path, capsys):
    import shutil

    folder = shutil.copytree(random_model_dir, tmp_path / "carded")
    (folder / "README.md").write_text("# A tiny test model\n")
    assert cli.main(["info", "--model", str(folder)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# A tiny test model")
    assert "checksum: " in out
