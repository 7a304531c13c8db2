import numpy as np
import pytest

from fcn4flare.exceptions import InputError
from fcn4flare.scaling import scale_flux
from fcn4flare.trend import (
    MIN_PERIOD,
    QUIET_SCATTER,
    local_scatter,
    residual_scatter,
    rotation_period,
    rotation_trend,
    running_median,
)

PERIOD = 57.3  # samples: a 1.2-day rotator at Kepler's 30-minute cadence


def spotted_star(n=4000, seed=0, noise=1e-3):
    t = np.arange(n)
    phase = 2 * np.pi * t / PERIOD
    growth = 1 + 0.3 * t / n  # spots that grow through the light curve
    star = growth * (0.015 * np.sin(phase) + 0.008 * np.sin(2 * phase + 1.0))
    return t, star, star + noise * np.random.default_rng(seed).standard_normal(n)


def test_rotation_period_finds_a_spotted_star_through_gaps_and_drift():
    t, _, flux = spotted_star()
    flux = flux + 0.02 * t / t.size
    flux[1000:1100] = np.nan
    period, power = rotation_period(flux)
    assert period == pytest.approx(PERIOD, rel=0.01)
    assert power > 0.5


def test_rotation_period_needs_ten_shortest_periods():
    assert np.isnan(rotation_period(np.random.default_rng(1).standard_normal(70))).all()
    assert np.isnan(rotation_period(np.ones(2000))).all()


def test_rotation_trend_leaves_noise_and_keeps_out_of_flares():
    t, star, flux = spotted_star()
    flare = np.where(t >= 2000, 0.008 * np.exp(-(t - 2000) / 5.0), 0.0)
    long_flare = np.where(t >= 3000, 0.006 * np.exp(-(t - 3000) / 15.0), 0.0)
    trend = rotation_trend(flux + flare + long_flare, 1e-3)
    residual = (flux + flare + long_flare - trend) / 1e-3
    assert residual_scatter(flux, trend, 1e-3) < 1.3
    assert residual_scatter(flux, running_median(flux), 1e-3) > 5 * QUIET_SCATTER
    assert residual[2000] > 6 and residual[3000] > 4  # the flares stay in the residual
    np.testing.assert_allclose(trend[2000:2010], star[2000:2010], atol=1.5e-3)


def test_rotation_trend_treats_segments_across_a_jump_separately():
    t, star, flux = spotted_star()
    flux = flux.copy()
    flux[2000:2040] = np.nan
    flux[2040:] += 0.03  # the level jumps across the gap
    trend = rotation_trend(flux, 1e-3, PERIOD)
    residual = (flux - trend) / 1e-3
    assert np.isnan(trend[2000:2040]).all()
    assert np.nanmax(np.abs(residual[1800:2300])) < 6


def test_rotation_trend_falls_back_to_a_running_median_on_a_short_segment():
    _, _, flux = spotted_star(n=100)
    trend = rotation_trend(flux, 1e-3, PERIOD)
    np.testing.assert_allclose(trend, running_median(flux, 57), atol=1e-12)


@pytest.mark.parametrize("kwargs, message", [
    (dict(noise=0.0), "noise must be positive"),
    (dict(noise=1e-3, period=MIN_PERIOD - 1), "period must be at least"),
    (dict(noise=1e-3, period=PERIOD, rotations=0), "rotations must be a positive integer"),
])
def test_rotation_trend_checks_its_arguments(kwargs, message):
    with pytest.raises(InputError, match=message):
        rotation_trend(np.ones(1000), **kwargs)


def test_rotation_trend_without_a_period_to_find_is_an_error():
    with pytest.raises(InputError, match="period must be at least"):
        rotation_trend(np.ones(50), 1e-3)


def test_local_scatter_follows_a_change_of_noise():
    r = np.random.default_rng(2).standard_normal(6000)
    r[3000:] *= 4
    scatter = local_scatter(r, 301)
    assert np.median(scatter[500:2500]) == pytest.approx(1.0, abs=0.1)
    assert np.median(scatter[3500:5500]) == pytest.approx(4.0, abs=0.4)


def test_rotation_scaling_detrends_a_fast_rotator_and_leaves_quiet_stars_alone():
    t, _, flux = spotted_star()
    flare = np.where(t >= 2000, 0.008 * np.exp(-(t - 2000) / 5.0), 0.0)
    scaled = scale_flux(1 + flux + flare, "rotation_trend_noise_asinh")
    plain = scale_flux(1 + flux + flare, "trend_noise_asinh")
    quiet = scale_flux(1 + 1e-3 * np.random.default_rng(3).standard_normal(4000),
                       "rotation_trend_noise_asinh")
    assert np.std(scaled[:1900]) < 1.5 < np.std(plain[:1900])
    assert scaled[2000] > 4
    np.testing.assert_array_equal(quiet, scale_flux(1 + 1e-3 * np.random.default_rng(3)
                                                    .standard_normal(4000), "trend_noise_asinh"))


def test_trend_with_rotation_chooses_the_rotation_only_where_it_is_needed():
    from fcn4flare.trend import stellar_trend, trend_with_rotation

    _, _, fast = spotted_star()
    chosen = trend_with_rotation(fast, 1e-3)
    assert chosen.period == pytest.approx(PERIOD, rel=0.01)
    np.testing.assert_array_equal(chosen.trend, rotation_trend(fast, 1e-3, chosen.period))
    t = np.arange(4000)
    slow = 0.02 * np.sin(2 * np.pi * t / 3000) + 1e-3 * np.random.default_rng(6).standard_normal(
        t.size)
    quiet = trend_with_rotation(slow, 1e-3)
    assert np.isnan(quiet.period)
    np.testing.assert_array_equal(quiet.trend, stellar_trend(slow, 1e-3))
    noise = 1e-3 * np.random.default_rng(8).standard_normal(4000)
    erratic = np.cumsum(noise) * 0.5 + noise  # varies fast but does not repeat
    assert np.isnan(trend_with_rotation(erratic, 1e-3).period)


def test_model_input_counts_rotations_in_cadences_across_missing_rows():
    # Rows missing for half a period (as across a Kepler data gap) would flip the phase of
    # every later rotation if the trend counted rows instead of cadences.
    from fcn4flare.lightcurve import prepare_light_curve

    t, _, flux = spotted_star()
    keep = np.ones(t.size, dtype=bool)
    for start in (700, 1500, 2300, 3100):
        keep[start:start + 28] = False
    lc = prepare_light_curve(t[keep] * 29.4244 / 1440, 1 + flux[keep])
    grid = lc.grid()
    scaled = scale_flux(grid.to_grid(lc.flux), "rotation_trend_noise_asinh")
    assert grid.size == t.size
    assert np.nanstd(scaled) < 0.8
    assert np.nanstd(scale_flux(1 + flux[keep], "rotation_trend_noise_asinh")) > 0.9


def test_star_trend_is_read_only_and_recomputed_each_call():
    from fcn4flare.trend import estimate_trend, trend_with_rotation

    _, _, fast = spotted_star()
    first = trend_with_rotation(fast, 1e-3)
    with pytest.raises(ValueError):
        first.trend[:] = 0.0
    again = trend_with_rotation(fast, 1e-3)
    assert again.trend is not first.trend
    np.testing.assert_array_equal(again.trend, rotation_trend(fast, 1e-3, again.period))
    star = estimate_trend(1 + fast)
    assert star.branch == "rotation" and abs(star.period - again.period) < 0.5
