import numpy as np
import pytest

from fcn4flare.evaluation.cases import Curve, simulated_set
from fcn4flare.evaluation.trends import labelled_visibility, main, real_residual_scatter
from fcn4flare.trend import estimate_trend


def _curve(flux, labels, group="g", cadence=2.0):
    n = flux.size
    return Curve(name="c", group=group, time=np.arange(n) * cadence / 1440.0, flux=flux,
                 flux_err=np.full(n, np.nan), cadence_minutes=cadence, labels=labels)


def test_labelled_visibility_counts_the_labelled_samples_above_the_trend():
    rng = np.random.default_rng(0)
    flux = 1 + 1e-3 * rng.standard_normal(3000)
    labels = np.zeros(3000, dtype=bool)
    labels[1000:1010] = True
    flux[1000:1005] += 20e-3  # five of the ten labelled samples far above the noise
    shown = labelled_visibility([_curve(flux, labels)], ["stellar", "running_median"])
    assert list(shown) == ["g", "all"]
    star = estimate_trend(flux, "stellar")
    expected = np.mean(star.residual(flux / star.median)[labels] > 2.0)
    assert shown["g"]["stellar"] == pytest.approx(expected)
    assert 0.5 <= shown["all"]["stellar"] <= 0.6


def test_labelled_visibility_pools_groups_and_skips_unlabelled_curves():
    curves = simulated_set("tess_2min", 3, seed=5, length=1024)
    curves += [_curve(np.ones(500) + 1e-3 * np.random.default_rng(1).standard_normal(500),
                      np.zeros(500, dtype=bool), group="empty")]
    shown = labelled_visibility(curves, ["adaptive"])
    assert "empty" not in shown
    assert shown["all"] == shown["tess_2min"]


def test_real_residual_scatter_is_one_for_white_noise_and_large_for_a_missed_star():
    t = np.arange(4000)
    rng = np.random.default_rng(2)
    fast = 1 + 0.03 * np.sin(2 * np.pi * t / 60) + 1e-3 * rng.standard_normal(t.size)
    curve = _curve(fast, np.zeros(t.size, dtype=bool), cadence=29.4)
    scatter = next(iter(real_residual_scatter([curve], ["adaptive", "running_median"])
                        .values()))
    assert scatter["adaptive"] < 1.3
    assert scatter["running_median"] > 10


def test_main_prints_both_tables_without_real_data(tmp_path, capsys):
    assert main(["--examples", "1", "--length", "512", "--data", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Labelled samples more than 2 noise units" in out
    assert "white-noise units" not in out  # no real light curves in tmp_path
