"""`characterize_flares` / `FlareTable.characterize` / ``detect(characterize=...)``."""

import warnings

import astropy.units as u
import lightkurve as lk
import numpy as np
import pytest
from astropy.time import Time

from fcn4flare.catalog import FlareTable, characterize_flares
from fcn4flare.exceptions import InputError
from fcn4flare.simulate import flare_equivalent_duration, flare_model

FWHM = 12 * u.min
AMPLITUDE = 0.03
NOISE = 1e-3


def _star(seed, cadence=2 * u.min, n=1500, with_errors=True):
    step = cadence.to_value(u.d)
    days = np.arange(n) * step
    rng = np.random.default_rng(seed)
    flux = 1 + NOISE * rng.standard_normal(n) + 0.002 * np.sin(2 * np.pi * days / 2.0)
    flux += flare_model(days, 1.0, FWHM, AMPLITUDE, exposure_time=cadence)
    columns = {"flux_err": np.full(n, NOISE)} if with_errors else {}
    lc = lk.LightCurve(time=Time(2459000 + days, format="jd", scale="tdb"), flux=flux,
                       meta={"MISSION": "TESS"}, **columns)
    peak = int(np.argmin(np.abs(days - 1.0)))
    stop = peak + int(np.ceil((6 * FWHM).to_value(u.d) / step))
    start = peak - max(int(np.ceil((FWHM / 2).to_value(u.d) / step)), 1)
    return lc, FlareTable.from_events(lc.time, lc.flux, [start], None, [stop])


def test_columns_units_and_copy():
    lc, table = _star(0)
    out = table.characterize(lc, teff=3200 * u.K, radius=0.3 * u.R_sun)
    assert out is not table and "fwhm" not in table.colnames
    for name, unit in [("amplitude_err", u.one), ("equivalent_duration_err", u.s),
                       ("rise_time", u.min), ("decay_time", u.min), ("fwhm", u.min),
                       ("fit_fwhm", u.min), ("fit_equivalent_duration", u.s),
                       ("energy", u.erg), ("energy_err", u.erg)]:
        assert out[name].unit == unit, name
        assert out[name].info.description
    assert isinstance(out["fit_tpeak"], Time)
    assert out["rise_time"][0] >= 0 * u.min and out["decay_time"][0] > out["rise_time"][0]


def test_known_flare_comes_back_within_errors():
    truth = flare_equivalent_duration(FWHM, AMPLITUDE).to_value(u.s)
    pulls = []
    for seed in range(6):
        lc, table = _star(seed)
        out = characterize_flares(table, lc)
        ed = out["fit_equivalent_duration"][0].to_value(u.s)
        err = out["fit_equivalent_duration_err"][0].to_value(u.s)
        pulls.append((ed - truth) / err)
        assert abs(out["fit_fwhm"][0].to_value(u.min) - 12) < 3
        assert abs(out["fit_tpeak"][0].jd - (2459000 + 1.0)) < 2 / 1440
        assert out["delta_bic"][0] > 30
        # the measured FWHM (from the samples) is close to the template's
        assert 8 < out["fwhm"][0].to_value(u.min) < 16
    assert np.all(np.abs(pulls) < 3)


def test_error_from_flux_errors_matches_scatter():
    """The ED error of the samples matches the scatter of the measured ED over seeds."""
    eds, errs = [], []
    for seed in range(30):
        lc, table = _star(100 + seed)
        out = characterize_flares(table, lc, fit=False)
        eds.append(out["equivalent_duration"][0].to_value(u.s))
        errs.append(out["equivalent_duration_err"][0].to_value(u.s))
    assert np.std(eds) == pytest.approx(np.median(errs), rel=0.35)
    assert np.std(np.array(errs)) < 0.05 * np.median(errs)


def test_scatter_used_without_flux_errors():
    lc, table = _star(1, with_errors=False)
    out = characterize_flares(table, lc, fit=False)
    assert out["amplitude_err"][0].value == pytest.approx(NOISE, rel=0.2)


def test_long_cadence_fit_within_errors():
    """At 30 min a 12-min flare is unresolved: the fit's errors must say so."""
    truth = flare_equivalent_duration(FWHM, AMPLITUDE).to_value(u.s)
    for seed in range(2, 7):
        lc, table = _star(seed, cadence=30 * u.min, n=400)
        out = characterize_flares(table, lc)
        assert out["fwhm"][0] < 60 * u.min
        fwhm, fwhm_err = out["fit_fwhm"][0].to_value(u.min), out["fit_fwhm_err"][0].value
        ed, ed_err = (out[f"fit_equivalent_duration{s}"][0].to_value(u.s) for s in ("", "_err"))
        assert abs(fwhm - 12) < 3 * fwhm_err
        assert abs(ed - truth) < 3 * ed_err


def test_background_order_reaches_the_fit():
    # A long flare on a curved background: a cubic background bends under the tail, unlike
    # a constant one, so the fitted ED differs; the flux-only columns do not.
    lc, table = _star(3)
    flat = characterize_flares(table, lc, background_order=0)
    cubic = characterize_flares(table, lc, background_order=3)
    default = characterize_flares(table, lc)
    assert flat["fit_equivalent_duration"][0] != cubic["fit_equivalent_duration"][0]
    assert default["fit_equivalent_duration"][0] == characterize_flares(
        table, lc, background_order=2)["fit_equivalent_duration"][0]
    assert flat["equivalent_duration"][0] == cubic["equivalent_duration"][0]
    for bad in (-1, 1.5, "2"):
        with pytest.raises(InputError, match="background_order"):
            characterize_flares(table, lc, background_order=bad)


def test_bad_input():
    lc, table = _star(0)
    with pytest.raises(InputError, match="missing: ipeak"):
        characterize_flares(table[["istart", "istop", "amplitude", "equivalent_duration"]], lc)
    with pytest.raises(InputError):
        characterize_flares(table, lc, teff=3000 * u.K)  # no radius
    short = lc[:100]
    with pytest.raises(InputError):
        characterize_flares(table, short)


def test_detect_characterize_option():
    from fcn4flare.simulate import example_light_curve

    lc = example_light_curve()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = lc.flares.detect()
        rich = lc.flares.detect(characterize={"luminosity": 1e31 * u.erg / u.s})
    assert len(plain) == len(rich)
    assert {"fit_fwhm", "energy", "equivalent_duration_err"} <= set(rich.colnames)
    assert np.allclose(rich["energy"].to_value(u.erg),
                       rich["equivalent_duration"].to_value(u.s) * 1e31)
