"""Probability runs to events, and the published post-processing rules."""

from __future__ import annotations

import math

import astropy.units as u
import numpy as np
import pytest

from fcn4flare import InputError
from fcn4flare.detection import (
    DEFAULT_RULES,
    PUBLISHED_RULES,
    DetectionRules,
    Events,
    detect_events,
    extend_to_quiescence,
    find_runs,
    merge_runs,
)


def _prob(n, start, stop, value=0.9):
    """Probability 0.1 everywhere except `value` on start..stop (inclusive)."""
    p = np.full(n, 0.1)
    p[start : stop + 1] = value
    return p


def _kept(flux, start, stop, **rules):
    events = detect_events(_prob(len(flux), start, stop), np.asarray(flux, float), **rules)
    return len(events) == 1


# --------------------------------------------------------------------------- runs


@pytest.mark.parametrize(
    ("mask", "starts", "stops"),
    [
        ([], [], []),
        ([0, 0, 0], [], []),
        ([1, 1, 1], [0], [2]),
        ([1, 0, 0, 1], [0, 3], [0, 3]),
        ([0, 1, 1, 0, 1, 1, 1, 0], [1, 4], [2, 6]),
    ],
)
def test_find_runs(mask, starts, stops):
    found_starts, found_stops = find_runs(np.array(mask, dtype=bool))
    np.testing.assert_array_equal(found_starts, starts)
    np.testing.assert_array_equal(found_stops, stops)
    assert found_starts.dtype.kind == "i" and found_stops.dtype.kind == "i"


def test_find_runs_rejects_2d():
    with pytest.raises(InputError, match="one-dimensional"):
        find_runs(np.ones((2, 2), bool))


@pytest.mark.parametrize(
    ("max_gap", "starts", "stops"),
    [
        (0, [0, 4, 9, 20], [1, 6, 10, 20]),
        (1, [0, 4, 9, 20], [1, 6, 10, 20]),
        (2, [0, 20], [10, 20]),  # 2..3 and 7..8 are gaps of exactly 2
        (8, [0, 20], [10, 20]),
        (9, [0], [20]),  # 11..19 is a gap of 9
    ],
)
def test_merge_runs(max_gap, starts, stops):
    merged = merge_runs([0, 4, 9, 20], [1, 6, 10, 20], max_gap)
    np.testing.assert_array_equal(merged[0], starts)
    np.testing.assert_array_equal(merged[1], stops)


def test_merge_runs_edge_cases():
    for starts, stops in (([], []), ([3], [5])):
        merged = merge_runs(starts, stops, 4)
        np.testing.assert_array_equal(merged[0], starts)
        np.testing.assert_array_equal(merged[1], stops)
    with pytest.raises(InputError, match="max_gap"):
        merge_runs([0], [1], -1)
    with pytest.raises(InputError, match="equal length"):
        merge_runs([0, 3], [1], 1)


# --------------------------------------------------------------------------- detection


def test_threshold_is_strict_and_nan_never_flagged():
    p = np.array([0.5, 0.9, np.nan, 0.9, 0.9, 0.51, 0.5])
    events = detect_events(p, np.ones(7), merge_gap=0, min_points=1)
    np.testing.assert_array_equal(events.start, [1, 3])
    np.testing.assert_array_equal(events.stop, [1, 5])
    assert len(detect_events(p, np.ones(7), threshold=0.95)) == 0
    assert len(detect_events(np.full(5, np.nan), np.ones(5), threshold=-1.0)) == 0


def test_events_fields():
    p = np.array([0.1, 0.6, 0.8, 1.0, 0.0, 0.7])
    flux = np.array([1.0, 1.2, 2.0, 1.5, 1.0, 1.1])
    events = detect_events(p, flux, merge_gap=0, min_points=1)
    assert isinstance(events, Events) and len(events) == 2
    np.testing.assert_array_equal(events.start, [1, 5])
    np.testing.assert_array_equal(events.peak, [2, 5])
    np.testing.assert_array_equal(events.stop, [3, 5])
    np.testing.assert_allclose(events.score, [0.8, 0.7])
    np.testing.assert_allclose(events.max_score, [1.0, 0.7])
    for name in ("start", "peak", "stop"):
        assert getattr(events, name).dtype.kind == "i"
    empty = detect_events(np.zeros(5), np.ones(5))
    assert len(empty) == 0 and empty.score.shape == (0,)


def test_merging_keeps_the_gap_inside_the_event():
    p = np.array([0.0, 0.9, 0.9, 0.2, np.nan, 0.7, 0.0, 0.0, 0.0, 0.8])
    flux = np.array([1.0, 1.1, 1.3, 1.2, np.nan, 1.5, 1.0, 1.0, 1.0, 1.1])
    events = detect_events(p, flux, merge_gap=2, min_points=1)
    np.testing.assert_array_equal(events.start, [1, 9])
    np.testing.assert_array_equal(events.stop, [5, 9])
    np.testing.assert_array_equal(events.peak, [5, 9])  # NaN flux is never the peak
    np.testing.assert_allclose(events.score, [np.mean([0.9, 0.9, 0.2, 0.7]), 0.8])
    assert len(detect_events(p, flux, merge_gap=3, min_points=1)) == 1


def test_peak_of_all_nan_flux_is_the_start():
    events = detect_events(_prob(6, 2, 4), np.array([1, 1, np.nan, np.nan, np.nan, 1.0]))
    np.testing.assert_array_equal(events.peak, [2])


def test_min_points():
    flux = np.ones(10)
    assert not _kept(flux, 3, 4, min_points=3)
    assert _kept(flux, 3, 5, min_points=3)
    assert _kept(flux, 3, 3, min_points=1)


def test_peak_not_first():
    #           0    1    2    3    4    5    6
    rising = [1.0, 1.0, 2.0, 3.0, 2.0, 1.5, 1.0]
    assert _kept(rising, 3, 5, peak_not_first=True)  # peak 3 = start, 3.0 > 2.0
    falling = [1.0, 1.0, 4.0, 3.0, 2.0, 1.5, 1.0]
    assert not _kept(falling, 3, 5, peak_not_first=True)  # 3.0 < 4.0 before the run
    flat = [1.0, 1.0, 3.0, 3.0, 2.0, 1.5, 1.0]
    assert not _kept(flat, 3, 5, peak_not_first=True)  # strictly greater is required
    nan_before = [1.0, 1.0, np.nan, 3.0, 2.0, 1.5, 1.0]
    assert not _kept(nan_before, 3, 5, peak_not_first=True)
    assert _kept(falling, 2, 5, peak_not_first=True)  # the peak is no longer after the start
    late_peak = [1.0, 1.0, 4.0, 3.0, 3.5, 1.5, 1.0]
    assert _kept(late_peak, 3, 5, peak_not_first=True)  # peak 4 is not first: no check
    assert _kept(falling, 3, 5, peak_not_first=False)


def test_peak_not_first_at_index_zero_rejects():
    flux = [3.0, 2.0, 1.5, 1.0, 1.0]
    assert not _kept(flux, 0, 2, peak_not_first=True)
    assert _kept(flux, 0, 2, peak_not_first=False)  # rule off: index -1 is never consulted


def test_decay_longer_than_rise():
    #        0    1    2    3    4    5    6    7
    flux = [1.0, 1.0, 1.5, 3.0, 2.0, 1.5, 1.0, 1.0]
    assert _kept(flux, 2, 5, decay_longer_than_rise=True)  # rise 1, decay 2
    assert not _kept(flux, 2, 4, decay_longer_than_rise=True)  # rise 1, decay 1
    assert not _kept(flux, 1, 4, decay_longer_than_rise=True)  # rise 2, decay 1
    assert _kept(flux, 1, 4, decay_longer_than_rise=False)


def _level_flux(before, after, n=12, start=4, stop=7, peak_value=3.0):
    flux = np.ones(n)
    flux[start : stop + 1] = [peak_value, 2.0, 1.5, 1.2]
    flux[start - 2] = before
    flux[stop + 2] = after
    return flux


@pytest.mark.parametrize(
    ("before", "after", "kept"),
    [
        (1.0, 1.0, True),  # r = 1
        (2.0, 1.0, False),  # r = 1 / (2 + 1e-8): just below 0.5, rejected as written
        (1.0, 2.0, True),  # r = 2 / (1 + 1e-8): just below 2
        (1.0, 2.01, False),  # r = 2.02
        (2.05, 1.0, False),  # r = 0.475
        (1.9, 1.0, True),  # r = 0.55
        (3.0, 3.0, False),  # r = 0 / 1e-8 = 0
        (np.nan, 1.0, False),  # r NaN
        (1.0, np.nan, False),
    ],
)
def test_level_consistency_ratio(before, after, kept):
    # The peak is 3.0 at index 4; `before` sits at start - 2, `after` at stop + 2.
    assert _kept(_level_flux(before, after), 4, 7, level_consistency=True) is kept


@pytest.mark.parametrize(
    ("start", "stop", "n", "kept"),
    [
        (2, 5, 8, True),  # start - 2 = 0 and stop + 2 = 7 = n - 1: both inside
        (1, 4, 8, False),  # start - 2 = -1
        (2, 6, 8, False),  # stop + 2 = 8 = n
        (0, 3, 8, False),
    ],
)
def test_level_consistency_out_of_range_rejects(start, stop, n, kept):
    flux = np.ones(n)
    flux[start] = 3.0
    assert _kept(flux, start, stop, level_consistency=True) is kept
    assert _kept(flux, start, stop, level_consistency=False)


def test_rules_combine():
    flux = _level_flux(1.0, 1.0)
    prob = _prob(12, 4, 7)
    assert len(detect_events(prob, flux, **PUBLISHED_RULES)) == 1
    assert len(detect_events(prob, flux, **{**PUBLISHED_RULES, "min_points": 5})) == 0


def test_quantity_flux_and_validation():
    flux = _level_flux(1.0, 1.0) * u.electron / u.s
    assert len(detect_events(_prob(12, 4, 7), flux, **PUBLISHED_RULES)) == 1
    with pytest.raises(InputError, match="equal length"):
        detect_events(np.ones(5), np.ones(4))
    with pytest.raises(InputError, match="equal length"):
        detect_events(np.ones((2, 2)), np.ones((2, 2)))
    with pytest.raises(InputError, match="min_points"):
        detect_events(np.ones(5), np.ones(5), min_points=-1)
    with pytest.raises(InputError, match="numeric"):
        detect_events(["a"], ["b"])


def test_rule_sets():
    assert PUBLISHED_RULES == {
        "threshold": 0.5,
        "merge_gap": 0,
        "min_points": 3,
        "peak_not_first": True,
        "decay_longer_than_rise": True,
        "level_consistency": True,
        "low_threshold": None,
        "quiescent_level": None,
    }
    assert set(DEFAULT_RULES) == set(PUBLISHED_RULES)
    p, f = np.random.default_rng(0).random((2, 200))
    default = detect_events(p, f)
    explicit = detect_events(p, f, **DEFAULT_RULES)
    np.testing.assert_array_equal(default.start, explicit.start)


# --------------------------------------------------------------------------- the spec


def _spec_pipeline(probability, flux):
    """A literal transcription of the spec's "Post-processing" section."""
    binary = probability > 0.5
    n = len(flux)
    events = []
    i = 0
    while i < n:
        if not binary[i]:
            i += 1
            continue
        start = i
        while i + 1 < n and binary[i + 1]:
            i += 1
        end = i
        i += 1
        peak = start + int(np.argmax(flux[start : end + 1]))
        if end - start + 1 < 3:
            continue
        if peak == start and (peak - 1 < 0 or not flux[peak] > flux[peak - 1]):
            continue
        if not (end - peak) > (peak - start):
            continue
        if start - 2 < 0 or end + 2 > n - 1:
            continue
        r = (flux[peak] - flux[start - 2]) / (flux[peak] - flux[end + 2] + 1e-8)
        if math.isnan(r) or not 0.5 <= r <= 2:
            continue
        events.append((start, peak, end, float(np.mean(probability[start : end + 1]))))
    return events


def test_published_rules_reproduce_the_spec_on_random_inputs():
    rng = np.random.default_rng(2024)
    n_kept = n_runs = 0
    for _ in range(40):
        n = int(rng.integers(50, 600))
        # Smooth probabilities give runs of many lengths, including at both ends.
        noise = np.convolve(rng.standard_normal(n + 8), np.ones(9) / 3, mode="valid")
        probability = 1 / (1 + np.exp(-2 * noise))
        flux = 1 + 0.05 * rng.standard_normal(n)
        for peak in rng.integers(0, n, 5):
            decay = np.exp(-np.arange(n - peak) / rng.uniform(1, 8))
            flux[peak:] += rng.uniform(0.1, 1.0) * decay
        expected = _spec_pipeline(probability, flux)
        events = detect_events(probability, flux, **PUBLISHED_RULES)
        found = list(
            zip(
                events.start.tolist(),
                events.peak.tolist(),
                events.stop.tolist(),
                events.score.tolist(),
                strict=True,
            )
        )
        assert [e[:3] for e in found] == [e[:3] for e in expected]
        np.testing.assert_allclose([e[3] for e in found], [e[3] for e in expected], rtol=1e-12)
        n_kept += len(expected)
        n_runs += len(find_runs(probability > 0.5)[0])
    assert 20 < n_kept < n_runs / 2  # both kept and rejected runs were exercised


def test_defaults_merge_close_runs_and_drop_short_ones():
    p = np.zeros(30)
    p[[5, 6, 7, 10, 11]] = 0.9  # two runs 2 samples apart: one event of 7 samples
    p[[20, 21]] = 0.9  # 2 samples: too short
    events = detect_events(p, np.ones(30))
    np.testing.assert_array_equal(events.start, [5])
    np.testing.assert_array_equal(events.stop, [11])


def _decaying_flares():
    """Two flares in noise-unit residuals: one with a long tail the probability misses, and
    one whose probability falls apart into two runs."""
    flux = np.zeros(120)
    flux[10:14] = [5.0, 40.0, 20.0, 12.0]
    flux[14:40] = 12.0 * np.exp(-np.arange(26) / 6.0)
    flux[70:80] = [8.0, 6.0, 5.0, 4.0, 3.5, 3.0, 2.5, 2.0, 1.5, 1.2]
    prob = np.zeros(120)
    prob[10:15] = 0.9
    prob[70:72] = 0.8
    prob[75:77] = 0.6
    return prob, flux


def test_extension_to_quiescence_follows_the_tail_and_joins_fragments():
    prob, flux = _decaying_flares()
    plain = detect_events(prob, flux, threshold=0.5, merge_gap=0, min_points=1)
    assert plain.stop.tolist() == [14, 71, 76]
    events = detect_events(prob, flux, threshold=0.5, merge_gap=0, min_points=1,
                           quiescent_level=1.0)
    # Big flare: down to max(1, 0.25 sqrt(40)) = 1.58 in a 3-sample mean: 12 e^{-k/6} < ~2
    # from k ~ 11 on; the start moves back to the rising sample at 10 (already the start).
    assert events.start.tolist() == [10, 70]
    assert 22 <= events.stop[0] <= 26 and flux[events.stop[0] + 1] < 2.5
    # The fragments joined; the tail ends where the mean of (1.5, 1.2, 0) is below 1.
    assert events.stop[1] == 77
    assert events.score.tolist() == pytest.approx([0.9, 0.8])  # highest of the joined runs
    assert events.peak.tolist() == [11, 70]


def test_extension_is_bounded_and_stops_at_gaps():
    flux = np.full(100, 5.0)  # a trend that misses: the residual never comes back
    prob = np.zeros(100)
    prob[40:44] = 0.9
    events = detect_events(prob, flux, threshold=0.5, min_points=1, quiescent_level=1.0)
    assert events.start.tolist() == [38] and events.stop.tolist() == [43 + 3 * 4]
    flux[50] = np.nan
    events = detect_events(prob, flux, threshold=0.5, min_points=1, quiescent_level=1.0)
    assert events.stop.tolist() == [47]  # the mean of 48..50 holds a NaN
    none = detect_events(np.zeros(100), flux, threshold=0.5, quiescent_level=1.0)
    assert len(none) == 0


def test_extension_rule_validated_and_named():
    rules = DetectionRules.resolve({"quiescent_level": 2}, threshold=0.7)
    assert rules.quiescent_level == 2.0 and rules.name == "quiescent_level=2"
    for bad in ("high", np.inf, True):
        with pytest.raises(InputError, match="quiescent_level"):
            DetectionRules.resolve({"quiescent_level": bad})
    prob, flux = _decaying_flares()
    applied = rules.with_threshold(0.5).apply(prob, flux)
    direct = detect_events(prob, flux, threshold=0.5, quiescent_level=2.0)
    assert applied.stop.tolist() == direct.stop.tolist()


def test_extension_input_checked():
    flux = np.zeros(10)
    for args, match in [((flux, [2], [1], 1.0), "start <= stop"),
                        ((flux, [2], [10], 1.0), "start <= stop"),
                        ((flux, [2, 3], [4], 1.0), "equal length"),
                        ((flux.reshape(2, 5), [0], [1], 1.0), "1-D"),
                        ((flux, [2], [4], np.nan), "finite"),
                        ((flux, ["a"], [4], 1.0), "numeric")]:
        with pytest.raises(InputError, match=match):
            extend_to_quiescence(*args)
