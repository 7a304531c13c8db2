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
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

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
]

"""Label value marking a padded sample (the convention of the training data)."""

EPSILON = 1e-8
"""Added to the denominators of IoU and Dice, as in the published evaluation."""

_NAN_POLICIES = ("omit", "raise")


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
