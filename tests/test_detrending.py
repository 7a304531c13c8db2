import numpy as np
import pytest

from fcn4flare._arrays import point_to_point_noise, second_difference_noise
from fcn4flare.exceptions import InputError
from fcn4flare.scaling import scale_flux
from fcn4flare.trend import (
    ADAPTIVE_WINDOWS,
    BASELINE_WINDOW,
    QUIET_SCATTER,
    TREND_WINDOW,
    adaptive_trend,
    estimate_trend,
    flare_masked_trend,
    local_quadratic,
    residual_scatter,
    running_median,
    stellar_trend,
)


def test_local_quadratic_reproduces_a_parabola_across_gaps():
    x = np.arange(300.0)
    y = 2e-5 * (x - 120.0) ** 2 - 0.3
    y[[10, 11, 150, 151, 152]] = np.nan
    truth = 2e-5 * (x - 120.0) ** 2 - 0.3
    np.testing.assert_allclose(local_quadratic(y, 31), truth, atol=1e-9)  # gaps included


def test_local_quadratic_matches_savitzky_golay_on_complete_data():
    from scipy.signal import savgol_filter

    y = np.random.default_rng(0).standard_normal(500)
    middle = slice(20, -20)  # savgol_filter treats the ends differently
    np.testing.assert_allclose(local_quadratic(y, 21)[middle],
                               savgol_filter(y, 21, 2)[middle], atol=1e-9)


def test_local_quadratic_ignores_zero_weight_samples():
    y = np.linspace(0.0, 1.0, 101)
    spiked = y.copy()
    spiked[50:55] += 100.0
    weights = np.ones(y.size)
    weights[50:55] = 0
    np.testing.assert_allclose(local_quadratic(spiked, 21, weights), y, atol=1e-9)


def test_local_quadratic_rounds_an_even_window_down():
    y = np.random.default_rng(5).standard_normal(200)
    np.testing.assert_array_equal(local_quadratic(y, 22), local_quadratic(y, 21))


def test_local_quadratic_is_undetermined_with_too_few_samples():
    assert np.isnan(local_quadratic([1.0, 2.0, np.nan, np.nan], 5)).all()
    assert local_quadratic([], 5).shape == (0,)


@pytest.mark.parametrize("window", [1, 2, 7.0, True, "9"])
def test_local_quadratic_rejects_a_bad_window(window):
    with pytest.raises(InputError, match="window must be an integer of at least 3"):
        local_quadratic(np.ones(10), window)


def test_local_quadratic_rejects_weights_of_another_length():
    with pytest.raises(InputError, match="3 weights for 4 values"):
        local_quadratic(np.ones(4), 3, np.ones(3))


def _spotted_star(n=6000, period=1500.0, amplitude=0.02, noise=1e-3, seed=3):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    star = amplitude * np.sin(2 * np.pi * t / period)
    return t, star, star + noise * rng.standard_normal(n)


def test_flare_masked_trend_follows_the_star_and_not_the_flare():
    t, star, flux = _spotted_star()
    flare = np.where(t >= 3000, 0.03 * np.exp(-(t - 3000) / 20.0), 0.0)
    trend = flare_masked_trend(flux + flare, 1e-3)
    assert np.max(np.abs(trend - star)[200:-200]) < 1e-3  # within one noise unit
    unmasked = local_quadratic(flux + flare, TREND_WINDOW)
    assert unmasked[3010] - star[3010] > 3e-3  # without masking the flare lifts the fit


def test_flare_masked_trend_keeps_nan_and_checks_its_arguments():
    _, _, flux = _spotted_star(n=1000)
    flux[100:110] = np.nan
    trend = flare_masked_trend(flux, 1e-3)
    assert np.isnan(trend[100:110]).all() and np.isfinite(np.delete(trend, range(100, 110))).all()
    with pytest.raises(InputError, match="noise must be positive"):
        flare_masked_trend(flux, 0.0)
    with pytest.raises(InputError, match="iterations must be a positive integer"):
        flare_masked_trend(flux, 1e-3, iterations=0)


def test_stellar_trend_removes_the_running_median_bias_at_extrema():
    t, star, flux = _spotted_star(amplitude=0.03, period=800.0)
    median_residual = (flux - running_median(flux, BASELINE_WINDOW)) / 1e-3
    trend_residual = (flux - stellar_trend(flux, 1e-3)) / 1e-3
    near_maximum = np.abs(t % 800 - 200) < 40
    assert np.mean(median_residual[near_maximum]) > 0.6  # the median sits below a maximum
    assert abs(np.mean(trend_residual[near_maximum])) < 0.2


def test_stellar_trend_falls_back_to_the_running_median_for_a_fast_rotator():
    t, star, flux = _spotted_star(period=80.0)  # the running median cannot follow it
    scatter = np.std(flux - running_median(flux, BASELINE_WINDOW)) / 1e-3
    assert scatter > QUIET_SCATTER
    np.testing.assert_array_equal(stellar_trend(flux, 1e-3),
                                  running_median(flux, BASELINE_WINDOW))


def test_stellar_trend_of_nothing_finite_is_nan():
    assert np.isnan(stellar_trend(np.full(5, np.nan), 1.0)).all()
    with pytest.raises(InputError, match="noise must be positive"):
        stellar_trend(np.ones(5), np.nan)


def test_trend_scaling_centres_a_spotted_star_and_keeps_a_flare():
    t, star, flux = _spotted_star()
    flux = 1.0 + flux
    flux[3000:3010] += 10e-3 * np.exp(-np.arange(10) / 3.0)
    x = scale_flux(flux, "trend_noise_asinh")
    quiet = np.r_[200:2900, 3100:5800]
    assert np.std(x[quiet]) == pytest.approx(1.0, abs=0.1)
    assert abs(np.mean(x[quiet])) < 0.1
    assert x[3000] > 5
    with pytest.raises(InputError, match="'trend_noise_asinh' scaling is undefined"):
        scale_flux(np.ones(50), "trend_noise_asinh")


def _fast_rotator_with_flare(seed=11):
    # 30-min cadence, 1.2-day period, 3 % spots, 1e-3 noise: the star changes by up to five
    # noise units per cadence; a 10-noise flare of a few cadences at phase 0.1 (a steep rise).
    t, star, flux = _spotted_star(n=4000, period=60.0, amplitude=0.03, seed=seed)
    peak = 1806
    flare = np.zeros(t.size)
    flare[peak:peak + 8] = 10e-3 * np.exp(-np.arange(8) / 1.5)
    return t, star, flux, flare, peak


def test_second_difference_noise_ignores_the_slope_of_a_fast_rotator():
    _, _, flux, _, _ = _fast_rotator_with_flare()
    assert second_difference_noise(flux) == pytest.approx(1e-3, rel=0.05)
    assert point_to_point_noise(flux) > 2e-3  # consecutive differences carry the slope
    assert np.isnan(second_difference_noise([1.0, np.nan, 2.0, 3.0]))


def test_adaptive_trend_follows_a_fast_rotator_and_not_its_flare():
    _, star, flux, flare, peak = _fast_rotator_with_flare()
    trend = adaptive_trend(flux + flare, 1e-3)
    assert residual_scatter(flux, adaptive_trend(flux, 1e-3), 1e-3) < 1.2
    assert (flux + flare - trend)[peak] / 1e-3 > 8
    assert residual_scatter(flux, stellar_trend(flux, 1e-3), 1e-3) > 10


def test_adaptive_trend_keeps_the_longest_window_on_a_slow_star():
    _, _, flux = _spotted_star()
    trend = adaptive_trend(flux, 1e-3)
    longest = flare_masked_trend(flux, 1e-3, ADAPTIVE_WINDOWS[0])
    assert np.mean(trend == longest) > 0.95


@pytest.mark.parametrize("decay", [10, 30, 80])
def test_adaptive_trend_does_not_follow_a_long_flare_on_a_quiet_star(decay):
    # A misfit blind to the flare masking took the shortest window over long flares and
    # kept 28 % (decay 10) to 2 % (decay 80) of their flux; the longest window keeps 53-104 %.
    t, star, flux = _spotted_star(n=6000, period=3000.0, amplitude=0.01, seed=0)
    flare = np.where(t >= 3000, 0.02 * np.exp(-(t - 3000) / decay), 0.0)
    after = slice(3000, 3000 + 3 * decay)
    kept = {}
    for name, trend in (("adaptive", adaptive_trend(flux + flare, 1e-3)),
                        ("longest", flare_masked_trend(flux + flare, 1e-3,
                                                       ADAPTIVE_WINDOWS[0]))):
        kept[name] = np.sum((flux + flare - trend)[after]) / np.sum(flare[after])
    assert kept["adaptive"] == pytest.approx(kept["longest"], abs=0.05)
    assert kept["adaptive"] > 0.4


def test_adaptive_trend_keeps_nan_and_checks_its_arguments():
    _, _, flux, _, _ = _fast_rotator_with_flare()
    flux[100:130] = np.nan
    trend = adaptive_trend(flux, 1e-3)
    assert np.isnan(trend[100:130]).all()
    assert np.isfinite(np.delete(trend, range(100, 130))).all()
    with pytest.raises(InputError, match="noise must be positive"):
        adaptive_trend(flux, -1.0)
    with pytest.raises(InputError, match="at least one window"):
        adaptive_trend(flux, 1e-3, ())


def test_adaptive_scaling_shows_a_flare_the_rotation_scaling_loses():
    _, _, flux, flare, peak = _fast_rotator_with_flare()
    flux = 1.0 + flux + flare
    star = estimate_trend(flux, "adaptive")
    assert star.branch == "adaptive"
    white = second_difference_noise(flux / np.median(flux))
    assert white <= star.noise < 1.2 * white  # the residual's scatter, if larger
    adaptive = scale_flux(flux, "adaptive_trend_noise_asinh")
    rotation = scale_flux(flux, "rotation_trend_noise_asinh")
    assert adaptive[peak] > 6
    assert rotation[peak] < 0.6 * adaptive[peak]


def test_rotation_adaptive_takes_the_adaptive_trend_only_where_rotation_falls_back():
    t, _, slow = _spotted_star()
    assert estimate_trend(1 + slow, "rotation_adaptive").branch == "stellar"
    _, _, fast, flare, _ = _fast_rotator_with_flare()
    # Spots that change within a rotation: neither the stellar nor the rotation trend fits.
    changing = 1 + fast * (1 + 0.8 * np.sin(2 * np.pi * np.arange(fast.size) / 700))
    assert estimate_trend(changing, "rotation").branch == "running_median"
    star = estimate_trend(changing, "rotation_adaptive")
    adaptive = estimate_trend(changing, "adaptive")
    assert star.branch == "adaptive"
    np.testing.assert_array_equal(star.trend, adaptive.trend)
    assert star.noise == adaptive.noise


def test_rotation_adaptive_scaling_is_the_rotation_scaling_unless_rotation_falls_back():
    _, _, slow = _spotted_star()
    np.testing.assert_array_equal(scale_flux(1 + slow, "rotation_adaptive_trend_noise_asinh"),
                                  scale_flux(1 + slow, "rotation_trend_noise_asinh"))
    _, _, fast, _, _ = _fast_rotator_with_flare()
    changing = 1 + fast * (1 + 0.8 * np.sin(2 * np.pi * np.arange(fast.size) / 700))
    np.testing.assert_array_equal(scale_flux(changing, "rotation_adaptive_trend_noise_asinh"),
                                  scale_flux(changing, "adaptive_trend_noise_asinh"))


def test_adaptive_trend_falls_back_to_the_unmasked_quadratic_where_no_window_fits():
    # One 63-sample window: a narrow peak (sigma 5 samples) is masked and bridged, as a flare
    # should be; a broad hump (sigma 10) makes the masking leave out most of the window, and
    # there the unmasked quadratic follows it.
    x = np.arange(2000)
    noise = 1e-3 * np.random.default_rng(7).standard_normal(x.size)
    for width, follows in ((5.0, False), (10.0, True)):
        flux = noise + 0.05 * np.exp(-0.5 * ((x - 1020) / width) ** 2)
        trend = adaptive_trend(flux, 1e-3, windows=(63,))
        masked = flare_masked_trend(flux, 1e-3, 63)
        unmasked = local_quadratic(flux, 63)
        assert masked[1020] < 0.02 < unmasked[1020]
        expected = unmasked if follows else masked
        assert trend[1020] == pytest.approx(expected[1020], abs=1e-6)
