"""Scores of the model evaluation, all through `fcn4flare.metrics`.

Part of `fcn4flare.evaluation` (run by ``fcn4flare evaluate``); the protocol is described in
``docs/benchmarks.rst``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import metrics
from .._arrays import find_runs
from ..exceptions import FCN4FlareWarning, InputError
from .cases import Curve
from .methods import Answer

__all__ = [
    "PEAK_BINS",
    "LENGTH_BINS",
    "TARGET_PEAK_SIGMA",
    "TARGET_MIN_LENGTH",
    "score_answers",
    "predicted_events",
    "true_events",
    "event_counts",
    "flare_records",
    "counted",
    "recall_by_bin",
    "overall_recall",
    "target_recall",
    "split_fraction",
    "count_events",
]

#: Bins of the injected flares' observed peak over the point-to-point scatter.
PEAK_BINS: tuple[tuple[str, float, float], ...] = (
    ("<3", 0.0, 3.0), ("3-5", 3.0, 5.0), ("5-10", 5.0, 10.0), ("10-30", 10.0, 30.0),
    (">30", 30.0, np.inf),
)
#: Bins of the injected flares' labelled length, in samples (inclusive bounds).
LENGTH_BINS: tuple[tuple[str, int, float], ...] = (
    ("1-2", 1, 2), ("3-5", 3, 5), ("6-20", 6, 20), (">20", 21, np.inf),
)
TARGET_PEAK_SIGMA = 5.0
TARGET_MIN_LENGTH = 3


def score_answers(curves: Sequence[Curve], answers: Sequence[Answer]) -> dict[str, Any]:
    """Point-wise and event-level scores over all curves.

    Point-wise: `fcn4flare.metrics.evaluate` over the
    `~fcn4flare.evaluation.cases.Curve.scored` samples (usable flux, neither neutral nor
    unknown) of all curves, concatenated. A sample the detector gave no
    answer for counts as not flagged (and scores 0 for AP and ROC AUC); ``coverage`` is the
    fraction answered. AP and ROC AUC are NaN for detectors without a continuous score.

    Event-level: see `event_counts`; its keys replace those of ``evaluate``.

    Parameters
    ----------
    curves : sequence of `~fcn4flare.evaluation.cases.Curve`
        The labelled light curves.
    answers : sequence of `~fcn4flare.evaluation.methods.Answer`
        A detector's answer on each of them.

    Returns
    -------
    dict
        The keys of `fcn4flare.metrics.evaluate` (``precision``, ``recall``, ``f1``,
        ``iou``, ``dice``, ...), ``average_precision``, ``roc_auc``, those of
        `event_counts`, ``coverage`` and ``n_curves``.
    """
    labels, flagged, scores, masks = [], [], [], []
    continuous = all(a.score is not None for a in answers)
    answered = scored_total = 0
    for curve, answer in zip(curves, answers, strict=True):
        scored = curve.scored
        labels.append(curve.labels.astype(np.int8))
        flagged.append(answer.flagged.astype(float))
        masks.append(scored)
        if continuous:
            scores.append(np.where(answer.answered, answer.score, 0.0))
        answered += int(np.count_nonzero(answer.answered & scored))
        scored_total += int(np.count_nonzero(scored))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FCN4FlareWarning)
        result = metrics.evaluate(labels, flagged, threshold=0.5, mask=masks)
        result["average_precision"] = _ranking(metrics.average_precision, labels, scores,
                                               masks, continuous)
        result["roc_auc"] = _ranking(metrics.roc_auc, labels, scores, masks, continuous)
    result.update(event_counts(curves, answers))
    result["coverage"] = answered / scored_total if scored_total else float("nan")
    result["n_curves"] = len(curves)
    return result


def predicted_events(curve: Curve, answer: Answer) -> tuple[np.ndarray, np.ndarray]:
    """First and last (inclusive) sample of each predicted event.

    The detector's own events when it reports them (fcn4flare's post-processing, exactly the
    rows of `~fcn4flare.detection.detect_flares`); otherwise the runs of flagged usable
    samples on the regular cadence grid, so that a missing cadence or a NaN sample ends an
    event, as it does for fcn4flare with ``merge_gap=0``.

    Parameters
    ----------
    curve : `~fcn4flare.evaluation.cases.Curve`
        The light curve.
    answer : `~fcn4flare.evaluation.methods.Answer`
        The detector's answer on it.

    Returns
    -------
    starts, stops : ndarray of int
        Sample indices of the light curve.
    """
    if answer.events is not None:
        return answer.events
    index = curve.grid.index
    starts, stops = find_runs(curve.on_grid(answer.flagged & curve.usable, False))
    return index.searchsorted(starts), index.searchsorted(stops, side="right") - 1


def true_events(curve: Curve) -> tuple[np.ndarray, np.ndarray]:
    """The labelled flares: the injection's labelled regions, or the runs of labels.

    Parameters
    ----------
    curve : `~fcn4flare.evaluation.cases.Curve`
        A labelled light curve.

    Returns
    -------
    starts, stops : ndarray of int
        First and last (inclusive) sample of each labelled flare.
    """
    if curve.truth is not None:
        labelled = np.asarray(curve.truth["labelled"], dtype=bool)
        return (np.asarray(curve.truth["start_index"])[labelled],
                np.asarray(curve.truth["stop_index"])[labelled])
    return find_runs(curve.labels)


def event_counts(curves: Sequence[Curve], answers: Sequence[Answer]) -> dict[str, Any]:
    """Whole flares found, missed and invented.

    * A true event (a labelled flare) is *recovered* when the detector flags a usable sample
      inside it (the ``min_overlap=1`` matching of `fcn4flare.metrics.event_metrics`).
    * A predicted event is *correct* when it shares a sample with a labelled flare; otherwise
      it is *ignored* when it touches an unknown or neutral sample (a possible real flare, or
      an injected flare too faint to be labelled), and *false* when it does not.
    * True events that touch an unknown sample are left out (see `flare_records`).

    Returns ``n_true_events``, ``n_recovered_events``, ``n_missed_events``,
    ``n_predicted_events`` (correct + false), ``n_false_events``, ``event_recall``,
    ``event_precision`` and ``event_f1``.

    Parameters
    ----------
    curves : sequence of `~fcn4flare.evaluation.cases.Curve`
        The labelled light curves.
    answers : sequence of `~fcn4flare.evaluation.methods.Answer`
        A detector's answer on each of them.

    Returns
    -------
    dict
        The counts and rates named above.
    """
    n_true = n_recovered = n_correct = n_false = 0
    for curve, answer in zip(curves, answers, strict=True):
        hit = answer.flagged & curve.usable
        labelled = np.zeros(curve.time.size, dtype=bool)
        for start, stop in zip(*true_events(curve), strict=True):
            labelled[start : stop + 1] = True
            if not curve.unknown[start : stop + 1].any():
                n_true += 1
                n_recovered += bool(hit[start : stop + 1].any())
        excluded = curve.unknown | curve.neutral
        for start, stop in zip(*predicted_events(curve, answer), strict=True):
            if labelled[start : stop + 1].any():
                n_correct += 1
            elif not excluded[start : stop + 1].any():
                n_false += 1
    recall = n_recovered / n_true if n_true else 0.0
    n_predicted = n_correct + n_false
    precision = n_correct / n_predicted if n_predicted else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"n_true_events": n_true, "n_recovered_events": n_recovered,
            "n_missed_events": n_true - n_recovered, "n_predicted_events": n_predicted,
            "n_false_events": n_false, "event_recall": recall, "event_precision": precision,
            "event_f1": f1}


def _ranking(metric: Any, labels: list, scores: list, masks: list, continuous: bool) -> float:
    if not continuous:
        return float("nan")
    try:
        return float(metric(labels, scores, mask=masks))
    except InputError:
        return float("nan")


def flare_records(curves: Sequence[Curve], answers: Sequence[Answer]) -> list[dict[str, Any]]:
    """One record per labelled injected flare: its size and whether it was recovered.

    A flare is recovered when the detector flags at least one sample of its labelled region
    (the ``min_overlap=1`` matching of `fcn4flare.metrics.event_metrics`). Flares whose
    labelled region touches an unknown sample get ``touches_unknown`` and are left out of
    every recall (`recall_by_bin`, `target_recall`).

    Parameters
    ----------
    curves : sequence of `~fcn4flare.evaluation.cases.Curve`
        Injected light curves (with a ``truth`` table).
    answers : sequence of `~fcn4flare.evaluation.methods.Answer`
        A detector's answer on each of them.

    Returns
    -------
    list of dict
        ``curve``, ``file``, ``peak_sigma``, ``amplitude_sigma``, ``fwhm_cadences``,
        ``length``, ``recovered``, ``touches_unknown`` and ``n_events`` (the predicted
        events sharing a sample with its labelled region, `predicted_events`) per labelled
        flare.
    """
    records = []
    for curve, answer in zip(curves, answers, strict=True):
        truth = curve.truth
        event_starts, event_stops = predicted_events(curve, answer)
        for row in range(len(truth)):
            if not truth["labelled"][row]:
                continue
            start, stop = int(truth["start_index"][row]), int(truth["stop_index"][row])
            region = slice(start, stop + 1)
            n_events = int(np.sum((event_starts <= stop) & (event_stops >= start)))
            records.append({
                "curve": curve.name,
                "file": curve.group,
                "peak_sigma": float(truth["peak_sigma"][row]),
                "amplitude_sigma": float(truth["amplitude_sigma"][row]),
                "fwhm_cadences": float(truth["fwhm_cadences"][row]),
                "length": int(truth["length_cadences"][row]),
                "recovered": bool(np.any(answer.flagged[region] & curve.usable[region])),
                "touches_unknown": bool(np.any(curve.unknown[region])),
                "n_events": n_events,
            })
    return records


def counted(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records that enter recalls (not touching unknown samples).

    Parameters
    ----------
    records : sequence of dict
        From `flare_records`.

    Returns
    -------
    list of dict
    """
    return [r for r in records if not r["touches_unknown"]]


def _in_bin(value: float, low: float, high: float, inclusive: bool) -> bool:
    return low <= value <= high if inclusive else low <= value < high


def recall_by_bin(records: Sequence[dict[str, Any]], key: str,
                  bins: Sequence[tuple[str, float, float]], inclusive: bool = False
                  ) -> list[tuple[str, int, float]]:
    """``(bin name, number of flares, event recall)`` per bin of ``record[key]``.

    Parameters
    ----------
    records : sequence of dict
        From `flare_records` (only the `counted` ones enter).
    key : str
        The record's value that is binned (``'peak_sigma'``, ``'length'``).
    bins : sequence of (str, float, float)
        Name, lower and upper bound of each bin (`PEAK_BINS`, `LENGTH_BINS`).
    inclusive : bool
        Whether the upper bound belongs to the bin.

    Returns
    -------
    list of (str, int, float)
        The recall is NaN for an empty bin.

    Examples
    --------
    >>> from fcn4flare.evaluation.scoring import recall_by_bin
    >>> records = [{"peak_sigma": 2.0, "recovered": False, "touches_unknown": False},
    ...            {"peak_sigma": 4.0, "recovered": True, "touches_unknown": False},
    ...            {"peak_sigma": 4.5, "recovered": False, "touches_unknown": True}]
    >>> recall_by_bin(records, "peak_sigma", [("<3", 0, 3), ("3-5", 3, 5)])
    [('<3', 1, 0.0), ('3-5', 1, 1.0)]
    """
    out = []
    for name, low, high in bins:
        chosen = [r["recovered"] for r in counted(records)
                  if _in_bin(r[key], low, high, inclusive)]
        out.append((name, len(chosen), float(np.mean(chosen)) if chosen else float("nan")))
    return out


def overall_recall(records: Sequence[dict[str, Any]]) -> tuple[int, float]:
    """``(number of flares, event recall)`` over every counted record.

    Parameters
    ----------
    records : sequence of dict
        From `flare_records`.

    Returns
    -------
    n : int
    recall : float
        NaN without records.
    """
    chosen = [r["recovered"] for r in counted(records)]
    return len(chosen), float(np.mean(chosen)) if chosen else float("nan")


def target_recall(records: Sequence[dict[str, Any]]) -> tuple[int, float]:
    """Event recall of the flares with peak > 5 x scatter and labelled length >= 3.

    The targets of the protocol (`TARGET_PEAK_SIGMA`, `TARGET_MIN_LENGTH`).

    Parameters
    ----------
    records : sequence of dict
        From `flare_records`.

    Returns
    -------
    n : int
        Number of target flares.
    recall : float
        Their event recall, NaN when there are none.
    """
    chosen = [r["recovered"] for r in counted(records)
              if r["peak_sigma"] > TARGET_PEAK_SIGMA and r["length"] >= TARGET_MIN_LENGTH]
    return len(chosen), float(np.mean(chosen)) if chosen else float("nan")


def split_fraction(records: Sequence[dict[str, Any]]) -> tuple[int, float]:
    """How often one recovered flare comes back as more than one event.

    Parameters
    ----------
    records : sequence of dict
        From `flare_records`.

    Returns
    -------
    n : int
        Recovered flares counted (`counted`).
    fraction : float
        The fraction of them overlapped by two or more predicted events; NaN when none.
    """
    found = [r["n_events"] > 1 for r in counted(records) if r["recovered"]]
    return len(found), float(np.mean(found)) if found else float("nan")


def count_events(curves: Sequence[Curve], answers: Sequence[Answer]) -> dict[str, float]:
    """Events per 30 days, in all and away from excursions (see `predicted_events`).

    Returns ``n_events``, ``n_outside`` (events sharing no sample with
    `~fcn4flare.evaluation.cases.Curve.unknown`), ``days`` (sum of the time spans),
    ``per_30d`` and ``outside_per_30d``.

    Parameters
    ----------
    curves : sequence of `~fcn4flare.evaluation.cases.Curve`
        The light curves (labels not needed).
    answers : sequence of `~fcn4flare.evaluation.methods.Answer`
        A detector's answer on each of them.

    Returns
    -------
    dict
        The counts and rates named above.
    """
    n_events = n_outside = 0
    days = 0.0
    for curve, answer in zip(curves, answers, strict=True):
        starts, stops = predicted_events(curve, answer)
        n_events += starts.size
        n_outside += sum(not curve.unknown[a : b + 1].any()
                         for a, b in zip(starts, stops, strict=True))
        days += curve.span_days
    scale = 30.0 / days if days else float("nan")
    return {"n_events": n_events, "n_outside": n_outside, "days": days,
            "per_30d": n_events * scale, "outside_per_30d": n_outside * scale}
