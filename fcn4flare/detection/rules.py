"""Turn per-sample flare probabilities into validated flare events: `DetectionRules`.

Runs of samples whose probability exceeds a threshold become candidate events; the rules of
the published FCN4Flare detection pipeline (Jia, Luo & Qiu 2024) can then reject candidates
whose shape is not flare-like. All indices are positions in the arrays given (for model
output: the regular grid) and every ``stop`` is inclusive: a run covers
``flux[start : stop + 1]``, the ``[start, end]`` convention of the published pipeline.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from .._arrays import find_runs
from ..exceptions import InputError

__all__ = [
    "DetectionRules",
    "RULE_PRESETS",
    "Events",
    "find_runs",
    "merge_runs",
    "detect_events",
    "PUBLISHED_RULES",
    "DEFAULT_RULES",
    "DEFAULT_THRESHOLD",
    "DEFAULT_MERGE_GAP",
    "DEFAULT_MIN_POINTS",
    "DEFAULT_PEAK_NOT_FIRST",
    "DEFAULT_DECAY_LONGER_THAN_RISE",
    "DEFAULT_LEVEL_CONSISTENCY",
]

# Defaults of `detect_events`, kept together so that they can be re-tuned in one place.
# Chosen by `fcn4flare evaluate` with the shipped model (65 settings): merging runs
# 3 samples apart and requiring 3 samples gave the best combined score (validation event F1,
# injection event F1 and point-wise F1/IoU); the published rules ranked below every
# merge/min_points setting (injection event F1 0.69 against 0.81). See docs/benchmarks.rst.
DEFAULT_THRESHOLD = 0.5
DEFAULT_MERGE_GAP = 3
DEFAULT_MIN_POINTS = 3
DEFAULT_PEAK_NOT_FIRST = False
DEFAULT_DECAY_LONGER_THAN_RISE = False
DEFAULT_LEVEL_CONSISTENCY = False
DEFAULT_LOW_THRESHOLD = None

#: The keyword arguments of `detect_events` its defaults stand for.
DEFAULT_RULES: dict[str, Any] = {
    "threshold": DEFAULT_THRESHOLD,
    "merge_gap": DEFAULT_MERGE_GAP,
    "min_points": DEFAULT_MIN_POINTS,
    "peak_not_first": DEFAULT_PEAK_NOT_FIRST,
    "decay_longer_than_rise": DEFAULT_DECAY_LONGER_THAN_RISE,
    "level_consistency": DEFAULT_LEVEL_CONSISTENCY,
    "low_threshold": DEFAULT_LOW_THRESHOLD,
}

#: Keyword arguments of `detect_events` that reproduce the published release's pipeline.
PUBLISHED_RULES: dict[str, Any] = {
    "threshold": 0.5,
    "merge_gap": 0,
    "min_points": 3,
    "peak_not_first": True,
    "decay_longer_than_rise": True,
    "level_consistency": True,
    "low_threshold": None,
}

_LEVEL_RATIO_RANGE = (0.5, 2.0)
_LEVEL_EPSILON = 1e-8


def _check_threshold(value: Any) -> float:
    if isinstance(value, bool):
        raise InputError(f"threshold must be a number in [0, 1), got {value!r}.")
    try:
        threshold = float(value)
    except (TypeError, ValueError):
        raise InputError(f"threshold must be a number in [0, 1), got {value!r}.") from None
    if not 0.0 <= threshold < 1.0:
        raise InputError(f"threshold must be in [0, 1), got {threshold}.")
    return threshold


def _check_count(name: str, value: Any) -> int:
    whole = isinstance(value, (int, np.integer, float, np.floating)) and not isinstance(
        value, bool) and float(value).is_integer()
    if not whole or value < 0:
        raise InputError(f"rule {name!r} must be a non-negative whole number, got {value!r}.")
    return int(value)


def _check_flag(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise InputError(f"rule {name!r} must be True or False, got {value!r}.")
    return bool(value)


@dataclasses.dataclass(frozen=True)
class DetectionRules:
    """How runs of high flare probability become flare events (see `detect_events`).

    Frozen: derive variants with `dataclasses.replace` or `with_threshold`. Named presets
    are `RULE_PRESETS` (``'default'``, ``'published'``); `resolve` also accepts a dict of
    overrides of the defaults, as ``rules=`` does everywhere.

    Attributes
    ----------
    threshold : float or None
        Probability a sample must exceed, in [0, 1); None: the model's own
        ``config.detection_threshold`` (filled in by `fcn4flare.detection.FlareDetector`).
    merge_gap, min_points, peak_not_first, decay_longer_than_rise, level_consistency
        The rules of `detect_events`.
    low_threshold : float or None
        Hysteresis: an event seeded above ``threshold`` extends while the probability
        stays above this lower value (None: no hysteresis).
    name : str
        The label written to a flare table's ``RULES`` meta (the preset's name, or the
        overrides as ``key=value`` pairs).

    Examples
    --------
    >>> from fcn4flare.detection import DetectionRules
    >>> DetectionRules.resolve("published").min_points
    3
    >>> rules = DetectionRules.resolve({"merge_gap": 0}, threshold=0.6)
    >>> rules.name, rules.threshold, rules.merge_gap
    ('merge_gap=0', 0.6, 0)
    >>> DetectionRules.resolve({"merge_gap": "three"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    fcn4flare.exceptions.InputError: rule 'merge_gap' must be a non-negative whole number, ...
    """

    threshold: float | None = None
    merge_gap: int = DEFAULT_MERGE_GAP
    min_points: int = DEFAULT_MIN_POINTS
    peak_not_first: bool = DEFAULT_PEAK_NOT_FIRST
    decay_longer_than_rise: bool = DEFAULT_DECAY_LONGER_THAN_RISE
    level_consistency: bool = DEFAULT_LEVEL_CONSISTENCY
    low_threshold: float | None = DEFAULT_LOW_THRESHOLD
    name: str = dataclasses.field(default="default", compare=False)

    #: The rule names (keyword arguments of `detect_events` other than ``threshold``).
    RULE_NAMES: ClassVar[tuple[str, ...]] = (
        "merge_gap", "min_points", "peak_not_first", "decay_longer_than_rise",
        "level_consistency", "low_threshold",
    )

    def __post_init__(self) -> None:
        if self.threshold is not None:
            object.__setattr__(self, "threshold", _check_threshold(self.threshold))
        for key in ("merge_gap", "min_points"):
            object.__setattr__(self, key, _check_count(key, getattr(self, key)))
        for key in ("peak_not_first", "decay_longer_than_rise", "level_consistency"):
            object.__setattr__(self, key, _check_flag(key, getattr(self, key)))
        if self.low_threshold is not None:
            low = _check_threshold(self.low_threshold)
            if self.threshold is not None and low > self.threshold:
                raise InputError(
                    f"low_threshold ({low}) must not exceed the threshold ({self.threshold})."
                )
            object.__setattr__(self, "low_threshold", low)
        if not isinstance(self.name, str):
            raise InputError(f"DetectionRules.name must be a string, got {self.name!r}.")

    @classmethod
    def resolve(cls, rules: Any = None, threshold: float | None = None) -> DetectionRules:
        """Rules from a preset name, a dict of overrides, a `DetectionRules` or None.

        Parameters
        ----------
        rules : {None, 'default', 'published'}, dict or DetectionRules
            None is ``'default'``. A dict overrides single rules of the defaults (it may
            not hold ``threshold``).
        threshold : float, optional
            Replaces the rules' threshold when given.

        Raises
        ------
        InputError
            An unknown preset or rule name, or a value of the wrong type or range (the
            message names the rule).
        """
        if threshold is not None:
            threshold = _check_threshold(threshold)
        if rules is None:
            chosen = RULE_PRESETS["default"]
        elif isinstance(rules, DetectionRules):
            chosen = rules
        elif isinstance(rules, str):
            if rules not in RULE_PRESETS:
                raise InputError(
                    f"unknown rules {rules!r}; use one of {', '.join(map(repr, RULE_PRESETS))} "
                    "or a dict of rule overrides."
                )
            chosen = RULE_PRESETS[rules]
        elif isinstance(rules, Mapping):
            if "threshold" in rules:
                raise InputError("pass the probability threshold as threshold=, not in rules.")
            unknown = sorted(set(map(str, rules)) - set(cls.RULE_NAMES))
            if unknown:
                raise InputError(
                    f"unknown rule(s) {', '.join(map(repr, unknown))}; valid rules: "
                    f"{', '.join(cls.RULE_NAMES)}."
                )
            label = ",".join(f"{key}={value}" for key, value in sorted(dict(rules).items()))
            chosen = dataclasses.replace(RULE_PRESETS["default"], **rules, name=label)
        else:
            raise InputError(
                f"rules must be None, a preset name, a dict or DetectionRules, got "
                f"{type(rules).__name__}."
            )
        return chosen if threshold is None else chosen.with_threshold(threshold)

    def with_threshold(self, threshold: float) -> DetectionRules:
        """A copy with another ``threshold``."""
        return dataclasses.replace(self, threshold=threshold)

    def as_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of `detect_events` (``threshold`` left out while None)."""
        kwargs = {key: getattr(self, key) for key in self.RULE_NAMES}
        if self.threshold is not None:
            kwargs["threshold"] = self.threshold
        return kwargs

    def apply(self, probability: Any, flux: Any) -> Events:
        """`detect_events` with these rules.

        Raises
        ------
        InputError
            The threshold is still None (resolve it against a model first).

        Examples
        --------
        >>> from fcn4flare.detection import DetectionRules
        >>> rules = DetectionRules(threshold=0.5, min_points=1)
        >>> rules.apply([0.1, 0.9, 0.8, 0.2], [1.0, 1.5, 1.3, 1.0]).start
        array([1])
        """
        if self.threshold is None:
            raise InputError("DetectionRules.apply: the threshold is not set.")
        return detect_events(probability, flux, **self.as_kwargs())



@dataclasses.dataclass(frozen=True, eq=False)
class Events:
    """Flare events as index ranges into the arrays given to `detect_events`.

    Attributes
    ----------
    start, peak, stop : ndarray of int
        First sample, sample of maximum flux and last sample (inclusive) of each event.
    score : ndarray of float
        Mean probability over ``start .. stop`` (NaN probabilities skipped).
    max_score : ndarray of float
        Highest probability over ``start .. stop``.

    Examples
    --------
    >>> import numpy as np
    >>> from fcn4flare.detection import detect_events
    >>> events = detect_events([0.1, 0.9, 0.8, 0.7, 0.2], [1.0, 1.5, 1.3, 1.2, 1.0])
    >>> len(events), events.start, events.peak, events.stop
    (1, array([1]), array([1]), array([3]))
    >>> events.score, events.max_score  # doctest: +FLOAT_CMP
    (array([0.8]), array([0.9]))
    """

    start: np.ndarray
    peak: np.ndarray
    stop: np.ndarray
    score: np.ndarray
    max_score: np.ndarray

    def __len__(self) -> int:
        return len(self.start)


def merge_runs(starts: Any, stops: Any, max_gap: int) -> tuple[np.ndarray, np.ndarray]:
    """Merge runs separated by at most ``max_gap`` unflagged samples.

    Parameters
    ----------
    starts, stops : array-like of int
        Sorted, non-overlapping runs with inclusive stops (as from `find_runs`).
    max_gap : int
        Largest number of samples between two runs that still joins them; 0 merges nothing.

    Returns
    -------
    starts, stops : ndarray of int

    Examples
    --------
    >>> from fcn4flare.detection import merge_runs
    >>> merge_runs([0, 4, 10], [1, 5, 12], max_gap=2)
    (array([ 0, 10]), array([ 5, 12]))
    """
    starts = np.asarray(starts, dtype=np.int64)
    stops = np.asarray(stops, dtype=np.int64)
    if starts.shape != stops.shape or starts.ndim != 1:
        raise InputError(
            f"merge_runs: starts and stops must be 1-D and of equal length, got shapes "
            f"{starts.shape} and {stops.shape}."
        )
    if int(max_gap) != max_gap or max_gap < 0:
        raise InputError(f"merge_runs: max_gap must be a non-negative integer, got {max_gap}.")
    if starts.size < 2:
        return starts.copy(), stops.copy()
    gaps = starts[1:] - stops[:-1] - 1
    new_run = np.concatenate([[True], gaps > max_gap])
    last_of_run = np.concatenate([new_run[1:], [True]])
    return starts[new_run], stops[last_of_run]


def detect_events(
    probability: Any,
    flux: Any,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    merge_gap: int = DEFAULT_MERGE_GAP,
    min_points: int = DEFAULT_MIN_POINTS,
    peak_not_first: bool = DEFAULT_PEAK_NOT_FIRST,
    decay_longer_than_rise: bool = DEFAULT_DECAY_LONGER_THAN_RISE,
    level_consistency: bool = DEFAULT_LEVEL_CONSISTENCY,
    low_threshold: float | None = DEFAULT_LOW_THRESHOLD,
) -> Events:
    """Find flare events: runs of high probability that pass the chosen shape rules.

    Samples with ``probability > threshold`` are flagged (NaN never is); with
    ``low_threshold``, a run of samples above ``low_threshold`` is flagged whole when it holds
    a sample above ``threshold`` (hysteresis: an event seeds at the threshold and extends
    while the probability stays above the lower one); runs of flagged samples closer than
    ``merge_gap`` are merged; each run ``[start, stop]`` gets
    ``peak = start + nanargmax(flux[start : stop + 1])`` and is kept if it passes every rule
    switched on. ``detect_events(p, f, **PUBLISHED_RULES)`` is the published pipeline.

    Parameters
    ----------
    probability : array-like
        Flare probability per sample, NaN where unknown.
    flux : array-like or `~astropy.units.Quantity`
        Flux per sample, the same length; the published rules used the model's input
        (flux divided by its median).
    threshold : float
        Probability a sample must exceed to be flagged.
    merge_gap : int
        Runs separated by at most this many unflagged samples are merged (0: none).
    min_points : int
        Fewest samples an event may have (3 in the published pipeline).
    peak_not_first : bool
        When the peak is the first sample of the run, require ``flux[peak] > flux[peak - 1]``;
        a peak at index 0 rejects the run.
    decay_longer_than_rise : bool
        Require ``stop - peak > peak - start``.
    level_consistency : bool
        Require ``0.5 <= r <= 2`` with ``r = (flux[peak] - flux[start - 2]) /
        (flux[peak] - flux[stop + 2] + 1e-8)``; NaN ``r`` or an index outside the array
        rejects the run.
    low_threshold : float, optional
        Lower threshold of the hysteresis, at most ``threshold``; None: no hysteresis.

    Returns
    -------
    Events

    Raises
    ------
    InputError
        Arrays that are not 1-D or differ in length, or a negative ``merge_gap`` or
        ``min_points``.

    Examples
    --------
    >>> import numpy as np
    >>> from fcn4flare.detection import PUBLISHED_RULES, detect_events
    >>> flux = np.array([1.0, 1.0, 1.0, 3.0, 2.0, 1.5, 1.2, 1.0, 1.0, 1.0])
    >>> prob = np.array([0.0, 0.0, 0.1, 0.9, 0.8, 0.7, 0.6, 0.2, 0.0, 0.0])
    >>> events = detect_events(prob, flux, **PUBLISHED_RULES)
    >>> events.start, events.peak, events.stop
    (array([3]), array([3]), array([6]))
    >>> len(detect_events(prob, flux[::-1], **PUBLISHED_RULES))  # rises slowly: rejected
    0
    """
    probability, flux = _check_arrays(probability, flux)
    if int(min_points) != min_points or min_points < 0:
        raise InputError(
            f"detect_events: min_points must be a non-negative integer, got {min_points}."
        )
    with np.errstate(invalid="ignore"):
        flagged = probability > threshold
        if low_threshold is not None:
            if low_threshold > threshold:
                raise InputError(
                    f"detect_events: low_threshold ({low_threshold}) must not exceed the "
                    f"threshold ({threshold})."
                )
            flagged = _hysteresis(probability > low_threshold, flagged)
    starts, stops = merge_runs(*find_runs(flagged), max_gap=merge_gap)
    peaks = _peaks(flux, starts, stops)

    keep = (stops - starts + 1) >= min_points
    if peak_not_first:
        keep &= _peak_not_first(flux, starts, peaks)
    if decay_longer_than_rise:
        keep &= (stops - peaks) > (peaks - starts)
    if level_consistency:
        keep &= _level_consistent(flux, starts, stops, peaks)

    starts, stops, peaks = starts[keep], stops[keep], peaks[keep]
    score, max_score = _scores(probability, starts, stops)
    return Events(start=starts, peak=peaks, stop=stops, score=score, max_score=max_score)


def _hysteresis(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """The runs of ``low`` that hold at least one ``high`` sample."""
    starts, stops = find_runs(low)
    if starts.size == 0:
        return low
    counts = np.cumsum(np.concatenate([[0], high.astype(np.int64)]))
    seeded = (counts[stops + 1] - counts[starts]) > 0
    edges = np.zeros(low.size + 1, dtype=np.int64)
    np.add.at(edges, starts[seeded], 1)
    np.add.at(edges, stops[seeded] + 1, -1)
    return np.cumsum(edges[:-1]) > 0


def _check_arrays(probability: Any, flux: Any) -> tuple[np.ndarray, np.ndarray]:
    try:
        probability = np.asarray(probability, dtype=np.float64)
        flux = np.asarray(getattr(flux, "value", flux), dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError("detect_events: probability and flux must be numeric.") from None
    if probability.ndim != 1 or probability.shape != flux.shape:
        raise InputError(
            f"detect_events: probability and flux must be 1-D and of equal length, got "
            f"shapes {probability.shape} and {flux.shape}."
        )
    return probability, flux


def _peaks(flux: np.ndarray, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    peaks = np.empty(starts.size, dtype=np.int64)
    for k, (start, stop) in enumerate(zip(starts, stops, strict=True)):
        segment = flux[start : stop + 1]
        finite = ~np.isnan(segment)
        peaks[k] = start + (np.nanargmax(segment) if finite.any() else 0)
    return peaks


def _peak_not_first(flux: np.ndarray, starts: np.ndarray, peaks: np.ndarray) -> np.ndarray:
    before = peaks - 1
    in_range = before >= 0
    with np.errstate(invalid="ignore"):
        rises = flux[peaks] > flux[np.where(in_range, before, 0)]
    return (peaks != starts) | (in_range & rises)


def _level_consistent(
    flux: np.ndarray, starts: np.ndarray, stops: np.ndarray, peaks: np.ndarray
) -> np.ndarray:
    before, after = starts - 2, stops + 2
    in_range = (before >= 0) & (after < flux.size)
    before = np.where(in_range, before, 0)
    after = np.where(in_range, after, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = (flux[peaks] - flux[before]) / (flux[peaks] - flux[after] + _LEVEL_EPSILON)
        low, high = _LEVEL_RATIO_RANGE
        consistent = (ratio >= low) & (ratio <= high)
    return in_range & consistent


def _scores(
    probability: np.ndarray, starts: np.ndarray, stops: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    score = np.empty(starts.size)
    max_score = np.empty(starts.size)
    for k, (start, stop) in enumerate(zip(starts, stops, strict=True)):
        segment = probability[start : stop + 1]
        score[k] = np.nanmean(segment)
        max_score[k] = np.nanmax(segment)
    return score, max_score


#: Named rule sets accepted as ``rules=``: ``'default'`` (chosen by the evaluation of the
#: shipped model) and ``'published'`` (the rules of the published FCN4Flare pipeline).
RULE_PRESETS: dict[str, DetectionRules] = {
    "default": DetectionRules(name="default"),
    "published": DetectionRules(
        **{k: v for k, v in PUBLISHED_RULES.items() if k != "threshold"}, name="published"
    ),
}
