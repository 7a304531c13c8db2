"""Tests of fcn4flare.detection: many files, failures, plots, processes, the original API."""

from __future__ import annotations

import lightkurve as lk
import numpy as np
import pytest
import torch
from astropy.io import fits
from conftest import FLARE_FLAGGED, make_threshold_model, write_light_curve_fits

from fcn4flare.catalog import FlareTable
from fcn4flare.detection import BatchResult, detect_flares_in_files, detect_flares_original
from fcn4flare.exceptions import CheckpointError, InputError

RELEASE_KEYS = [
    "start_idx",
    "peak_idx",
    "end_idx",
    "start_time",
    "peak_time",
    "end_time",
    "duration",
    "confidence",
]


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    """An unreadable file, a missing file and a light curve without usable flux."""
    folder = tmp_path_factory.mktemp("bad")
    garbage = folder / "garbage.fits"
    garbage.write_bytes(b"this is not a FITS file" * 100)
    all_nan = write_light_curve_fits(
        folder / "kplr000000001-2010009091648_llc.fits",
        "Kepler",
        n=100,
        flare_rows=(),
        nan_flux_rows=tuple(range(100)),
    )
    return {"garbage": str(garbage), "missing": str(folder / "nope.fits"), "nan": str(all_nan.path)}


def _expected_rows(path, cadences):
    # Batch runs keep every row of the file (flagged ones are NaN to the model), as the
    # accessor does with the rows of the light curve it is given.
    lc = lk.read(path, quality_bitmask="none")
    return np.searchsorted(np.asarray(lc.cadenceno), cadences)


# --------------------------------------------------------------------------- many files


def test_flares_of_all_files_in_one_table(kepler_file, tess_file, threshold_model_dir):
    paths = [str(kepler_file.path), str(tess_file.path)]
    result = detect_flares_in_files(paths, model=threshold_model_dir, progress=False)
    assert isinstance(result, BatchResult)
    assert isinstance(result.table, FlareTable)
    assert result.processed == paths and result.failures == []
    table = result.table
    assert table.colnames[0] == "file"
    assert list(table["file"]) == [paths[0]] * 3 + [paths[1]] * 3
    for file in (kepler_file, tess_file):
        rows = table[table["file"] == str(file.path)]
        np.testing.assert_array_equal(
            rows["istart"], _expected_rows(file.path, file.flare_cadences())
        )
        np.testing.assert_array_equal(rows["istop"] - rows["istart"], FLARE_FLAGGED - 1)
    assert table.meta["MODEL"] == str(threshold_model_dir)
    assert table.meta["THRESH"] == 0.5
    assert "TARGET" not in table.meta
    assert set(table["target"]) == {"KIC 1234567", "TIC 7654321"}
    assert "3 flares" not in repr(result) and "6 flares in 2 files, 0 failed" in repr(result)


def test_bad_files_are_reported_and_skipped(kepler_file, tess_file, bad_files, threshold_model):
    paths = [bad_files["garbage"], str(kepler_file.path), bad_files["missing"]]
    paths += [bad_files["nan"], str(tess_file.path)]
    result = detect_flares_in_files(paths, model=threshold_model, progress=False)
    assert result.processed == [str(kepler_file.path), str(tess_file.path)]
    failed = dict(result.failures)
    assert list(failed) == [bad_files["garbage"], bad_files["missing"], bad_files["nan"]]
    assert "no usable flux" in failed[bad_files["nan"]]
    assert all(reason for reason in failed.values())
    assert len(result.table) == 6


def test_not_a_light_curve(kepler_file, threshold_model, monkeypatch):
    monkeypatch.setattr(lk, "read", lambda *args, **kwargs: "a target pixel file")
    result = detect_flares_in_files([kepler_file.path], model=threshold_model, progress=False)
    assert result.processed == []
    assert "not a light curve" in result.failures[0][1]
    assert len(result.table) == 0 and "file" in result.table.colnames


def test_quality_bitmask_is_applied_when_reading(kepler_file, threshold_model):
    result = detect_flares_in_files(
        kepler_file.path, model=threshold_model, quality_bitmask="none", progress=False
    )
    expected = _expected_rows(kepler_file.path, kepler_file.flare_cadences())
    np.testing.assert_array_equal(result.table["istart"], expected)
    assert "QUALMASK" not in result.table.meta  # no mask applied


def test_quality_masked_rows_are_the_same_rows_on_every_entry_point(kepler_file,
                                                                      threshold_model):
    # Flagged rows stay in place (NaN to the model) in batch runs and in the accessor alike.
    everything = lk.read(kepler_file.path, quality_bitmask="none")
    from_accessor = everything.flares.detect(model=threshold_model)
    in_files = detect_flares_in_files(kepler_file.path, model=threshold_model, progress=False)
    assert from_accessor.meta["QUALMASK"] == in_files.table.meta["QUALMASK"]
    for column in ("istart", "ipeak", "istop"):
        np.testing.assert_array_equal(in_files.table[column], from_accessor[column])
    np.testing.assert_array_equal(in_files.table["tpeak"].value, from_accessor["tpeak"].value)


def test_directory_and_empty_input(kepler_file, tmp_path, threshold_model):
    result = detect_flares_in_files(kepler_file.path.parent, model=threshold_model, progress=False)
    assert result.processed == [str(kepler_file.path)]
    empty = detect_flares_in_files([], model=threshold_model, progress=False)
    assert len(empty.table) == 0 and empty.processed == [] and empty.failures == []
    assert detect_flares_in_files(tmp_path, model=threshold_model, progress=False).processed == []
    mixed = detect_flares_in_files([kepler_file.path.parent, tmp_path], model=threshold_model,
                                   progress=False)
    assert mixed.processed == [str(kepler_file.path)]


def test_progress_bar(kepler_file, threshold_model, capsys):
    detect_flares_in_files([kepler_file.path], model=threshold_model, progress=True)
    assert "1/1" in capsys.readouterr().err
    detect_flares_in_files([kepler_file.path], model=threshold_model, progress=False)
    assert capsys.readouterr().err == ""


def test_plots_are_written(kepler_file, tess_file, tmp_path, threshold_model):
    paths = [kepler_file.path, tess_file.path, kepler_file.path]
    result = detect_flares_in_files(
        paths, model=threshold_model, progress=False, plot_dir=tmp_path / "plots"
    )
    written = sorted(p.name for p in (tmp_path / "plots").iterdir())
    stem = kepler_file.path.name.removesuffix(".fits")
    assert written == sorted(
        [f"{stem}.png", f"{stem}_2.png", tess_file.path.name.replace(".fits", ".png")]
    )
    for png in (tmp_path / "plots").iterdir():
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert result.failures == []


def test_model_problems_stop_before_any_file(kepler_file, tmp_path):
    with pytest.raises(CheckpointError):
        detect_flares_in_files([kepler_file.path], model=tmp_path / "no_model", progress=False)


@pytest.mark.parametrize("n_jobs", [0, -2, 1.5])
def test_invalid_n_jobs(kepler_file, threshold_model, n_jobs):
    with pytest.raises(InputError, match="n_jobs"):
        detect_flares_in_files([kepler_file.path], model=threshold_model, n_jobs=n_jobs)


def test_invalid_rules_stop_before_any_file(kepler_file, threshold_model):
    with pytest.raises(InputError, match="unknown rules"):
        detect_flares_in_files([kepler_file.path], model=threshold_model, rules="nope")


def test_worker_processes_give_the_same_table(
    kepler_file, tess_file, bad_files, threshold_model_dir, monkeypatch
):
    import fcn4flare.detection.batch as batch

    monkeypatch.setattr(batch, "FILES_PER_GROUP", 1)
    paths = [str(kepler_file.path), bad_files["garbage"], str(tess_file.path)]
    serial = detect_flares_in_files(paths, model=threshold_model_dir, progress=False)
    parallel = detect_flares_in_files(paths, model=threshold_model_dir, progress=False, n_jobs=2)
    assert parallel.processed == serial.processed
    assert [path for path, _ in parallel.failures] == [bad_files["garbage"]]
    np.testing.assert_array_equal(parallel.table["istart"], serial.table["istart"])
    np.testing.assert_array_equal(parallel.table["file"], serial.table["file"])
    np.testing.assert_allclose(parallel.table["score"], serial.table["score"])


# --------------------------------------------------------------------------- original API


def _release_events(probability, flux, time):
    """The release's post-processing, written from the spec, for comparison."""
    events = []
    flagged = np.flatnonzero(probability > 0.5)
    if flagged.size == 0:
        return events
    for run in np.split(flagged, np.flatnonzero(np.diff(flagged) > 1) + 1):
        if len(run) < 3:
            continue
        start, stop = run[0], run[-1]
        peak = start + int(np.argmax(flux[start : stop + 1]))
        try:
            if peak == start and flux[peak] <= flux[peak - 1]:
                continue
            if stop - peak <= peak - start:
                continue
            ratio = (flux[peak] - flux[start - 2]) / (flux[peak] - flux[stop + 2] + 1e-8)
            if ratio < 0.5 or ratio > 2 or np.isnan(ratio):
                continue
        except IndexError:
            continue
        events.append(
            {
                "start_idx": int(start),
                "peak_idx": int(peak),
                "end_idx": int(stop),
                "start_time": float(time[start]),
                "peak_time": float(time[peak]),
                "end_time": float(time[stop]),
                "duration": float(time[stop] - time[start]),
                "confidence": float(probability[run].mean()),
            }
        )
    return events


def _release_probability(model, path):
    with fits.open(path) as hdul:
        time = np.array(hdul[1].data["TIME"], dtype=float)
        flux = np.array(hdul[1].data["PDCSAP_FLUX"], dtype=float)
    flux = flux / np.nanmedian(flux)
    with torch.no_grad():
        logits = model.eval()(torch.tensor(flux, dtype=torch.float32)[None, :, None])
    return torch.sigmoid(logits)[0, :, 0].double().numpy(), flux, time


def _assert_same_events(ours, theirs):
    assert [list(event) for event in ours] == [RELEASE_KEYS] * len(ours)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        for key in RELEASE_KEYS:
            assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-6), key


def test_original_api_reports_fits_rows(kepler_file, tess_file, threshold_model):
    events = detect_flares_original([kepler_file.path, tess_file.path], model=threshold_model)
    assert len(events) == 2
    for file, found in zip((kepler_file, tess_file), events, strict=True):
        assert [e["start_idx"] for e in found] == list(file.flare_rows)
        assert [e["end_idx"] for e in found] == [r + FLARE_FLAGGED - 1 for r in file.flare_rows]
        assert [e["start_time"] for e in found] == [file.time[r] for r in file.flare_rows]
        reference = _release_events(*_release_probability(threshold_model, file.path))
        _assert_same_events(found, reference)
    single = detect_flares_original(str(kepler_file.path), model=threshold_model)
    assert single == events[0]


def test_original_api_matches_the_release_with_perturbed_models(tmp_path):
    # Noise on the convolutions couples neighbouring samples and changes the runs' extents.
    file = write_light_curve_fits(
        tmp_path / "kplr000000002-2010009091648_llc.fits",
        "Kepler",
        n=700,
        flare_rows=(100, 250, 450, 600),
    )
    events = []
    for seed in range(6):
        model = make_threshold_model()
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for name, parameter in model.named_parameters():
                if name.endswith("conv.weight"):
                    parameter.add_(0.3 * torch.randn(parameter.shape, generator=generator))
        ours = detect_flares_original(file.path, model=model)
        _assert_same_events(ours, _release_events(*_release_probability(model, file.path)))
        events += ours
    assert events, "no model produced an event: the comparison would be vacuous"
    assert any(e["end_idx"] - e["start_idx"] != FLARE_FLAGGED - 1 for e in events)


def test_original_api_errors_name_the_file(tmp_path, threshold_model):
    path = tmp_path / "empty.fits"
    fits.HDUList([fits.PrimaryHDU()]).writeto(path)
    with pytest.raises(InputError, match="empty.fits"):
        detect_flares_original([path], model=threshold_model)


# --------------------------------------------------------------------------- real files


def test_real_mission_files(shared_lightcurves, random_model_dir):
    paths = sorted(shared_lightcurves.glob("*.fits"))
    result = detect_flares_in_files(paths, model=random_model_dir, progress=False)
    assert result.failures == []
    assert result.processed == [str(p) for p in paths]
    events = detect_flares_original(paths, model=random_model_dir)
    for path, found in zip(paths, events, strict=True):
        with fits.open(path) as hdul:
            time = np.array(hdul[1].data["TIME"], dtype=float)
        for event in found:
            assert 0 <= event["start_idx"] <= event["peak_idx"] <= event["end_idx"] < len(time)
            assert event["start_time"] == time[event["start_idx"]]
        rows = result.table[result.table["file"] == str(path)]
        n_rows = len(lk.read(path))
        assert np.all((rows["istart"] <= rows["istop"]) & (rows["istop"] < n_rows))


def test_release_columns_keep_the_mission_time_format(kepler_file, tess_file):
    from fcn4flare.detection.batch import _read_release_columns

    for file, time_format in ((kepler_file, "bkjd"), (tess_file, "btjd")):
        table, rows, time = _read_release_columns(file.path)
        assert table["time"].format == time_format
        np.testing.assert_array_equal(table["time"].value, time[rows])
