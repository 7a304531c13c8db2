"""Tests of fcn4flare.simulate: templates, distributions, labels, backgrounds, injection."""

from __future__ import annotations

from pathlib import Path

import astropy.units as u
import lightkurve as lk
import numpy as np
import pytest
from astropy.table import QTable
from astropy.time import Time
from scipy import special

from fcn4flare.exceptions import InputError
from fcn4flare.simulate import (
    CADENCE_FAMILIES,
    CADENCES,
    CONTAMINANT_KINDS,
    add_contaminants,
    cadence_family,
    davenport2014_template,
    draw_cadence,
    draw_flare_parameters,
    example_light_curve,
    flare_equivalent_duration,
    flare_label_region,
    flare_model,
    inject_flares,
    mendoza2022_template,
    point_to_point_sigma,
    simulate_training_example,
    synthetic_background,
)
from fcn4flare.simulate import injection as injection_module
from fcn4flare.simulate.labels import LABEL_NOISE_FLOOR, LABEL_PEAK_FLOOR

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TEMPLATES = ["mendoza2022", "davenport2014"]
MINUTE = 1.0 / 1440.0


def fwhm_on_grid(t, y):
    """Full width at half maximum of a sampled profile, by linear interpolation."""
    half = 0.5 * y.max()
    above = np.flatnonzero(y >= half)
    i, j = above[0], above[-1]
    left = np.interp(half, [y[i - 1], y[i]], [t[i - 1], t[i]])
    right = np.interp(half, [y[j + 1], y[j]], [t[j + 1], t[j]])
    return right - left


# --- templates ---------------------------------------------------------------------------


def test_mendoza_template_is_the_published_formula():
    a, b, c, d1, d2, f1 = (0.9687734504375167, -0.251299705922117, 0.22675974948468916,
                           0.15551880775110513, 1.2150539528490194, 0.12695865022878844)
    x = np.linspace(-1.0, 20.0, 500)
    published = sum(
        0.5 * np.sqrt(np.pi) * a * c * f * np.exp(-d * x + (b / c + d * c / 2) ** 2)
        * special.erfc((b - x) / c + c * d / 2)
        for d, f in ((d1, f1), (d2, 1 - f1))
    )
    np.testing.assert_allclose(mendoza2022_template(x), published, rtol=1e-10)


def test_mendoza_template_has_no_overflow():
    values = mendoza2022_template([-1e4, -50.0, 0.0, 50.0, 1e4])
    assert np.all(np.isfinite(values))
    assert values[0] == 0.0 and values[-1] == 0.0


def test_davenport_template_values():
    x = np.array([-1.5, -1.0, 0.0, 1.0])
    expected = [0.0, 1 - 1.941 - 0.175 + 2.246 - 1.125,
                1.0, 0.6890 * np.exp(-1.6) + 0.3030 * np.exp(-0.2783)]
    np.testing.assert_allclose(davenport2014_template(x), expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(("template", "raw", "width"), [
    ("mendoza2022", mendoza2022_template, 1.0866),
    ("davenport2014", davenport2014_template, 0.9131),
])
def test_published_templates_fwhm_in_units_of_t_half(template, raw, width):
    x = np.linspace(-2, 5, 700001)
    assert fwhm_on_grid(x, raw(x)) == pytest.approx(width, abs=2e-4)


@pytest.mark.parametrize("template", TEMPLATES)
def test_peak_equals_amplitude_at_tpeak(template):
    t = np.linspace(-0.05, 0.2, 250001)
    tpeak, amp = 0.01, 0.37
    flux = flare_model(t, tpeak, 7 * MINUTE, amp, template=template)
    assert flare_model([tpeak], tpeak, 7 * MINUTE, amp, template=template)[0] == pytest.approx(
        amp, rel=1e-9)
    assert flux.max() <= amp * (1 + 1e-9)
    assert t[np.argmax(flux)] == pytest.approx(tpeak, abs=2e-6)


@pytest.mark.parametrize("template", TEMPLATES)
def test_fwhm_parameter_is_the_true_fwhm(template):
    t = np.linspace(-0.05, 0.2, 250001)
    flux = flare_model(t, 0.0, 7 * MINUTE, 1.0, template=template)
    assert fwhm_on_grid(t, flux) == pytest.approx(7 * MINUTE, rel=1e-3)


@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize("phase", [0.0, 0.3, 0.77])
def test_exposure_integration_conserves_flux(template, phase):
    cadence = 30 * MINUTE
    t = np.arange(-20, 200) * cadence
    tpeak = phase * cadence
    coarse = flare_model(t, tpeak, 5 * MINUTE, 1.0, template=template, exposure_time=cadence)
    fine_t = np.linspace(t[0] - cadence / 2, t[-1] + cadence / 2, 2_000_001)
    fine = flare_model(fine_t, tpeak, 5 * MINUTE, 1.0, template=template)
    assert coarse.sum() * cadence == pytest.approx(np.trapezoid(fine, fine_t), rel=1e-5)
    ed = flare_equivalent_duration(5 * u.min, 1.0, template=template)
    assert (coarse.sum() * cadence * u.day).to(u.s).value == pytest.approx(ed.value, rel=1e-5)


@pytest.mark.parametrize("template", TEMPLATES)
def test_exposure_integration_equals_oversampled_mean(template):
    cadence = 2 * MINUTE
    t = np.arange(-5, 40) * cadence
    analytic = flare_model(t, 0.3 * cadence, 3 * MINUTE, 1.0, template=template,
                           exposure_time=cadence)
    offsets = (np.arange(4000) + 0.5) / 4000 - 0.5
    sub = flare_model((t[:, None] + offsets * cadence).ravel(), 0.3 * cadence, 3 * MINUTE, 1.0,
                      template=template)
    np.testing.assert_allclose(analytic, sub.reshape(t.size, -1).mean(axis=1), atol=2e-5)


def test_long_exposure_lowers_and_broadens_the_peak():
    t = np.linspace(-0.1, 0.3, 40001)
    instant = flare_model(t, 0.0, 5 * u.min, 1.0)
    smeared = flare_model(t, 0.0, 5 * u.min, 1.0, exposure_time=30 * u.min)
    assert smeared.max() < 0.5 * instant.max()
    assert fwhm_on_grid(t, smeared) > 4 * fwhm_on_grid(t, instant)


def test_complex_flare_is_the_sum_of_components():
    t = np.linspace(0, 0.2, 3000)
    parts = [flare_model(t, tp, fw, a) for tp, fw, a in
             [(0.05, 3 * MINUTE, 0.2), (0.06, 8 * MINUTE, 0.05)]]
    total = flare_model(t, [0.05, 0.06], [3 * MINUTE, 8 * MINUTE], [0.2, 0.05])
    np.testing.assert_allclose(total, parts[0] + parts[1])


def test_time_and_quantity_inputs():
    t0 = Time(2459000.0, format="jd")
    times = t0 + np.arange(100) * u.min
    from_time = flare_model(times, t0 + 20 * u.min, 6 * u.min, 0.1, exposure_time=2 * u.min)
    from_float = flare_model(np.arange(100) * MINUTE, 20 * MINUTE, 6 * MINUTE, 0.1,
                             exposure_time=2 * MINUTE)
    np.testing.assert_allclose(from_time, from_float, atol=1e-10)


def test_template_input_errors():
    with pytest.raises(InputError, match="unknown flare template"):
        flare_model([0.0], 0.0, 0.01, 1.0, template="gaussian")
    with pytest.raises(InputError, match="fwhm"):
        flare_model([0.0], 0.0, -0.01, 1.0)
    with pytest.raises(InputError, match="time quantity"):
        flare_model([0.0], 0.0, 5 * u.m, 1.0)
    with pytest.raises(InputError, match="matching lengths"):
        flare_model([0.0], [0.0, 1.0], [0.01, 0.01, 0.01], 1.0)


# --- distributions -----------------------------------------------------------------------


def test_cadences_cover_the_missions():
    assert CADENCES["kepler_long"] == pytest.approx(29.4244)
    assert CADENCES["kepler_short"] == pytest.approx(0.98081)
    for name, minutes in [("tess_20s", 1 / 3), ("tess_2min", 2.0), ("tess_200s", 10 / 3),
                          ("tess_ffi_10min", 10.0), ("tess_ffi_30min", 30.0)]:
        assert CADENCES[name] == pytest.approx(minutes)
    assert set(CADENCES) == set(CADENCE_FAMILIES)


@pytest.mark.parametrize(("minutes", "name"), [(29.4, "kepler_long"), (1.0, "kepler_short"),
                                               (2.0, "tess_2min"), (0.3, "tess_20s"),
                                               (9.0, "tess_ffi_10min"), (200 / 60, "tess_200s")])
def test_cadence_family_is_nearest(minutes, name):
    assert cadence_family(minutes).name == name


def test_cadence_family_rejects_nonsense():
    with pytest.raises(InputError):
        cadence_family(-2.0)


def test_draw_cadence_mix():
    rng = np.random.default_rng(0)
    names = [draw_cadence(rng)[0] for _ in range(3000)]
    assert set(names) == set(CADENCES)
    assert 0.25 < names.count("kepler_long") / 3000 < 0.40


def test_catalogue_distributions_match_fits():
    for minutes in CADENCES.values():
        fam = cadence_family(minutes)
        p = draw_flare_parameters(20000, minutes, np.random.default_rng(1))
        assert np.median(p["fwhm_minutes"]) == pytest.approx(fam.fwhm_median_minutes, rel=0.05)
        assert np.median(p["amplitude"]) == pytest.approx(fam.amplitude_median, rel=0.05)
        assert np.std(np.log10(p["amplitude"])) == pytest.approx(fam.amplitude_sigma_dex,
                                                                 rel=0.05)


@pytest.mark.parametrize("minutes", [29.4244, 2.0])
def test_training_distributions_are_broad_and_independent(minutes):
    sigma = 1e-2
    p = draw_flare_parameters(20000, minutes, np.random.default_rng(2), noise_sigma=sigma)
    amp, fwhm = p["amplitude"], p["fwhm_minutes"]
    assert amp.min() >= 0.3 * sigma * (1 - 1e-9) and amp.max() <= 5.0
    assert 0.15 < np.mean(amp < sigma) < 0.4  # undetectable ones exist
    assert np.mean(amp > 1.0) > 0.02  # so do flares brighter than the star
    assert np.mean(amp > 30 * sigma) > 0.1
    assert 0.4 < np.mean((amp > 3 * sigma) & (amp < 30 * sigma)) < 0.6  # moderate: weighted up
    assert np.mean(fwhm < 3) > 0.05 and np.mean(fwhm > 120) > 0.05  # minutes to hours
    assert fwhm.min() >= 0.1 and fwhm.max() <= 720
    assert abs(np.corrcoef(np.log(amp), np.log(fwhm))[0, 1]) < 0.05


def test_draws_are_seeded():
    a = draw_flare_parameters(50, 2.0, np.random.default_rng(5), noise_sigma=1e-3)
    b = draw_flare_parameters(50, 2.0, np.random.default_rng(5), noise_sigma=1e-3)
    c = draw_flare_parameters(50, 2.0, np.random.default_rng(6), noise_sigma=1e-3)
    np.testing.assert_array_equal(a["amplitude"], b["amplitude"])
    assert not np.array_equal(a["amplitude"], c["amplitude"])


# --- labels ------------------------------------------------------------------------------


def test_label_region_follows_the_rule():
    t = np.arange(400) * MINUTE
    sigma = 2e-3
    model = flare_model(t, 100 * MINUTE, 6 * MINUTE, 0.3, exposure_time=MINUTE)
    start, stop = flare_label_region(model, sigma)
    floor = max(LABEL_NOISE_FLOOR * sigma, LABEL_PEAK_FLOOR * np.sqrt(sigma * model.max()))
    above = np.flatnonzero(model > floor)
    assert (start, stop) == (above[0] - 1, above[-1])
    assert model[start] <= floor < model[start + 1]
    assert model[stop] > floor >= model[stop + 1]


def test_labels_grow_with_snr_and_vanish_below_the_noise():
    t = np.arange(600) * MINUTE
    model = flare_model(t, 100 * MINUTE, 6 * MINUTE, 1.0, exposure_time=MINUTE)
    lengths = []
    for amp in (1e-3, 5e-3, 2e-2, 0.1, 1.0):
        region = flare_label_region(amp * model, 1e-3)
        lengths.append(0 if region is None else region[1] - region[0])
    assert lengths[0] == 0  # peak at the noise level: invisible
    assert all(b > a for a, b in zip(lengths[1:], lengths[2:], strict=False))


def test_label_region_errors_and_empty():
    with pytest.raises(InputError):
        flare_label_region(np.ones(5), 0.0)
    assert flare_label_region(np.zeros(10), 1e-3) is None


def test_point_to_point_sigma_ignores_slow_variability():
    rng = np.random.default_rng(3)
    t = np.linspace(0, 10, 20000)
    flux = 1 + 0.05 * np.sin(2 * np.pi * t / 3) + 1e-3 * rng.standard_normal(t.size)
    flux[::500] = np.nan
    assert point_to_point_sigma(flux) == pytest.approx(1e-3, rel=0.03)
    assert np.isnan(point_to_point_sigma([1.0, np.nan]))


# --- backgrounds -------------------------------------------------------------------------


def test_synthetic_background_properties():
    sigmas, has_gaps = [], []
    for seed in range(40):
        flux, sigma = synthetic_background(3000, 2.0, np.random.default_rng(seed))
        assert flux.shape == (3000,)
        assert np.nanmedian(flux) == pytest.approx(1.0)
        sigmas.append(sigma)
        has_gaps.append(np.isnan(flux).any())
    assert 4e-5 < min(sigmas) and max(sigmas) < 0.05
    assert max(sigmas) / min(sigmas) > 20
    assert 0.2 < np.mean(has_gaps) < 1.0


def test_synthetic_background_is_seeded():
    a, _ = synthetic_background(1000, 29.4, np.random.default_rng(9))
    b, _ = synthetic_background(1000, 29.4, np.random.default_rng(9))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kind", CONTAMINANT_KINDS)
def test_each_contaminant_changes_flux_without_mutating(kind):
    flux = np.ones(3000)
    out = add_contaminants(flux, 2.0, np.random.default_rng(4), 1e-3, kinds=[kind])
    assert np.all(flux == 1.0)
    assert np.nanmax(np.abs(out - 1.0)) > 2e-3


def test_unknown_contaminant_raises():
    with pytest.raises(InputError, match="unknown contaminant"):
        add_contaminants(np.ones(10), 2.0, np.random.default_rng(0), 1e-3, kinds=["ufo"])


def test_contaminants_are_labelled_zero(monkeypatch):
    monkeypatch.setattr(injection_module, "_P_CONTAMINANTS", 1.0)
    monkeypatch.setattr(injection_module, "_draw_events", lambda *args: [])
    rng = np.random.default_rng(8)
    for _ in range(20):
        flux, labels = simulate_training_example(2048, 2.0, rng)
        assert not labels.any()
    assert np.nanstd(flux) > 0


def test_injected_flare_labels_skip_a_cosmic_ray_and_an_eclipse():
    rng = np.random.default_rng(1)
    n = 3000
    flux = 1 + 1e-3 * rng.standard_normal(n)
    flux[500] += 0.05  # cosmic ray
    flux[1500:1530] -= 0.02 * np.hanning(30)  # eclipse
    lc = lk.LightCurve(time=Time(2459000 + np.arange(n) * 2 * MINUTE, format="jd"), flux=flux)
    new, truth = inject_flares(lc, tpeak=[2500 * 2 * MINUTE], amplitude=0.05, fwhm=5 * u.min,
                               seed=0)
    label = np.asarray(new["flare_label"])
    assert not label[:2400].any()
    assert label[truth["start_index"][0] : truth["stop_index"][0] + 1].all()


# --- the training generator --------------------------------------------------------------


@pytest.mark.parametrize("n_points", [1, 7, 100])
def test_short_training_examples(n_points):
    flux, labels = simulate_training_example(n_points, 2.0, np.random.default_rng(n_points))
    assert flux.shape == labels.shape == (n_points,)


def test_training_example_contract():
    flux, labels = simulate_training_example(4096, 29.4244, np.random.default_rng(0))
    assert flux.shape == labels.shape == (4096,)
    assert flux.dtype == np.float64 and labels.dtype == np.float32
    assert set(np.unique(labels)) <= {0.0, 1.0}
    assert np.all(labels[np.isnan(flux)] == 0.0)
    assert abs(np.nanmedian(flux) - 1.0) < 0.05


def test_training_examples_are_seeded():
    a = simulate_training_example(1024, 2.0, np.random.default_rng(11))
    b = simulate_training_example(1024, 2.0, np.random.default_rng(11))
    c = simulate_training_example(1024, 2.0, np.random.default_rng(12))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0], equal_nan=True)


def test_training_mix():
    rng = np.random.default_rng(3)
    n_events, fractions = [], []
    for i in range(150):
        _, labels = simulate_training_example(2048, [2.0, 29.4244, 0.98081][i % 3], rng)
        edges = np.diff(np.concatenate([[0], labels, [0]]))
        n_events.append(int(np.sum(edges > 0)))
        fractions.append(labels.mean())
    n_events = np.array(n_events)
    assert 0.2 < np.mean(n_events == 0) < 0.7
    assert np.mean(n_events >= 2) > 0.15
    assert 0.002 < np.mean(fractions) < 0.2


def test_training_example_uses_a_real_background():
    rng = np.random.default_rng(5)
    background = 1000 * (1 + 1e-3 * rng.standard_normal(6000))
    background[100:150] = np.nan
    flux, labels = simulate_training_example(4000, 2.0, np.random.default_rng(1),
                                             background=background)
    assert flux.shape == (4000,)
    assert np.nanmedian(flux) == pytest.approx(1.0, abs=0.01)
    assert np.all(labels[np.isnan(flux)] == 0)
    unflared = labels == 0
    assert np.nanstd(flux[unflared]) < 0.05


def test_training_example_background_errors():
    with pytest.raises(InputError, match="fewer than n_points"):
        simulate_training_example(100, 2.0, np.random.default_rng(0), background=np.ones(50))
    with pytest.raises(InputError, match="positive"):
        simulate_training_example(10, 2.0, np.random.default_rng(0), background=-np.ones(10))


# --- inject_flares -----------------------------------------------------------------------


@pytest.fixture
def quiet_lc():
    rng = np.random.default_rng(0)
    n = 3600
    time = Time(2459000.0 + np.arange(n) * 2 * MINUTE, format="jd")
    flux = 500.0 * (1 + 1e-3 * rng.standard_normal(n)) * u.electron / u.s
    return lk.LightCurve(time=time, flux=flux, flux_err=np.full(n, 0.5) * u.electron / u.s)


def test_inject_flares_returns_new_light_curve_and_truth(quiet_lc):
    before = quiet_lc.flux.value.copy()
    new, truth = inject_flares(quiet_lc, 4, amplitude=[0.02, 0.05, 0.1, 0.5],
                               fwhm=8 * u.min, seed=3)
    np.testing.assert_array_equal(quiet_lc.flux.value, before)
    assert "flare_label" not in quiet_lc.colnames
    assert isinstance(new, lk.LightCurve) and new is not quiet_lc
    assert new.flux.unit == u.electron / u.s
    assert isinstance(truth, QTable) and len(truth) == 4
    assert isinstance(truth["tpeak"], Time)
    assert truth["fwhm"].unit == u.min and truth["equivalent_duration"].unit == u.s
    np.testing.assert_allclose(truth["fwhm"].value, 8.0)
    for row in truth:
        i = int(np.argmin(np.abs((quiet_lc.time - row["tpeak"]).to_value(u.day))))
        gain = (new.flux.value[i] - before[i]) / np.median(before)
        assert gain > 0.3 * row["amplitude"]
        assert row["labelled"] and row["start_index"] < i <= row["stop_index"]


def test_inject_flares_is_additive_on_normalised_flux(quiet_lc):
    new, truth = inject_flares(quiet_lc, tpeak=truth_times(quiet_lc), amplitude=0.1,
                               fwhm=10 * u.min, seed=0)
    t = (quiet_lc.time - quiet_lc.time[0]).to_value(u.day)
    model = flare_model(t, (truth["tpeak"] - quiet_lc.time[0]).to_value(u.day),
                        10 * MINUTE, 0.1, exposure_time=2 * MINUTE)
    median = np.median(quiet_lc.flux.value)
    # the far tail is dropped once it is below 1 % of the noise (1e-5 here)
    np.testing.assert_allclose(new.flux.value - quiet_lc.flux.value, median * model,
                               rtol=1e-6, atol=1e-5 * median)


def truth_times(lc):
    return lc.time[[500, 2000]]


def test_inject_flares_labels_are_contiguous_regions(quiet_lc):
    new, truth = inject_flares(quiet_lc, 6, amplitude=0.03, fwhm=4 * u.min, seed=7)
    expected = np.zeros(len(new), dtype=bool)
    for row in truth:
        if row["labelled"]:
            expected[row["start_index"] : row["stop_index"] + 1] = True
    np.testing.assert_array_equal(np.asarray(new["flare_label"]), expected)
    edges = np.diff(np.concatenate([[0], expected.astype(int), [0]]))
    assert np.sum(edges > 0) == truth["labelled"].sum()  # separated flares stay separate


def test_inject_flares_is_seeded(quiet_lc):
    a, ta = inject_flares(quiet_lc, 3, seed=42)
    b, tb = inject_flares(quiet_lc, 3, seed=42)
    np.testing.assert_array_equal(a.flux.value, b.flux.value)
    np.testing.assert_array_equal(ta["amplitude"], tb["amplitude"])


def test_inject_flares_into_arrays():
    rng = np.random.default_rng(2)
    time = 2459000 + np.arange(2000) * 2 * MINUTE
    flux = 1 + 1e-3 * rng.standard_normal(2000)
    new, truth = inject_flares(time, 2, flux=flux, amplitude=0.05, fwhm=5 * u.min, seed=1)
    assert isinstance(new, lk.LightCurve) and len(new) == 2000
    assert np.all(flux == 1 + 1e-3 * np.random.default_rng(2).standard_normal(2000))
    assert truth["labelled"].all()


def test_inject_flares_sub_noise_flares_are_unlabelled(quiet_lc):
    new, truth = inject_flares(quiet_lc, 3, amplitude=2e-4, fwhm=2 * u.min, seed=0)
    assert not truth["labelled"].any()
    assert not np.asarray(new["flare_label"]).any()
    assert np.all(truth["start_index"] == -1)


def test_inject_flares_errors(quiet_lc):
    with pytest.raises(InputError, match="n_flares"):
        inject_flares(quiet_lc, 3, amplitude=[0.1, 0.2])
    with pytest.raises(InputError, match="flux="):
        inject_flares(np.arange(10.0))
    with pytest.raises(InputError, match="non-overlapping"):
        inject_flares(quiet_lc, 50, fwhm=2 * u.hour, seed=0)
    with pytest.raises(InputError, match="template"):
        inject_flares(quiet_lc, 1, template="boxcar")


# --- the built-in example ----------------------------------------------------------------


def test_example_light_curve():
    lc = example_light_curve()
    again = example_light_curve()
    np.testing.assert_array_equal(lc.flux.value, again.flux.value)
    assert not np.array_equal(lc.flux.value, example_light_curve(seed=1).flux.value,
                              equal_nan=True)
    assert lc.meta["OBJECT"] == "fcn4flare example" and lc.meta["MISSION"] == "Kepler"
    truth = lc.meta["INJECTED_FLARES"]
    assert len(truth) == 6 and truth["labelled"].all()
    assert set(truth["template"]) == {"mendoza2022", "davenport2014"}
    assert truth["n_components"].max() == 3
    assert np.isnan(lc.flux.value).any()
    label = np.asarray(lc["flare_label"])
    assert not label[np.isnan(lc.flux.value)].any()
    for row in truth:
        assert label[row["start_index"] : row["stop_index"] + 1].all()
    assert 0.05 < label.mean() < 0.3


# --- real data ---------------------------------------------------------------------------


@pytest.mark.skipif(not (DATA / "lightcurves").is_dir(), reason="shared data not available")
def test_inject_into_a_real_kepler_light_curve():
    lc = lk.read(DATA / "lightcurves" / "kplr010002792-2009259160929_llc.fits")
    new, truth = inject_flares(lc, 3, amplitude=0.02, fwhm=60 * u.min, seed=4)
    assert truth["labelled"].all()
    assert np.asarray(new["flare_label"]).sum() >= 3 * 3
    flux = np.asarray(lc.flux.value.filled(np.nan) if hasattr(lc.flux.value, "filled")
                      else lc.flux.value, dtype=float)
    background = flux / np.nanmedian(flux)
    out, labels = simulate_training_example(4000, 29.4244, np.random.default_rng(0),
                                            background=background)
    assert out.shape == labels.shape == (4000,)


def test_training_examples_keep_a_positive_median():
    # A flux jump of 100 sigma on a noisy star once drove the median negative.
    from fcn4flare.simulate import draw_cadence, simulate_training_example

    for index in range(400):
        rng = np.random.default_rng(np.random.SeedSequence([2024, 0, 2, index]))
        _, minutes = draw_cadence(rng)
        flux, _ = simulate_training_example(1024, minutes, rng)
        assert np.nanmedian(flux) > 0.5, index
