"""Tests of fcn4flare.metrics: agreement with scikit-learn, input layouts, events, errors,
calibration."""

from __future__ import annotations

import numpy as np
import pytest

from fcn4flare.exceptions import FCN4FlareWarning, InputError
from fcn4flare.metrics import (
    ReliabilityCurve,
    apply_temperature,
    average_precision,
    brier_score,
    dice,
    evaluate,
    event_metrics,
    expected_calibration_error,
    f1_score,
    fit_temperature,
    iou,
    precision,
    recall,
    reliability_curve,
    roc_auc,
)

THRESHOLDED = [precision, recall, f1_score, iou, dice]
RANKING = [average_precision, roc_auc]
ALL_POINTWISE = THRESHOLDED + RANKING


def random_case(seed: int, n: int = 500, decimals: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Labels with ~20% flare samples and scores rounded so that many values tie."""
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < 0.2).astype(int)
    scores = np.round(np.clip(0.35 * labels + rng.random(n) * 0.75, 0, 1), decimals)
    return labels, scores


# --------------------------------------------------------------------------------------------
# Agreement with scikit-learn
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("threshold", [0.5, 0.3])
def test_thresholded_metrics_match_sklearn(seed, threshold):
    skm = pytest.importorskip("sklearn.metrics")
    labels, scores = random_case(seed)
    predicted = scores > threshold
    tn, fp, fn, tp = skm.confusion_matrix(labels, predicted, labels=[0, 1]).ravel()
    expected = {
        precision: skm.precision_score(labels, predicted, zero_division=0),
        recall: skm.recall_score(labels, predicted, zero_division=0),
        f1_score: skm.f1_score(labels, predicted, zero_division=0),
        iou: tp / (tp + fp + fn + 1e-8),
        dice: 2 * tp / (2 * tp + fp + fn + 1e-8),
    }
    for metric, value in expected.items():
        assert metric(labels, scores, threshold=threshold) == pytest.approx(value, abs=1e-12)
    # IoU and Dice differ from Jaccard and F1 only by the 1e-8 of the published formula.
    assert iou(labels, scores, threshold) == pytest.approx(skm.jaccard_score(labels, predicted))
    assert dice(labels, scores, threshold) == pytest.approx(expected[f1_score])


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("decimals", [1, 2, 6])
def test_ranking_metrics_match_sklearn(seed, decimals):
    skm = pytest.importorskip("sklearn.metrics")
    labels, scores = random_case(seed, n=400 + 37 * seed, decimals=decimals)
    assert len(np.unique(scores)) < scores.size or decimals == 6
    assert average_precision(labels, scores) == pytest.approx(
        skm.average_precision_score(labels, scores), abs=1e-12
    )
    assert roc_auc(labels, scores) == pytest.approx(skm.roc_auc_score(labels, scores), abs=1e-12)


def test_ranking_metrics_match_sklearn_on_binary_predictions_and_logits():
    skm = pytest.importorskip("sklearn.metrics")
    labels, scores = random_case(7)
    binary = (scores > 0.5).astype(float)
    clipped = np.clip(scores, 0.01, 0.99)
    logits = np.log(clipped / (1 - clipped))
    for values in (binary, logits):
        assert average_precision(labels, values) == pytest.approx(
            skm.average_precision_score(labels, values), abs=1e-12
        )
        assert roc_auc(labels, values) == pytest.approx(
            skm.roc_auc_score(labels, values), abs=1e-12
        )


def test_infinite_scores_tie_with_each_other():
    labels, scores = random_case(7)
    assert {0.0, 1.0} <= set(scores)
    with np.errstate(divide="ignore"):
        logits = np.log(scores) - np.log1p(-scores)  # -inf at 0, +inf at 1
    assert np.isinf(logits).sum() > 2
    # Ranking metrics only depend on the order of the scores, ties included.
    assert average_precision(labels, logits) == average_precision(labels, scores)
    assert roc_auc(labels, logits) == roc_auc(labels, scores)


def test_evaluate_collects_the_individual_metrics():
    labels, scores = random_case(3)
    result = evaluate(labels, scores, threshold=0.4)
    assert result["precision"] == precision(labels, scores, 0.4)
    assert result["recall"] == recall(labels, scores, 0.4)
    assert result["f1"] == f1_score(labels, scores, 0.4)
    assert result["iou"] == iou(labels, scores, 0.4)
    assert result["dice"] == dice(labels, scores, 0.4)
    assert result["average_precision"] == average_precision(labels, scores)
    assert result["roc_auc"] == roc_auc(labels, scores)
    for key, value in event_metrics(labels, scores, 0.4).items():
        assert result[key] == value
    predicted = scores > 0.4
    assert result["n_samples"] == labels.size
    assert result["n_positive"] == labels.sum()
    assert result["n_predicted_positive"] == predicted.sum()
    assert result["tp"] == np.sum(predicted & (labels == 1))
    assert result["fp"] == np.sum(predicted & (labels == 0))
    assert result["fn"] == np.sum(~predicted & (labels == 1))
    assert result["tn"] == np.sum(~predicted & (labels == 0))
    assert result["threshold"] == 0.4


def test_threshold_is_strict():
    labels = [1, 1, 0]
    assert recall(labels, [0.5, 0.6, 0.1]) == 0.5
    assert recall(labels, [0.5, 0.6, 0.1], threshold=0.49) == 1.0


# --------------------------------------------------------------------------------------------
# Input layouts: masks, -100 padding, lists, NaN scores, tensors
# --------------------------------------------------------------------------------------------


def padded_batch() -> dict:
    """Three sequences of different length, as flat data and as padded layouts."""
    rng = np.random.default_rng(11)
    lengths = [40, 25, 33]
    label_seqs = [(rng.random(n) < 0.3).astype(int) for n in lengths]
    score_seqs = [np.round(rng.random(n), 1) for n in lengths]
    width = max(lengths)
    mask = np.zeros((3, width), dtype=int)
    labels_padded = np.full((3, width), -100)
    labels_zero_padded = np.zeros((3, width), dtype=int)
    scores_padded = np.full((3, width), np.nan)
    for i, (y, s) in enumerate(zip(label_seqs, score_seqs, strict=True)):
        mask[i, : y.size] = 1
        labels_padded[i, : y.size] = y
        labels_zero_padded[i, : y.size] = y
        scores_padded[i, : y.size] = s
    return {
        "flat": (np.concatenate(label_seqs), np.concatenate(score_seqs)),
        "lists": (label_seqs, score_seqs),
        "labels_padded": labels_padded,
        "labels_zero_padded": labels_zero_padded,
        "scores_padded": scores_padded,
        "mask": mask,
    }


@pytest.mark.parametrize("metric", ALL_POINTWISE)
def test_padding_layouts_give_the_flat_result(metric):
    case = padded_batch()
    expected = metric(*case["flat"])
    labels_padded, scores_padded = case["labels_padded"], case["scores_padded"]
    # Random scores at padded places show that padding is ignored, not merely NaN.
    scores_noise = np.where(case["mask"] == 1, scores_padded, 0.9)
    assert metric(labels_padded, scores_noise) == expected
    assert metric(case["labels_zero_padded"], scores_noise, mask=case["mask"]) == expected
    assert metric(case["labels_zero_padded"], scores_noise, mask=case["mask"] == 1) == expected
    assert metric(labels_padded[..., None], scores_padded[..., None]) == expected
    assert metric(labels_padded, scores_padded[..., None], mask=case["mask"]) == expected
    assert metric(*case["lists"]) == expected
    assert metric([list(y) for y in case["lists"][0]], list(case["lists"][1])) == expected


def test_nan_scores_are_omitted_from_both_arrays():
    labels, scores = random_case(5)
    with_nan = scores.copy()
    with_nan[::7] = np.nan
    keep = ~np.isnan(with_nan)
    for metric in ALL_POINTWISE:
        assert metric(labels, with_nan) == metric(labels[keep], scores[keep])


def test_masked_array_entries_are_ignored():
    labels, scores = random_case(6)
    hidden = np.zeros(labels.size, bool)
    hidden[10:60] = True
    masked_scores = np.ma.MaskedArray(scores, mask=hidden)
    masked_labels = np.ma.MaskedArray(labels, mask=hidden)
    for metric in ALL_POINTWISE:
        expected = metric(labels[~hidden], scores[~hidden])
        assert metric(labels, masked_scores) == expected
        assert metric(masked_labels, scores) == expected


def test_torch_tensors_are_accepted():
    torch = pytest.importorskip("torch")
    labels, scores = random_case(8)
    tensor_scores = torch.tensor(scores, requires_grad=True)
    assert evaluate(torch.tensor(labels), tensor_scores) == evaluate(labels, scores)


def test_boolean_inputs():
    labels, scores = random_case(9)
    binary = scores > 0.5
    assert f1_score(labels.astype(bool), binary) == f1_score(labels, binary.astype(float))


def test_inputs_are_not_modified():
    case = padded_batch()
    labels, scores, mask = case["labels_padded"], case["scores_padded"], case["mask"]
    copies = [labels.copy(), scores.copy(), mask.copy()]
    evaluate(labels, scores, mask=mask)
    for original, copy in zip([labels, scores, mask], copies, strict=True):
        np.testing.assert_array_equal(original, copy)


# --------------------------------------------------------------------------------------------
# Degenerate inputs
# --------------------------------------------------------------------------------------------


def test_no_predicted_positives_gives_zero_division_value():
    labels, scores = [0, 1, 1, 0], [0.1, 0.2, 0.3, 0.4]
    assert precision(labels, scores) == 0.0
    assert precision(labels, scores, zero_division=1.0) == 1.0
    assert recall(labels, scores) == 0.0
    assert f1_score(labels, scores) == 0.0
    assert iou(labels, scores) == 0.0
    assert dice(labels, scores) == 0.0


def test_no_positive_labels():
    labels, scores = [0, 0, 0, 0], [0.1, 0.9, 0.3, 0.4]
    assert recall(labels, scores) == 0.0
    assert recall(labels, scores, zero_division=1.0) == 1.0
    assert precision(labels, scores) == 0.0
    with pytest.raises(InputError, match="without positive labels"):
        average_precision(labels, scores)
    with pytest.raises(InputError, match="only one class.*0 positive, 4 negative"):
        roc_auc(labels, scores)


def test_nothing_to_find_and_nothing_found():
    labels, scores = [0, 0, 0], [0.1, 0.2, 0.3]
    for metric in THRESHOLDED:
        assert metric(labels, scores) == 0.0
    assert f1_score(labels, scores, zero_division=1.0) == 1.0


def test_all_positive_labels():
    labels, scores = [1, 1, 1], [0.1, 0.7, 0.9]
    assert average_precision(labels, scores) == 1.0
    assert precision(labels, scores) == 1.0
    assert recall(labels, scores) == pytest.approx(2 / 3)
    with pytest.raises(InputError, match="only one class.*3 positive, 0 negative"):
        roc_auc(labels, scores)


def test_evaluate_reports_undefined_ranking_metrics_as_nan_with_a_warning():
    with pytest.warns(FCN4FlareWarning, match="undefined") as record:
        result = evaluate([0, 0, 0, 0, 0], [0.1, 0.9, 0.8, 0.2, 0.1])
    assert len(record) == 2
    assert np.isnan(result["average_precision"]) and np.isnan(result["roc_auc"])
    assert result["fp"] == 2 and result["precision"] == 0.0
    assert result["n_false_events"] == 1 and result["event_recall"] == 0.0
    assert not any(np.isnan(v) for k, v in result.items() if k not in RANKING_KEYS)


RANKING_KEYS = ("average_precision", "roc_auc")


@pytest.mark.parametrize("metric", ALL_POINTWISE + [event_metrics, evaluate])
def test_nothing_left_after_padding_raises(metric):
    with pytest.raises(InputError, match="no samples left"):
        metric([-100, -100], [0.1, 0.9])
    with pytest.raises(InputError, match="no samples left"):
        metric([0, 1], [np.nan, np.nan])
    with pytest.raises(InputError, match="no samples left"):
        metric([0, 1], [0.2, 0.7], mask=[0, 0])
    with pytest.raises(InputError, match="no samples left"):
        metric([], [])


# --------------------------------------------------------------------------------------------
# Event-level metrics
# --------------------------------------------------------------------------------------------


def events(labels, scores, **kwargs) -> tuple[int, int, int, int, int]:
    result = event_metrics(labels, scores, **kwargs)
    return (
        result["n_true_events"],
        result["n_predicted_events"],
        result["n_recovered_events"],
        result["n_missed_events"],
        result["n_false_events"],
    )


def test_events_recovered_missed_and_false():
    #        true events: [1:4]          [7:9]
    labels = [0, 1, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0]
    scores = [0, 0, 0.9, 0.8, 0.7, 0, 0, 0, 0, 0, 0.6, 0.6, 0]
    #   predicted events: [2:5] recovers the first    [10:12] is false; the second is missed
    result = event_metrics(labels, scores)
    assert events(labels, scores) == (2, 2, 1, 1, 1)
    assert result["event_recall"] == 0.5
    assert result["event_precision"] == 0.5
    assert result["event_f1"] == 0.5


def test_one_predicted_event_spanning_two_flares_recovers_both():
    labels = [0, 1, 1, 0, 1, 1, 0, 0]
    scores = [0, 1, 1, 1, 1, 1, 1, 0]
    assert events(labels, scores) == (2, 1, 2, 0, 0)
    result = event_metrics(labels, scores)
    assert result["event_recall"] == 1.0 and result["event_precision"] == 1.0


def test_flare_split_into_fragments_counts_once_in_recall():
    labels = [0, 1, 1, 1, 1, 1, 0]
    scores = [0, 1, 0, 1, 0, 1, 0]
    assert events(labels, scores) == (1, 3, 1, 0, 0)


def test_min_overlap():
    labels = [0, 1, 1, 1, 0, 0]
    scores = [1, 1, 0, 0, 0, 1]  # overlaps the flare by one sample, plus one false event
    assert events(labels, scores, min_overlap=1) == (1, 2, 1, 0, 1)
    assert events(labels, scores, min_overlap=2) == (1, 2, 0, 1, 2)
    assert event_metrics(labels, scores, min_overlap=2)["event_precision"] == 0.0


def test_no_true_events_and_no_predicted_events():
    assert event_metrics([0, 0, 0], [0.1, 0.2, 0.3]) == {
        "n_true_events": 0,
        "n_predicted_events": 0,
        "n_recovered_events": 0,
        "n_missed_events": 0,
        "n_false_events": 0,
        "event_recall": 0.0,
        "event_precision": 0.0,
        "event_f1": 0.0,
    }


def test_nan_padding_and_mask_break_runs():
    labels = [1, 1, 1, 1, 1]
    scores = [1, 1, np.nan, 0, 0]
    # The NaN splits the flare in two; only the first half is detected.
    assert events(labels, scores) == (2, 1, 1, 1, 0)
    assert events([1, 1, -100, 1, 1], [1, 1, 1, 0, 0]) == (2, 1, 1, 1, 0)
    assert events(labels, [1, 1, 1, 0, 0], mask=[1, 1, 0, 1, 1]) == (2, 1, 1, 1, 0)


def test_events_do_not_span_sequences():
    labels = [np.array([0, 0, 1, 1]), np.array([1, 1, 0])]
    scores = [np.array([0, 0, 0, 0]), np.array([1, 0, 0])]
    assert events(labels, scores) == (2, 1, 1, 1, 0)
    # Flattened, the two halves form one flare, and it is recovered.
    assert events(np.concatenate(labels), np.concatenate(scores)) == (1, 1, 1, 0, 0)
    batch_labels = np.array([[0, 0, 1, 1], [1, 1, 0, -100]])
    batch_scores = np.array([[0, 0, 0, 0], [1, 0, 0, np.nan]])
    assert events(batch_labels, batch_scores) == (2, 1, 1, 1, 0)


def test_events_at_array_edges():
    assert events([1, 0, 0, 1], [1, 0, 0, 1]) == (2, 2, 2, 0, 0)
    assert events([1, 1, 1, 1], [0, 0, 0, 0]) == (1, 0, 0, 1, 0)


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("metric", ALL_POINTWISE + [event_metrics, evaluate])
def test_length_mismatch_names_both_lengths(metric):
    with pytest.raises(InputError, match="labels has 4 samples but scores has 3"):
        metric([0, 1, 1, 0], [0.2, 0.4, 0.6])


def test_sequence_mismatches():
    with pytest.raises(InputError, match="labels has 2 sequences but scores has 3"):
        f1_score(np.zeros((2, 5)), np.zeros((3, 5)))
    with pytest.raises(InputError, match="sequence 1: labels has 4 samples but scores has 5"):
        f1_score([np.zeros(3), np.zeros(4)], [np.zeros(3), np.zeros(5)])
    with pytest.raises(InputError, match="labels has 5 samples but mask has 4"):
        f1_score(np.zeros(5), np.zeros(5), mask=np.ones(4))


@pytest.mark.parametrize(
    ("labels", "scores", "kwargs", "message"),
    [
        ([0, 2, 1], [0.1, 0.2, 0.3], {}, r"labels must be 0 or 1.*\[2.0\]"),
        ([0, np.nan, 1], [0.1, 0.2, 0.3], {}, "labels must be 0 or 1"),
        ([0, 1, 1], [0.1, np.nan, 0.3], {"nan_policy": "raise"}, "1 NaN value"),
        ([0, 1, 1], [0.1, 0.2, 0.3], {"nan_policy": "drop"}, "nan_policy must be one of"),
        ([0, 1, 1], [0.1, 0.2, 0.3], {"mask": [1, 2, 1]}, "mask must contain only 0/1"),
        ([0, 1, 1], ["a", "b", "c"], {}, "scores must be numeric"),
        (np.zeros((2, 3, 2)), np.zeros((2, 3, 2)), {}, r"got shape \(2, 3, 2\)"),
        ([0, [1, 1]], [0, [0.1, 0.2]], {}, "mixes numbers and sequences"),
        ([np.zeros((2, 2))], [np.zeros((2, 2))], {}, r"labels\[0\] must be a 1-D sequence"),
    ],
)
def test_bad_input_raises_input_error(labels, scores, kwargs, message):
    with pytest.raises(InputError, match=message):
        evaluate(labels, scores, **kwargs)


def test_nan_label_or_bad_label_at_padded_position_is_fine():
    assert f1_score([0, np.nan, 1], [0.1, 0.2, 0.9], mask=[1, 0, 1]) == 1.0
    assert f1_score([0, 7, 1], [0.1, np.nan, 0.9]) == 1.0


@pytest.mark.parametrize("min_overlap", [0, -1, 1.5, True, "2", None])
def test_bad_min_overlap(min_overlap):
    with pytest.raises(InputError, match="min_overlap"):
        event_metrics([0, 1], [0, 1], min_overlap=min_overlap)


@pytest.mark.parametrize("threshold", [np.nan, "high", None])
def test_bad_threshold(threshold):
    with pytest.raises(InputError, match="threshold"):
        precision([0, 1], [0, 1], threshold=threshold)


# --------------------------------------------------------------------------------------------
# Calibration
# --------------------------------------------------------------------------------------------

CALIBRATION = [expected_calibration_error, brier_score]


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def test_calibrated_bins_give_zero_ece():
    # In each bin the flare fraction equals the probability: 1 of 4 at 0.25, 3 of 4 at 0.75.
    labels = [1, 0, 0, 0, 1, 1, 1, 0]
    scores = [0.25] * 4 + [0.75] * 4
    for n_bins in (1, 2, 4, 10):
        assert expected_calibration_error(labels, scores, n_bins=n_bins) == 0.0
    assert brier_score(labels, scores) == pytest.approx(0.1875)  # every sample off by 0.25 or 0.75


def test_ece_of_a_small_case_worked_by_hand():
    labels = [0, 0, 1, 1, 1]
    scores = [0.1, 0.3, 0.35, 0.8, 0.95]
    # Two bins: [0, 0.5) holds 0.1, 0.3, 0.35 (mean 0.25, 1 flare in 3) and [0.5, 1] holds
    # 0.8, 0.95 (mean 0.875, both flares): 3/5 |1/3 - 0.25| + 2/5 |1 - 0.875| = 0.05 + 0.05.
    assert expected_calibration_error(labels, scores, n_bins=2) == pytest.approx(0.1)
    curve = reliability_curve(labels, scores, n_bins=2)
    assert isinstance(curve, ReliabilityCurve)
    assert curve.bin_edges.tolist() == [0.0, 0.5, 1.0]
    assert curve.count.tolist() == [3, 2]
    np.testing.assert_allclose(curve.mean_predicted, [0.25, 0.875])
    np.testing.assert_allclose(curve.observed_fraction, [1 / 3, 1.0])
    np.testing.assert_allclose(curve.bin_centers, [0.25, 0.75])
    assert curve.n_bins == 2 and curve.n_samples == 5
    assert curve.expected_calibration_error == pytest.approx(0.1)
    # One bin: the gap between the mean label and the mean probability.
    assert expected_calibration_error(labels, scores, n_bins=1) == pytest.approx(0.6 - 0.5)
    # (0.01 + 0.09 + 0.4225 + 0.04 + 0.0025) / 5
    assert brier_score(labels, scores) == pytest.approx(0.113)


def test_reliability_bins_include_their_lower_edge_and_one():
    curve = reliability_curve([0, 0, 1, 1, 1], [0.0, 0.3, 0.7, 0.99, 1.0])
    assert curve.count.tolist() == [1, 0, 0, 1, 0, 0, 0, 1, 0, 2]
    assert np.isnan(curve.mean_predicted[1]) and np.isnan(curve.observed_fraction[1])
    assert curve.mean_predicted[9] == pytest.approx(0.995)
    assert curve.observed_fraction.tolist()[::3] == [0.0, 0.0, pytest.approx(np.nan, nan_ok=True),
                                                    1.0]


def test_reliability_curve_is_read_only():
    curve = reliability_curve([0, 1], [0.2, 0.9])
    with pytest.raises(ValueError, match="read-only"):
        curve.count[0] = 5
    with pytest.raises(AttributeError):
        curve.expected_calibration_error = 0.0


@pytest.mark.parametrize("seed", range(3))
def test_calibration_metrics_match_sklearn(seed):
    skc = pytest.importorskip("sklearn.calibration")
    skm = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(seed)
    scores = rng.random(2000) ** 2
    labels = rng.random(2000) < scores**0.8
    curve = reliability_curve(labels, scores, n_bins=8)
    observed, predicted = skc.calibration_curve(labels, scores, n_bins=8)
    filled = curve.count > 0
    np.testing.assert_allclose(curve.observed_fraction[filled], observed, rtol=1e-12)
    np.testing.assert_allclose(curve.mean_predicted[filled], predicted, rtol=1e-12)
    ece = np.sum(curve.count[filled] / 2000 * np.abs(observed - predicted))
    assert expected_calibration_error(labels, scores, n_bins=8) == pytest.approx(ece, abs=1e-12)
    assert brier_score(labels, scores) == pytest.approx(
        skm.brier_score_loss(labels, scores), abs=1e-12)


@pytest.mark.parametrize("metric", CALIBRATION + [reliability_curve])
def test_calibration_padding_layouts_give_the_flat_result(metric):
    case = padded_batch()

    def value(*args, **kwargs):
        result = metric(*args, **kwargs)
        return result.expected_calibration_error if metric is reliability_curve else result

    expected = value(*case["flat"])
    scores_noise = np.where(case["mask"] == 1, case["scores_padded"], 7.0)  # ignored
    assert value(case["labels_padded"], scores_noise) == expected
    assert value(case["labels_zero_padded"], scores_noise, mask=case["mask"]) == expected
    assert value(*case["lists"]) == expected


@pytest.mark.parametrize("metric", CALIBRATION)
def test_calibration_nan_policy(metric):
    labels, scores = random_case(5)
    with_nan = scores.copy()
    with_nan[::7] = np.nan
    keep = ~np.isnan(with_nan)
    assert metric(labels, with_nan) == metric(labels[keep], scores[keep])
    with pytest.raises(InputError, match="NaN value"):
        metric(labels, with_nan, nan_policy="raise")


@pytest.mark.parametrize("metric", CALIBRATION + [reliability_curve, fit_temperature])
@pytest.mark.parametrize("bad", [1.2, -0.1, np.inf])
def test_calibration_needs_probabilities(metric, bad):
    name = "probabilities" if metric is fit_temperature else "scores"
    with pytest.raises(InputError, match=rf"{name} must be probabilities in \[0, 1\]; 1 value"):
        metric([0, 1, 1], [0.1, bad, 0.3])
    # ... but not at padded samples
    assert np.isfinite(brier_score([0, 1, -100], [0.1, 0.9, bad]))


@pytest.mark.parametrize("n_bins", [0, -1, 1.5, True, "10", None])
def test_bad_n_bins(n_bins):
    with pytest.raises(InputError, match="n_bins must be a whole number >= 1"):
        expected_calibration_error([0, 1], [0.1, 0.9], n_bins=n_bins)
    with pytest.raises(InputError, match="n_bins"):
        reliability_curve([0, 1], [0.1, 0.9], n_bins=n_bins)


def test_n_bins_accepts_whole_numbers():
    assert reliability_curve([0, 1], [0.1, 0.9], n_bins=np.int64(3)).n_bins == 3
    assert reliability_curve([0, 1], [0.1, 0.9], n_bins=4.0).n_bins == 4


@pytest.mark.parametrize("metric", CALIBRATION + [reliability_curve, fit_temperature])
def test_calibration_nothing_left_and_length_mismatch(metric):
    with pytest.raises(InputError, match="no samples left"):
        metric([-100, -100], [0.1, 0.9])
    with pytest.raises(InputError, match="labels has 4 samples but scores has 3"):
        metric([0, 1, 1, 0], [0.2, 0.4, 0.6])


def temperature_case(temperature: float, n: int = 40_000, seed: int = 0):
    """Labels drawn from sigmoid(z), and probabilities whose logits are ``temperature * z``.

    Dividing their logits by ``temperature`` calibrates them, so `fit_temperature` should
    return ``temperature``.
    """
    rng = np.random.default_rng(seed)
    z = rng.normal(-2.0, 2.0, n)
    labels = (rng.random(n) < sigmoid(z)).astype(int)
    return labels, sigmoid(temperature * z)


@pytest.mark.parametrize("true_temperature", [0.5, 2.5, 4.0])
def test_fit_temperature_recovers_a_known_temperature(true_temperature):
    labels, probabilities = temperature_case(true_temperature)
    temperature = fit_temperature(labels, probabilities)
    assert temperature == pytest.approx(true_temperature, rel=0.1)
    calibrated = apply_temperature(probabilities, temperature)
    before = expected_calibration_error(labels, probabilities)
    after = expected_calibration_error(labels, calibrated)
    assert after < 0.01 < before
    assert brier_score(labels, calibrated) < brier_score(labels, probabilities)


def test_clipping_lowers_the_temperature_of_very_overconfident_probabilities():
    labels, probabilities = temperature_case(6.0)
    clipped = (probabilities < 1e-6) | (probabilities > 1 - 1e-6)
    assert clipped.mean() > 0.4  # logits beyond +-13.8
    assert fit_temperature(labels, probabilities) == pytest.approx(4.9, abs=0.1)
    assert fit_temperature(labels, probabilities, clip=1e-12) == pytest.approx(6.0, rel=0.05)


@pytest.mark.parametrize("clip", [0, 0.5, -1e-6, np.nan, "small", None])
def test_fit_temperature_bad_clip(clip):
    labels, probabilities = temperature_case(2.0, n=100)
    with pytest.raises(InputError, match=r"clip must be a number in \(0, 0.5\)"):
        fit_temperature(labels, probabilities, clip=clip)


def test_fit_temperature_of_calibrated_probabilities_is_one():
    labels, probabilities = temperature_case(1.0, seed=3)
    assert fit_temperature(labels, probabilities) == pytest.approx(1.0, abs=0.05)


def test_fit_temperature_helps_on_held_out_data():
    labels, probabilities = temperature_case(3.0, seed=4)
    held_labels, held_probabilities = temperature_case(3.0, seed=5)
    calibrated = apply_temperature(held_probabilities, fit_temperature(labels, probabilities))
    assert expected_calibration_error(held_labels, calibrated) < 0.5 * expected_calibration_error(
        held_labels, held_probabilities)


def test_fit_temperature_ignores_masked_and_nan_samples():
    labels, probabilities = temperature_case(2.0, n=20_000, seed=6)
    expected = fit_temperature(labels, probabilities)
    garbage = np.concatenate([probabilities, np.full(500, 0.999)])
    padded_labels = np.concatenate([labels, np.zeros(500, int)])
    mask = np.arange(garbage.size) < labels.size
    assert fit_temperature(padded_labels, garbage, mask=mask) == expected
    with_nan = np.where(mask, garbage, np.nan)
    assert fit_temperature(padded_labels, with_nan) == expected
    with pytest.raises(InputError, match="NaN value"):
        fit_temperature(padded_labels, with_nan, nan_policy="raise")
    # sequences of different length, as lists
    assert fit_temperature([labels[:7000], labels[7000:]],
                           [probabilities[:7000], probabilities[7000:]]) == expected


def test_fit_temperature_clips_zero_and_one():
    labels = [0, 1, 0, 1, 1, 0]
    temperature = fit_temperature(labels, [0.0, 1.0, 0.2, 0.6, 0.9, 1.0])
    assert np.isfinite(temperature) and 0.05 <= temperature <= 20.0


def test_fit_temperature_undefined_cases():
    with pytest.raises(InputError, match="only one class.*0 positive, 3 negative"):
        fit_temperature([0, 0, 0], [0.1, 0.2, 0.3])
    with pytest.raises(InputError, match="every probability is 0.5"):
        fit_temperature([0, 1, 1], [0.5, 0.5, 0.5])
    with pytest.warns(FCN4FlareWarning, match="at the bound"):
        # perfectly separated: the cross-entropy falls as T goes to 0
        temperature = fit_temperature([0, 0, 1, 1], [0.2, 0.4, 0.6, 0.8])
    assert temperature == pytest.approx(0.05, rel=1e-3)


@pytest.mark.parametrize("bounds", [(0, 1), (2, 1), (1, np.inf), (1,), "ab", None])
def test_fit_temperature_bad_bounds(bounds):
    labels, probabilities = temperature_case(2.0, n=100)
    with pytest.raises(InputError, match="bounds"):
        fit_temperature(labels, probabilities, bounds=bounds)


def test_fit_temperature_custom_bounds():
    labels, probabilities = temperature_case(6.0, n=5000)
    with pytest.warns(FCN4FlareWarning, match="at the bound"):
        assert fit_temperature(labels, probabilities, bounds=(0.5, 3.0)) == pytest.approx(
            3.0, rel=1e-3)


def test_apply_temperature():
    p = np.array([[0.0, 0.1, 0.5], [0.9, 1.0, np.nan]])
    np.testing.assert_allclose(apply_temperature(p, 1.0), p, rtol=1e-14)
    scaled = apply_temperature(p, 2.0)
    assert scaled.shape == (2, 3)
    # logit(0.1) = -log 9, halved: 1 / (1 + 3) = 0.25
    np.testing.assert_allclose(scaled, [[0.0, 0.25, 0.5], [0.75, 1.0, np.nan]], rtol=1e-14)
    sharper = apply_temperature(p, 0.5)
    np.testing.assert_allclose(sharper[0, 1], 1 / 82)  # 1 / (1 + 9 ** 2)
    values = np.linspace(0, 1, 101)
    assert np.all(np.diff(apply_temperature(values, 3.7)) >= 0)  # order kept
    assert apply_temperature([0.2], 2).dtype == float
    masked = np.ma.MaskedArray([0.1, 0.9], mask=[False, True])
    assert np.isnan(apply_temperature(masked, 2.0)[1])


def test_apply_temperature_accepts_tensors():
    torch = pytest.importorskip("torch")
    p = torch.tensor([0.1, 0.9], requires_grad=True)
    np.testing.assert_allclose(apply_temperature(p, 2.0), [0.25, 0.75], rtol=1e-6)


@pytest.mark.parametrize("temperature", [0, -1.0, np.nan, np.inf, "hot", None])
def test_apply_temperature_bad_temperature(temperature):
    with pytest.raises(InputError, match="temperature must be a positive number"):
        apply_temperature([0.2, 0.8], temperature)


def test_apply_temperature_needs_probabilities():
    with pytest.raises(InputError, match=r"probabilities must be probabilities in \[0, 1\]"):
        apply_temperature([0.2, 3.0], 2.0)


def test_calibration_inputs_are_not_modified():
    case = padded_batch()
    labels, scores, mask = case["labels_padded"], case["scores_padded"], case["mask"]
    copies = [labels.copy(), scores.copy(), mask.copy()]
    reliability_curve(labels, scores, mask=mask)
    with pytest.warns(FCN4FlareWarning, match="at the bound"):  # random scores: T -> large
        fit_temperature(labels, scores, mask=mask)
    apply_temperature(scores, 2.0)
    for original, copy in zip([labels, scores, mask], copies, strict=True):
        np.testing.assert_array_equal(original, copy)
