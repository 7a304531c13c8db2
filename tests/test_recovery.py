"""Injection-recovery: `fcn4flare.detection.injection_recovery` and `InjectionRecovery`."""

import warnings

import astropy.units as u
import lightkurve as lk
import numpy as np
import pytest

from fcn4flare.detection import FlareDetector, InjectionRecovery, injection_recovery
from fcn4flare.exceptions import InputError


@pytest.fixture(scope="module")
def quiet_star():
    flux = 1 + 1e-3 * np.random.default_rng(5).standard_normal(4000)
    return lk.LightCurve(time=2459000 + np.arange(4000) * 2 / 1440, flux=flux,
                         meta={"OBJECT": "quiet star"})


@pytest.fixture(scope="module")
def detector():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return FlareDetector()


@pytest.fixture(scope="module")
def result(quiet_star, detector):
    return injection_recovery(quiet_star, amplitude=(1e-4, 0.2), fwhm=(4 * u.min, 30 * u.min),
                              n_flares=4, n_realisations=8, seed=3, detector=detector)


def test_table_columns_and_units(result):
    table = result.table
    assert len(table) == 32 - result.n_skipped
    assert table["fwhm"].unit == u.min
    assert table["equivalent_duration"].unit == u.s
    assert table["recovered_equivalent_duration"].unit == u.s
    assert set(table["realisation"].tolist()) <= set(range(8))
    assert table["recovered"].dtype == bool
    assert np.all(np.isnan(table["ed_ratio"][~table["recovered"]]))
    assert np.all((table["amplitude"] >= 1e-4) & (table["amplitude"] <= 0.2))
    fwhm = table["fwhm"].to_value(u.min)
    assert np.all((fwhm >= 4) & (fwhm <= 30))
    assert result.meta["seed"] == 3 and "log-uniform" in result.meta["amplitude"]


def test_recovery_depends_on_amplitude(result):
    table = result.table
    strong = table["amplitude"] > 0.03  # over 30 times the noise
    weak = table["amplitude"] < 4e-4  # below half the noise
    assert strong.sum() >= 5 and weak.sum() >= 5
    assert table["recovered"][strong].mean() > 0.9
    assert table["recovered"][weak].mean() < 0.5


def test_recovered_flares_are_measured(result):
    table = result.table[result.table["recovered"]]
    assert len(table) > 5
    assert np.all(np.isfinite(table["ed_ratio"]))
    # the detector measures most of the energy of clear flares (long faint tails are lost)
    clear = table["amplitude"] > 0.03
    assert 0.4 < np.median(table["ed_ratio"][clear]) < 1.3
    assert np.all(table["recovered_tstart"][clear] <= table["tpeak"][clear])


def test_deterministic(quiet_star, detector):
    kwargs = dict(amplitude=(5e-3, 0.1), fwhm=(4 * u.min, 20 * u.min), n_flares=2,
                  n_realisations=2, seed=11, detector=detector)
    a = injection_recovery(quiet_star, **kwargs).table
    b = injection_recovery(quiet_star, **kwargs).table
    assert np.array_equal(a["amplitude"], b["amplitude"])
    assert np.array_equal(a["recovered"], b["recovered"])
    c = injection_recovery(quiet_star, **{**kwargs, "seed": 12}).table
    assert not np.array_equal(a["amplitude"], c["amplitude"])


def test_grid_values_are_drawn_from_the_grid(quiet_star, detector):
    grid = [0.01, 0.05, 0.2]
    out = injection_recovery(quiet_star, amplitude=grid, fwhm=[5, 10, 20] * u.min,
                             n_flares=3, n_realisations=2, seed=1, detector=detector)
    assert set(np.round(out.table["amplitude"].value, 6)) <= set(grid)
    assert set(np.round(out.table["fwhm"].to_value(u.min), 6)) <= {5.0, 10.0, 20.0}
    assert "grid" in out.meta["amplitude"]


def test_maps_and_ratios(result):
    a_edges, f_edges, probability, counts = result.recovery_map(3, 2)
    assert probability.shape == counts.shape == (3, 2)
    assert counts.sum() == len(result.table)
    assert f_edges.unit == u.min
    finite = probability[np.isfinite(probability)]
    assert np.all((finite >= 0) & (finite <= 1))
    centres, p = result.recovery_probability(4)
    assert centres.unit == u.s and np.all((p >= 0) & (p <= 1))
    centres, ratio = result.ed_ratio(3)
    assert centres.unit == u.s and ratio.size == centres.size
    explicit = result.recovery_map([1e-3, 1e-2, 1.0], [1, 10, 100] * u.min)[2]
    assert explicit.shape == (2, 2)


def test_existing_flares_are_not_scored(detector):
    from fcn4flare.simulate import example_light_curve

    lc = example_light_curve()
    out = injection_recovery(lc, amplitude=(0.05, 0.2), fwhm=(2 * u.min, 10 * u.min),
                             n_flares=5, n_realisations=4, seed=0, detector=detector)
    assert len(out.table) + out.n_skipped == 20
    real = detector.run(lc).table()
    for row in out.table:
        inside = (real["tstart"].jd <= row["tpeak"].jd) & (row["tpeak"].jd <= real["tstop"].jd)
        assert not inside.any()


def test_plot(result):
    import matplotlib

    matplotlib.use("Agg")
    ax = result.plot(amplitude_bins=3, fwhm_bins=3)
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert "quiet star" in ax.get_title()


def test_accessor_and_input_untouched(quiet_star, detector):
    before = quiet_star.flux.copy()
    out = quiet_star.flares.injection_recovery(fwhm=(4 * u.min, 10 * u.min), n_flares=1,
                                               n_realisations=1, detector=detector)
    assert isinstance(out, InjectionRecovery)
    assert np.array_equal(quiet_star.flux, before)
    assert "flare_label" not in quiet_star.colnames


def test_processes_match_serial(quiet_star, detector):
    kwargs = dict(amplitude=(0.01, 0.1), fwhm=(4 * u.min, 10 * u.min), n_flares=2,
                  n_realisations=2, seed=4, detector=detector)
    serial = injection_recovery(quiet_star, **kwargs).table
    parallel = injection_recovery(quiet_star, n_jobs=2, **kwargs).table
    assert np.array_equal(serial["recovered"], parallel["recovered"])
    assert np.allclose(serial["recovered_equivalent_duration"].value,
                       parallel["recovered_equivalent_duration"].value, equal_nan=True)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"amplitude": (0.1, 0.01)}, "increasing"),
        ({"amplitude": (-1, 0.1)}, "positive"),
        ({"amplitude": (0.1, 500.0)}, "can hold"),
        ({"amplitude": "big"}, "range"),
        ({"fwhm": (1 * u.min, 3 * u.day)}, "lower n_flares or the fwhm range"),
        ({"fwhm": (1 * u.m, 3 * u.m)}, "not convertible"),
        ({"n_flares": 0}, "n_flares"),
        ({"n_realisations": 2.5}, "n_realisations"),
        ({"n_jobs": 0}, "n_jobs"),
    ],
)
def test_bad_input(quiet_star, detector, kwargs, message):
    with pytest.raises(InputError, match=message):
        injection_recovery(quiet_star, detector=detector, **kwargs)


def test_detector_and_options_conflict(quiet_star, detector):
    with pytest.raises(InputError, match="not both"):
        injection_recovery(quiet_star, detector=detector, threshold=0.5)
