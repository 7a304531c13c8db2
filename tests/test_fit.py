"""Tests of `fcn4flare.catalog.fit_flare`: parameter recovery, model comparison, input checks."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.time import Time

from fcn4flare.catalog import FlareFit, fit_flare
from fcn4flare.catalog import fit as fit_module
from fcn4flare.exceptions import InputError
from fcn4flare.simulate import flare_equivalent_duration, flare_model

TPEAK = 0.5  # days


def light_curve(cadence_min, seed, *, amplitude=0.05, fwhm_min=15.0, tpeak=TPEAK,
                noise=2e-3, template="mendoza2022"):
    """One day on a quadratic background (level 1000) with a flare and white noise."""
    rng = np.random.default_rng(seed)
    time = np.arange(0.0, 1.0, cadence_min / 1440)
    star = 1000 * (1 + 0.02 * (time - 0.5) + 0.03 * (time - 0.5) ** 2)
    flare = flare_model(time, tpeak, np.atleast_1d(fwhm_min) * u.min, amplitude,
                        template=template, exposure_time=cadence_min * u.min)
    return time, star * (1 + flare) + 1000 * noise * rng.standard_normal(time.size)


def pulls(fit, tpeak, fwhm_min, amplitude, template="mendoza2022"):
    ed = flare_equivalent_duration(fwhm_min * u.min, amplitude, template=template)
    return np.array([
        ((fit.tpeak.to(u.d) - tpeak * u.d) / fit.tpeak_err).to_value(u.one),
        ((fit.fwhm - fwhm_min * u.min) / fit.fwhm_err).to_value(u.one),
        ((fit.amplitude - amplitude) / fit.amplitude_err).to_value(u.one),
        ((fit.equivalent_duration - ed) / fit.equivalent_duration_err).to_value(u.one),
    ])


@pytest.mark.parametrize(
    ("cadence", "fwhm", "amplitude", "window", "flux_err", "max_pull"),
    [
        (2.0, 15.0, 0.05, (0.49, 0.56), None, 3.0),
        # At 30 min one exposure holds the whole peak: amplitude and fwhm trade off and the
        # likelihood is not Gaussian; the amplitude pull has a standard deviation of ~1.25
        # (measured over 30 seeds), hence a wider limit on the largest of 12.
        (30.0, 60.0, 0.05, (0.47, 0.65), 2.0, 4.0),
    ],
    ids=["2min-estimated-errors", "30min-given-errors"],
)
def test_recovers_injected_flare(cadence, fwhm, amplitude, window, flux_err, max_pull):
    all_pulls = []
    for seed in range(12):
        time, flux = light_curve(cadence, seed, amplitude=amplitude, fwhm_min=fwhm)
        fit = fit_flare(time, flux, flux_err, tstart=window[0], tstop=window[1])
        assert isinstance(fit, FlareFit)
        assert fit.success, fit.message
        all_pulls.append(pulls(fit, TPEAK, fwhm, amplitude))
        assert fit.equivalent_duration_err / fit.equivalent_duration < 0.3
        assert fit.fwhm_err < 0.3 * fit.fwhm
        assert fit.delta_bic > 30
    all_pulls = np.array(all_pulls)  # seeds x (tpeak, fwhm, amplitude, ED)
    assert np.all(np.abs(all_pulls) < max_pull), all_pulls
    assert np.all(np.abs(all_pulls[:, [0, 1, 3]]) < 3), all_pulls
    assert np.all(np.abs(all_pulls.mean(axis=0)) < 0.7)
    assert np.all((all_pulls.std(axis=0) > 0.5) & (all_pulls.std(axis=0) < 1.5))
    assert fit.fwhm.unit == u.min and fit.equivalent_duration.unit == u.s
    assert fit.tpeak_err.unit == u.d and fit.amplitude.unit == u.one
    assert fit.exposure_time.to_value(u.min) == pytest.approx(cadence)
    assert fit.dof == fit.n_points - 6


def test_davenport_template():
    for seed in range(3):
        time, flux = light_curve(2.0, seed, amplitude=0.08, fwhm_min=10.0,
                                 template="davenport2014")
        fit = fit_flare(time, flux, tstart=0.49, tstop=0.55, template="davenport2014")
        assert fit.success and fit.template == "davenport2014"
        assert np.all(np.abs(pulls(fit, TPEAK, 10.0, 0.08, "davenport2014")) < 3), seed


def test_two_component_complex_flare():
    peaks, widths, amps = [0.5, 0.525], [8.0, 12.0], [0.08, 0.04]
    time, flux = light_curve(2.0, 3, amplitude=amps, fwhm_min=widths, tpeak=peaks)
    fit = fit_flare(time, flux, tstart=0.495, tstop=0.58, n_components=2)
    assert fit.success, fit.message
    comps = fit.components
    assert len(comps["amplitude"]) == 2
    np.testing.assert_allclose(comps["tpeak"].to_value(u.d), peaks, atol=2 / 1440)
    np.testing.assert_allclose(comps["amplitude"].value, amps, rtol=0.3)
    np.testing.assert_allclose(comps["fwhm"].to_value(u.min), widths, rtol=0.3)
    # The headline parameters are the brightest component's; the ED is the total.
    assert fit.amplitude == comps["amplitude"].max()
    assert fit.equivalent_duration.value == pytest.approx(comps["equivalent_duration"].sum().value)
    single = fit_flare(time, flux, tstart=0.495, tstop=0.58)
    assert fit.chi2 < single.chi2


def test_delta_bic_separates_noise_from_flares():
    for seed in range(4):
        time, flux = light_curve(2.0, seed, amplitude=0.0)
        noise = fit_flare(time, flux, tstart=0.49, tstop=0.56)
        assert noise.delta_bic < 15
        assert noise.log_likelihood_ratio == pytest.approx(
            0.5 * (noise.chi2_background - noise.chi2))
    time, flux = light_curve(2.0, 0, amplitude=0.02)
    assert fit_flare(time, flux, tstart=0.49, tstop=0.56).delta_bic > 30


def test_model_and_background_describe_the_data():
    time, flux = light_curve(2.0, 1)
    fit = fit_flare(time, flux, tstart=0.49, tstop=0.56)
    inside = (time > 0.45) & (time < 0.6)
    truth = flare_model(time[inside], TPEAK, 15 * u.min, 0.05, exposure_time=2 * u.min)
    np.testing.assert_allclose(fit.model(time[inside]), truth, atol=0.005)
    star = 1000 * (1 + 0.02 * (time[inside] - 0.5) + 0.03 * (time[inside] - 0.5) ** 2)
    np.testing.assert_allclose(fit.background(time[inside]), star, rtol=2e-3)
    instant = fit.model([float(fit.tpeak.to_value(u.d))], exposure_time=0)
    assert instant[0] == pytest.approx(fit.amplitude.value)


def test_time_quantity_and_float_inputs_agree_and_are_not_mutated():
    time, flux = light_curve(2.0, 2)
    flux[[10, 400]] = np.nan
    time_copy, flux_copy = time.copy(), flux.copy()
    ref = fit_flare(time, flux, tstart=0.49, tstop=0.56)
    assert ref.n_points == fit_flare(time, np.where(np.isnan(flux), 0, flux),
                                     tstart=0.49, tstop=0.56).n_points - 1
    np.testing.assert_array_equal(time, time_copy)
    np.testing.assert_array_equal(flux, flux_copy)

    hours = (time * u.d).to(u.h)
    quantity = fit_flare(hours, flux * u.electron / u.s, tstart=0.49 * 24 * u.h,
                         tstop=0.56 * u.d)
    t0 = Time(2459000.5, format="jd")
    as_time = t0 + time * u.d
    timed = fit_flare(as_time, flux, tstart=t0 + 0.49 * u.d, tstop=t0 + 0.56 * u.d)
    in_format = fit_flare(as_time, flux, tstart=2459000.5 + 0.49, tstop=2459000.5 + 0.56)
    assert isinstance(timed.tpeak, Time) and isinstance(quantity.tpeak, u.Quantity)
    for other, tpeak_days in [
        (quantity, quantity.tpeak.to_value(u.d)),
        (timed, (timed.tpeak - t0).to_value(u.d)),
        (in_format, (in_format.tpeak - t0).to_value(u.d)),
    ]:
        assert tpeak_days == pytest.approx(ref.tpeak.to_value(u.d), abs=1e-6)
        for name in ("amplitude", "fwhm", "equivalent_duration", "equivalent_duration_err"):
            assert getattr(other, name).value == pytest.approx(getattr(ref, name).value,
                                                               rel=1e-5), name
        assert other.chi2 == pytest.approx(ref.chi2, rel=1e-6)
    assert quantity.background(hours[:1]).unit == u.electron / u.s
    assert np.isfinite(timed.model(as_time[240:260])).all()


def test_given_flux_err_quantity_is_converted():
    time, flux = light_curve(2.0, 4)
    a = fit_flare(time, flux * u.Jy, 2.0 * u.Jy, tstart=0.49, tstop=0.56)
    b = fit_flare(time, flux * u.Jy, np.full(time.size, 2000.0) * u.mJy,
                  tstart=0.49, tstop=0.56)
    assert a.amplitude_err.value == pytest.approx(b.amplitude_err.value)
    assert a.noise.value == pytest.approx(2e-3, rel=0.01)


def test_non_convergence_is_reported_not_raised(monkeypatch):
    monkeypatch.setattr(fit_module, "_MAX_NFEV", 1)
    time, flux = light_curve(2.0, 0)
    fit = fit_flare(time, flux, tstart=0.49, tstop=0.56)
    assert not fit.success
    assert "function evaluations" in fit.message


def test_short_candidate_at_long_cadence():
    time, flux = light_curve(30.0, 0, amplitude=0.1, fwhm_min=5.0)
    i = int(np.argmax(flux))
    fit = fit_flare(time, flux, tstart=time[i], tstop=time[i + 1])
    assert fit.delta_bic > 30
    assert fit.fwhm >= 3 * u.min  # lower bound: a tenth of the exposure


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"flux": np.ones(10)}, "flux has 10 samples but time has"),
        ({"flux_err": np.ones(10)}, "flux_err has 10 values"),
        ({"flux_err": 0.0}, "flux_err must be positive"),
        ({"tstart": 0.6, "tstop": 0.5}, "tstart is .* after tstop"),
        ({"tstart": 2.0, "tstop": 2.1}, "outside the light curve"),
        ({"template": "gaussian"}, "unknown flare template 'gaussian'"),
        ({"n_components": 0}, "n_components must be at least 1"),
        ({"n_components": 1.5}, "n_components must be an integer"),
        ({"background_order": -1}, "background_order must be at least 0"),
        ({"window": 0.001 * u.d, "tstart": 0.5, "tstop": 0.5},
         r"only \d+ finite samples .* needs at least 7"),
        ({"window": 1 * u.m}, "window has unit"),
        ({"tpeak": 0.9}, "tpeak lies outside the candidate"),
        ({"tstart": Time(2459000.5, format="jd")}, "tstart is a Time but time is not"),
        ({"flux": -np.ones(720)}, "median flux .* must be positive"),
        ({"flux": np.ones(720)}, "flux_err cannot be estimated"),
    ],
)
def test_bad_input_raises_input_error(kwargs, match):
    time, flux = light_curve(2.0, 0)
    args = {"flux": flux, "flux_err": None, "tstart": 0.49, "tstop": 0.56, **kwargs}
    with pytest.raises(InputError, match=match):
        fit_flare(time, args.pop("flux"), args.pop("flux_err"), **args)


def test_bad_time_inputs_raise_input_error():
    time, flux = light_curve(2.0, 0)
    as_time = Time(2459000.5 + time, format="jd")
    with pytest.raises(InputError, match="tstart must be a Time"):
        fit_flare(as_time, flux, tstart=0.49 * u.d, tstop=0.56 * u.d)
    with pytest.raises(InputError, match="time has unit"):
        fit_flare(time * u.m, flux, tstart=0.49, tstop=0.56)
    nan_flux = flux.copy()
    nan_flux[(time >= 0.4) & (time <= 0.7)] = np.nan
    with pytest.raises(InputError, match="finite samples in the fit window"):
        fit_flare(time, nan_flux, tstart=0.49, tstop=0.56)


def test_default_candidate_is_the_whole_cutout():
    time, flux = light_curve(2.0, 0)
    fit = fit_flare(time[300:420], flux[300:420])
    assert fit.success and fit.n_points == 120
    assert abs(fit.tpeak.to_value(u.d) - TPEAK) < 3 * fit.tpeak_err.to_value(u.d)


@pytest.mark.parametrize("cadence", [2.0, 30.0])
def test_grid_optimum_is_close_to_the_refined_fit(cadence):
    window = (0.49, 0.56) if cadence == 2.0 else (0.47, 0.65)
    fwhm = 15.0 if cadence == 2.0 else 60.0
    for seed in range(6):
        time, flux = light_curve(cadence, seed, fwhm_min=fwhm)
        full = fit_flare(time, flux, tstart=window[0], tstop=window[1])
        grid = fit_flare(time, flux, tstart=window[0], tstop=window[1], refine=False)
        assert grid.success and grid.message.startswith("grid optimum")
        # Clear flares: the optimiser finds the optimum, and the grid comes close to it.
        assert grid.chi2 >= full.chi2 - 1e-6 * full.chi2
        assert grid.delta_bic == pytest.approx(full.delta_bic, rel=0.05)
        assert float(grid.amplitude) == pytest.approx(0.05, rel=0.25)
        assert abs((grid.tpeak - TPEAK * u.d).to_value(u.min)) < cadence
        assert grid.fwhm.to_value(u.min) == pytest.approx(fwhm, rel=0.35)
        assert grid.amplitude_err > 0 and np.isfinite(grid.fwhm_err)


def test_grid_optimum_of_noise_keeps_the_verdict():
    for seed in range(4):
        time, flux = light_curve(2.0, seed, amplitude=0.0)
        grid = fit_flare(time, flux, tstart=0.49, tstop=0.56, refine=False)
        full = fit_flare(time, flux, tstart=0.49, tstop=0.56)
        assert grid.delta_bic < 15 and full.delta_bic < 15


def test_grid_optimum_fits_one_component_only():
    time, flux = light_curve(2.0, 0)
    with pytest.raises(InputError, match="refine=False fits one component"):
        fit_flare(time, flux, tstart=0.49, tstop=0.56, n_components=2, refine=False)


def test_grid_shapes_match_the_exact_template():
    t = np.arange(300) * 2 / 1440
    tp, fw = np.array([t[100], t[100] + 0.7 / 1440]), np.array([1, 10, 300]) / 1440
    for template in ("mendoza2022", "davenport2014"):
        for exposure in (2 / 1440, 30 / 1440):
            shapes = fit_module._grid_shapes(t, tp, fw, exposure, template)
            for a, b in np.ndindex(2, 3):
                exact = fit_module.component_flux(t, tp[a], fw[b], 1.0, exposure, template)
                np.testing.assert_allclose(shapes[a, b], exact, atol=1e-4)


def test_three_component_complex_flare_reaches_the_noise():
    # Each further component also starts from the best single component on what the fit
    # with one component less leaves; the better of the two starts is kept.
    peaks, widths, amps = [0.5, 0.506, 0.52], [3.0, 8.0, 5.0], [0.15, 0.06, 0.03]
    # (From the highest sample and its half-maximum width alone, the fits of seeds 0-3
    # stopped at the evaluation limit with reduced chi-squares of 11-13.)
    time, flux = light_curve(2.0, 0, amplitude=amps, fwhm_min=widths, tpeak=peaks,
                             noise=1e-3)
    one = fit_flare(time, flux, 1.0, tstart=0.498, tstop=0.56)
    three = fit_flare(time, flux, 1.0, tstart=0.498, tstop=0.56, n_components=3)
    assert three.success, three.message
    assert three.chi2 / three.dof < 1.3 < 10 < one.chi2 / one.dof
    ed = sum(flare_equivalent_duration(w * u.min, a) for w, a in zip(widths, amps, strict=True))
    assert three.equivalent_duration.to_value(u.s) == pytest.approx(ed.to_value(u.s), rel=0.05)
