"""Fuzz suite: bad, odd and hostile inputs, each with its exact outcome.

Every case states what must happen: the right answer, or the right package exception with
the words that name the problem. Cases are grouped (light curves, times and units, options,
files, models, tables, metrics); all are seeded and fast.
"""

from __future__ import annotations

import json
import pickle
import shutil

import astropy.units as u
import lightkurve as lk
import numpy as np
import pytest
import torch
from astropy.table import QTable
from astropy.time import Time, TimeDelta
from astropy.timeseries import TimeSeries
from conftest import FLARE_PROFILE, make_threshold_model, write_light_curve_fits

import fcn4flare
from fcn4flare import metrics
from fcn4flare.exceptions import CheckpointError, FCN4FlareError, InputError

N = 300
CADENCE = 2.0 / 1440
T0 = 2459000.0


@pytest.fixture(scope="module")
def model():
    return make_threshold_model()


def _times(n=N):
    return T0 + np.arange(n) * CADENCE


def _flux(n=N, flare_at=None, level=1000.0, seed=0):
    rng = np.random.default_rng(seed)
    flux = level * (1 + 1e-3 * rng.standard_normal(n))
    if flare_at is not None:
        stop = min(n, flare_at + len(FLARE_PROFILE))
        flux[flare_at:stop] += level * FLARE_PROFILE[: stop - flare_at]
    return flux


def _masked(values, mask):
    return np.ma.masked_array(values, mask=mask)


def _run(model, time, flux, **kwargs):
    return fcn4flare.detect_flares(time, flux=flux, model=model, **kwargs)


# --------------------------------------------------------------------------- light curves

BAD_LIGHT_CURVES = {
    "empty": (np.array([]), np.array([]), "empty"),
    "one sample": (_times(1), _flux(1), "only 1 usable"),
    "two samples": (_times(2), _flux(2), "only 2 usable"),
    "all NaN flux": (_times(), np.full(N, np.nan), "no usable flux"),
    "all inf flux": (_times(), np.full(N, np.inf), "no usable flux"),
    "all masked flux": (_times(), _masked(_flux(), np.ones(N, bool)), "no usable flux"),
    "lengths differ": (_times(), _flux(N - 1), "time has 300 values but flux has 299"),
    "NaN time": (np.where(np.arange(N) == 7, np.nan, _times()), _flux(), "not finite"),
    "inf time": (np.where(np.arange(N) == 7, np.inf, _times()), _flux(), "not finite"),
    "unsorted times": (_times()[::-1], _flux(), "not sorted"),
    "duplicated times": (np.repeat(_times(N // 2), 2), _flux(), "duplicated times"),
    "2-D flux": (_times(), _flux().reshape(2, -1), "one-dimensional"),
    "string flux": (_times(), np.array(["a"] * N), "numeric"),
    "None in flux": (_times(3), [1.0, None, "x"], "numeric"),
    "magnitudes": (_times(), _flux() * u.mag, "logarithmic"),
    "metres": (_times(), _flux() * u.m, "not a brightness"),
    "time in metres": (_times() * u.m, _flux(), "not a time"),
    "negative median": (_times(), -_flux(), "median flux"),
    "zero flux": (_times(), np.zeros(N), "median flux"),
}


@pytest.mark.parametrize("case", sorted(BAD_LIGHT_CURVES))
def test_bad_light_curve_is_refused_with_its_reason(model, case):
    time, flux, words = BAD_LIGHT_CURVES[case]
    with pytest.raises(InputError, match=words):
        _run(model, time, flux)


GOOD_LIGHT_CURVES = {
    "plain days": (_times(), _flux(flare_at=100)),
    "electrons per second": (_times(), _flux(flare_at=100) * u.electron / u.s),
    "millijansky": (_times(), _flux(flare_at=100) * u.mJy),
    "normalised flux": (_times(), _flux(flare_at=100) / 1000.0),
    "huge flux": (_times(), _flux(flare_at=100) * 1e27),
    "tiny flux": (_times(), _flux(flare_at=100) * 1e-27),
    "float32 flux": (_times(), _flux(flare_at=100).astype(np.float32)),
    "integer flux": (_times(), np.rint(_flux(flare_at=100, level=1e6)).astype(np.int64)),
    "python lists": (list(_times()), list(_flux(flare_at=100))),
    "time in hours": ((_times() - T0) * 24 * u.h, _flux(flare_at=100)),
    "time as TimeDelta": (TimeDelta(_times() - T0, format="jd"), _flux(flare_at=100)),
    "Time in BTJD": (Time(_times() - 2457000.0, format="btjd", scale="tdb"),
                     _flux(flare_at=100)),
    "Time in MJD (UTC)": (Time(_times() - 2400000.5, format="mjd", scale="utc"),
                          _flux(flare_at=100)),
    "Time in ISO": (Time(Time(_times(), format="jd").iso, format="iso", scale="utc"),
                    _flux(flare_at=100)),
    "some NaN flux": (_times(), np.where(np.arange(N) % 17 == 3, np.nan, _flux(flare_at=100))),
    "some inf flux": (_times(), np.where(np.arange(N) == 250, np.inf, _flux(flare_at=100))),
    "some masked flux": (_times(), _masked(_flux(flare_at=100), np.arange(N) == 250)),
    "a month-long gap": (np.where(np.arange(N) > 200, _times() + 30, _times()),
                         _flux(flare_at=100)),
    "a gap of ten years": (np.where(np.arange(N) > 200, _times() + 3650, _times()),
                           _flux(flare_at=100)),
    "jittered times": (_times() + 1e-5 * np.random.default_rng(1).uniform(-1, 1, N),
                       _flux(flare_at=100)),
}


@pytest.mark.parametrize("case", sorted(GOOD_LIGHT_CURVES))
def test_odd_but_valid_light_curve_gives_the_flare(model, case):
    time, flux = GOOD_LIGHT_CURVES[case]
    flares = _run(model, time, flux)
    assert list(flares["istart"]) == [100]
    assert list(flares["istop"]) == [104]


@pytest.mark.parametrize("first", [0, 1, 2])
def test_flare_at_the_start(model, first):
    flares = _run(model, _times(), _flux(flare_at=first))
    assert list(flares["istart"]) == [first]


def test_flare_at_the_very_end(model):
    flares = _run(model, _times(), _flux(flare_at=N - 3))
    assert list(flares["istart"]) == [N - 3] and list(flares["istop"]) == [N - 1]


def test_three_samples_are_enough(model):
    assert len(_run(model, _times(3), [1.0, 1.0, 1.0])) == 0


def test_clumped_sampling_over_years_is_detected(model):
    nights = np.arange(300)[:, None] * 1.0
    time = T0 + (nights + np.arange(4)[None, :] * CADENCE).ravel()
    flux = _flux(time.size, flare_at=600)
    flares = _run(model, time, flux)
    assert 600 in list(flares["istart"])


def test_input_light_curve_is_not_mutated(model):
    lc = lk.LightCurve(time=Time(_times(), format="jd"), flux=_flux(flare_at=100))
    before = lc.copy()
    lc.flares.detect(model=model)
    lc.flares.predict(model=model)
    np.testing.assert_array_equal(lc.flux.value, before.flux.value)
    np.testing.assert_array_equal(lc.time.value, before.time.value)
    assert lc.colnames == before.colnames


# --------------------------------------------------------------------------- objects


def test_light_curve_collection_gives_one_table_each(model):
    lc = lk.LightCurve(time=Time(_times(), format="jd"), flux=_flux(flare_at=100))
    tables = fcn4flare.detect_flares(lk.LightCurveCollection([lc, lc]), model=model)
    assert [list(t["istart"]) for t in tables] == [[100], [100]]


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ("kplr001234567-2010009091648_llc.fits", "read the file first"),
        ([lk.LightCurve(time=_times(), flux=_flux()), np.ones(3)], "light curve 1 of the list"),
        (QTable({"t": _times(), "flux": _flux()}), "no 'time' column"),
        (TimeSeries(time=Time(_times(), format="jd"), data={"f": _flux()}), "no column 'flux'"),
        (np.ones(N), "flux is required"),
    ],
    ids=["a path", "list with an array", "table without time", "no flux column", "no flux"],
)
def test_wrong_kind_of_object_is_named(model, data, words):
    with pytest.raises(InputError, match=words):
        fcn4flare.detect_flares(data, model=model)


def test_time_series_with_flux_column(model):
    series = TimeSeries(time=Time(_times(), format="jd"), data={"flux": _flux(flare_at=100)})
    assert list(fcn4flare.detect_flares(series, model=model)["istart"]) == [100]


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"flux_column": "nope"}, "no column 'nope'"),
        ({"quality_bitmask": "bogus"}, "unknown quality_bitmask"),
        ({"quality_bitmask": 3.5}, "quality_bitmask must be"),
        ({"quality_bitmask": ["default"]}, "quality_bitmask must be"),
    ],
)
def test_bad_column_or_bitmask_on_a_light_curve(model, kwargs, words):
    lc = lk.LightCurve(time=Time(_times(), format="jd"), flux=_flux())
    lc["quality"] = np.zeros(N, dtype=int)
    with pytest.raises(InputError, match=words):
        lc.flares.detect(model=model, **kwargs)


# --------------------------------------------------------------------------- options


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"threshold": -0.1}, "threshold must be in"),
        ({"threshold": 1.0}, "threshold must be in"),
        ({"threshold": 1.5}, "threshold must be in"),
        ({"threshold": float("nan")}, "threshold must be in"),
        ({"threshold": "a"}, "threshold must be a number"),
        ({"threshold": True}, "threshold must be a number"),
        ({"rules": "nope"}, "unknown rules 'nope'"),
        ({"rules": 3}, "rules must be None"),
        ({"rules": {"threshold": 0.5}}, "threshold="),
        ({"rules": {"bogus": 1}}, "unknown rule"),
        ({"rules": {"merge_gap": -1}}, "'merge_gap' must be a non-negative whole number"),
        ({"rules": {"merge_gap": 1.5}}, "'merge_gap' must be a non-negative whole number"),
        ({"rules": {"merge_gap": "three"}}, "'merge_gap' must be a non-negative whole number"),
        ({"rules": {"min_points": True}}, "'min_points' must be a non-negative whole number"),
        ({"rules": {"peak_not_first": "yes"}}, "'peak_not_first' must be True or False"),
        ({"rules": {"level_consistency": 1}}, "'level_consistency' must be True or False"),
        ({"chunk_size": "a"}, "chunk_size must be a positive whole number"),
        ({"chunk_size": 0}, "chunk_size must be a positive whole number"),
        ({"chunk_size": 2.5}, "chunk_size must be a positive whole number"),
        ({"batch_size": 0}, "batch_size must be a positive whole number"),
        ({"batch_size": -3}, "batch_size must be a positive whole number"),
        ({"flux_column": 3}, "flux_column must be a column name"),
        ({"model": torch.nn.Linear(2, 2)}, "model must be an FCN4FlareModel"),
    ],
)
def test_option_is_named_when_it_is_wrong(model, kwargs, words):
    kwargs = {"model": model, **kwargs}
    with pytest.raises(InputError, match=words):
        fcn4flare.FlareDetector(**kwargs)
    with pytest.raises(InputError, match=words):
        fcn4flare.detect_flares(_times(), flux=_flux(), **kwargs)


@pytest.mark.parametrize("threshold", [0.0, 0.5, np.float32(0.25), 0.999999])
def test_threshold_in_range_is_accepted(model, threshold):
    flares = _run(model, _times(), _flux(flare_at=100), threshold=threshold)
    assert flares.meta["THRESH"] == float(threshold)


def test_chunk_size_below_the_model_context_is_named(model):
    with pytest.raises(InputError, match="chunk_size=4 must exceed twice the model's context"):
        _run(model, _times(), _flux(), chunk_size=4)


@pytest.mark.parametrize("n_jobs", [0, -2, "a", 1.5])
def test_bad_n_jobs(model, tmp_path, n_jobs):
    with pytest.raises(InputError, match="n_jobs must be"):
        fcn4flare.detect_flares_in_files([], model=model, n_jobs=n_jobs, progress=False)


# --------------------------------------------------------------------------- files


def _good_file(folder):
    return write_light_curve_fits(folder / "kplr000000042-2010009091648_llc.fits", "Kepler",
                                  n=400, flare_rows=(100,))


def _bad_files(folder):
    good = _good_file(folder).path
    data = good.read_bytes()
    files = {
        "empty": b"",
        "truncated": data[: len(data) // 2],
        "text named fits": b"SIMPLE = T this is not FITS at all\n" * 50,
        "random bytes": np.random.default_rng(0).bytes(10000),
    }
    paths = {}
    for name, content in files.items():
        path = folder / f"{name.replace(' ', '_')}.fits"
        path.write_bytes(content)
        paths[name] = path
    from astropy.io import fits

    primary_only = folder / "primary_only.fits"
    fits.PrimaryHDU(np.zeros((4, 4))).writeto(primary_only)
    paths["primary HDU only"] = primary_only
    wrong_columns = folder / "wrong_columns.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(
        [fits.Column(name="A", format="D", array=np.arange(10.0))])]).writeto(wrong_columns)
    paths["table without light-curve columns"] = wrong_columns
    nan_flux = write_light_curve_fits(folder / "kplr000000043-2010009091648_llc.fits",
                                      "Kepler", n=50, flare_rows=(),
                                      nan_flux_rows=tuple(range(50))).path
    paths["all-NaN flux"] = nan_flux
    paths["missing"] = folder / "does_not_exist.fits"
    return good, paths


@pytest.fixture(scope="module")
def file_cases(tmp_path_factory):
    return _bad_files(tmp_path_factory.mktemp("fuzz_files"))


@pytest.mark.parametrize("case", ["empty", "truncated", "text named fits", "random bytes",
                                  "primary HDU only", "table without light-curve columns",
                                  "all-NaN flux", "missing"])
def test_bad_file_is_isolated_and_the_run_goes_on(model, file_cases, case):
    good, bad = file_cases
    result = fcn4flare.detect_flares_in_files([bad[case], good], model=model, progress=False)
    assert result.processed == [str(good)]
    assert [path for path, _ in result.failures] == [str(bad[case])]
    assert list(result.table["istart"]) == [100]
    reason = result.failures[0][1]
    assert reason and "Traceback" not in reason


def test_directory_without_light_curves(model, tmp_path):
    (tmp_path / "notes.txt").write_text("no light curves here")
    result = fcn4flare.detect_flares_in_files(tmp_path, model=model, progress=False)
    assert result.processed == [] and result.failures == [] and len(result.table) == 0


# --------------------------------------------------------------------------- models


def _saved(tmp_path):
    directory = tmp_path / "model"
    make_threshold_model().save_pretrained(directory)
    return directory


def test_model_directory_without_config(tmp_path):
    directory = _saved(tmp_path)
    (directory / "config.json").unlink()
    with pytest.raises(CheckpointError, match="config.json"):
        _run(str(directory), _times(), _flux())


def test_model_with_corrupt_config_json(tmp_path):
    directory = _saved(tmp_path)
    (directory / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="config"):
        _run(str(directory), _times(), _flux())


def test_model_with_truncated_weights(tmp_path):
    directory = _saved(tmp_path)
    weights = directory / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(CheckpointError):
        _run(str(directory), _times(), _flux())


def test_model_name_that_is_not_shipped():
    with pytest.raises(CheckpointError, match="No shipped model named 'no-such-model'"):
        _run("no-such-model", _times(), _flux())


def test_pickled_checkpoint_is_never_run_without_trust(tmp_path):
    marker = tmp_path / "pwned"

    class Hostile:
        def __reduce__(self):
            return (shutil.copy, (__file__, str(marker)))

    path = tmp_path / "pytorch_model.bin"
    path.write_bytes(pickle.dumps({"state_dict": Hostile()}))
    (tmp_path / "config.json").write_text(json.dumps(make_threshold_model().config.to_dict()))
    with pytest.raises(FCN4FlareError):
        fcn4flare.FCN4FlareModel.from_pretrained(tmp_path)
    assert not marker.exists()


# --------------------------------------------------------------------------- metrics


@pytest.mark.parametrize(
    ("function", "labels", "scores", "words"),
    [
        (metrics.iou, [0, 1, 1], [0.1, 0.9], "labels has 3 samples but scores has 2"),
        (metrics.dice, [0, 2, 1], [0.1, 0.9, 0.8], "labels must be 0 or 1"),
        (metrics.f1_score, [0.5, 1, 0], [0.1, 0.9, 0.8], "labels must be 0 or 1"),
        (metrics.precision, [[0, 1], [1]], [[0.1, 0.9]], "sequences"),
        (metrics.recall, ["a", "b"], [0.1, 0.9], "numeric"),
    ],
)
def test_bad_metric_input_is_named(function, labels, scores, words):
    with pytest.raises(InputError, match=words):
        function(labels, scores)


@pytest.mark.parametrize("threshold", [float("nan"), "x", None])
def test_bad_metric_threshold(threshold):
    with pytest.raises(InputError, match="threshold must be a number"):
        metrics.iou([0, 1], [0.1, 0.9], threshold)


@pytest.mark.parametrize(("threshold", "expected"), [(-0.5, 0.5), (1.5, 0.0)])
def test_metric_threshold_outside_the_unit_interval_flags_all_or_nothing(threshold, expected):
    assert metrics.iou([0, 1], [0.1, 0.9], threshold) == pytest.approx(expected, abs=1e-7)


def test_padding_and_nan_scores_are_left_out():
    assert metrics.iou([1, 1, -100, 0], [0.9, 0.8, 0.9, np.nan]) == pytest.approx(1.0)


def test_nan_scores_raise_when_asked():
    with pytest.raises(InputError, match="NaN"):
        metrics.iou([1, 0], [0.9, np.nan], nan_policy="raise")


@pytest.mark.parametrize("min_overlap", [0, -1, 1.5, "a"])
def test_bad_min_overlap(min_overlap):
    with pytest.raises(InputError, match="min_overlap"):
        metrics.event_metrics([0, 1, 1, 0], [0.1, 0.9, 0.9, 0.1], min_overlap=min_overlap)


def test_metrics_accept_tensors_and_masked_arrays():
    labels = torch.tensor([0, 1, 1, 0])
    scores = np.ma.masked_array([0.1, 0.9, 0.2, 0.9], mask=[False, False, False, True])
    assert metrics.recall(labels, scores) == 0.5
    assert metrics.precision(labels, scores) == 1.0
