"""Evaluation metrics for per-sample flare detection.

Every function takes ``(labels, scores)`` in that order:

* ``labels``: 1 inside a flare, 0 outside, ``-100`` for padding (ignored).
* ``scores``: flare probabilities (or logits, or binary predictions); NaN where no prediction
  exists.

Both may be 1-D arrays, padded batches ``[B, T]`` or ``[B, T, 1]`` (with an optional ``mask``,
1 for real samples and 0 for padding), or lists of 1-D sequences of different lengths. Padding,
masked and (by default) NaN-score samples are dropped; what is left is evaluated as one
concatenated set of samples, as in the evaluation of Jia, Luo & Qiu (2024).

Point-wise metrics (:func:`precision`, :func:`recall`, :func:`f1_score`, :func:`iou`,
:func:`dice`) threshold the scores with ``score > threshold`` (strictly greater);
:func:`average_precision` and :func:`roc_auc` use the continuous scores and agree with
scikit-learn's ``average_precision_score`` and ``roc_auc_score``. :func:`event_metrics` counts
whole flares rather than samples, and :func:`evaluate` returns everything at once.

Calibration -- whether a probability of 0.2 means that one such sample in five is a flare
sample -- is measured by :func:`reliability_curve`, :func:`expected_calibration_error` and
:func:`brier_score`, which need probabilities in [0, 1]; :func:`fit_temperature` finds the
temperature that calibrates them best on labelled data, and :func:`apply_temperature` applies
it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import expit, logit

from ._arrays import PADDING_LABEL, find_runs
from .exceptions import FCN4FlareWarning, InputError

__all__ = [
    "precision",
    "recall",
    "f1_score",
    "iou",
    "dice",
    "average_precision",
    "roc_auc",
    "event_metrics",
    "evaluate",
    "ReliabilityCurve",
    "reliability_curve",
    "expected_calibration_error",
    "brier_score",
    "fit_temperature",
    "apply_temperature",
]

"""Label value marking a padded sample (the convention of the training data)."""

EPSILON = 1e-8
"""Added to the denominators of IoU and Dice, as in the published evaluation."""

_NAN_POLICIES = ("omit", "raise")

PROBABILITY_CLIP = 1e-6
"""`fit_temperature` clips probabilities to ``[1e-6, 1 - 1e-6]`` by default before taking their
logit, which caps the logits at about +-13.8."""

TEMPERATURE_BOUNDS = (0.05, 20.0)
"""Default range searched by `fit_temperature`."""


# --------------------------------------------------------------------------------------------
# Input handling
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Samples:
    """Flattened evaluation data.

    ``labels`` and ``scores`` hold every sample of every sequence, with one invalid separator
    sample after each sequence so that runs never cross from one sequence into the next.
    ``valid`` is False for padding, masked samples, omitted NaN scores and separators.
    """

    labels: np.ndarray  # bool, False where not valid
    scores: np.ndarray  # float, NaN where not valid
    valid: np.ndarray  # bool

    def pointwise(self) -> tuple[np.ndarray, np.ndarray]:
        return self.labels[self.valid], self.scores[self.valid]


def _to_numpy(values: Any) -> np.ndarray | np.ma.MaskedArray:
    """Convert array-likes (including CPU or GPU torch tensors) without copying if possible."""
    if hasattr(values, "detach") and hasattr(values, "cpu"):
        values = values.detach().cpu().numpy()
    if np.ma.isMaskedArray(values):
        return values
    return np.asarray(values)


def _split_sequences(values: Any, name: str) -> list[np.ndarray | np.ma.MaskedArray]:
    """Return ``values`` as a list of 1-D sequences (rows of a batch, or list elements)."""
    if isinstance(values, (list, tuple)) and len(values) > 0:
        elements = [_to_numpy(element) for element in values]
        ndims = {element.ndim for element in elements}
        if ndims == {0}:
            return [_to_numpy(values)]
        if 0 in ndims:
            raise InputError(
                f"{name} mixes numbers and sequences; give one 1-D array, a 2-D batch or a "
                "list of 1-D sequences"
            )
        return [_as_sequence(element, f"{name}[{i}]") for i, element in enumerate(elements)]
    array = _to_numpy(values)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim == 1:
        return [array]
    if array.ndim == 2:
        return list(array)
    raise InputError(
        f"{name} must be 1-D, a [B, T] or [B, T, 1] batch, or a list of 1-D sequences; "
        f"got shape {array.shape}"
    )


def _as_sequence(element: np.ndarray, name: str) -> np.ndarray:
    if element.ndim == 2 and element.shape[-1] == 1:
        element = element[:, 0]
    if element.ndim != 1:
        raise InputError(f"{name} must be a 1-D sequence; got shape {element.shape}")
    return element


def _numeric(values: np.ndarray | np.ma.MaskedArray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Return the float data and the mask of masked-array entries (all False if none)."""
    masked = np.ma.getmaskarray(values)
    data = np.ma.getdata(values)
    if data.dtype.kind not in "biuf":
        raise InputError(f"{name} must be numeric or boolean; got dtype {data.dtype}")
    return data.astype(float), masked


def _check_nan_policy(nan_policy: str) -> None:
    if nan_policy not in _NAN_POLICIES:
        raise InputError(f"nan_policy must be one of {_NAN_POLICIES}; got {nan_policy!r}")


def _check_threshold(threshold: float) -> float:
    try:
        value = float(threshold)
    except (TypeError, ValueError):
        raise InputError(f"threshold must be a number; got {threshold!r}") from None
    if np.isnan(value):
        raise InputError("threshold must be a number; got NaN")
    return value


def _check_lengths(label_seqs: list, other_seqs: list, other: str) -> None:
    if len(label_seqs) != len(other_seqs):
        raise InputError(
            f"labels has {len(label_seqs)} sequences but {other} has {len(other_seqs)}"
        )
    for i, (label_seq, other_seq) in enumerate(zip(label_seqs, other_seqs, strict=True)):
        if label_seq.shape[0] != other_seq.shape[0]:
            where = "" if len(label_seqs) == 1 else f"sequence {i}: "
            raise InputError(
                f"{where}labels has {label_seq.shape[0]} samples but {other} has "
                f"{other_seq.shape[0]}"
            )


def _sequence_validity(
    labels: np.ndarray,
    label_masked: np.ndarray,
    scores: np.ndarray,
    score_masked: np.ndarray,
    mask: np.ndarray | None,
    nan_policy: str,
) -> np.ndarray:
    """Return the samples of one sequence that take part in the evaluation."""
    valid = ~label_masked & ~score_masked & (labels != PADDING_LABEL)
    if mask is not None:
        valid &= mask
    nan_scores = np.isnan(scores) & valid
    if nan_policy == "raise" and nan_scores.any():
        raise InputError(
            f"scores contain {int(nan_scores.sum())} NaN value(s) at non-padded samples "
            "(use nan_policy='omit' to leave them out)"
        )
    valid &= ~nan_scores
    bad_labels = valid & (labels != 0) & (labels != 1)
    if bad_labels.any():
        examples = np.unique(labels[bad_labels])[:5]
        raise InputError(
            f"labels must be 0 or 1 ({PADDING_LABEL} for padding); found {examples.tolist()}"
        )
    return valid


def _mask_sequence(mask: np.ndarray, name: str) -> np.ndarray:
    data = np.ma.getdata(mask)
    if data.dtype.kind not in "biuf" or not np.isin(data, (0, 1)).all():
        raise InputError(f"{name} must contain only 0/1 (or False/True) values")
    return data.astype(bool) & ~np.ma.getmaskarray(mask)


def _prepare(labels: Any, scores: Any, mask: Any = None, nan_policy: str = "omit") -> _Samples:
    """Validate and flatten the inputs of every public function."""
    _check_nan_policy(nan_policy)
    label_seqs = _split_sequences(labels, "labels")
    score_seqs = _split_sequences(scores, "scores")
    _check_lengths(label_seqs, score_seqs, "scores")
    mask_seqs: list[np.ndarray | None] = [None] * len(label_seqs)
    if mask is not None:
        raw_masks = _split_sequences(mask, "mask")
        _check_lengths(label_seqs, raw_masks, "mask")
        mask_seqs = [_mask_sequence(m, "mask") for m in raw_masks]

    all_labels, all_scores, all_valid = [], [], []
    separator_bool, separator_nan = np.zeros(1, bool), np.full(1, np.nan)
    for label_seq, score_seq, mask_seq in zip(label_seqs, score_seqs, mask_seqs, strict=True):
        label_values, label_masked = _numeric(label_seq, "labels")
        score_values, score_masked = _numeric(score_seq, "scores")
        valid = _sequence_validity(
            label_values, label_masked, score_values, score_masked, mask_seq, nan_policy
        )
        all_labels += [(label_values == 1) & valid, separator_bool]
        all_scores += [np.where(valid, score_values, np.nan), separator_nan]
        all_valid += [valid, separator_bool]

    samples = _Samples(
        labels=np.concatenate(all_labels),
        scores=np.concatenate(all_scores),
        valid=np.concatenate(all_valid),
    )
    if not samples.valid.any():
        raise InputError(
            "no samples left to evaluate after removing padding (mask == 0, "
            f"labels == {PADDING_LABEL}), masked values and NaN scores"
        )
    return samples


# --------------------------------------------------------------------------------------------
# Numeric cores on flat arrays
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Counts:
    tp: int
    fp: int
    fn: int
    tn: int


def _confusion(labels: np.ndarray, scores: np.ndarray, threshold: float) -> _Counts:
    predicted = scores > threshold
    tp = int(np.count_nonzero(predicted & labels))
    fp = int(np.count_nonzero(predicted & ~labels))
    fn = int(np.count_nonzero(~predicted & labels))
    return _Counts(tp=tp, fp=fp, fn=fn, tn=labels.size - tp - fp - fn)


def _ratio(numerator: float, denominator: float, zero_division: float) -> float:
    return float(numerator / denominator) if denominator > 0 else float(zero_division)


def _precision(c: _Counts, zero_division: float) -> float:
    return _ratio(c.tp, c.tp + c.fp, zero_division)


def _recall(c: _Counts, zero_division: float) -> float:
    return _ratio(c.tp, c.tp + c.fn, zero_division)


def _f1(c: _Counts, zero_division: float) -> float:
    return _ratio(2 * c.tp, 2 * c.tp + c.fp + c.fn, zero_division)


def _iou(c: _Counts) -> float:
    return c.tp / (c.tp + c.fp + c.fn + EPSILON)


def _dice(c: _Counts) -> float:
    return 2 * c.tp / (2 * c.tp + c.fp + c.fn + EPSILON)


def _ranking_counts(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """True and false positives when thresholding at each distinct score, highest first."""
    order = np.argsort(scores, kind="stable")[::-1]
    sorted_scores = scores[order]
    last_of_tie = np.flatnonzero(sorted_scores[1:] != sorted_scores[:-1])
    ends = np.append(last_of_tie, scores.size - 1)
    tps = np.cumsum(labels[order], dtype=np.int64)[ends]
    fps = ends + 1 - tps
    return tps, fps


def _average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    n_positive = int(np.count_nonzero(labels))
    if n_positive == 0:
        raise InputError(
            "average precision is undefined without positive labels "
            f"(all {labels.size} evaluated samples are 0)"
        )
    tps, fps = _ranking_counts(labels, scores)
    recall_steps = np.diff(tps, prepend=0) / n_positive
    return float(np.sum(recall_steps * (tps / (tps + fps))))


def _roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    n_positive = int(np.count_nonzero(labels))
    n_negative = labels.size - n_positive
    if n_positive == 0 or n_negative == 0:
        raise InputError(
            "ROC AUC is undefined when labels contain only one class "
            f"({n_positive} positive, {n_negative} negative samples)"
        )
    tps, fps = _ranking_counts(labels, scores)
    # Trapezoidal area under (fps, tps) in exact integers, normalised at the end.
    twice_area = np.sum(np.diff(fps, prepend=0) * (tps + np.append(0, tps[:-1])))
    return float(twice_area) / (2.0 * n_positive * n_negative)


def _runs(flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and exclusive stops of the runs of True in a 1-D boolean array."""
    starts, stops = find_runs(flags)
    return starts, stops + 1


def _events(samples: _Samples, threshold: float, min_overlap: int) -> dict[str, Any]:
    true_flags = samples.labels
    predicted_flags = (samples.scores > threshold) & samples.valid
    true_starts, _ = _runs(true_flags)
    predicted_starts, _ = _runs(predicted_flags)
    # Two intervals overlap in one interval, so each run of the intersection is exactly the
    # overlap of one true event with one predicted event.
    overlap_starts, overlap_stops = _runs(true_flags & predicted_flags)
    long_enough = overlap_stops - overlap_starts >= min_overlap
    overlap_starts = overlap_starts[long_enough]
    recovered = np.unique(np.searchsorted(true_starts, overlap_starts, side="right") - 1)
    matched = np.unique(np.searchsorted(predicted_starts, overlap_starts, side="right") - 1)

    n_true, n_predicted = true_starts.size, predicted_starts.size
    event_recall = _ratio(recovered.size, n_true, 0.0)
    event_precision = _ratio(matched.size, n_predicted, 0.0)
    return {
        "n_true_events": n_true,
        "n_predicted_events": n_predicted,
        "n_recovered_events": int(recovered.size),
        "n_missed_events": n_true - int(recovered.size),
        "n_false_events": n_predicted - int(matched.size),
        "event_recall": event_recall,
        "event_precision": event_precision,
        "event_f1": _ratio(2 * event_precision * event_recall, event_precision + event_recall, 0.0),
    }


def _check_min_overlap(min_overlap: int) -> int:
    numeric = isinstance(min_overlap, (int, float, np.integer, np.floating))
    whole = numeric and not isinstance(min_overlap, bool) and float(min_overlap).is_integer()
    if not whole or min_overlap < 1:
        raise InputError(f"min_overlap must be a whole number of samples >= 1; got {min_overlap!r}")
    return int(min_overlap)


def _check_n_bins(n_bins: int) -> int:
    numeric = isinstance(n_bins, (int, float, np.integer, np.floating))
    whole = numeric and not isinstance(n_bins, bool) and float(n_bins).is_integer()
    if not whole or n_bins < 1:
        raise InputError(f"n_bins must be a whole number >= 1; got {n_bins!r}")
    return int(n_bins)


def _check_probabilities(values: np.ndarray, name: str) -> None:
    """Raise unless every non-NaN value lies in [0, 1]."""
    with np.errstate(invalid="ignore"):
        outside = (values < 0) | (values > 1)
    if outside.any():
        bad = values[outside]
        raise InputError(
            f"{name} must be probabilities in [0, 1]; {bad.size} value(s) lie outside, from "
            f"{bad.min():g} to {bad.max():g} (logits? apply a sigmoid first)"
        )


def _probability_samples(
    labels: Any, scores: Any, mask: Any, nan_policy: str, name: str = "scores"
) -> tuple[np.ndarray, np.ndarray]:
    y, s = _prepare(labels, scores, mask, nan_policy).pointwise()
    _check_probabilities(s, name)
    return y, s


def _reliability(labels: np.ndarray, scores: np.ndarray, n_bins: int) -> ReliabilityCurve:
    # k / n_bins is the double nearest to the edge, so that 0.3 starts the fourth of 10 bins.
    edges = np.arange(n_bins + 1) / n_bins
    which = np.clip(np.searchsorted(edges, scores, side="right") - 1, 0, n_bins - 1)
    count = np.bincount(which, minlength=n_bins)
    score_sum = np.bincount(which, weights=scores, minlength=n_bins)
    positive_sum = np.bincount(which, weights=labels, minlength=n_bins)
    empty = np.full(n_bins, np.nan)
    mean_predicted = np.divide(score_sum, count, out=empty.copy(), where=count > 0)
    observed = np.divide(positive_sum, count, out=empty.copy(), where=count > 0)
    # sum_b (n_b / N) |frac_b - mean_b| = sum_b |positives_b - score sum_b| / N
    ece = float(np.sum(np.abs(positive_sum - score_sum)) / scores.size)
    arrays = (edges, mean_predicted, observed, count)
    for array in arrays:
        array.flags.writeable = False
    return ReliabilityCurve(*arrays, expected_calibration_error=ece)


def _check_temperature(temperature: float) -> float:
    try:
        value = float(temperature)
    except (TypeError, ValueError):
        raise InputError(f"temperature must be a positive number; got {temperature!r}") from None
    if not np.isfinite(value) or value <= 0:
        raise InputError(f"temperature must be a positive number; got {temperature!r}")
    return value


def _check_clip(clip: float) -> float:
    try:
        value = float(clip)
    except (TypeError, ValueError):
        raise InputError(f"clip must be a number in (0, 0.5); got {clip!r}") from None
    if not 0 < value < 0.5:
        raise InputError(f"clip must be a number in (0, 0.5); got {clip!r}")
    return value


def _check_bounds(bounds: Any) -> tuple[float, float]:
    try:
        low, high = (float(b) for b in bounds)
    except (TypeError, ValueError):
        raise InputError(f"bounds must be two numbers (low, high); got {bounds!r}") from None
    if not (np.isfinite(low) and np.isfinite(high) and 0 < low < high):
        raise InputError(f"bounds must satisfy 0 < low < high (finite); got {bounds!r}")
    return low, high


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------

_ArrayLike = Any  # numpy array, torch tensor, nested list, or list of 1-D sequences


def _thresholded_counts(
    labels: _ArrayLike, scores: _ArrayLike, threshold: float, mask: _ArrayLike, nan_policy: str
) -> _Counts:
    threshold = _check_threshold(threshold)
    y, s = _prepare(labels, scores, mask, nan_policy).pointwise()
    return _confusion(y, s, threshold)


def precision(
    labels: _ArrayLike,
    scores: _ArrayLike,
    threshold: float = 0.5,
    *,
    mask: _ArrayLike | None = None,
    nan_policy: str = "omit",
    zero_division: float = 0.0,
) -> float:
    """Fraction of the samples flagged as flare that are flare samples: TP / (TP + FP).

    Parameters
    ----------
    labels : array-like
        1 inside a flare, 0 outside, -100 for padding. A 1-D array, a ``[B, T]`` or
        ``[B, T, 1]`` batch, or a list of 1-D sequences.
    scores : array-like
        Flare probabilities or binary predictions, in the same layout as ``labels``.
        A sample is predicted positive when ``score > threshold``.
    threshold : float, optional
        Decision threshold; the comparison is strict, so a score equal to it is negative.
    mask : array-like, optional
        1 for real samples, 0 for padding, in the layout of ``labels``.
    nan_policy : {'omit', 'raise'}, optional
        NaN scores at non-padded samples mean "no prediction here" (for example a sample
        removed by a quality flag). ``'omit'`` (default) drops those samples from labels and
        scores alike; ``'raise'`` raises `~fcn4flare.exceptions.InputError`.
    zero_division : float, optional
        Returned when nothing is predicted positive (TP + FP = 0), as scikit-learn's
        ``zero_division=0`` does by default.

    Returns
    -------
    float

    Raises
    ------
    fcn4flare.exceptions.InputError
        If the inputs disagree in length, hold labels other than 0/1/-100, or leave no
        sample after padding and NaN scores are removed.

    Examples
    --------
    >>> from fcn4flare.metrics import precision
    >>> precision([0, 1, 1, 0], [0.9, 0.8, 0.2, 0.1])
    0.5
    """
    counts = _thresholded_counts(labels, scores, threshold, mask, nan_policy)
    return _precision(counts, zero_division)


def recall(
    labels: _ArrayLike,
    scores: _ArrayLike,
    threshold: float = 0.5,
    *,
    mask: _ArrayLike | None = None,
    nan_policy: str = "omit",
    zero_division: float = 0.0,
) -> float:
    """Fraction of the flare samples that are flagged: TP / (TP + FN).

    Parameters
    ----------
    labels, scores, threshold, mask, nan_policy
        As in `precision`.
    zero_division : float, optional
        Returned when there are no flare samples (TP + FN = 0), as in scikit-learn.

    Returns
    -------
    float

    Raises
    ------
    fcn4flare.exceptions.InputError
        As in `precision`.

    Examples
    --------
    >>> from fcn4flare.metrics import recall
    >>> recall([0, 1, 1, 0], [0.9, 0.8, 0.2, 0.1])
    0.5
    """
    counts = _thresholded_counts(labels, scores, threshold, mask, nan_policy)
    return _recall(counts, zero_division)


def f1_score(
    labels: _ArrayLike,
    scores: _ArrayLike,
    threshold: float = 0.5,
    *,
    mask: _ArrayLike | None = None,
    nan_policy: str = "omit",
    zero_division: float = 0.0,
) -> float:
    """Harmonic mean of precision and recall: 2 TP / (2 TP + FP + FN).

    Parameters
    ----------
    labels, scores, threshold, mask, nan_policy
        As in `precision`.
    zero_division : float, optional
        Returned when there are neither flare samples nor flagged samples
        (2 TP + FP + FN = 0), as in scikit-learn.

    Returns
    -------
    float

    Raises
    ------
    fcn4flare.exceptions.InputError
        As in `precision`.

    Examples
    --------
    >>> from fcn4flare.metrics import f1_score
    >>> f1_score([0, 1, 1, 0], [0.9, 0.8, 0.7, 0.1])  # doctest: +FLOAT_CMP
    0.8
    """
    counts = _thresholded_counts(labels, scores, threshold, mask, nan_policy)
    return _f1(counts, zero_division)


def iou(
    labels: _ArrayLike,
    scores: _ArrayLike,
    threshold: float = 0.5,
    *,
    mask: _ArrayLike | None = None,
    nan_policy: str = "omit",
) -> float:
    """Intersection over union of flagged and flare samples: TP / (TP + FP + FN + 1e-8).

    The ``1e-8`` follows the published evaluation; it makes the value 0.0 when there are
    neither flare nor flagged samples.

    Parameters
    ----------
    labels, scores, threshold, mask, nan_policy
        As in `precision`.

    Returns
    -------
    float

    Raises
    ------
    fcn4flare.exceptions.InputError
        As in `precision`.

    Examples
    --------
    >>> from fcn4flare.metrics import iou
    >>> iou([0, 1, 1, 0], [0.9, 0.8, 0.7, 0.1])  # doctest: +FLOAT_CMP
    0.6666666644444444
    """
    return _iou(_thresholded_counts(labels, scores, threshold, mask, nan_policy))


def dice(
    labels: _ArrayLike,
    scores: _ArrayLike,
    threshold: float = 0.5,
    *,
    mask: _ArrayLike | None = None,
    nan_policy: str = "omit",
) -> float:
    """Dice coefficient of flagged and flare samples: 2 TP / (2 TP + FP + FN + 1e-8).

    Equal to `f1_score` apart from the ``1e-8`` of the published evaluation, which makes the
    value 0.0 when there are neither flare nor flagged samples.

    Parameters
    ----------
    labels, scores, threshold, mask, nan_policy
        As in `precision`.

    Returns
    -------
    float

    Raises
    ------
    fcn4flare.exceptions.InputError
        As in `precision`.

    Examples
    --------
    >>> from fcn4flare.metrics import dice
    >>> dice([0, 1, 1, 0], [0.9, 0.8, 0.7, 0.1])  # doctest: +FLOAT_CMP
    0.799999998
    """
    return _dice(_thresholded_counts(labels, scores, threshold, mask, nan_policy))


def average_precision(
    labels: _ArrayLike,
    scores: _ArrayLike,
    *,
    mask: _ArrayLike | None = None,
    nan_policy: str = "omit",
) -> float:
    """Area under the precision-recall curve, by the step-wise sum of scikit-learn.

    ``AP = sum_n (R_n - R_{n-1}) P_n`` over the distinct score values taken as thresholds
    from the highest down; tied scores enter together. The value is identical to
    ``sklearn.metrics.average_precision_score``. It is 1.0 when every sample is a flare sample.

    Parameters
    ----------
    labels, mask, nan_policy
        As in `precision`.
    scores : array-like
        Continuous scores (probabilities or logits; only their order matters).

    Returns
    -------
    float

    Raises
    ------
    fcn4flare.exceptions.InputError
        If no sample is labelled 1 (recall is undefined), or as in `precision`.

    Examples
    --------
    >>> from fcn4flare.metrics import average_precision
    >>> average_precision([0, 1, 1, 0], [0.9, 0.8, 0.7, 0.1])  # doctest: +FLOAT_CMP
    0.5833333333333333
    """
    return _average_precision(*_prepare(labels, scores, mask, nan_policy).pointwise())


def roc_auc(
    labels: _ArrayLike,
    scores: _ArrayLike,
    *,
    mask: _ArrayLike | None = None,
    nan_policy: str = "omit",
) -> float:
    """Area under the ROC curve (true-positive rate against false-positive rate).

    The probability that a random flare sample scores higher than a random non-flare sample,
    ties counting one half; identical to ``sklearn.metrics.roc_auc_score``.

    Parameters
    ----------
    labels, mask, nan_policy
        As in `precision`.
    scores : array-like
        Continuous scores (probabilities or logits; only their order matters).

    Returns
    -------
    float

    Raises
    ------
    fcn4flare.exceptions.InputError
        If the labels hold a single class, or as in `precision`.

    Examples
    --------
    >>> from fcn4flare.metrics import roc_auc
    >>> roc_auc([0, 1, 1, 0], [0.9, 0.8, 0.7, 0.1])
    0.5
    """
    return _roc_auc(*_prepare(labels, scores, mask, nan_policy).pointwise())


def event_metrics(
    labels: _ArrayLike,
    scores: _ArrayLike,
    threshold: float = 0.5,
    min_overlap: int = 1,
    *,
    mask: _ArrayLike | None = None,
    nan_policy: str = "omit",
) -> dict[str, Any]:
    """Count whole flares found and missed, rather than samples.

    Matching rules:

    * A *true event* is a maximal run of consecutive samples labelled 1; a *predicted event*
      is a maximal run of consecutive samples with ``score > threshold``.
    * Padding (``mask == 0`` or label -100), masked entries and omitted NaN scores are not part
      of any event and break runs; so does the boundary between two sequences of a batch or
      list, so an event never spans two sequences.
    * A true event and a predicted event *match* when they share at least ``min_overlap``
      samples.
    * A true event is *recovered* when it matches any predicted event, otherwise *missed*.
      A predicted event that matches no true event is a *false event*.
    * Matching is many-to-many: one predicted event spanning two flares recovers both, and a
      flare split into two predicted events counts once in recall while both fragments count
      as correct in precision.

    ``event_recall = n_recovered_events / n_true_events``,
    ``event_precision = (n_predicted_events - n_false_events) / n_predicted_events``, and
    ``event_f1`` is their harmonic mean. Each is 0.0 when its denominator is zero (no true
    events, no predicted events, or both rates zero).

    Parameters
    ----------
    labels, scores, threshold, mask, nan_policy
        As in `precision`.
    min_overlap : int, optional
        Samples two events must share to match (at least 1).

    Returns
    -------
    dict
        ``n_true_events``, ``n_predicted_events``, ``n_recovered_events``,
        ``n_missed_events``, ``n_false_events`` (int) and ``event_recall``,
        ``event_precision``, ``event_f1`` (float).

    Raises
    ------
    fcn4flare.exceptions.InputError
        If ``min_overlap`` is not a whole number >= 1, or as in `precision`.

    Examples
    --------
    Two flares, of which the detector finds the first; it also flags one quiet sample:

    >>> from fcn4flare.metrics import event_metrics
    >>> labels = [0, 1, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0]
    >>> scores = [0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 1, 0]
    >>> result = event_metrics(labels, scores)
    >>> result["n_recovered_events"], result["n_missed_events"], result["n_false_events"]
    (1, 1, 1)
    >>> result["event_recall"], result["event_precision"]
    (0.5, 0.5)
    """
    threshold = _check_threshold(threshold)
    min_overlap = _check_min_overlap(min_overlap)
    return _events(_prepare(labels, scores, mask, nan_policy), threshold, min_overlap)


def evaluate(
    labels: _ArrayLike,
    scores: _ArrayLike,
    threshold: float = 0.5,
    mask: _ArrayLike | None = None,
    *,
    min_overlap: int = 1,
    nan_policy: str = "omit",
) -> dict[str, Any]:
    """All point-wise and event-level metrics, with the counts behind them.

    Inputs are validated and flattened once. Precision, recall and F1 use
    ``zero_division=0.0``. Average precision and ROC AUC are undefined when the evaluated
    labels hold a single class (for example a light curve without flares); instead of raising,
    as `average_precision` and `roc_auc` do, they are then set to NaN and a
    `~fcn4flare.exceptions.FCN4FlareWarning` says why, so that the other numbers remain usable.

    Parameters
    ----------
    labels, scores, threshold, mask, nan_policy
        As in `precision`.
    min_overlap : int, optional
        As in `event_metrics`.

    Returns
    -------
    dict
        ``n_samples`` (evaluated samples), ``n_positive`` (samples labelled 1),
        ``n_predicted_positive``, ``tp``, ``fp``, ``fn``, ``tn``, ``threshold``,
        ``precision``, ``recall``, ``f1``, ``iou``, ``dice``, ``average_precision``,
        ``roc_auc``, and the keys of `event_metrics`.

    Raises
    ------
    fcn4flare.exceptions.InputError
        As in `precision` and `event_metrics`.

    Examples
    --------
    >>> import numpy as np
    >>> from fcn4flare.metrics import evaluate
    >>> labels = np.array([[0, 1, 1, 0, 0, 0], [0, 0, 1, 1, 0, -100]])
    >>> scores = np.array([[0.1, 0.7, 0.9, 0.6, 0.2, 0.1], [0.3, 0.1, 0.4, 0.8, 0.1, np.nan]])
    >>> result = evaluate(labels, scores)
    >>> result["n_samples"], result["tp"], result["fp"], result["fn"]
    (11, 3, 1, 1)
    >>> print(f"F1 {result['f1']:.3f}  AP {result['average_precision']:.3f}")
    F1 0.750  AP 0.950
    >>> result["n_recovered_events"], result["n_true_events"], result["n_false_events"]
    (2, 2, 0)
    """
    threshold = _check_threshold(threshold)
    min_overlap = _check_min_overlap(min_overlap)
    samples = _prepare(labels, scores, mask, nan_policy)
    y, s = samples.pointwise()
    counts = _confusion(y, s, threshold)
    result: dict[str, Any] = {
        "n_samples": int(y.size),
        "n_positive": counts.tp + counts.fn,
        "n_predicted_positive": counts.tp + counts.fp,
        "tp": counts.tp,
        "fp": counts.fp,
        "fn": counts.fn,
        "tn": counts.tn,
        "threshold": threshold,
        "precision": _precision(counts, 0.0),
        "recall": _recall(counts, 0.0),
        "f1": _f1(counts, 0.0),
        "iou": _iou(counts),
        "dice": _dice(counts),
        "average_precision": _undefined_as_nan(_average_precision, y, s),
        "roc_auc": _undefined_as_nan(_roc_auc, y, s),
    }
    result.update(_events(samples, threshold, min_overlap))
    return result


def _undefined_as_nan(metric: Any, labels: np.ndarray, scores: np.ndarray) -> float:
    try:
        return metric(labels, scores)
    except InputError as error:
        warnings.warn(f"{error}; reported as NaN", FCN4FlareWarning, stacklevel=3)
        return float("nan")


# --------------------------------------------------------------------------------------------
# Calibration
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ReliabilityCurve:
    """Calibration of flare probabilities in equal-width bins: a reliability diagram.

    Returned by `reliability_curve`. Bin ``b`` holds the evaluated samples with
    ``bin_edges[b] <= score < bin_edges[b + 1]``; the last bin also holds the scores equal
    to 1. For calibrated probabilities ``observed_fraction`` equals ``mean_predicted`` in
    every bin, up to the noise of ``count`` samples. The arrays are read-only.

    Attributes
    ----------
    bin_edges : ndarray of float
        The ``n_bins + 1`` edges ``k / n_bins``, from 0 to 1.
    mean_predicted : ndarray of float
        Mean score of the samples in each bin; NaN for an empty bin.
    observed_fraction : ndarray of float
        Fraction of the samples in each bin that are labelled 1; NaN for an empty bin.
    count : ndarray of int
        Number of samples in each bin.
    expected_calibration_error : float
        ``sum_b (count_b / N) |observed_fraction_b - mean_predicted_b|`` over the non-empty
        bins, as `expected_calibration_error` returns it.

    Examples
    --------
    >>> from fcn4flare.metrics import reliability_curve
    >>> curve = reliability_curve([0, 0, 1, 1], [0.1, 0.2, 0.7, 0.9], n_bins=2)
    >>> curve.count.tolist(), curve.observed_fraction.tolist(), curve.n_samples
    ([2, 2], [0.0, 1.0], 4)
    """

    bin_edges: np.ndarray
    mean_predicted: np.ndarray
    observed_fraction: np.ndarray
    count: np.ndarray
    expected_calibration_error: float

    @property
    def n_bins(self) -> int:
        """Number of bins."""
        return int(self.count.size)

    @property
    def n_samples(self) -> int:
        """Number of evaluated samples (the sum of ``count``)."""
        return int(self.count.sum())

    @property
    def bin_centers(self) -> np.ndarray:
        """Middle of each bin."""
        return 0.5 * (self.bin_edges[:-1] + self.bin_edges[1:])


def reliability_curve(
    labels: _ArrayLike,
    scores: _ArrayLike,
    *,
    n_bins: int = 10,
    mask: _ArrayLike | None = None,
    nan_policy: str = "omit",
) -> ReliabilityCurve:
    """Mean predicted probability and observed flare fraction in equal-width bins.

    The samples are binned by score into ``n_bins`` bins of width ``1 / n_bins`` on [0, 1];
    in each bin, the mean score is compared with the fraction of flare samples. Plotting
    ``observed_fraction`` against ``mean_predicted`` gives the reliability diagram; a
    calibrated detector lies on the diagonal.

    Parameters
    ----------
    labels, mask, nan_policy
        As in `precision`.
    scores : array-like
        Flare probabilities in [0, 1] (not logits), in the layout of ``labels``.
    n_bins : int, optional
        Number of equal-width bins (at least 1).

    Returns
    -------
    ReliabilityCurve
        Bin edges, mean predicted probability, observed flare fraction and count per bin,
        and the expected calibration error.

    Raises
    ------
    fcn4flare.exceptions.InputError
        If a score lies outside [0, 1], ``n_bins`` is not a whole number >= 1, or as in
        `precision`.

    Examples
    --------
    Four samples at probability 0.25, one of them a flare, and two at 0.75, both flares:

    >>> from fcn4flare.metrics import reliability_curve
    >>> curve = reliability_curve([1, 0, 0, 0, 1, 1], [0.25] * 4 + [0.75] * 2, n_bins=4)
    >>> curve.bin_edges.tolist()
    [0.0, 0.25, 0.5, 0.75, 1.0]
    >>> curve.count.tolist()
    [0, 4, 0, 2]
    >>> curve.mean_predicted.tolist(), curve.observed_fraction.tolist()
    ([nan, 0.25, nan, 0.75], [nan, 0.25, nan, 1.0])
    """
    n_bins = _check_n_bins(n_bins)
    return _reliability(*_probability_samples(labels, scores, mask, nan_policy), n_bins)


def expected_calibration_error(
    labels: _ArrayLike,
    scores: _ArrayLike,
    *,
    n_bins: int = 10,
    mask: _ArrayLike | None = None,
    nan_policy: str = "omit",
) -> float:
    """Mean gap between predicted probability and observed flare fraction (ECE).

    ``ECE = sum_b (n_b / N) |frac_b - mean_b|`` over the non-empty bins of
    `reliability_curve`: ``n_b`` samples in bin ``b`` of ``N``, of which a fraction ``frac_b``
    are flare samples, with mean score ``mean_b``. It is 0 for probabilities that are
    calibrated within every bin, and at most 1.

    Because flare samples are rare, most samples sit in the lowest bin and weigh most in the
    sum; the ECE of a flare detector is small even when its high probabilities are far off.
    Look at the `reliability_curve` as well.

    Parameters
    ----------
    labels, scores, n_bins, mask, nan_policy
        As in `reliability_curve`.

    Returns
    -------
    float

    Raises
    ------
    fcn4flare.exceptions.InputError
        As in `reliability_curve`.

    Examples
    --------
    The example of `reliability_curve`: the bin at 0.25 is calibrated, the two samples at 0.75
    are flares, a gap of 0.25 carrying a third of the samples:

    >>> from fcn4flare.metrics import expected_calibration_error
    >>> labels, scores = [1, 0, 0, 0, 1, 1], [0.25] * 4 + [0.75] * 2
    >>> expected_calibration_error(labels, scores, n_bins=4)  # doctest: +FLOAT_CMP
    0.08333333333333333
    """
    n_bins = _check_n_bins(n_bins)
    samples = _probability_samples(labels, scores, mask, nan_policy)
    return _reliability(*samples, n_bins).expected_calibration_error


def brier_score(
    labels: _ArrayLike,
    scores: _ArrayLike,
    *,
    mask: _ArrayLike | None = None,
    nan_policy: str = "omit",
) -> float:
    """Mean squared difference of probability and label, ``mean((score - label) ** 2)``.

    A proper score: it is lowest, on average, for the true probabilities. Unlike the ECE it
    does not bin, and it also rewards sharp (confident and right) probabilities. Identical to
    ``sklearn.metrics.brier_score_loss``.

    Parameters
    ----------
    labels, scores, mask, nan_policy
        As in `reliability_curve`.

    Returns
    -------
    float

    Raises
    ------
    fcn4flare.exceptions.InputError
        As in `reliability_curve`.

    Examples
    --------
    >>> from fcn4flare.metrics import brier_score
    >>> brier_score([0, 1, 1, 0], [0.1, 0.8, 0.6, 0.0])  # doctest: +FLOAT_CMP
    0.0525
    """
    y, s = _probability_samples(labels, scores, mask, nan_policy)
    return float(np.mean((s - y) ** 2))


def apply_temperature(probabilities: _ArrayLike, temperature: float) -> np.ndarray:
    """Temperature-scaled probabilities, ``sigmoid(logit(p) / temperature)``.

    A temperature above 1 pulls probabilities towards 0.5 (for an over-confident detector),
    below 1 pushes them towards 0 and 1; the order of the samples, hence every ranking metric
    and the events at a threshold of 0.5, stays the same. 0, 1 and NaN stay as they are.

    Parameters
    ----------
    probabilities : array-like
        Probabilities in [0, 1], any shape; NaN allowed.
    temperature : float
        A positive number, for example from `fit_temperature`.

    Returns
    -------
    ndarray of float
        The scaled probabilities, in the shape of ``probabilities``.

    Raises
    ------
    fcn4flare.exceptions.InputError
        If a probability lies outside [0, 1] or the temperature is not positive.

    Examples
    --------
    >>> from fcn4flare.metrics import apply_temperature
    >>> apply_temperature([0.1, 0.5, 0.9, 1.0], 2.0).round(4).tolist()
    [0.25, 0.5, 0.75, 1.0]
    """
    temperature = _check_temperature(temperature)
    values = np.ma.filled(np.ma.asarray(_to_numpy(probabilities), dtype=float), np.nan)
    _check_probabilities(values, "probabilities")
    return expit(logit(values) / temperature)


def fit_temperature(
    labels: _ArrayLike,
    probabilities: _ArrayLike,
    *,
    mask: _ArrayLike | None = None,
    nan_policy: str = "omit",
    bounds: tuple[float, float] = TEMPERATURE_BOUNDS,
    clip: float = PROBABILITY_CLIP,
) -> float:
    """Temperature ``T`` that minimises the cross-entropy of ``sigmoid(logit(p) / T)``.

    Temperature scaling (Guo et al. 2017) calibrates a classifier with one number: the
    logits ``logit(p)`` are divided by ``T``, found here by minimising the mean binary
    cross-entropy of the scaled probabilities against the labels (bounded Brent search on
    ``log T`` within ``bounds``). ``T > 1`` means the probabilities were over-confident.
    Probabilities are clipped to ``[clip, 1 - clip]`` first, so that a confident mistake
    costs a finite amount (and ``p = 0`` or 1 no infinite one). Fit on data other than that
    you evaluate on, and apply the result with `apply_temperature`.

    Clipping caps the logits at ``+-logit(1 - clip)`` (+-13.8 for the default). When many
    probabilities lie beyond (a strongly over-confident detector), the capped logits look
    less over-confident than they are and the temperature comes out too low: for logits
    that are 6 times too large, almost half of them capped, about 4.9 instead of 6.
    A smaller ``clip`` then helps.

    Parameters
    ----------
    labels, mask, nan_policy
        As in `precision`.
    probabilities : array-like
        Flare probabilities in [0, 1], in the layout of ``labels``.
    bounds : tuple of float, optional
        Smallest and largest temperature searched (``0 < low < high``).
    clip : float, optional
        Probabilities are clipped to ``[clip, 1 - clip]`` (``0 < clip < 0.5``).

    Returns
    -------
    float

    Raises
    ------
    fcn4flare.exceptions.InputError
        If the labels hold a single class, every probability is 0.5 (the temperature then
        changes nothing), ``bounds`` are not ``0 < low < high``, ``clip`` is not in
        (0, 0.5), or as in `reliability_curve`.

    Warns
    -----
    fcn4flare.exceptions.FCN4FlareWarning
        If the best temperature lies at one of the bounds (for labels that the probabilities
        separate perfectly, for example, it tends to 0).

    Examples
    --------
    Probabilities whose logits are 2.5 times too large, and labels drawn from the true
    probabilities:

    >>> import numpy as np
    >>> from fcn4flare.metrics import (apply_temperature, expected_calibration_error,
    ...                                fit_temperature)
    >>> rng = np.random.default_rng(1)
    >>> z = rng.normal(-1.0, 2.0, 50_000)
    >>> labels = rng.random(z.size) < 1 / (1 + np.exp(-z))
    >>> overconfident = 1 / (1 + np.exp(-2.5 * z))
    >>> temperature = fit_temperature(labels, overconfident)
    >>> print(f"{temperature:.1f}")
    2.5
    >>> calibrated = apply_temperature(overconfident, temperature)
    >>> for p in (overconfident, calibrated):
    ...     print(f"ECE {expected_calibration_error(labels, p):.3f}")
    ECE 0.110
    ECE 0.003
    """
    from scipy.optimize import minimize_scalar

    low, high = _check_bounds(bounds)
    clip = _check_clip(clip)
    y, p = _probability_samples(labels, probabilities, mask, nan_policy, "probabilities")
    n_positive = int(np.count_nonzero(y))
    if n_positive == 0 or n_positive == y.size:
        raise InputError(
            "the temperature is undefined when labels contain only one class "
            f"({n_positive} positive, {y.size - n_positive} negative samples)"
        )
    z = logit(np.clip(p, clip, 1 - clip))
    if not np.any(z):
        raise InputError("the temperature is undefined when every probability is 0.5")
    y = y.astype(float)

    def cross_entropy(log_temperature: float) -> float:
        x = z / np.exp(log_temperature)
        return float(np.mean(np.logaddexp(0.0, x) - y * x))

    result = minimize_scalar(
        cross_entropy, bounds=(np.log(low), np.log(high)), method="bounded",
        options={"xatol": 1e-6},
    )
    temperature = float(np.exp(result.x))
    if min(temperature / low, high / temperature) < 1.001:
        warnings.warn(
            f"the fitted temperature {temperature:.4g} lies at the bound of {bounds}; the "
            "cross-entropy may still fall beyond it",
            FCN4FlareWarning,
            stacklevel=2,
        )
    return temperature
