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
    "extend_to_quiescence",
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
DEFAULT_QUIESCENT_LEVEL = None

#: The keyword arguments of `detect_events` its defaults stand for.
DEFAULT_RULES: dict[str, Any] = {
    "threshold": DEFAULT_THRESHOLD,
    "merge_gap": DEFAULT_MERGE_GAP,
    "min_points": DEFAULT_MIN_POINTS,
    "peak_not_first": DEFAULT_PEAK_NOT_FIRST,
    "decay_longer_than_rise": DEFAULT_DECAY_LONGER_THAN_RISE,
    "level_consistency": DEFAULT_LEVEL_CONSISTENCY,
    "low_threshold": DEFAULT_LOW_THRESHOLD,
    "quiescent_level": DEFAULT_QUIESCENT_LEVEL,
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
    "quiescent_level": None,
}

_LEVEL_RATIO_RANGE = (0.5, 2.0)
_LEVEL_EPSILON = 1e-8
# Extension to quiescence: the decay ends where the mean of the next _QUIET_SAMPLES samples
# is at or below the level; an event grows by at most _MAX_DECAY_FACTOR times its own length
# after it and half its length before it (flares rise fast; a trend that misses a rotational
# slope must not make an event run on for hours).
_QUIET_SAMPLES = 3
_MAX_DECAY_FACTOR = 3
# The human convention of `fcn4flare.simulate.labels`: a tail is followed down to
# max(level, 0.25 sqrt(peak)) in noise units (0.25 = LABEL_PEAK_FLOOR there).
_PEAK_FRACTION = 0.25


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


def _check_level(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InputError(f"rule {name!r} must be a number or None, got {value!r}.")
    if not np.isfinite(value):
        raise InputError(f"rule {name!r} must be finite, got {value!r}.")
    return float(value)


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
    quiescent_level : float or None
        Extension to quiescence (`extend_to_quiescence`): each event runs on until the flux
        given to the rules (the detector gives the residual in noise units) is back at this
        level, or at a quarter of the square root of the event's peak if that is higher;
        None: events end where the probability falls.
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
    quiescent_level: float | None = DEFAULT_QUIESCENT_LEVEL
    name: str = dataclasses.field(default="default", compare=False)

    #: The rule names (keyword arguments of `detect_events` other than ``threshold``).
    RULE_NAMES: ClassVar[tuple[str, ...]] = (
        "merge_gap", "min_points", "peak_not_first", "decay_longer_than_rise",
        "level_consistency", "low_threshold", "quiescent_level",
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
        if self.quiescent_level is not None:
            object.__setattr__(self, "quiescent_level",
                               _check_level("quiescent_level", self.quiescent_level))
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
        """A copy with another ``threshold``.

        Examples
        --------
        >>> from fcn4flare.detection import DetectionRules
        >>> rules = DetectionRules.resolve("published")
        >>> rules.with_threshold(0.6).threshold, rules.threshold is None
        (0.6, True)
        """
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
        Mean probability over ``start .. stop`` (NaN probabilities skipped); with
        ``quiescent_level``, over the run of high probability before the extension (the
        highest of the runs an event joins).
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
    quiescent_level: float | None = DEFAULT_QUIESCENT_LEVEL,
) -> Events:
    """Find flare events: runs of high probability that pass the chosen shape rules.

    Samples with ``probability > threshold`` are flagged (NaN never is); with
    ``low_threshold``, a run of samples above ``low_threshold`` is flagged whole when it holds
    a sample above ``threshold`` (hysteresis: an event seeds at the threshold and extends
    while the probability stays above the lower one); runs of flagged samples closer than
    ``merge_gap`` are merged; each run ``[start, stop]`` gets
    ``peak = start + nanargmax(flux[start : stop + 1])`` and is kept if it passes every rule
    switched on; with ``quiescent_level``, the kept events are then extended to quiescence
    (`extend_to_quiescence`) and events that come to overlap or touch are joined.
    ``detect_events(p, f, **PUBLISHED_RULES)`` is the published pipeline.

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
    quiescent_level : float, optional
        Extend each event until ``flux`` is back at or below this level (see
        `extend_to_quiescence`); the scores stay those of the probability runs (a joined
        event takes the highest); None: no extension.

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
    if quiescent_level is not None:
        starts, stops = extend_to_quiescence(flux, starts, stops,
                                             _check_level("quiescent_level", quiescent_level))
        starts, stops, groups = _join_overlapping(starts, stops)
        score = np.maximum.reduceat(score, groups) if groups.size else score
        max_score = np.maximum.reduceat(max_score, groups) if groups.size else max_score
        peaks = _peaks(flux, starts, stops)
    return Events(start=starts, peak=peaks, stop=stops, score=score, max_score=max_score)


def extend_to_quiescence(
    flux: Any, starts: Any, stops: Any, level: float
) -> tuple[np.ndarray, np.ndarray]:
    """Extend runs to where ``flux`` is back at the quiescent ``level``.

    A run's end moves on while the mean of the next three samples of ``flux`` is above
    ``max(level, 0.25 sqrt(peak))``, ``peak`` the run's highest ``flux`` (a NaN among them
    ends it), by at most three times the run's length; its start moves back while the
    sample before it is above ``level``, by at most half the run's length. Flare labels
    made by eye run until the flux is back at the star's level, as far down the tail as
    the noise lets one see (the convention of ``fcn4flare.simulate.labels``, whose 0.25 this
    is), and the network's probability can fall before that.

    Parameters
    ----------
    flux : array-like
        The light curve the rules read; the detector gives the trend residual in noise
        units, where 1 is one noise unit above the star.
    starts, stops : array-like of int
        Runs (inclusive stops).
    level : float
        Quiescent level of ``flux`` (the lowest a tail is followed down to).

    Returns
    -------
    starts, stops : ndarray of int
        The extended runs (they may overlap; `detect_events` joins them).

    Raises
    ------
    InputError
        Non-numeric or misshapen arrays, runs outside ``flux``, or a level that is not a
        finite number.

    Examples
    --------
    >>> import numpy as np
    >>> from fcn4flare.detection import extend_to_quiescence
    >>> residual = np.array([0, 0, 2, 9, 20, 12, 7, 4, 2.5, 1.5, 0.5, 0, 0, 0.0])
    >>> extend_to_quiescence(residual, [3], [5], level=1.0)
    (array([2]), array([8]))
    """
    level = _check_level("level", level)
    try:
        flux = np.asarray(getattr(flux, "value", flux), dtype=np.float64)
        starts = np.asarray(starts, dtype=np.int64)
        stops = np.asarray(stops, dtype=np.int64)
    except (TypeError, ValueError):
        raise InputError("extend_to_quiescence: flux, starts and stops must be numeric.") from None
    n = flux.size
    if flux.ndim != 1 or starts.ndim != 1 or starts.shape != stops.shape:
        raise InputError(
            "extend_to_quiescence: flux must be 1-D and starts and stops 1-D of equal length, "
            f"got shapes {flux.shape}, {starts.shape} and {stops.shape}."
        )
    if np.any(starts > stops) or np.any(starts < 0) or np.any(stops >= n):
        raise InputError(
            f"extend_to_quiescence: every run needs 0 <= start <= stop < {n} (len(flux))."
        )
    if starts.size == 0:
        return starts.copy(), stops.copy()
    finite = np.isfinite(flux)
    values = np.concatenate([[0.0], np.cumsum(np.where(finite, flux, 0.0))])
    counts = np.concatenate([[0], np.cumsum(finite)])
    ends = np.minimum(np.arange(n) + _QUIET_SAMPLES, n)
    width = ends - np.arange(n)
    total = values[ends] - values[:-1]
    whole = (counts[ends] - counts[:-1]) == width
    with np.errstate(invalid="ignore"):
        loud_before = flux > level
    length = stops - starts + 1
    peak = np.array([np.nanmax(flux[a : b + 1]) if finite[a : b + 1].any() else 0.0
                     for a, b in zip(starts, stops, strict=True)])
    tail_level = np.maximum(level, _PEAK_FRACTION * np.sqrt(np.fmax(peak, 0.0)))
    new_stops = stops.copy()
    for k, stop in enumerate(stops):
        after = slice(stop + 1, min(stop + _MAX_DECAY_FACTOR * length[k] + 1, n))
        loud = whole[after] & (total[after] > tail_level[k] * width[after])
        new_stops[k] = stop + (loud.size if loud.all() else int(np.argmin(loud)))
    quiet = np.concatenate([[-1], np.flatnonzero(~loud_before)])
    last_quiet = quiet[np.searchsorted(quiet, starts) - 1]
    new_starts = np.minimum(starts, np.maximum(last_quiet + 1, starts - length // 2))
    return new_starts, new_stops


def _join_overlapping(
    starts: np.ndarray, stops: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Join runs (sorted by start) that overlap or touch; also the index of each group's
    first run, for `numpy.ufunc.reduceat`."""
    if starts.size == 0:
        return starts, stops, np.zeros(0, dtype=np.int64)
    reach = np.maximum.accumulate(stops)
    new = np.concatenate([[True], starts[1:] > reach[:-1] + 1])
    groups = np.flatnonzero(new)
    last = np.concatenate([groups[1:] - 1, [starts.size - 1]])
    return starts[groups], reach[last], groups


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
