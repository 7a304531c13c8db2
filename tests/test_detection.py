"""Tests of fcn4flare.detection: predict_flare_probability and detect_flares."""

from __future__ import annotations

import copy

import astropy.units as u
import lightkurve as lk
import numpy as np
import pytest
import torch
from astropy.time import Time
from astropy.timeseries import TimeSeries
from conftest import FLARE_FLAGGED, FLARE_PROFILE, flare_flux, make_threshold_model

import fcn4flare
import fcn4flare.detection.accessor  # noqa: F401  (registers lc.flares)
from fcn4flare import detection
from fcn4flare.catalog import FlareTable
from fcn4flare.detection import RULE_PRESETS, detect_flares, predict_flare_probability
from fcn4flare.exceptions import CheckpointError, InputError
from fcn4flare.network import DEFAULT_MODEL, available_models

TESS_DAY = 2.0 / 1440


def _rows_of(lc, cadences):
    """Rows of ``lc`` holding the given cadence numbers."""
    return np.searchsorted(np.asarray(lc.cadenceno), cadences)


def _assert_same_light_curve(a, b):
    assert a.colnames == b.colnames
    for name in a.colnames:
        left, right = a[name], b[name]
        if isinstance(left, Time):
            assert np.array_equal(left.value, right.value)
            assert left.format == right.format
        else:
            np.testing.assert_array_equal(np.asarray(left), np.asarray(right))
            assert getattr(left, "unit", None) == getattr(right, "unit", None)
    assert a.meta.keys() == b.meta.keys()
    for key in a.meta:
        assert np.all(a.meta[key] == b.meta[key]), key


# --------------------------------------------------------------------------- probability


def test_probability_is_dimensionless_one_per_row(kepler_lc, random_model):
    probability = predict_flare_probability(kepler_lc, model=random_model)
    assert isinstance(probability, u.Quantity)
    assert probability.unit == u.dimensionless_unscaled
    assert probability.shape == (len(kepler_lc),)
    finite = probability[np.isfinite(probability)]
    assert finite.size > 0
    assert np.all((finite >= 0) & (finite <= 1))


def test_probability_nan_where_flux_unusable(kepler_file, random_model):
    lc = lk.read(kepler_file.path, quality_bitmask="none")
    probability = predict_flare_probability(lc, model=random_model).value
    flagged = _rows_of(lc, kepler_file.cadenceno[list(kepler_file.flagged_rows)])
    nan_flux = _rows_of(lc, kepler_file.cadenceno[list(kepler_file.nan_flux_rows)])
    assert np.all(np.isnan(probability[flagged]))
    assert np.all(np.isnan(probability[nan_flux]))
    assert np.isnan(probability).sum() == len(flagged) + len(nan_flux)
    # with no quality mask the flagged row gets a probability
    kept = predict_flare_probability(lc, model=random_model, quality_bitmask="none").value
    assert np.all(np.isfinite(kept[flagged]))


def test_probability_above_half_exactly_on_flares(kepler_file, kepler_lc, threshold_model):
    probability = predict_flare_probability(kepler_lc, model=threshold_model).value
    expected = np.concatenate(
        [_rows_of(kepler_lc, [c]) + np.arange(FLARE_FLAGGED) for c in kepler_file.flare_cadences()]
    )
    np.testing.assert_array_equal(np.flatnonzero(probability > 0.5), expected)


def test_model_from_directory_equals_model_object(kepler_lc, random_model, random_model_dir):
    from_dir = predict_flare_probability(kepler_lc, model=random_model_dir)
    from_object = predict_flare_probability(kepler_lc, model=random_model)
    np.testing.assert_allclose(from_dir.value, from_object.value, rtol=1e-6, equal_nan=True)


def test_chunking_does_not_change_probabilities(tess_lc, random_model):
    whole = predict_flare_probability(tess_lc, model=random_model)
    chunked = predict_flare_probability(tess_lc, model=random_model, chunk_size=64, batch_size=3)
    np.testing.assert_allclose(chunked.value, whole.value, rtol=1e-5, atol=1e-6, equal_nan=True)


def test_arrays_with_flux_keyword(random_model):
    time = Time(2459000 + np.arange(300) / 720, format="jd", scale="tdb")
    flux = flare_flux(300, [100]) * u.electron / u.s
    probability = predict_flare_probability(time, flux=flux, model=random_model)
    assert probability.shape == (300,)
    table = detect_flares(time, flux=flux, model=make_threshold_model())
    assert list(table["istart"]) == [100]
    assert table["tstart"][0] == time[100]


# --------------------------------------------------------------------------- detection


def test_detected_indices_are_rows_of_the_input(kepler_file, kepler_lc, threshold_model):
    flares = detect_flares(kepler_lc, model=threshold_model)
    assert isinstance(flares, FlareTable)
    starts = _rows_of(kepler_lc, kepler_file.flare_cadences())
    np.testing.assert_array_equal(flares["istart"], starts)
    np.testing.assert_array_equal(flares["ipeak"], starts)
    np.testing.assert_array_equal(flares["istop"], starts + FLARE_FLAGGED - 1)
    assert np.all(flares["tstart"] == kepler_lc.time[starts])
    np.testing.assert_allclose(flares["amplitude"].value, FLARE_PROFILE[0], rtol=0.05)
    assert np.all(flares["score"] > 0.5) and np.all(flares["max_score"] >= flares["score"])


def test_runs_never_bridge_a_gap(threshold_model):
    # Four high samples, but a gap of five cadences after the second: two flares.
    steps = np.ones(59)
    steps[21] = 6
    time = 2459000 + np.concatenate([[0.0], np.cumsum(steps)]) * TESS_DAY
    flux = np.ones(60)
    flux[[20, 21, 22, 23]] = [1.2, 1.1, 1.2, 1.1]
    rules = {"merge_gap": 0, "min_points": 1}
    flares = detect_flares(time, flux=flux, model=threshold_model, rules=rules)
    assert list(flares["istart"]) == [20, 22]
    assert list(flares["istop"]) == [21, 23]


def test_several_light_curves_at_once(kepler_lc, tess_lc, threshold_model, random_model):
    together = detect_flares([kepler_lc, tess_lc], model=threshold_model)
    assert isinstance(together, list) and len(together) == 2
    for table, lc in zip(together, [kepler_lc, tess_lc], strict=True):
        alone = detect_flares(lc, model=threshold_model)
        np.testing.assert_array_equal(table["istart"], alone["istart"])
        np.testing.assert_allclose(table["score"], alone["score"])
        assert table.meta["TARGET"] == alone.meta["TARGET"]
    probabilities = predict_flare_probability((kepler_lc, tess_lc), model=random_model)
    single = predict_flare_probability(tess_lc, model=random_model)
    np.testing.assert_allclose(probabilities[1].value, single.value, rtol=1e-6, equal_nan=True)
    assert detect_flares([], model=random_model) == []


def test_input_light_curve_is_not_modified(kepler_lc, threshold_model):
    before = copy.deepcopy(kepler_lc)
    detect_flares(kepler_lc, model=threshold_model, rules="published")
    predict_flare_probability(kepler_lc, model=threshold_model, quality_bitmask="hard")
    kepler_lc.flares.detect(model=threshold_model)
    _assert_same_light_curve(kepler_lc, before)


def test_input_arrays_are_not_modified(threshold_model):
    time = 2459000 + np.arange(200) / 720
    flux = flare_flux(200, [50])
    flux[10] = np.nan
    time_before, flux_before = time.copy(), flux.copy()
    detect_flares(time, flux=flux, model=threshold_model)
    np.testing.assert_array_equal(time, time_before)
    np.testing.assert_array_equal(flux, flux_before)


def test_meta_records_provenance(kepler_lc, tess_lc, threshold_model, threshold_model_dir):
    kepler = detect_flares(kepler_lc, model=threshold_model_dir, threshold=0.6)
    assert kepler.meta["TARGET"] == "KIC 1234567"
    assert kepler.meta["MISSION"] == "Kepler"
    assert kepler.meta["QUARTER"] == 5
    assert kepler.meta["CADENCE"] == pytest.approx(29.4244, rel=1e-6)
    assert kepler.meta["MODEL"] == str(threshold_model_dir)
    assert kepler.meta["MODELSUM"] == threshold_model.checksum()
    assert kepler.meta["THRESH"] == 0.6
    assert kepler.meta["RULES"] == "default"
    assert kepler.meta["FCN4FVER"] == fcn4flare.__version__
    assert kepler.meta["FLUXCOL"] == "flux"
    tess = detect_flares(tess_lc, model=threshold_model, rules={"min_points": 2})
    assert tess.meta["SECTOR"] == 1 and "QUARTER" not in tess.meta
    assert tess.meta["CADENCE"] == pytest.approx(2.0, rel=1e-6)
    assert tess.meta["MODEL"] == "FCN4FlareModel (in memory)"
    assert tess.meta["RULES"] == "min_points=2"
    assert set(tess["target"]) == {"TIC 7654321"}


def test_checksum_computed_once_per_model_until_weights_change(kepler_lc, monkeypatch):
    import hashlib

    import fcn4flare.network.model as model_module

    model = make_threshold_model()
    calls = []
    sha256 = hashlib.sha256

    def counting(*args):
        calls.append(1)
        return sha256(*args)

    monkeypatch.setattr(model_module.hashlib, "sha256", counting)
    first = detect_flares(kepler_lc, model=model).meta["MODELSUM"]
    second = detect_flares(kepler_lc, model=model).meta["MODELSUM"]
    assert first == second and len(calls) == 1
    with torch.no_grad():
        model.seghead.projector.bias += 0.01
    third = detect_flares(kepler_lc, model=model).meta["MODELSUM"]
    assert len(calls) == 2 and third != first


def test_threshold_selects_samples(kepler_lc, random_model):
    probability = predict_flare_probability(kepler_lc, model=random_model).value
    threshold = float(np.nanquantile(probability, 0.9))
    rules = {"merge_gap": 0, "min_points": 1}
    flares = detect_flares(kepler_lc, model=random_model, threshold=threshold, rules=rules)
    flagged = np.zeros(len(kepler_lc), dtype=bool)
    for start, stop in zip(flares["istart"], flares["istop"], strict=True):
        flagged[start : stop + 1] = True
    np.testing.assert_array_equal(flagged, probability > threshold)


def test_without_threshold_the_model_chooses(kepler_file, kepler_lc, random_model):
    probability = predict_flare_probability(kepler_lc, model=random_model).value
    model = copy.deepcopy(random_model)
    model.config.detection_threshold = float(np.nanquantile(probability, 0.8))
    rules = {"merge_gap": 0, "min_points": 1}
    own = detect_flares(kepler_lc, model=model, rules=rules)
    assert own.meta["THRESH"] == model.config.detection_threshold
    explicit = detect_flares(kepler_lc, model=model, threshold=0.5, rules=rules)
    assert explicit.meta["THRESH"] == 0.5
    assert len(own) != len(explicit)
    from_accessor = kepler_lc.flares.detect(model=model, rules=rules)
    assert list(from_accessor["istart"]) == list(own["istart"])
    in_files = fcn4flare.detect_flares_in_files(kepler_file.path, model=model, rules=rules,
                                                progress=False)
    # Batch rows are the file's rows; the fixture was read with the default bitmask.
    assert list(in_files.table["tstart"].value) == list(own["tstart"].value)


# --------------------------------------------------------------------------- rules


def test_published_rules_reject_a_slow_rise(threshold_model):
    time = 2459000 + np.arange(80) / 720
    flux = np.ones(80)
    flux[30:36] = [1.02, 1.05, 1.1, 1.2, 1.05, 1.02]  # rises over 3 samples, decays in 2
    flux[50:55] = 1 + FLARE_PROFILE[:5]
    default = detect_flares(time, flux=flux, model=threshold_model)
    published = detect_flares(time, flux=flux, model=threshold_model, rules="published")
    assert list(default["istart"]) == [30, 50]
    assert list(published["istart"]) == [50]
    assert published.meta["RULES"] == "published"


def test_rule_overrides(threshold_model):
    time = 2459000 + np.arange(80) / 720
    flux = np.ones(80)
    flux[20:25] = 1 + FLARE_PROFILE[:5]
    flux[50:53] = 1 + FLARE_PROFILE[:3]
    assert len(detect_flares(time, flux=flux, model=threshold_model)) == 2
    longer = detect_flares(time, flux=flux, model=threshold_model, rules={"min_points": 4})
    assert list(longer["istart"]) == [20]
    merged = detect_flares(time, flux=flux, model=threshold_model, rules={"merge_gap": 30})
    assert list(merged["istart"]) == [20] and list(merged["istop"]) == [52]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rules": "strict"}, "unknown rules 'strict'"),
        ({"rules": {"min_point": 3}}, "unknown rule(s) 'min_point'"),
        ({"rules": {"threshold": 0.3}}, "threshold="),
        ({"rules": 3}, "rules must be"),
        ({"threshold": 1.5}, "threshold must be in [0, 1)"),
        ({"threshold": "high"}, "threshold must be a number"),
    ],
)
def test_invalid_rules_and_thresholds(kepler_lc, random_model, kwargs, message):
    with pytest.raises(InputError) as info:
        detect_flares(kepler_lc, model=random_model, **kwargs)
    assert message in str(info.value)


def test_rule_presets_match_postprocessing():
    from fcn4flare.detection import DEFAULT_RULES, PUBLISHED_RULES

    assert RULE_PRESETS["published"].as_kwargs() == {
        k: v for k, v in PUBLISHED_RULES.items() if k != "threshold"
    }
    assert RULE_PRESETS["default"].as_kwargs() == {
        k: v for k, v in DEFAULT_RULES.items() if k != "threshold"
    }


# --------------------------------------------------------------------------- flux column


def test_lightkurve_flux_column_is_used_as_given(kepler_lc, threshold_model):
    # A detrended light curve: only `flux` changes; pdcsap_flux keeps the raw values.
    flat = kepler_lc.copy()
    flat.flux = np.ones(len(flat)) * flat.flux.unit * np.nanmedian(flat.flux.value)
    assert len(detect_flares(flat, model=threshold_model)) == 0
    raw = detect_flares(flat, model=threshold_model, flux_column="pdcsap_flux")
    assert len(raw) == 3 and raw.meta["FLUXCOL"] == "pdcsap_flux"


def test_timeseries_input(threshold_model):
    time = Time(2459000 + np.arange(120) / 720, format="jd", scale="tdb")
    series = TimeSeries(time=time, data={"flux": flare_flux(120, [60]) * u.electron / u.s})
    flares = detect_flares(series, model=threshold_model)
    assert list(flares["istart"]) == [60]


# --------------------------------------------------------------------------- errors


def test_all_nan_light_curve_is_an_input_error(random_model):
    lc = lk.LightCurve(time=2459000 + np.arange(50) / 720, flux=np.full(50, np.nan))
    with pytest.raises(InputError, match="no usable flux"):
        detect_flares(lc, model=random_model)


def test_error_in_a_list_names_the_light_curve(kepler_lc, random_model):
    bad = lk.LightCurve(time=2459000 + np.arange(50) / 720, flux=np.full(50, np.nan))
    with pytest.raises(InputError, match="^light curve 1: "):
        detect_flares([kepler_lc, bad], model=random_model)
    with pytest.raises(InputError, match="light curve 1 of the list is a ndarray"):
        detect_flares([kepler_lc, np.ones(5)], model=random_model)


def test_negative_median_is_an_input_error(random_model):
    time = 2459000 + np.arange(50) / 720
    with pytest.raises(InputError, match="median"):
        detect_flares(time, flux=-np.ones(50), model=random_model)


def test_device_mismatch_is_an_input_error(kepler_lc, random_model):
    with pytest.raises(InputError, match="lives on cpu"):
        detect_flares(kepler_lc, model=random_model, device="meta")


def test_not_a_model(kepler_lc):
    with pytest.raises(InputError, match="FCN4FlareModel"):
        detect_flares(kepler_lc, model=torch.nn.Linear(2, 2))


def test_default_model(kepler_lc):
    if DEFAULT_MODEL in available_models():
        assert isinstance(detect_flares(kepler_lc), FlareTable)
    else:
        with pytest.raises(CheckpointError, match=DEFAULT_MODEL):
            detect_flares(kepler_lc)


def test_detection_module_exports():
    assert {"FlareDetector", "Detection", "DetectionRules", "detect_flares",
            "predict_flare_probability", "RULE_PRESETS", "detect_flares_in_files",
            "BatchResult", "FlareAccessor"} <= set(detection.__all__)
    for name in detection.__all__:
        assert getattr(detection, name) is not None


@pytest.mark.parametrize("suffix", [".fits", ".ecsv"])
def test_table_round_trips_through_files(kepler_lc, threshold_model_dir, tmp_path, suffix):
    flares = detect_flares(kepler_lc, model=threshold_model_dir, rules={"min_points": 2})
    path = tmp_path / f"flares{suffix}"
    flares.write(path)
    back = FlareTable.read(path)
    np.testing.assert_array_equal(back["istart"], flares["istart"])
    assert back["tpeak"].format == "bkjd"
    for key in ("TARGET", "MODEL", "MODELSUM", "THRESH", "RULES", "QUARTER", "FLUXCOL"):
        assert back.meta[key] == flares.meta[key], key


# --------------------------------------------------------------------------- fast rotators


@pytest.mark.parametrize("offset", [6, 18, 42])
def test_flares_of_a_fast_rotator_are_measured_against_its_rotation(offset):
    # A 1.2-day rotator at Kepler's 30-minute cadence, 30 times the noise in amplitude, with
    # a flare of 10 noise units decaying over 5 hours on the slope of its spot modulation.
    from fcn4flare.catalog import measure_flares

    t = np.arange(3000)
    phase = 2 * np.pi * t / 57.3
    star = 0.02 * np.sin(phase) + 0.01 * np.sin(2 * phase + 1.0)
    peak = 1500 + offset
    flare = np.where(t >= peak, 0.01 * np.exp(-(t - peak) / 10.0), 0.0)
    flux = 1 + star + flare + 1e-3 * np.random.default_rng(7).standard_normal(t.size)
    lc = lk.LightCurve(time=t * 29.4244 / 1440, flux=flux)
    table = detect_flares(lc)
    row = np.argmin(np.abs(table["tpeak"].value - lc.time.value[peak]))
    true_ed = 0.01 * 10.0 * 29.4244 * 60  # seconds
    amplitude = u.Quantity(table["amplitude"][row]).to_value(u.dimensionless_unscaled)
    assert amplitude == pytest.approx(0.01 / (1 + star[peak]), rel=0.1)
    assert table["equivalent_duration"][row].to_value(u.s) == pytest.approx(true_ed, rel=0.15)
    start, stop = np.searchsorted(lc.time.value, [table["tstart"][row].value,
                                                  table["tstop"][row].value])
    running = measure_flares(lc.time.value, flux, [start], [stop])  # the default level
    assert abs(running["equivalent_duration"][0].to_value(u.s) / true_ed - 1) > 0.5


# --------------------------------------------------------------------------- the detector


def test_detector_in_two_threads_gives_what_each_light_curve_gives_alone(kepler_lc, tess_lc):
    import concurrent.futures

    detector = fcn4flare.FlareDetector()
    curves = [kepler_lc, tess_lc] * 3
    alone = [detector.run(lc) for lc in curves[:2]]
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        together = list(pool.map(detector.run, curves))
    for k, result in enumerate(together):
        expected = alone[k % 2]
        np.testing.assert_array_equal(result.grid_probability, expected.grid_probability)
        np.testing.assert_array_equal(result.trend.trend, expected.trend.trend)
        got, want = result.table(), expected.table()
        for column in ("istart", "istop", "amplitude", "equivalent_duration", "score"):
            np.testing.assert_array_equal(np.asarray(got[column]), np.asarray(want[column]))
    assert together[0].trend.trend.shape != together[1].trend.trend.shape


def test_detection_result_object(kepler_lc, threshold_model):
    detection = fcn4flare.FlareDetector(threshold_model, rules="published").run(kepler_lc)
    assert isinstance(detection, fcn4flare.Detection)
    assert detection.probability.unit == u.dimensionless_unscaled
    assert detection.probability.shape == (len(kepler_lc),)
    assert detection.rules.name == "published" and detection.rules.threshold == 0.5
    table = detection.table()
    assert len(table) == len(detection.events) and table.meta["RULES"] == "published"
    np.testing.assert_array_equal(
        table["istart"],
        detect_flares(kepler_lc, model=threshold_model, rules="published")["istart"],
    )
    many = fcn4flare.FlareDetector(threshold_model).run([kepler_lc, kepler_lc])
    assert isinstance(many, list) and len(many) == 2
    with pytest.raises(InputError, match="light curve 1"):
        fcn4flare.FlareDetector(threshold_model).run([kepler_lc, kepler_lc[:1]])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rules": {"merge_gap": "three"}}, "merge_gap"),
        ({"rules": "nope"}, "unknown rules"),
        ({"threshold": 1.5}, "threshold"),
        ({"chunk_size": "a"}, "chunk_size"),
        ({"batch_size": 0}, "batch_size"),
    ],
)
def test_detector_options_are_checked_where_they_enter(threshold_model, kwargs, message):
    with pytest.raises(InputError, match=message):
        fcn4flare.FlareDetector(threshold_model, **kwargs)


def test_import_does_not_load_torch():
    import subprocess
    import sys

    code = ("import sys, fcn4flare, lightkurve as lk; assert 'torch' not in sys.modules; "
            "assert hasattr(lk.LightCurve, 'flares'); fcn4flare.FlareDetector; "
            "assert 'torch' not in sys.modules; fcn4flare.FCN4FlareModel; "
            "assert 'torch' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_old_module_paths_warn_and_still_work():
    import importlib

    from fcn4flare.exceptions import FCN4FlareDeprecationWarning

    moved = {
        "preprocessing": ("scale_flux", "fcn4flare.scaling"),
        "postprocessing": ("detect_events", "fcn4flare.detection.rules"),
        "model": ("FCN4FlareModel", "fcn4flare.network.model"),
        "table": ("FlareTable", "fcn4flare.catalog.table"),
        "rotation": ("rotation_trend", "fcn4flare.trend.rotation"),
        "batch": ("detect_flares_in_files", "fcn4flare.detection.batch"),
    }
    for old, (name, new) in moved.items():
        module = importlib.import_module(f"fcn4flare.{old}")
        with pytest.warns(FCN4FlareDeprecationWarning, match=new):
            value = getattr(module, name)
        assert value is getattr(importlib.import_module(new), name)
    with pytest.raises(AttributeError):
        _ = importlib.import_module("fcn4flare.preprocessing").nothing_here


def test_catalog_exports_its_fit_on_first_use():
    import subprocess
    import sys

    from fcn4flare import catalog
    from fcn4flare.catalog import fit

    assert set(fit.__all__) <= set(catalog.__all__)
    for name in catalog.__all__:
        assert getattr(catalog, name) is not None
    assert catalog.fit_flare is fit.fit_flare and "fit_flare" in dir(catalog)
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        catalog.nothing  # noqa: B018
    # A detection without vetting never loads the template fit (nor SciPy's optimisers).
    code = ("import sys, numpy as np, lightkurve as lk, fcn4flare;"
            "t = np.arange(3000) / 720;"
            "f = 1 + 1e-3 * np.random.default_rng(0).normal(size=t.size);"
            "f[1500:1510] += 0.05 * np.exp(-np.arange(10) / 3);"
            "flares = lk.LightCurve(time=t, flux=f).flares.detect();"
            "print(len(flares), 'fcn4flare.catalog.fit' in sys.modules)")
    done = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True,
                          text=True, check=True)
    n_flares, loaded = done.stdout.split()[-2:]
    assert int(n_flares) >= 1 and loaded == "False"
