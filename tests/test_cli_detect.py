"""The ``fcn4flare detect`` and ``fcn4flare info`` commands, run in-process.

Every test passes ``--model`` a tiny model written by ``conftest.py``: nothing here needs
the default shipped model.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from conftest import FLARE_FLAGGED, make_threshold_model

from fcn4flare import cli
from fcn4flare.catalog import FlareTable
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
