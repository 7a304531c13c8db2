"""Hysteresis events and the template-fit vetting stage."""

import warnings

import astropy.units as u
import lightkurve as lk
import numpy as np
import pytest

from fcn4flare.detection import DetectionRules, detect_events
from fcn4flare.detection.vetting import DEFAULT_VETTING, VettingRules, vet_events
from fcn4flare.exceptions import InputError
from fcn4flare.simulate import flare_model

PROB = np.array([0.1, 0.4, 0.6, 0.9, 0.5, 0.45, 0.2, 0.45, 0.35, 0.1, 0.8, 0.1])
FLUX = np.array([1, 1.1, 1.2, 2, 1.5, 1.3, 1.1, 1.05, 1, 1, 1.2, 1])


def test_hysteresis_extends_seeded_runs_only():
    plain = detect_events(PROB, FLUX, threshold=0.7, min_points=1, merge_gap=0)
    assert plain.start.tolist() == [3, 10] and plain.stop.tolist() == [3, 10]
    events = detect_events(PROB, FLUX, threshold=0.7, min_points=1, merge_gap=0,
                           low_threshold=0.3)
    # 1..5 is seeded by 0.9; 7..8 (0.45, 0.35) never passes 0.7 and stays out
    assert events.start.tolist() == [1, 10] and events.stop.tolist() == [5, 10]


def test_hysteresis_equal_thresholds_is_plain():
    a = detect_events(PROB, FLUX, threshold=0.5, min_points=1)
    b = detect_events(PROB, FLUX, threshold=0.5, min_points=1, low_threshold=0.5)
    assert np.array_equal(a.start, b.start) and np.array_equal(a.stop, b.stop)


def test_hysteresis_rules_validated():
    rules = DetectionRules.resolve({"low_threshold": 0.3}, threshold=0.7)
    assert rules.low_threshold == 0.3 and rules.name == "low_threshold=0.3"
    assert rules.apply(PROB, FLUX).stop.tolist() == [5]
    with pytest.raises(InputError, match="must not exceed"):
        DetectionRules.resolve({"low_threshold": 0.8}, threshold=0.7)
    with pytest.raises(InputError, match="must not exceed"):
        detect_events(PROB, FLUX, threshold=0.5, low_threshold=0.6)


@pytest.fixture(scope="module")
def star():
    rng = np.random.default_rng(2)
    days = np.arange(3000) * 2 / 1440
    flux = 1 + 1e-3 * rng.standard_normal(days.size)
    flux += 0.01 * np.sin(2 * np.pi * days / 1.3)  # a spotted star
    flux += flare_model(days, 1.0, 8 / 1440, 0.02, exposure_time=2 / 1440)
    return days, flux


def test_vetting_separates_flare_from_noise(star):
    days, flux = star
    peak = int(np.argmin(np.abs(days - 1.0)))
    result = vet_events(days, flux, np.array([peak - 3, 2000]), np.array([peak + 20, 2020]))
    assert result.delta_bic[0] > 30 > result.delta_bic[1]
    assert result.weight[0] > 0.99 and result.weight[1] < 0.9
    assert result.fits[0].success
    assert abs(result.fits[0].amplitude.value - 0.02) < 0.005


def test_vetting_grid_and_refined_fits_agree(star):
    days, flux = star
    peak = int(np.argmin(np.abs(days - 1.0)))
    starts, stops = np.array([peak - 3, 2000]), np.array([peak + 20, 2020])
    assert not VettingRules().refine
    grid = vet_events(days, flux, starts, stops)
    refined = vet_events(days, flux, starts, stops, VettingRules(refine=True))
    assert grid.fits[0].message.startswith("grid optimum")
    assert not refined.fits[0].message.startswith("grid optimum")
    assert grid.delta_bic[0] == pytest.approx(refined.delta_bic[0], rel=0.05)
    assert grid.fits[0].amplitude.value == pytest.approx(refined.fits[0].amplitude.value,
                                                         rel=0.1)
    assert max(grid.delta_bic[1], refined.delta_bic[1]) < 10


def test_vetting_rejects_and_weighs():
    rules = VettingRules(midpoint=10, width=5, reject_below=0)
    assert rules.weight([np.nan])[0] == 1.0
    assert rules.weight([10.0])[0] == pytest.approx(0.5)
    with pytest.raises(InputError):
        VettingRules(width=0)
    with pytest.raises(InputError):
        VettingRules(midpoint=np.inf)


def test_vetting_without_enough_samples_keeps_the_event():
    days = np.arange(8) * 0.02
    result = vet_events(days, np.ones(8), np.array([2]), np.array([4]))
    assert np.isnan(result.delta_bic[0]) and result.weight[0] == 1.0 and result.keep[0]


@pytest.fixture(scope="module")
def spotted_lc(star):
    days, flux = star
    return lk.LightCurve(time=2459000 + days, flux=flux, flux_err=np.full(days.size, 1e-3))


def test_detector_vetting_columns_and_scores(spotted_lc):
    from fcn4flare import FlareDetector

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = FlareDetector(threshold=0.3).run(spotted_lc)
        vetted = FlareDetector(threshold=0.3, vetting=True).run(spotted_lc)
    assert vetted.vetting is DEFAULT_VETTING and plain.vetting is None
    table = vetted.table()
    assert {"fit_tpeak", "fit_amplitude", "fit_fwhm", "delta_bic"} <= set(table.colnames)
    assert table["fit_fwhm"].unit == u.min
    assert "delta_bic" not in plain.table().colnames
    # the injected flare is found and vetted as a flare, its fitted peak near the truth
    near = np.abs(table["tpeak"].jd - (2459000 + 1.0)) < 0.01
    assert near.sum() == 1
    assert table["delta_bic"][near][0] > 30
    assert abs(table["fit_tpeak"][near][0].jd - (2459000 + 1.0)) < 2 / 1440
    # vetting only ever lowers scores and probabilities
    assert np.all(vetted.grid_probability <= vetted.network_probability + 1e-12)
    assert np.all(np.isin(vetted.events.start, plain.events.start))


def test_detector_vetting_option_checked():
    from fcn4flare import FlareDetector

    with pytest.raises(InputError, match="vetting"):
        FlareDetector(vetting="yes")
