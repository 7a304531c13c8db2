"""Tests of fcn4flare.catalog.ffd: cumulative rates, power-law fits, corrections, plots."""

from __future__ import annotations

import warnings

import astropy.units as u
import matplotlib
import numpy as np
import pytest
from astropy.table import QTable

import fcn4flare
from fcn4flare.catalog import FFD, FlareTable, PowerLawFit, powerlaw_mle
from fcn4flare.exceptions import FCN4FlareWarning, InputError

matplotlib.use("Agg")


def power_law(rng: np.random.Generator, alpha: float, x_min: float, size) -> np.ndarray:
    """Draws from p(x) ∝ x**-alpha, x >= x_min (inverse CDF)."""
    return x_min * rng.random(size) ** (-1.0 / (alpha - 1.0))


def broken_sample(seed: int, brk: float = 20.0, alpha: float = 2.0) -> np.ndarray:
    """400 log-normal values below ``brk`` and 200 power-law values above it."""
    rng = np.random.default_rng(seed)
    low = rng.lognormal(np.log(5.0), 0.8, 1200)
    low = low[low < brk][:400]
    return np.concatenate([low, power_law(rng, alpha, brk, 200)])


def ed_table(values) -> FlareTable:
    return FlareTable({"equivalent_duration": np.asarray(values, float) * u.s,
                       "amplitude": np.full(len(values), 0.1) * u.one})


# --------------------------------------------------------------------------- estimator


@pytest.mark.parametrize("alpha", [1.8, 2.0, 2.3])
@pytest.mark.parametrize("n", [50, 100, 200])
def test_one_sigma_coverage_over_400_seeds(alpha, n):
    rng = np.random.default_rng(1000 * n + int(100 * alpha))
    samples = power_law(rng, alpha, 3.0, (400, n))
    fits = np.array([powerlaw_mle(sample, 3.0) for sample in samples])
    covered = np.abs(fits[:, 0] - alpha) <= fits[:, 1]
    assert 0.62 <= covered.mean() <= 0.74
    # unbiased: the mean estimate is within 3 standard errors of the truth
    assert abs(fits[:, 0].mean() - alpha) < 3 * fits[:, 0].std() / np.sqrt(400)


def test_powerlaw_mle_closed_form_and_units():
    x = np.array([1.0, 2.0, 4.0, 8.0, 3.0, 0.5])  # 0.5 is below x_min and ignored
    s = np.log(x[x >= 1.0]).sum()
    alpha, err = powerlaw_mle(x, 1.0)
    assert alpha == pytest.approx(1 + 4 / s)
    assert err == pytest.approx((alpha - 1) / np.sqrt(3))
    assert powerlaw_mle(x * u.s, 1000 * u.ms) == pytest.approx((alpha, err))
    # equal weights change nothing
    assert powerlaw_mle(x, 1.0, weights=np.full(6, 3.0)) == pytest.approx((alpha, err))
    # two values: defined, but the uncertainty is infinite
    assert np.isinf(powerlaw_mle([1.0, 2.0], 1.0)[1])


def test_powerlaw_mle_bad_input():
    with pytest.raises(InputError, match="at least 2 .* there are 1"):
        powerlaw_mle([1.0, 5.0], 2.0)
    with pytest.raises(InputError, match="finite"):
        powerlaw_mle([1.0, np.nan, 3.0], 1.0)
    with pytest.raises(InputError, match="equal x_min"):
        powerlaw_mle([2.0, 2.0, 2.0], 2.0)
    with pytest.raises(InputError, match="weights"):
        powerlaw_mle([1.0, 2.0, 3.0], 1.0, weights=[1.0, 0.0, 1.0])
    with pytest.raises(InputError, match="does not convert"):
        powerlaw_mle([1.0, 2.0, 3.0] * u.s, 1.0 * u.erg)


# --------------------------------------------------------------------------- FFD


def test_cumulative_rate_by_hand():
    ffd = FFD(ed_table([1.0, 2.0, 3.0]), observing_time=10 * u.d)
    x, rate = ffd.cumulative_rate()
    assert x.unit == u.s and rate.unit == 1 / u.d
    np.testing.assert_allclose(x.value, [3.0, 2.0, 1.0])  # descending
    np.testing.assert_allclose(rate.value, [0.1, 0.2, 0.3])
    assert len(ffd) == 3
    # same with a float observing time (days), plain floats (s) and in hours
    for data, time in [([1.0, 2.0, 3.0], 10.0), ([1.0, 2.0, 3.0] * u.s, 240 * u.h)]:
        np.testing.assert_allclose(FFD(data, time).cumulative_rate()[1].value, [0.1, 0.2, 0.3])


def test_cumulative_rate_ties_and_stacking():
    a, b = ed_table([1.0, 5.0]), ed_table([5.0, 2.0])
    ffd = FFD([a, b], observing_time=4 * u.d)
    x, rate = ffd.cumulative_rate()
    np.testing.assert_allclose(x.value, [5.0, 5.0, 2.0, 1.0])
    np.testing.assert_allclose(rate.value, [0.5, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(FFD(FlareTable.stack([a, b]), 4.0).x.value, x.value)


def test_energy_column_and_units():
    energies = [1e31, 1e32, 1e33] * u.erg
    table = QTable({"energy": energies.to(u.J)})
    ffd = FFD(table, observing_time=1 * u.d, column="energy")
    assert ffd.x.unit == u.erg
    np.testing.assert_allclose(ffd.x.value, [1e33, 1e32, 1e31])
    np.testing.assert_allclose(FFD([1e31, 1e32], 1.0, column="energy").x.value, [1e32, 1e31])


def test_fit_with_given_x_min_matches_powerlaw_mle():
    rng = np.random.default_rng(3)
    ed = np.r_[power_law(rng, 2.0, 10.0, 150), rng.uniform(1, 10, 50)]
    ffd = FFD(ed * u.s, observing_time=30 * u.d)
    fit = ffd.fit_powerlaw(x_min=10 * u.s)
    assert isinstance(fit, PowerLawFit)
    assert (fit.alpha, fit.alpha_err) == pytest.approx(powerlaw_mle(ed, 10.0))
    assert fit.n_tail == 150 and fit.n_eff == pytest.approx(150)
    assert fit.x_min == 10 * u.s and not fit.x_min_chosen
    assert 0 < fit.ks_distance < 0.15
    assert fit.rate_at_x_min.to_value(1 / u.d) == pytest.approx(150 / 30)
    # R(x) = beta / (alpha - 1) x**(1 - alpha), and R(x_min) = tail count / time
    assert fit.beta.unit == 1 / u.d
    x = np.array([10.0, 40.0, 300.0])
    expected = fit.beta.value / (fit.alpha - 1) * x ** (1 - fit.alpha)
    np.testing.assert_allclose(fit.rate(x * u.s).to_value(1 / u.d), expected)
    np.testing.assert_allclose(fit.rate(x * 1000 * u.ms).value, expected)
    assert fit.rate(10.0).to_value(1 / u.d) == pytest.approx(5.0)
    # plain float x_min is in the FFD's unit
    assert ffd.fit_powerlaw(x_min=10.0).alpha == fit.alpha


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_x_min_found_near_the_break(seed):
    ed = broken_sample(seed)
    fit = FFD(ed * u.s, observing_time=100 * u.d).fit_powerlaw()
    assert fit.x_min_chosen
    assert 10.0 <= fit.x_min.to_value(u.s) <= 40.0
    assert abs(fit.alpha - 2.0) <= 3 * fit.alpha_err
    assert fit.n_tail >= 10


def test_min_tail_limits_the_x_min_scan():
    rng = np.random.default_rng(5)
    ffd = FFD(power_law(rng, 2.0, 1.0, 60), observing_time=1.0)
    fit = ffd.fit_powerlaw(min_tail=50)
    assert fit.n_tail >= 50
    with pytest.raises(InputError, match="min_tail"):
        ffd.fit_powerlaw(min_tail=1)


def test_completeness_weights_double_rates_keep_alpha():
    rng = np.random.default_rng(11)
    ed = power_law(rng, 2.0, 5.0, 120) * u.s
    plain = FFD(ed, observing_time=20 * u.d)
    for probability in (lambda x: np.full(x.shape, 0.5), ([1.0, 1e4] * u.s, [0.5, 0.5]), 0.5):
        half = FFD(ed, observing_time=20 * u.d, recovery_probability=probability)
        np.testing.assert_allclose(half.weights, 2.0)
        np.testing.assert_allclose(half.cumulative_rate()[1].value,
                                   2 * plain.cumulative_rate()[1].value)
        fit, fit_half = plain.fit_powerlaw(x_min=5 * u.s), half.fit_powerlaw(x_min=5 * u.s)
        assert fit_half.alpha == pytest.approx(fit.alpha)
        assert fit_half.alpha_err == pytest.approx(fit.alpha_err)
        assert fit_half.rate_at_x_min.value == pytest.approx(2 * fit.rate_at_x_min.value)
        assert fit_half.beta.value == pytest.approx(2 * fit.beta.value)
    chosen, chosen_half = plain.fit_powerlaw(), half.fit_powerlaw()
    assert chosen_half.x_min == chosen.x_min and chosen_half.alpha == pytest.approx(chosen.alpha)


def test_recovery_probability_grid_is_interpolated_in_log_x():
    ffd = FFD([1.0, 10.0, 100.0] * u.s, 1.0,
              recovery_probability=([1.0, 100.0] * u.s, [0.2, 1.0]))
    np.testing.assert_allclose(1 / ffd.weights, [1.0, 0.6, 0.2])  # x descending
    with pytest.raises(InputError, match=r"\(0, 1\]"):
        FFD([1.0, 2.0], 1.0, recovery_probability=lambda x: np.zeros(x.shape))
    with pytest.raises(InputError, match="does not convert"):
        FFD([1.0, 2.0], 1.0, recovery_probability=([1.0, 2.0] * u.erg, [0.5, 0.5]))


def test_ed_ratio_divides_values():
    ed = [2.0, 4.0, 8.0] * u.s
    np.testing.assert_allclose(FFD(ed, 1.0, ed_ratio=0.5).x.value, [16.0, 8.0, 4.0])
    np.testing.assert_allclose(FFD(ed, 1.0, ed_ratio=lambda x: x.value / 2).x.value, 2.0)
    grid = FFD(ed, 1.0, ed_ratio=([2.0, 8.0] * u.s, [0.5, 1.0]))
    np.testing.assert_allclose(grid.x.value, [8.0, 4.0 / 0.75, 4.0])
    with pytest.raises(InputError, match="ed_ratio"):
        FFD(ed, 1.0, ed_ratio=0.0)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("time", [0 * u.d, -3.0, np.nan, np.inf * u.d, 5 * u.m, "ten"])
def test_bad_observing_time(time):
    with pytest.raises(InputError, match="observing_time"):
        FFD([1.0, 2.0], observing_time=time)


def test_missing_column_names_it_and_lists_the_others():
    with pytest.raises(InputError) as info:
        FFD(ed_table([1.0, 2.0]), observing_time=1.0, column="energy")
    message = str(info.value)
    assert "'energy'" in message and "equivalent_duration" in message and "amplitude" in message


def test_energy_given_in_seconds():
    with pytest.raises(InputError, match="does not convert to erg"):
        FFD([1.0, 2.0] * u.s, observing_time=1.0, column="energy")
    with pytest.raises(InputError, match="does not convert to s"):
        FFD(QTable({"equivalent_duration": [1.0] * u.erg}), observing_time=1.0)


def test_too_few_flares():
    ffd = FFD([1.0, 2.0, 3.0, 4.0, 5.0] * u.s, observing_time=1.0)
    with pytest.raises(InputError, match=r"min_tail = 10 .* there are 5"):
        ffd.fit_powerlaw()
    with pytest.raises(InputError, match=r"at least 2 .*10 recommended.* there are 1"):
        ffd.fit_powerlaw(x_min=4.5 * u.s)
    with pytest.warns(FCN4FlareWarning, match="only 3 flares"):
        fit = ffd.fit_powerlaw(x_min=3 * u.s)
    assert fit.n_tail == 3


def test_unusable_values_are_dropped_with_a_warning():
    with pytest.warns(FCN4FlareWarning, match="dropped 3 of 6"):
        ffd = FFD([1.0, np.nan, 2.0, -1.0, 0.0, 3.0] * u.s, observing_time=10 * u.d)
    np.testing.assert_allclose(ffd.x.value, [3.0, 2.0, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FFD([1.0, 2.0] * u.s, observing_time=1 * u.d)


def test_bad_data_type():
    with pytest.raises(InputError, match="FlareTable"):
        FFD({"equivalent_duration": [1.0]}, observing_time=1.0)
    with pytest.raises(InputError, match="only tables"):
        FFD([ed_table([1.0]), [2.0]], observing_time=1.0)


# --------------------------------------------------------------------------- plots, exports


def test_plot_log_axes_with_fit():
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(2)
    ffd = FFD(power_law(rng, 2.0, 1.0, 40) * u.s, observing_time=5 * u.d)
    fit = ffd.fit_powerlaw(x_min=1 * u.s)
    ax = ffd.plot(fit=fit)
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert len(ax.get_lines()) == 2
    assert ax.get_xlabel() == "Equivalent duration [s]"
    line = ax.get_lines()[1].get_ydata()
    assert line[0] == pytest.approx(fit.rate_at_x_min.value)
    fig, own = plt.subplots()
    assert fit.plot(ax=own) is own and own.get_yscale() == "log"
    assert len(ffd.plot(fit=True).get_lines()) == 2
    plt.close("all")


def test_exports():
    assert fcn4flare.FFD is FFD
    assert "FFD" in fcn4flare.__all__
    assert {"FFD", "PowerLawFit", "powerlaw_mle"} <= set(fcn4flare.catalog.__all__)


def test_bootstrap_error_when_x_min_is_chosen():
    rng = np.random.default_rng(3)
    below = np.exp(rng.normal(np.log(10.0) - 1.0, 0.6, 200))
    values = np.concatenate([below[below < 10], 10 * rng.random(100) ** (-1.0)])
    ffd = FFD(values * u.s, observing_time=30 * u.d)
    plain = ffd.fit_powerlaw(n_bootstrap=0)
    boot = ffd.fit_powerlaw(n_bootstrap=30, seed=1)
    assert plain.alpha == boot.alpha and plain.x_min_chosen
    assert plain.alpha_err == plain.alpha_err_statistical == boot.alpha_err_statistical
    assert boot.alpha_err != plain.alpha_err and np.isfinite(boot.alpha_err)
    assert ffd.fit_powerlaw(n_bootstrap=30, seed=1).alpha_err == boot.alpha_err
    given = ffd.fit_powerlaw(x_min=10 * u.s, n_bootstrap=30)
    assert given.alpha_err == given.alpha_err_statistical
    with pytest.raises(InputError, match="n_bootstrap"):
        ffd.fit_powerlaw(n_bootstrap=1)
