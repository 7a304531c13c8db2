"""Inputs to model-ready arrays: flux column, quality mask, validation, grid and scaling."""

from __future__ import annotations

import copy
import warnings
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
import torch
from astropy.table import QTable
from astropy.time import Time
from astropy.timeseries import TimeSeries
from astropy.utils.masked import Masked

from fcn4flare import FCN4FlareConfig, FCN4FlareModel, FCN4FlareWarning, InputError
from fcn4flare.lightcurve import DEFAULT_MAX_GAP, MAX_GRID_SIZE, prepare_light_curve, regular_grid
from fcn4flare.network import predict_probability
from fcn4flare.scaling import SCALING_METHODS, scale_flux
from fcn4flare.trend import robust_noise

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # lightkurve warns about optional dependencies on import
    import lightkurve as lk

DATA = Path(__file__).parents[2] / "shared" / "data" / "lightcurves"
KEPLER = DATA / "kplr010002792-2009259160929_llc.fits"
K2 = DATA / "ktwo211117077-c04_llc.fits"
TESS = DATA / "tess2018206045859-s0001-0000000358108509-0120-s_lc.fits"
E_PER_S = u.electron / u.s


def _kepler_lc(n=20, quality=None, mission="Kepler"):
    """A small KeplerLightCurve with distinct flux and pdcsap_flux columns."""
    lc = lk.KeplerLightCurve(
        time=Time(100 + np.arange(n) * 0.0204, format="bkjd"),
        flux=np.full(n, 5.0) * E_PER_S,
        flux_err=np.full(n, 0.5) * E_PER_S,
    )
    lc["pdcsap_flux"] = (100.0 + np.arange(n)) * E_PER_S
    lc["pdcsap_flux_err"] = np.full(n, 2.0) * E_PER_S
    lc["sap_flux"] = (200.0 + np.arange(n)) * E_PER_S
    lc["quality"] = np.zeros(n, dtype="i4") if quality is None else np.asarray(quality, "i4")
    lc["cadenceno"] = np.arange(n) + 5000
    lc.meta.update(
        MISSION=mission, LABEL="KIC 42", TARGETID=42, QUARTER=7, FLUX_ORIGIN="pdcsap_flux"
    )
    return lc


# --------------------------------------------------------------------------- arrays


def test_arrays_in_days_give_float_arrays_and_time():
    time = 2000 + np.arange(5) / 720
    flux = np.array([10.0, 11.0, np.nan, 9.0, 10.0])
    lc = prepare_light_curve(time, flux, time_format="btjd")
    assert lc.time.format == "btjd"
    np.testing.assert_array_equal(lc.time.value, time)
    np.testing.assert_array_equal(lc.time_days, time)
    np.testing.assert_array_equal(lc.flux, flux)
    np.testing.assert_array_equal(lc.usable, [True, True, False, True, True])
    assert lc.flux_unit == u.dimensionless_unscaled
    assert lc.cadence.unit == u.min
    assert lc.cadence.value == pytest.approx(2.0)
    assert lc.cadence_numbers is None
    assert lc.meta["target"] is None and lc.meta["flux_column"] is None


def test_time_object_and_quantity_flux_keep_the_unit():
    time = Time(59000 + np.arange(4) * 0.01, format="mjd")
    lc = prepare_light_curve(time, [1.0, 2.0, 3.0, 4.0] * u.mJy)
    assert lc.time is time
    assert lc.flux_unit == u.mJy
    np.testing.assert_allclose(lc.time_days, time.mjd)


def test_time_quantity_is_converted_to_days():
    lc = prepare_light_curve(np.arange(4) * u.h, np.ones(4))
    np.testing.assert_allclose(lc.time_days, np.arange(4) / 24)


def test_non_day_time_format_uses_jd():
    time = Time(["2020-01-01T00:00:00", "2020-01-01T00:02:00", "2020-01-01T00:04:00"])
    lc = prepare_light_curve(time, np.ones(3))
    np.testing.assert_allclose(lc.time_days, time.jd)
    assert lc.cadence.to_value(u.min) == pytest.approx(2.0, rel=1e-6)


def test_infinite_and_masked_flux_become_nan():
    flux = Masked([1.0, 2.0, 3.0, np.inf, 5.0] * u.ct, mask=[False, True, False, False, False])
    lc = prepare_light_curve(np.arange(5.0), flux)
    np.testing.assert_array_equal(lc.usable, [True, False, True, False, True])
    assert np.isnan(lc.flux[[1, 3]]).all()


@pytest.mark.parametrize(
    "unit",
    [
        u.dimensionless_unscaled,
        u.percent,
        E_PER_S,
        u.electron,
        u.ct,
        u.ct / u.s,
        u.Jy,
        u.mJy,
        u.erg / u.s / u.cm**2 / u.AA,
        u.W / u.m**2,
        u.adu,
    ],
)
def test_brightness_units_are_accepted(unit):
    lc = prepare_light_curve(np.arange(4.0), np.ones(4) * unit)
    assert lc.flux_unit == unit


@pytest.mark.parametrize("unit", [u.m, u.s, u.kg, u.deg, u.Hz])
def test_non_brightness_units_are_rejected(unit):
    with pytest.raises(InputError, match="not a brightness"):
        prepare_light_curve(np.arange(4.0), np.ones(4) * unit)


def test_magnitudes_are_rejected_with_advice():
    with pytest.raises(InputError, match="convert magnitudes to flux"):
        prepare_light_curve(np.arange(4.0), np.ones(4) * u.mag)


# --------------------------------------------------------------------------- validation


def test_empty_input():
    with pytest.raises(InputError, match="empty"):
        prepare_light_curve(np.array([]), np.array([]))


def test_all_nan_flux():
    with pytest.raises(InputError, match="no usable flux: 4 of 4"):
        prepare_light_curve(np.arange(4.0), np.full(4, np.nan))


def test_min_samples():
    flux = np.array([1.0, np.nan, np.nan, 2.0])
    with pytest.raises(InputError, match="only 2 usable samples.*at least 3"):
        prepare_light_curve(np.arange(4.0), flux)
    assert prepare_light_curve(np.arange(4.0), flux, min_samples=2).usable.sum() == 2


def test_non_finite_times_say_how_many_and_where():
    time = np.array([0.0, np.nan, 2.0, 3.0, np.inf])
    with pytest.raises(InputError, match=r"2 time value\(s\) are not finite.*1, 4"):
        prepare_light_curve(time, np.ones(5))


def test_non_monotonic_times_say_where():
    with pytest.raises(InputError, match="not sorted: time decreases from sample 2"):
        prepare_light_curve(np.array([0.0, 1.0, 3.0, 2.0]), np.ones(4))


def test_duplicated_times_say_which():
    with pytest.raises(InputError, match="duplicated times: 1.0 at samples 1 and 2"):
        prepare_light_curve(np.array([0.0, 1.0, 1.0, 2.0]), np.ones(4))


def test_mismatched_lengths():
    with pytest.raises(InputError, match="time has 5 values but flux has 4"):
        prepare_light_curve(np.arange(5.0), np.ones(4))


def test_scalar_and_2d_inputs():
    with pytest.raises(InputError, match="one-dimensional"):
        prepare_light_curve(1.0, 5.0)
    with pytest.raises(InputError, match="one-dimensional"):
        prepare_light_curve(np.arange(4.0), np.ones((4, 2)))


def test_missing_flux_and_redundant_flux():
    with pytest.raises(InputError, match="flux is required"):
        prepare_light_curve(np.arange(5.0))
    with pytest.raises(InputError, match="must not be given separately"):
        prepare_light_curve(_kepler_lc(), np.ones(20))


def test_non_numeric_flux():
    with pytest.raises(InputError, match="flux must be numeric"):
        prepare_light_curve(np.arange(3.0), ["a", "b", "c"])


# --------------------------------------------------------------------------- tables


def test_lightkurve_flux_column_is_the_default():
    lc = prepare_light_curve(_kepler_lc())
    np.testing.assert_array_equal(lc.flux, 5.0 + np.zeros(20))
    assert lc.meta["flux_column"] == "flux"


def test_pdcsap_flux_is_the_default_for_plain_tables():
    from astropy.timeseries import TimeSeries

    ts = TimeSeries(_kepler_lc())
    lc = prepare_light_curve(ts)
    np.testing.assert_array_equal(lc.flux, 100.0 + np.arange(20))
    np.testing.assert_array_equal(lc.flux_err, np.full(20, 2.0))
    assert lc.meta["flux_column"] == "pdcsap_flux"
    assert lc.flux_unit == E_PER_S


def test_flux_column_override_and_select_flux():
    lc = _kepler_lc()
    assert prepare_light_curve(lc, flux_column="flux").flux[0] == 5.0
    assert prepare_light_curve(lc, flux_column="flux").flux_err[0] == 0.5
    chosen = prepare_light_curve(lc.select_flux("sap_flux"))
    assert chosen.meta["flux_column"] == "flux" and chosen.flux[0] == 200.0
    with pytest.raises(InputError, match="no column 'nope'"):
        prepare_light_curve(lc, flux_column="nope")


def test_plain_light_curve_uses_flux():
    lc = lk.LightCurve(time=np.arange(5.0), flux=[1.0, 2.0, 3.0, 4.0, 5.0])
    prepared = prepare_light_curve(lc)
    assert prepared.meta["flux_column"] == "flux"
    np.testing.assert_array_equal(prepared.flux, [1, 2, 3, 4, 5])


def test_timeseries_input():
    ts = TimeSeries(time=Time(59000 + np.arange(4) * 0.01, format="mjd"))
    ts["flux"] = [1.0, 2.0, 3.0, 4.0] * u.Jy
    ts["cadenceno"] = np.array([3, 4, 6, 7])
    ts.meta["OBJECT"] = "my star"
    lc = prepare_light_curve(ts)
    assert lc.flux_unit == u.Jy and lc.meta["target"] == "my star"
    np.testing.assert_array_equal(lc.grid().index, [0, 1, 3, 4])


def test_default_quality_mask_blanks_but_keeps_samples():
    quality = np.zeros(20, dtype=int)
    quality[3] = 1  # attitude tweak: in the default Kepler bitmask
    quality[5] = 128  # cosmic ray in the aperture: only in 'hard'
    lc = _kepler_lc(quality=quality)
    default = prepare_light_curve(lc)
    assert len(default) == 20
    assert np.flatnonzero(~default.usable).tolist() == [3]
    assert np.isnan(default.flux[3]) and np.isnan(default.flux_err[3])
    assert prepare_light_curve(lc, quality_bitmask="hard").usable.sum() == 18
    assert prepare_light_curve(lc, quality_bitmask="none").usable.all()
    assert prepare_light_curve(lc, quality_bitmask=None).usable.all()
    assert np.flatnonzero(~prepare_light_curve(lc, quality_bitmask=128).usable).tolist() == [5]
    with pytest.raises(InputError, match="unknown quality_bitmask 'soft'"):
        prepare_light_curve(lc, quality_bitmask="soft")


def test_tess_quality_flags_are_used_for_tess():
    quality = np.zeros(20, dtype=int)
    quality[4] = 16  # TESS default (Argabrightening), not Kepler default (zero crossing)
    quality[6] = 256  # Kepler default (manual exclude), not TESS default
    quality[8] = 1  # attitude tweak: in both defaults
    tess = prepare_light_curve(_kepler_lc(quality=quality, mission="TESS"))
    kepler = prepare_light_curve(_kepler_lc(quality=quality, mission="Kepler"))
    from lightkurve.utils import KeplerQualityFlags, TessQualityFlags

    assert tess.meta["quality_bitmask"] == TessQualityFlags.DEFAULT_BITMASK
    assert kepler.meta["quality_bitmask"] == KeplerQualityFlags.DEFAULT_BITMASK
    expected_tess = TessQualityFlags.create_quality_mask(quality, "default")
    expected_kepler = KeplerQualityFlags.create_quality_mask(quality, "default")
    np.testing.assert_array_equal(tess.usable, expected_tess)
    np.testing.assert_array_equal(kepler.usable, expected_kepler)
    assert np.flatnonzero(~tess.usable).tolist() == [4, 8]
    assert np.flatnonzero(~kepler.usable).tolist() == [6, 8]


def test_unknown_mission_with_flags_warns():
    lc = _kepler_lc(quality=[1] + [0] * 19, mission="")
    lc = lk.LightCurve(lc)  # a plain LightCurve, so the class does not name a mission
    lc.meta["TELESCOP"] = None
    with pytest.warns(FCN4FlareWarning, match="mission is unknown"):
        prepared = prepare_light_curve(lc)
    assert prepared.usable.all()
    assert not prepare_light_curve(lc, quality_bitmask=1).usable[0]


def test_meta_keys():
    meta = prepare_light_curve(_kepler_lc()).meta
    assert meta == {
        "target": "KIC 42",
        "target_id": 42,
        "mission": "Kepler",
        "quarter": 7,
        "campaign": None,
        "sector": None,
        "flux_column": "flux",
        "quality_bitmask": 1130799,
    }


def test_non_increasing_cadence_numbers_are_ignored_with_a_warning():
    lc = _kepler_lc()
    lc["cadenceno"] = np.arange(20)[::-1]
    with pytest.warns(FCN4FlareWarning, match="cadence numbers"):
        prepared = prepare_light_curve(lc)
    assert prepared.cadence_numbers is None


def test_user_objects_are_not_modified():
    quality = np.zeros(20, dtype=int)
    quality[2] = 1
    lc = _kepler_lc(quality=quality)
    lc["flux"][7] = np.nan * E_PER_S
    before = copy.deepcopy(lc)
    prepared = prepare_light_curve(lc)
    prepared.flux[:] = -1.0
    prepared.time_days[:] = -1.0
    for name in lc.colnames:
        a, b = np.asarray(lc[name].value), np.asarray(before[name].value)
        np.testing.assert_array_equal(a, b, err_msg=name)
    assert lc.meta == before.meta

    time, flux = np.arange(5.0), np.array([1.0, np.inf, 1.0, 1.0, 1.0])
    prepare_light_curve(time, flux).flux[:] = 0.0
    np.testing.assert_array_equal(flux, [1.0, np.inf, 1.0, 1.0, 1.0])
    np.testing.assert_array_equal(time, np.arange(5.0))


# --------------------------------------------------------------------------- real files


@pytest.mark.parametrize(
    ("path", "mission", "key", "value"),
    [(KEPLER, "Kepler", "quarter", 2), (K2, "K2", "campaign", 4), (TESS, "TESS", "sector", 1)],
)
def test_mission_files(path, mission, key, value):
    if not path.exists():
        pytest.skip("shared data not available")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = lk.read(path, quality_bitmask="none")
        default = lk.read(path)
    lc = prepare_light_curve(raw)
    assert lc.meta["mission"] == mission and lc.meta[key] == value
    assert lc.meta["flux_column"] == "flux"
    expected = np.ma.filled(raw.pdcsap_flux.value.astype(float), np.nan)
    np.testing.assert_array_equal(lc.flux[lc.usable], expected[lc.usable])
    assert len(lc) == len(raw)
    # The default bitmask blanks exactly the rows lightkurve drops by default (flux NaN there
    # or not), and the finite PDCSAP flux of the kept rows is unchanged.
    kept = np.isin(raw.cadenceno.value, default.cadenceno.value)
    assert not lc.usable[~kept].any()
    np.testing.assert_array_equal(
        lc.usable[kept], np.isfinite(default.pdcsap_flux.value.filled(np.nan))
    )
    # Cadence numbers and times give the same grid; missing cadences are inserted.
    grid = lc.grid()
    np.testing.assert_array_equal(grid.index, regular_grid(lc.time_days).index)
    np.testing.assert_array_equal(grid.index, raw.cadenceno.value - raw.cadenceno.value[0])


# --------------------------------------------------------------------------- grid


def test_grid_without_gaps_is_the_identity():
    grid = regular_grid(np.arange(100) * 0.02)
    np.testing.assert_array_equal(grid.index, np.arange(100))
    assert grid.size == 100 and grid.n_shortened_gaps == 0


def test_grid_inserts_missing_cadences():
    t = np.delete(np.arange(20) * 0.02, [5, 6, 7, 15])
    grid = regular_grid(t)
    assert grid.size == 20
    values = grid.to_grid(t)
    np.testing.assert_array_equal(np.isnan(values), np.isin(np.arange(20), [5, 6, 7, 15]))
    np.testing.assert_array_equal(grid.from_grid(values), t)


def test_grid_follows_cadence_numbers_over_times():
    t = np.array([0.0, 0.02, 0.04, 0.06])  # times say: no gap
    grid = regular_grid(t, cadence_numbers=[1, 2, 5, 6])
    np.testing.assert_array_equal(grid.index, [0, 1, 4, 5])


def test_grid_is_robust_to_slow_cadence_drift():
    # Barycentric times drift against the spacecraft clock by up to +-8 min over a year, a few
    # 2-min cadences; rounding (t - t0) / median cadence would then skip or merge samples.
    n = 20000
    clock = np.arange(n)
    t = (clock + 2.0 * np.sin(2 * np.pi * clock / n)) / 720
    naive = np.rint((t - t[0]) / np.median(np.diff(t))).astype(int)
    assert np.any(naive != clock)  # the naive approach fails on this input
    np.testing.assert_array_equal(regular_grid(t).index, clock)


def test_jittered_times_do_not_collide():
    rng = np.random.default_rng(1)
    t = np.arange(500) / 48 + rng.uniform(-0.2, 0.2, 500) / 48
    index = regular_grid(t).index
    assert np.all(np.diff(index) >= 1)


def test_explicit_cadence_as_quantity():
    grid = regular_grid(np.array([0.0, 4.0, 8.0]) / 1440, cadence=2 * u.min)
    np.testing.assert_array_equal(grid.index, [0, 2, 4])
    assert grid.cadence_days == pytest.approx(2 / 1440)


def test_long_gaps_are_capped():
    t = np.concatenate([np.arange(10), 10 + 365 * 720 + np.arange(10)]) / 720
    grid = regular_grid(t)
    assert grid.size == 20 + DEFAULT_MAX_GAP
    assert grid.n_shortened_gaps == 1
    assert regular_grid(t, max_gap=5).size == 25
    assert regular_grid(t, max_gap=None).size == 20 + 365 * 720


def test_absurd_grid_is_refused():
    t = np.concatenate([np.arange(10) * 1e-3, [1e6]])
    with pytest.raises(InputError, match=f"limit {MAX_GRID_SIZE}"):
        regular_grid(t, max_gap=None)


def test_capping_gaps_does_not_change_probabilities():
    torch.manual_seed(0)
    model = FCN4FlareModel(FCN4FlareConfig(hidden_dim=8, depth=4, dilation=[1, 2, 4, 8]))
    context = model.config.context
    rng = np.random.default_rng(2)
    t = np.concatenate([np.arange(300), 300 + 5 * context + np.arange(300)]) / 720.0
    flux = 1 + 0.01 * rng.standard_normal(t.size)
    full, capped = regular_grid(t, max_gap=None), regular_grid(t, max_gap=context)
    assert capped.size < full.size
    p_full, p_capped = predict_probability(
        model, [full.to_grid(flux), capped.to_grid(flux)], chunk_size=4096
    )
    np.testing.assert_allclose(full.from_grid(p_full), capped.from_grid(p_capped), atol=1e-6)
    shorter = regular_grid(t, max_gap=context // 2)
    (p_shorter,) = predict_probability(model, shorter.to_grid(flux))
    assert not np.allclose(full.from_grid(p_full), shorter.from_grid(p_shorter), atol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(time_days=[0.0, 2.0, 1.0]), "not sorted"),
        (dict(time_days=[0.0, 1.0, 1.0]), "duplicated"),
        (dict(time_days=[0.0, np.nan]), "not finite"),
        (dict(time_days=[0.0, 1.0], cadence_numbers=[3, 3]), "increase strictly"),
        (dict(time_days=[0.0, 1.0], cadence_numbers=[1, 2, 3]), "3 cadence numbers"),
        (dict(time_days=[0.0, 1.0], cadence=0.0), "cadence must be positive"),
        (dict(time_days=[0.0, 1.0], max_gap=-1), "max_gap"),
        (dict(time_days=[0.0, 1.0] * u.m), "convertible"),
    ],
)
def test_grid_validation(kwargs, message):
    with pytest.raises(InputError, match=message):
        regular_grid(**kwargs)


def test_to_grid_and_from_grid_check_lengths():
    grid = regular_grid([0.0, 1.0, 2.0, 4.0])
    with pytest.raises(InputError, match="2 values for 4 samples"):
        grid.to_grid([1.0, 2.0])
    with pytest.raises(InputError, match="for a grid of 5"):
        grid.from_grid([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(grid.to_grid([1, 2, 3, 4], fill=0), [1, 2, 3, 0, 4])


# --------------------------------------------------------------------------- scaling


def test_median_scaling():
    flux = np.array([2.0, 4.0, np.nan, 2.0, 3.0])
    np.testing.assert_array_equal(scale_flux(flux, "median"), flux / 2.5)
    np.testing.assert_array_equal(flux, [2.0, 4.0, np.nan, 2.0, 3.0])  # input untouched
    np.testing.assert_array_equal(scale_flux(flux * u.ct, "median"), flux / 2.5)


def test_robust_noise_estimates_white_noise_and_ignores_flares():
    rng = np.random.default_rng(3)
    flux = 50.0 * (1 + 0.002 * rng.standard_normal(50000))
    assert robust_noise(flux) == pytest.approx(0.002, rel=0.02)
    flux[1000:1050] *= 3.0  # a flare and a slow trend hardly change it
    flux *= np.linspace(1.0, 1.05, flux.size)
    assert robust_noise(flux) == pytest.approx(0.002, rel=0.03)


def test_robust_noise_formula():
    x = np.array([1.0, 1.1, np.nan, 0.9, 1.3, 1.0])
    d = np.diff(np.array([1.0, 1.1, 0.9, 1.3, 1.0]) / np.nanmedian(x))
    expected = 1.4826 * np.median(np.abs(d - np.median(d))) / np.sqrt(2)
    assert robust_noise(x) == pytest.approx(expected, rel=1e-12)


def test_median_noise_scaling():
    rng = np.random.default_rng(4)
    flux = 10.0 * (1 + 0.01 * rng.standard_normal(1000))
    scaled = scale_flux(flux, "median_noise")
    expected = (flux / np.median(flux) - 1) / robust_noise(flux)
    np.testing.assert_allclose(scaled, expected, rtol=1e-12)
    assert np.std(scaled) == pytest.approx(1.0, rel=0.1)


def test_zero_noise_is_refused():
    flux = np.ones(100)
    flux[50] = 2.0
    with pytest.raises(InputError, match="noise of the flux is zero"):
        scale_flux(flux, "median_noise")


@pytest.mark.parametrize("flux", [[-1.0, -2.0, -1.0], [0.0, 0.0, 1.0], [np.nan, np.nan]])
def test_median_must_be_positive_and_finite(flux):
    with pytest.raises(InputError, match="median flux|no finite values"):
        scale_flux(flux, "median")


def test_unknown_method_lists_the_valid_ones():
    with pytest.raises(InputError, match="valid methods: median, median_noise"):
        scale_flux([1.0, 2.0], "zscore")


def test_scaling_registry_is_extensible(monkeypatch):
    monkeypatch.setitem(SCALING_METHODS, "double", lambda flux: 2 * flux)
    np.testing.assert_array_equal(scale_flux([1.0, 2.0], "double"), [2.0, 4.0])


def test_model_input_combines_grid_and_scaling():
    time = np.array([0.0, 1.0, 2.0, 4.0, 5.0]) / 48
    lc = prepare_light_curve(time, [2.0, 4.0, 2.0, np.nan, 2.0])
    from fcn4flare.exceptions import FCN4FlareDeprecationWarning

    with pytest.warns(FCN4FlareDeprecationWarning, match="FlareDetector"):
        flux, grid = lc.model_input("median")
    np.testing.assert_array_equal(flux, [1.0, 2.0, 1.0, np.nan, np.nan, 1.0])
    assert grid.size == 6


def test_table_without_time_column():
    table = QTable({"t": np.arange(3.0), "flux": np.ones(3)})
    with pytest.raises(InputError, match="no 'time' column"):
        prepare_light_curve(table)


def test_median_noise_asinh_is_linear_for_noise_and_compresses_outliers():
    from fcn4flare.scaling import ASINH_SOFTENING

    rng = np.random.default_rng(3)
    flux = 1.0 + 1e-3 * rng.standard_normal(500)
    flux[100] = 1.5  # 500 noise units
    z = scale_flux(flux, "median_noise")
    x = scale_flux(flux, "median_noise_asinh")
    small = np.abs(z) < 1
    np.testing.assert_allclose(x[small], z[small], atol=0.01)
    assert x[100] == pytest.approx(ASINH_SOFTENING * np.arcsinh(z[100] / ASINH_SOFTENING))
    assert 20 < x[100] < 30


def test_running_median_skips_nan_and_follows_a_trend():
    from fcn4flare.trend import running_median

    values = np.linspace(0.0, 10.0, 101)
    values[50] = np.nan
    values[20] = 1e3  # a single outlier does not move the median
    out = running_median(values, window=5)
    assert np.isnan(out[50])
    assert out[20] == pytest.approx(values[19] + 0.2)
    np.testing.assert_allclose(out[30:40], values[30:40])
    np.testing.assert_array_equal(running_median([np.nan, np.nan]), [np.nan, np.nan])
    # a window longer than the data shrinks to the largest odd length that fits
    np.testing.assert_array_equal(running_median([1.0, 5.0, 2.0], window=127), [1.0, 2.0, 2.0])


@pytest.mark.parametrize("window", [0, -3, 2.5, True, "7"])
def test_running_median_rejects_a_bad_window(window):
    from fcn4flare.trend import running_median

    with pytest.raises(InputError, match="window must be a positive integer"):
        running_median([1.0, 2.0, 3.0], window=window)


def test_running_median_scaling_removes_spots_and_keeps_a_flare():
    rng = np.random.default_rng(4)
    n = 4000
    noise = 1e-3
    spots = 0.03 * np.sin(2 * np.pi * np.arange(n) / 900.0)  # 30 noise units
    flux = 1.0 + spots + noise * rng.standard_normal(n)
    flux[2000:2010] += 10 * noise * np.exp(-np.arange(10) / 3.0)
    x = scale_flux(flux, "running_median_noise_asinh")
    quiet = np.r_[0:1900, 2100:n]
    assert np.std(x[quiet]) == pytest.approx(1.0, abs=0.1)  # only the white noise is left
    assert np.abs(np.median(x[quiet])) < 0.1
    assert x[2000] > 5  # the flare peak, 10 noise units, survives the compression unharmed
    global_scaled = scale_flux(flux, "median_noise_asinh")
    assert np.std(global_scaled[quiet]) > 5  # the spots dominate the global scaling


def test_running_median_scaling_names_itself_when_the_noise_is_zero():
    with pytest.raises(InputError, match="'running_median_noise_asinh' scaling is undefined"):
        scale_flux(np.ones(50), "running_median_noise_asinh")
