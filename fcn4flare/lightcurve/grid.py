"""The regular cadence grid: where each sample of a light curve sits, with NaN in the gaps.

The network's dilated convolutions assume one sample per cadence; `regular_grid` inserts the
missing cadences so that a dilation of 64 always spans 64 cadences, and `GridMap` maps
arrays between the light curve's rows and the grid.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from astropy import units as u

from .._arrays import float_array
from ..exceptions import InputError

__all__ = [
    "GridMap",
    "regular_grid",
    "check_times",
    "check_finite_times",
    "median_cadence",
    "DEFAULT_MAX_GAP",
    "MAX_GRID_SIZE",
]

#: Longest run of NaN that `regular_grid` inserts for a gap, in grid samples. Any value of at
#: least the model's ``config.context`` (263 for the published model) leaves every probability
#: unchanged; 1024 leaves a wide margin while keeping a year-long gap at 2-min cadence from
#: turning into 260,000 empty samples.
DEFAULT_MAX_GAP = 1024

#: Largest grid `regular_grid` will build (only reachable with ``max_gap=None``).
MAX_GRID_SIZE = 100_000_000


@dataclasses.dataclass(frozen=True, eq=False)
class GridMap:
    """Where each sample of a light curve sits on a regular cadence grid.

    Built by `regular_grid`.

    Attributes
    ----------
    index : ndarray of int
        Grid position of each sample (strictly increasing, starting at 0).
    size : int
        Length of the grid.
    cadence_days : float
        Grid spacing in days (NaN when it could not be determined from a single sample).
    n_shortened_gaps : int
        Number of gaps whose inserted NaN run was capped at ``max_gap``.

    Examples
    --------
    >>> import numpy as np
    >>> from fcn4flare.lightcurve import regular_grid
    >>> grid = regular_grid(np.array([0.0, 0.1, 0.4, 0.5]))
    >>> grid.index, grid.size
    (array([0, 1, 4, 5]), 6)
    >>> grid.to_grid([1.0, 2.0, 3.0, 4.0])
    array([ 1.,  2., nan, nan,  3.,  4.])
    """

    index: np.ndarray
    size: int
    cadence_days: float
    n_shortened_gaps: int = 0

    def __len__(self) -> int:
        return self.size

    def to_grid(self, values: Any, fill: Any = np.nan) -> np.ndarray:
        """Place per-sample ``values`` on the grid; inserted cadences get ``fill``.

        Examples
        --------
        >>> from fcn4flare.lightcurve import regular_grid
        >>> regular_grid([0.0, 2.0], cadence=1.0).to_grid([True, True], fill=False)
        array([ True, False,  True])
        """
        values = np.asarray(values)
        if values.shape[:1] != self.index.shape:
            raise InputError(
                f"GridMap.to_grid: got {values.shape[0] if values.ndim else 0} values for "
                f"{len(self.index)} samples."
            )
        dtype = np.result_type(values.dtype, np.asarray(fill).dtype)
        grid = np.full((self.size, *values.shape[1:]), fill, dtype=dtype)
        grid[self.index] = values
        return grid

    def from_grid(self, values: Any) -> np.ndarray:
        """Return the entries of grid array ``values`` at the original samples.

        Examples
        --------
        >>> from fcn4flare.lightcurve import regular_grid
        >>> regular_grid([0.0, 2.0], cadence=1.0).from_grid([0.1, 0.5, 0.9])
        array([0.1, 0.9])
        """
        values = np.asarray(values)
        if values.shape[:1] != (self.size,):
            raise InputError(
                f"GridMap.from_grid: got {values.shape[0] if values.ndim else 0} values for a "
                f"grid of {self.size}."
            )
        return values[self.index].copy()

    def rows_of(self, starts: Any, stops: Any, peaks: Any = None) -> tuple[np.ndarray, ...]:
        """First and last sample (inclusive) of each grid run from ``starts`` to ``stops``.

        Inserted cadences have no sample, so a run's rows are the samples inside it;
        ``peaks`` (optional) map to the first sample at or after them, kept inside their
        run's rows.

        Examples
        --------
        >>> from fcn4flare.lightcurve import regular_grid
        >>> grid = regular_grid([0.0, 1.0, 4.0, 5.0], cadence=1.0)  # grid 0 1 . . 4 5
        >>> grid.rows_of([1], [4])
        (array([1]), array([2]))
        >>> grid.rows_of([0, 4], [2, 5], peaks=[2, 5])
        (array([0, 2]), array([1, 3]), array([1, 3]))
        """
        first = np.searchsorted(self.index, starts, side="left")
        last = np.searchsorted(self.index, stops, side="right") - 1
        if peaks is None:
            return first, last
        return first, last, np.clip(np.searchsorted(self.index, peaks, side="left"), first,
                                    last)


# --------------------------------------------------------------------------- scaling


def regular_grid(
    time_days: Any,
    cadence_numbers: Any = None,
    cadence: float | u.Quantity | None = None,
    *,
    max_gap: int | None = DEFAULT_MAX_GAP,
) -> GridMap:
    """Map samples onto a regular cadence grid with the missing cadences inserted.

    The network's dilated convolutions assume one sample per cadence; where cadences are
    missing (data gaps, dropped quality-flagged rows) the grid gets NaN entries so that a
    dilation of 64 always spans 64 cadences.

    With ``cadence_numbers`` (a mission's ``CADENCENO``) the grid position of sample ``i`` is
    ``cadence_numbers[i] - cadence_numbers[0]``. Without them, consecutive samples are
    ``max(1, round(dt / cadence))`` grid steps apart; computing steps from consecutive
    differences (not from ``t - t0``) keeps the slow drift of barycentric times from adding
    spurious one-cadence gaps or collisions over a long light curve.

    Gaps longer than ``max_gap`` missing cadences are shortened to ``max_gap`` NaNs. The
    network couples samples only within ``config.context`` samples (263 for the published
    model) and sees nothing but NaN across such a gap either way, so any ``max_gap`` of at
    least the context gives exactly the same probabilities.

    Parameters
    ----------
    time_days : array-like or `~astropy.units.Quantity`
        Sample times, finite and strictly increasing (days when a plain array).
    cadence_numbers : array-like of int, optional
        Strictly increasing cadence numbers, one per sample.
    cadence : float or `~astropy.units.Quantity`, optional
        Grid spacing (days when a float). Default: the median time step (per cadence number
        when those are given).
    max_gap : int or None
        Cap on the number of NaN cadences inserted for one gap; None for no cap.

    Returns
    -------
    GridMap

    Raises
    ------
    InputError
        Non-finite, unsorted or duplicated times; cadence numbers that do not increase; a
        cadence that is not positive; a grid larger than `MAX_GRID_SIZE`.

    Examples
    --------
    >>> import numpy as np
    >>> from fcn4flare.lightcurve import regular_grid
    >>> t = np.array([0.0, 1.0, 2.0, 2002.0, 2003.0])
    >>> regular_grid(t).size  # 1999 missing cadences capped at DEFAULT_MAX_GAP = 1024
    1029
    >>> regular_grid(t, max_gap=None).size
    2004
    >>> regular_grid(t, cadence_numbers=[10, 11, 13, 20, 21]).index
    array([ 0,  1,  3, 10, 11])
    """
    t = float_array(time_days, "time_days", unit=u.day, one_dimensional=False)
    if t.ndim != 1:
        raise InputError(f"regular_grid: time must be one-dimensional, got shape {t.shape}.")
    check_times(t)
    if max_gap is not None and (int(max_gap) != max_gap or max_gap < 0):
        raise InputError(f"regular_grid: max_gap must be a non-negative integer, got {max_gap}.")

    if cadence_numbers is not None:
        steps = _steps_from_cadence_numbers(cadence_numbers, len(t))
    else:
        steps = None
    cadence_days = _grid_cadence(t, steps, cadence)
    if steps is None:
        steps = np.maximum(1, np.rint(np.diff(t) / cadence_days)).astype(np.int64)

    n_shortened = 0
    if max_gap is not None:
        too_long = steps > max_gap + 1
        n_shortened = int(too_long.sum())
        steps = np.where(too_long, max_gap + 1, steps)
    size = 1 + int(steps.sum()) if len(t) else 0
    if size > MAX_GRID_SIZE:
        raise InputError(
            f"regular_grid: the time span needs a grid of {size} samples at a cadence of "
            f"{cadence_days * 1440:g} min (limit {MAX_GRID_SIZE}); check the time unit or "
            "pass a max_gap."
        )
    index = np.concatenate([[0], np.cumsum(steps)]).astype(np.int64) if len(t) else steps
    return GridMap(
        index=index, size=size, cadence_days=float(cadence_days), n_shortened_gaps=n_shortened
    )


def _steps_from_cadence_numbers(cadence_numbers: Any, n: int) -> np.ndarray:
    numbers = np.asarray(cadence_numbers)
    if numbers.shape != (n,):
        raise InputError(f"regular_grid: {numbers.size} cadence numbers given for {n} samples.")
    if not np.issubdtype(numbers.dtype, np.integer):
        as_float = numbers.astype(float)
        if not np.all(np.isfinite(as_float)) or np.any(as_float != np.round(as_float)):
            raise InputError("regular_grid: cadence numbers must be integers.")
    steps = np.diff(numbers.astype(np.int64))
    bad = np.flatnonzero(steps <= 0)
    if bad.size:
        raise InputError(
            f"regular_grid: cadence numbers must increase strictly; they do not at sample "
            f"{bad[0] + 1} ({numbers[bad[0]]} -> {numbers[bad[0] + 1]})."
        )
    return steps


def median_cadence(t: np.ndarray, steps: np.ndarray | None = None) -> float:
    """Median time per cadence, in the units of ``t``: per grid step when ``steps`` (the
    number of cadences between consecutive samples) are given; NaN for one sample."""
    if len(t) < 2:
        return float("nan")
    dt = np.diff(t)
    return float(np.median(dt if steps is None else dt / steps))


def _grid_cadence(t: np.ndarray, steps: np.ndarray | None, cadence: Any) -> float:
    if cadence is not None:
        value = float(float_array(cadence, "cadence", unit=u.day, one_dimensional=False))
        if not value > 0 or not np.isfinite(value):
            raise InputError(f"regular_grid: cadence must be positive, got {cadence}.")
        return value
    return median_cadence(t, steps)


def check_finite_times(t: np.ndarray, where: str) -> None:
    bad = np.flatnonzero(~np.isfinite(t))
    if bad.size:
        raise InputError(
            f"{where}: {bad.size} time value(s) are not finite (NaN, infinite or masked), at "
            f"sample index(es) {_list_indices(bad)}; remove those samples first."
        )


def check_times(t: np.ndarray, where: str = "regular_grid") -> None:
    check_finite_times(t, where)
    dt = np.diff(t)
    backwards = np.flatnonzero(dt < 0)
    if backwards.size:
        i = backwards[0]
        raise InputError(
            f"{where}: times are not sorted: time decreases from sample {i} ({float(t[i])!r}) "
            f"to sample {i + 1} ({float(t[i + 1])!r}) ({backwards.size} such place(s)); sort "
            "the light curve first."
        )
    same = np.flatnonzero(dt == 0)
    if same.size:
        pairs = ", ".join(f"{float(t[i])!r} at samples {i} and {i + 1}" for i in same[:5])
        more = f" and {same.size - 5} more" if same.size > 5 else ""
        raise InputError(f"{where}: duplicated times: {pairs}{more}.")


def _list_indices(indices: np.ndarray, limit: int = 10) -> str:
    shown = ", ".join(str(i) for i in indices[:limit])
    return shown + (f", ... ({indices.size - limit} more)" if indices.size > limit else "")


# --------------------------------------------------------------------------- inputs
