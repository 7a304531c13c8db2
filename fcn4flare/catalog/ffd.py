"""Flare frequency distributions: cumulative flare rates and their power-law fits.

`FFD` collects flare equivalent durations (or energies) from one or more
`~fcn4flare.catalog.FlareTable` (or from plain values) together with the total observing
time, and gives the cumulative rate of flares at least as large as each value.
`FFD.fit_powerlaw` fits the power law ``dN/dx ∝ x**-alpha`` (``x >= x_min``) to the tail by
maximum likelihood and, unless ``x_min`` is given, chooses ``x_min`` by minimising the
Kolmogorov-Smirnov distance between the data and the fit (Clauset, Shalizi & Newman 2009,
SIAM Review 51, 661, sections 3.1 and 3.3). `powerlaw_mle` is the estimator on its own, for
plain arrays.

The cumulative rate, its correction for incompleteness (each flare counted ``1 / p`` times,
``p`` its recovery probability), the correction of the measured values by the
recovered/injected equivalent-duration ratio and the normalisation ``beta`` of the fitted
power law (``dN/dx = beta * x**-alpha`` per unit time, so that the cumulative rate is
``beta / (alpha - 1) * x**(1 - alpha)``) follow AltaiPony's ``FFD`` (Ilin et al. 2021).
The estimator of ``alpha`` does not: AltaiPony solves the maximum-likelihood equation of
Maschberger & Kroupa (2009) numerically with jackknife uncertainties and the smallest value
as ``x_min``; here it is Clauset et al.'s closed form, made unbiased, with its analytic
uncertainty and a data-driven ``x_min``.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import astropy.units as u
import numpy as np
from astropy.table import Table

from ..exceptions import FCN4FlareWarning, InputError

__all__ = ["FFD", "PowerLawFit", "powerlaw_mle"]

#: Units of the columns known by name; plain floats given for them take this unit.
_COLUMN_UNITS = {
    "equivalent_duration": u.s,
    "energy": u.erg,
    "amplitude": u.dimensionless_unscaled,
}
_AXIS_LABELS = {"equivalent_duration": "Equivalent duration", "energy": "Energy"}
# Fewer flares than this above x_min give a power-law index worth little.
_RECOMMENDED_TAIL = 10
# The estimator needs at least this many flares above x_min.
_MINIMUM_TAIL = 2
# At most this many candidate x_min (evenly spaced in rank) are tried in the KS scan.
_MAX_CANDIDATES = 1000
# Resamples of the bootstrap error of alpha when x_min is chosen from the data.
_DEFAULT_BOOTSTRAP = 100

ProbabilityLike = Callable[[u.Quantity], Any] | tuple[Any, Any] | float
RatioLike = Callable[[u.Quantity], Any] | tuple[Any, Any] | float


@dataclasses.dataclass(frozen=True)
class PowerLawFit:
    """A power law fitted to the tail of a flare frequency distribution.

    The differential rate is ``dR/dx = beta * x**-alpha`` for ``x >= x_min``, so the
    cumulative rate of flares at least as large as ``x`` is
    ``R(x) = beta / (alpha - 1) * x**(1 - alpha) = R(x_min) * (x / x_min)**(1 - alpha)``.
    Made by `FFD.fit_powerlaw`.

    Attributes
    ----------
    alpha : float
        Power-law index of the differential distribution (see `powerlaw_mle`).
    alpha_err : float
        Its 1-sigma uncertainty; infinite when the effective number of flares is 2 or less.
        When ``x_min`` was chosen from the data, the bootstrap error (see
        `FFD.fit_powerlaw`).
    alpha_err_statistical : float
        The estimator's own error at the chosen ``x_min`` (equal to ``alpha_err`` when
        ``x_min`` was given).
    x_min : `~astropy.units.Quantity`
        Lower end of the fitted tail (s or erg, the unit of the FFD's values).
    x_max : `~astropy.units.Quantity`
        Largest value in the tail (the end of the line drawn by `plot`).
    n_tail : int
        Flares with ``x >= x_min``.
    n_eff : float
        Effective number of flares in the tail, ``sum(w)**2 / sum(w**2)`` with ``w`` the
        completeness weights (``n_tail`` without weights).
    ks_distance : float
        Kolmogorov-Smirnov distance between the tail's (weighted) empirical distribution
        and the fitted one.
    rate_at_x_min : `~astropy.units.Quantity`
        Cumulative rate ``R(x_min)`` (1/d): the weighted number of flares in the tail per
        observing time.
    beta : `~astropy.units.Quantity`
        Normalisation of the differential rate, in 1/d with ``x`` expressed in the unit of
        ``x_min``: ``beta = (alpha - 1) * R(x_min) * x_min**(alpha - 1)`` (AltaiPony's
        convention).
    x_min_chosen : bool
        True when ``x_min`` was chosen from the data by the KS criterion.

    Examples
    --------
    >>> import astropy.units as u
    >>> from fcn4flare.catalog import FFD
    >>> ed = [2.0, 2.5, 3.0, 4.0, 5.0, 6.5, 8.0, 13.0, 21.0, 50.0] * u.s
    >>> fit = FFD(ed, observing_time=10 * u.d).fit_powerlaw(x_min=2 * u.s)
    >>> round(fit.alpha, 3), fit.n_tail
    (1.735, 10)
    >>> fit.rate(2 * u.s)  # doctest: +FLOAT_CMP
    <Quantity 1. 1 / d>
    """

    alpha: float
    alpha_err: float
    x_min: u.Quantity
    x_max: u.Quantity
    n_tail: int
    n_eff: float
    ks_distance: float
    rate_at_x_min: u.Quantity
    x_min_chosen: bool = False
    alpha_err_statistical: float = float("nan")

    @property
    def beta(self) -> u.Quantity:
        """Normalisation of ``dR/dx = beta * x**-alpha`` (1/d, ``x`` in ``x_min``'s unit)."""
        x_min = self.x_min.value
        return (self.alpha - 1.0) * self.rate_at_x_min * x_min ** (self.alpha - 1.0)

    def rate(self, x: Any) -> u.Quantity:
        """The fitted cumulative rate of flares at least as large as ``x``.

        Parameters
        ----------
        x : `~astropy.units.Quantity` or float or array-like
            Values in a unit convertible to that of ``x_min`` (plain floats: that unit).
            The power law holds for ``x >= x_min``; below it the formula is extrapolated.

        Returns
        -------
        rate : `~astropy.units.Quantity`
            In 1/d, with the shape of ``x``.
        """
        values = _in_unit(x, self.x_min.unit, "x")
        ratio = values / self.x_min.value
        return self.rate_at_x_min * ratio ** (1.0 - self.alpha)

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Draw the fitted cumulative rate from ``x_min`` to ``x_max`` on log-log axes.

        Parameters
        ----------
        ax : `~matplotlib.axes.Axes`, optional
            Axes to draw on; default: a new figure.
        **kwargs
            Passed to `~matplotlib.axes.Axes.plot`.

        Returns
        -------
        ax : `~matplotlib.axes.Axes`
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots()
        x_max = max(self.x_max.value, self.x_min.value * 1.0001)
        x = np.geomspace(self.x_min.value, x_max, 50)
        style = {
            "color": "C3",
            "label": rf"$\alpha = {self.alpha:.2f} \pm {self.alpha_err:.2f}$",
        }
        style.update(kwargs)
        ax.plot(x, self.rate(x).to_value(1 / u.d), **style)
        ax.set_xscale("log")
        ax.set_yscale("log")
        return ax


class FFD:
    """The flare frequency distribution of one or more stars.

    Parameters
    ----------
    tables_or_values : `~fcn4flare.catalog.FlareTable`, list of them, Quantity or array-like
        Flares: a table (any `~astropy.table.Table` with the ``column``), several tables
        (their values are pooled, e.g. several stars or sectors), or the values themselves.
        Plain floats take the unit of ``column`` (s for ``equivalent_duration``, erg for
        ``energy``). NaN, infinite and non-positive values are dropped with a
        `~fcn4flare.exceptions.FCN4FlareWarning` saying how many.
    observing_time : `~astropy.units.Quantity` or float
        Total observing time over which those flares were searched for (a float: days).
    column : str, optional
        The table column to use: ``"equivalent_duration"`` (default), ``"energy"`` or
        another column; it also sets the unit the values are kept in.
    recovery_probability : callable, tuple or float, optional
        Completeness correction. A callable taking the (ED-ratio corrected) values as a
        Quantity and returning the probability, in (0, 1], that such a flare is recovered;
        or a tuple ``(x_grid, p_grid)`` interpolated linearly in ``log x`` (held constant
        beyond the grid), e.g. from ``InjectionRecovery.recovery_probability()`` of
        ``fcn4flare.detection.recovery``; or one probability for all. Each flare then
        counts ``1 / p`` times in the rates and in the fit.
    ed_ratio : callable, tuple or float, optional
        Recovered/injected equivalent-duration ratio, evaluated at the measured values (a
        callable on the Quantity, a tuple ``(x_grid, ratio_grid)`` interpolated in
        ``log x`` such as ``InjectionRecovery.ed_ratio()``, or a number). The values are
        divided by it before anything else (AltaiPony's ``ed_corr``);
        ``recovery_probability`` is then evaluated at the corrected values.

    Attributes
    ----------
    x : `~astropy.units.Quantity`
        The (corrected) values, sorted in **descending** order, as in AltaiPony.
    weights : ndarray
        ``1 / p`` of each value of ``x`` (all 1 without ``recovery_probability``).
    observing_time : `~astropy.units.Quantity`
        In days.
    column : str

    Raises
    ------
    InputError
        If ``observing_time`` is not a positive finite time, a table lacks ``column``, the
        values have a unit that does not convert to the column's, or a correction is out
        of range.

    Notes
    -----
    The cumulative rate at ``x`` is ``sum(w_i for x_i >= x) / observing_time`` with
    ``w_i = 1 / p_i``; tied values share the same rate. Pooling stars of different
    detection thresholds needs either a common ``x_min`` above all thresholds or a
    recovery probability per flare.

    References
    ----------
    Clauset, A., Shalizi, C. R. & Newman, M. E. J. 2009, SIAM Review 51, 661.
    Ilin, E. et al. 2021, MNRAS 507, 1723 (AltaiPony).

    Examples
    --------
    >>> import numpy as np
    >>> import astropy.units as u
    >>> from fcn4flare.catalog import FFD, FlareTable
    >>> table = FlareTable({"equivalent_duration": [1.0, 2.0, 3.0] * u.s})
    >>> ffd = FFD(table, observing_time=10 * u.d)
    >>> x, rate = ffd.cumulative_rate()
    >>> x
    <Quantity [3., 2., 1.] s>
    >>> rate  # doctest: +FLOAT_CMP
    <Quantity [0.1, 0.2, 0.3] 1 / d>

    A power law with ``alpha = 2`` above 10 s, 300 flares in 50 days:

    >>> rng = np.random.default_rng(1)
    >>> ed = 10.0 * rng.random(300) ** (-1 / (2.0 - 1))
    >>> fit = FFD(ed * u.s, observing_time=50).fit_powerlaw()
    >>> abs(fit.alpha - 2.0) < 3 * fit.alpha_err, fit.x_min.unit
    (True, Unit("s"))
    """

    def __init__(
        self,
        tables_or_values: Any,
        observing_time: u.Quantity | float,
        column: str = "equivalent_duration",
        recovery_probability: ProbabilityLike | None = None,
        ed_ratio: RatioLike | None = None,
    ) -> None:
        if not isinstance(column, str):
            raise InputError(f"column must be a column name, got {column!r}")
        self.column = column
        self.observing_time = _observing_time(observing_time)
        values, unit = _collect_values(tables_or_values, column)
        values = _drop_unusable(values, column)
        if ed_ratio is not None:
            values = values / _evaluate(ed_ratio, values, unit, "ed_ratio", positive=True)
        if recovery_probability is None:
            weights = np.ones_like(values)
        else:
            probability = _evaluate(
                recovery_probability, values, unit, "recovery_probability", positive=False
            )
            weights = 1.0 / _checked_probability(probability, values, unit)
        order = np.argsort(-values, kind="stable")
        self._values = values[order]
        self.weights = weights[order]
        self.unit = unit

    def __len__(self) -> int:
        return int(self._values.size)

    def __repr__(self) -> str:
        return (
            f"<FFD: {len(self)} flares ({self.column}) in {self.observing_time:.6g}, "
            f"weighted total {self.weights.sum():.6g}>"
        )

    @property
    def x(self) -> u.Quantity:
        """The values, sorted in descending order (s or erg)."""
        return self._values * self.unit

    def cumulative_rate(self) -> tuple[u.Quantity, u.Quantity]:
        """The cumulative rate of flares at least as large as each value.

        Returns
        -------
        x : `~astropy.units.Quantity`
            The values in descending order (`FFD.x`).
        rate : `~astropy.units.Quantity`
            ``sum(w_j for x_j >= x_i) / observing_time`` in 1/d, increasing.

        Examples
        --------
        >>> import astropy.units as u
        >>> from fcn4flare.catalog import FFD
        >>> FFD([5.0, 1.0, 5.0] * u.s, observing_time=2 * u.d).cumulative_rate()[1]
        <Quantity [1. , 1. , 1.5] 1 / d>
        """
        return self.x, self._rates() / u.d

    def fit_powerlaw(
        self, x_min: u.Quantity | float | None = None, *, min_tail: int = _RECOMMENDED_TAIL,
        n_bootstrap: int | None = None, seed: int | None = 0,
    ) -> PowerLawFit:
        """Fit ``dN/dx ∝ x**-alpha`` to the flares with ``x >= x_min``.

        ``alpha`` is that of `powerlaw_mle` (weighted by the completeness weights, if any).
        With ``x_min`` given, ``alpha_err`` is the estimator's own error. With ``x_min``
        chosen from the data, that error leaves out the uncertainty of the choice (its 1-sigma
        interval held the truth in only 26-59 % of simulated populations,
        ``benchmarks/ffd_coverage.py``), so ``alpha_err`` is then the standard deviation of
        ``alpha`` over ``n_bootstrap`` resamples of the flares, each with its own ``x_min``
        (Clauset et al. 2009, sec. 3.5).

        Parameters
        ----------
        x_min : `~astropy.units.Quantity` or float, optional
            Lower end of the power law, e.g. the completeness limit (plain floats: the
            FFD's unit). Default: chosen from the data as the value, among those with at
            least ``min_tail`` flares above them, that minimises the KS distance between
            the tail and its fit (Clauset et al. 2009, sec. 3.3). When there are more than
            1000 candidates, 1000 evenly spaced in rank are tried.
        min_tail : int, optional
            Fewest flares allowed in the tail when ``x_min`` is chosen (at least 2).
        n_bootstrap : int, optional
            Resamples for ``alpha_err`` when ``x_min`` is chosen (default 100; 0 keeps the
            estimator's error). Ignored when ``x_min`` is given.
        seed : int, optional
            Seed of the resampling.

        Returns
        -------
        fit : `PowerLawFit`

        Raises
        ------
        InputError
            If fewer than 2 flares lie above the given ``x_min``, or fewer than
            ``min_tail`` flares are available for choosing it.

        Warns
        -----
        FCN4FlareWarning
            If a given ``x_min`` leaves fewer than 10 flares in the tail.

        Examples
        --------
        >>> import numpy as np
        >>> import astropy.units as u
        >>> from fcn4flare.catalog import FFD
        >>> rng = np.random.default_rng(7)
        >>> energy = 1e32 * rng.random(200) ** (-1 / (1.8 - 1))  # erg
        >>> ffd = FFD(energy, observing_time=100 * u.d, column="energy")
        >>> fit = ffd.fit_powerlaw(x_min=1e32 * u.erg)
        >>> print(f"{fit.alpha:.2f} +/- {fit.alpha_err:.2f}")
        1.78 +/- 0.06
        >>> fit.rate_at_x_min  # doctest: +FLOAT_CMP
        <Quantity 2. 1 / d>
        """
        if isinstance(min_tail, bool) or not isinstance(min_tail, (int, np.integer)):
            raise InputError(f"min_tail must be an integer, got {min_tail!r}")
        if min_tail < _MINIMUM_TAIL:
            raise InputError(f"min_tail must be at least {_MINIMUM_TAIL}, got {min_tail}")
        ascending = self._values[::-1]
        weights = self.weights[::-1]
        if x_min is None:
            start, chosen = self._choose_x_min(ascending, weights, int(min_tail)), True
        else:
            limit = float(np.squeeze(_in_unit(x_min, self.unit, "x_min")))
            if not np.isfinite(limit) or limit <= 0:
                raise InputError(f"x_min must be positive and finite, got {x_min!r}")
            start, chosen = int(np.searchsorted(ascending, limit, side="left")), False
            n_tail = ascending.size - start
            if n_tail < _MINIMUM_TAIL:
                raise InputError(
                    f"fitting a power law needs at least {_MINIMUM_TAIL} flares with "
                    f"{self.column} >= x_min = {limit:g} {self.unit} (at least "
                    f"{_RECOMMENDED_TAIL} recommended); there are {n_tail}"
                )
            if n_tail < _RECOMMENDED_TAIL:
                warnings.warn(
                    f"only {n_tail} flares with {self.column} >= x_min = {limit:g} "
                    f"{self.unit}; the power-law index is poorly constrained (at least "
                    f"{_RECOMMENDED_TAIL} recommended)",
                    FCN4FlareWarning,
                    stacklevel=2,
                )
        if x_min is None:
            limit = float(ascending[start])
        tail, tail_weights = ascending[start:], weights[start:]
        alpha, alpha_err, n_eff = _weighted_mle(tail, limit, tail_weights)
        statistical_err = alpha_err
        if chosen:
            n_bootstrap = _DEFAULT_BOOTSTRAP if n_bootstrap is None else n_bootstrap
            if isinstance(n_bootstrap, bool) or int(n_bootstrap) != n_bootstrap \
                    or n_bootstrap < 0 or n_bootstrap == 1:
                raise InputError(f"n_bootstrap must be 0 or at least 2, got {n_bootstrap!r}")
            if n_bootstrap:
                alpha_err = self._bootstrap_err(ascending, weights, int(min_tail),
                                                int(n_bootstrap), seed)
        return PowerLawFit(
            alpha=alpha,
            alpha_err=alpha_err,
            alpha_err_statistical=statistical_err,
            x_min=limit * self.unit,
            x_max=float(tail[-1]) * self.unit,
            n_tail=int(tail.size),
            n_eff=n_eff,
            ks_distance=_ks_distance(tail, limit, tail_weights, alpha),
            rate_at_x_min=float(tail_weights.sum()) / self.observing_time.to_value(u.d) / u.d,
            x_min_chosen=chosen,
        )

    def plot(self, ax: Any = None, fit: PowerLawFit | bool | None = None, **kwargs: Any) -> Any:
        """Plot the cumulative rate against the values on log-log axes.

        Parameters
        ----------
        ax : `~matplotlib.axes.Axes`, optional
            Axes to draw on; default: a new figure.
        fit : `PowerLawFit` or bool, optional
            A fit to draw over the data (`PowerLawFit.plot`); True: ``self.fit_powerlaw()``.
        **kwargs
            Passed to `~matplotlib.axes.Axes.plot` for the data.

        Returns
        -------
        ax : `~matplotlib.axes.Axes`

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import astropy.units as u
        >>> from fcn4flare.catalog import FFD
        >>> ffd = FFD([1.0, 2.0, 3.0, 4.0] * u.s, observing_time=3 * u.d)
        >>> ax = ffd.plot()
        >>> ax.get_xscale(), ax.get_yscale(), ax.get_xlabel()
        ('log', 'log', 'Equivalent duration [s]')
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots()
        style = {"marker": "o", "linestyle": "none", "markersize": 3, "color": "k",
                 "label": "flares"}
        style.update(kwargs)
        ax.plot(self._values, self._rates(), **style)
        if fit is True:
            fit = self.fit_powerlaw()
        if isinstance(fit, PowerLawFit):
            fit.plot(ax)
        elif fit not in (None, False):
            raise InputError(f"fit must be a PowerLawFit, True or None, got {fit!r}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        name = _AXIS_LABELS.get(self.column, self.column)
        unit = self.unit.to_string()
        ax.set_xlabel(f"{name} [{unit}]" if unit else name)
        ax.set_ylabel(r"Cumulative rate ($\geq x$) [1/d]")
        return ax

    def _rates(self) -> np.ndarray:
        """Cumulative rates (1/d, floats) in the order of ``self._values``."""
        ascending = self._values[::-1]
        tail_sums = np.cumsum(self.weights)[::-1]  # tail_sums[k] = weight of ascending[k:]
        index = np.searchsorted(ascending, self._values, side="left")
        return tail_sums[index] / self.observing_time.to_value(u.d)

    def _bootstrap_err(self, ascending: np.ndarray, weights: np.ndarray, min_tail: int,
                       n_bootstrap: int, seed: int | None) -> float:
        """Standard deviation of alpha over resamples, x_min chosen again in each."""
        rng = np.random.default_rng(seed)
        alphas = []
        for _ in range(n_bootstrap):
            pick = np.sort(rng.integers(0, ascending.size, ascending.size))
            values, w = ascending[pick], weights[pick]
            try:
                start = self._choose_x_min(values, w, min_tail)
            except InputError:
                continue  # a resample without spread enough to choose x_min
            alphas.append(_weighted_mle(values[start:], float(values[start]), w[start:])[0])
        return float(np.std(alphas, ddof=1)) if len(alphas) > 1 else float("nan")

    def _choose_x_min(self, ascending: np.ndarray, weights: np.ndarray, min_tail: int) -> int:
        """Index in ``ascending`` of the x_min of smallest KS distance."""
        n = ascending.size
        if n < min_tail:
            raise InputError(
                f"choosing x_min needs at least min_tail = {min_tail} flares; there are "
                f"{n} (give x_min or a smaller min_tail; the estimator needs at least "
                f"{_MINIMUM_TAIL}, {_RECOMMENDED_TAIL} or more are recommended)"
            )
        first = np.flatnonzero(np.r_[True, ascending[1:] != ascending[:-1]])
        candidates = first[(n - first) >= min_tail]
        candidates = candidates[ascending[candidates] < ascending[-1]]
        if candidates.size == 0:
            raise InputError(
                f"choosing x_min needs at least {min_tail} flares above a candidate x_min "
                "and some spread in their values; give x_min"
            )
        if candidates.size > _MAX_CANDIDATES:
            keep = np.unique(np.linspace(0, candidates.size - 1, _MAX_CANDIDATES).astype(int))
            candidates = candidates[keep]
        distances = np.array([
            _ks_distance(
                ascending[k:], ascending[k], weights[k:],
                _weighted_mle(ascending[k:], ascending[k], weights[k:])[0],
            )
            for k in candidates
        ])
        return int(candidates[int(np.argmin(distances))])


def powerlaw_mle(
    values: Any, x_min: Any, weights: Any = None
) -> tuple[float, float]:
    """Maximum-likelihood index of a continuous power law ``p(x) ∝ x**-alpha``, ``x >= x_min``.

    Clauset, Shalizi & Newman (2009, eq. 3.1) give ``alpha = 1 + n / S`` with
    ``S = sum(ln(x_i / x_min))`` over the ``n`` values ``x_i >= x_min``. Since ``S`` is
    Gamma-distributed, that estimate is biased by a factor ``n / (n - 1)`` in
    ``alpha - 1``; this function returns the unbiased

    ``alpha = 1 + (n - 1) / S``,  ``alpha_err = (alpha - 1) / sqrt(n - 2)``,

    where ``alpha_err`` is the exact standard deviation of the estimate evaluated at it
    (infinite for ``n = 2``). Its 1-sigma interval covers the true index in about 68% of
    samples already for ``n >= 10`` (68.6% at ``n = 50``).

    With weights ``w_i`` (e.g. ``1 / p_i`` for recovery probabilities ``p_i``) the
    weighted likelihood ``sum(w_i ln p(x_i))`` is maximised:
    ``alpha = 1 + (1 - 1 / n_eff) * sum(w) / sum(w ln(x / x_min))`` and
    ``alpha_err = (alpha - 1) / sqrt(n_eff - 2)``, with the effective number
    ``n_eff = sum(w)**2 / sum(w**2)``; this reduces to the unweighted form for equal
    weights and is otherwise an approximation.

    Parameters
    ----------
    values : `~astropy.units.Quantity` or array-like
        The sample; values below ``x_min`` are ignored. Must be finite.
    x_min : `~astropy.units.Quantity` or float
        Lower end of the power law, in the unit of ``values``.
    weights : array-like, optional
        Positive weight of each value.

    Returns
    -------
    alpha, alpha_err : float

    Raises
    ------
    InputError
        If fewer than 2 values are ``>= x_min``, all of them equal ``x_min``, or the
        inputs are not finite and positive.

    Examples
    --------
    >>> import numpy as np
    >>> from fcn4flare.catalog import powerlaw_mle
    >>> rng = np.random.default_rng(1)
    >>> sample = 3.0 * rng.random(500) ** (-1 / (2.3 - 1))
    >>> alpha, alpha_err = powerlaw_mle(sample, 3.0)
    >>> print(f"{alpha:.3f} +/- {alpha_err:.3f}")
    2.288 +/- 0.058
    """
    if isinstance(values, u.Quantity):
        unit = values.unit
        data = np.atleast_1d(values.to_value(unit)).astype(float).ravel()
        limit = float(np.squeeze(_in_unit(x_min, unit, "x_min")))
    else:
        data = np.atleast_1d(_plain_floats(values, "values")).ravel()
        if isinstance(x_min, u.Quantity):
            if not x_min.unit.is_equivalent(u.one):
                raise InputError(f"x_min has unit {x_min.unit} but values have none")
            x_min = x_min.to_value(u.one)
        limit = float(np.squeeze(_plain_floats(x_min, "x_min")))
    if not np.all(np.isfinite(data)):
        raise InputError(f"values must be finite; {int((~np.isfinite(data)).sum())} are not")
    if not np.isfinite(limit) or limit <= 0:
        raise InputError(f"x_min must be positive and finite, got {x_min!r}")
    if weights is None:
        w = np.ones_like(data)
    else:
        w = np.atleast_1d(_plain_floats(weights, "weights")).ravel()
        if w.size != data.size:
            raise InputError(f"weights has {w.size} values for {data.size} values")
        if not np.all(np.isfinite(w) & (w > 0)):
            raise InputError("weights must be positive and finite")
    tail = data >= limit
    n_tail = int(tail.sum())
    if n_tail < _MINIMUM_TAIL:
        raise InputError(
            f"fitting a power law needs at least {_MINIMUM_TAIL} values >= x_min = {limit:g} "
            f"(at least {_RECOMMENDED_TAIL} recommended); there are {n_tail}"
        )
    alpha, alpha_err, _ = _weighted_mle(data[tail], limit, w[tail])
    return alpha, alpha_err


# --------------------------------------------------------------------------- internals


def _weighted_mle(tail: np.ndarray, x_min: float, weights: np.ndarray
                  ) -> tuple[float, float, float]:
    """(alpha, alpha_err, n_eff) of `powerlaw_mle` for a tail already cut at x_min."""
    total = float(weights.sum())
    n_eff = total**2 / float(np.sum(weights**2))
    log_sum = float(np.sum(weights * np.log(tail / x_min)))
    if not log_sum > 0:
        raise InputError(
            f"all {tail.size} values in the tail equal x_min = {x_min:g}; no power law can be "
            "fitted"
        )
    slope = (1.0 - 1.0 / n_eff) * total / log_sum
    alpha_err = slope / np.sqrt(n_eff - 2.0) if n_eff > 2.0 else np.inf
    return 1.0 + slope, float(alpha_err), n_eff


def _ks_distance(tail: np.ndarray, x_min: float, weights: np.ndarray, alpha: float) -> float:
    """Largest gap between the weighted empirical CDF of ``tail`` (ascending) and the fit."""
    model = 1.0 - (tail / x_min) ** (1.0 - alpha)
    cumulative = np.cumsum(weights) / weights.sum()
    before = np.r_[0.0, cumulative[:-1]]
    return float(max(np.max(cumulative - model), np.max(model - before)))


def _observing_time(observing_time: Any) -> u.Quantity:
    if isinstance(observing_time, u.Quantity):
        if not observing_time.unit.is_equivalent(u.d):
            raise InputError(
                f"observing_time must be a time, got {observing_time} "
                f"(unit {observing_time.unit})"
            )
        days = observing_time.to_value(u.d)
    elif hasattr(observing_time, "to_value") and hasattr(observing_time, "jd"):
        days = observing_time.to_value(u.d)  # astropy TimeDelta
    else:
        if isinstance(observing_time, (bool, np.bool_)):
            raise InputError(f"observing_time must be a time, got {observing_time!r}")
        try:
            days = np.asarray(observing_time, dtype=float)
        except (TypeError, ValueError) as err:
            raise InputError(
                f"observing_time must be a time Quantity or a number of days, got "
                f"{observing_time!r}"
            ) from err
    days = np.asarray(days, dtype=float)
    if days.size != 1:
        raise InputError(f"observing_time must be one total time, got {days.size} values")
    days = float(days.reshape(()))
    if not np.isfinite(days) or days <= 0:
        raise InputError(f"observing_time must be positive and finite, got {days} d")
    return days * u.d


def _collect_values(data: Any, column: str) -> tuple[np.ndarray, u.UnitBase]:
    """Values as floats and their unit, from tables, a Quantity or plain numbers."""
    unit = _COLUMN_UNITS.get(column)
    if (isinstance(data, (list, tuple)) and data
            and all(isinstance(item, u.Quantity) for item in data)):
        try:
            data = u.Quantity(data)
        except u.UnitsError as err:
            raise InputError(f"the {column} values have incompatible units: {err}") from err
    if isinstance(data, Table):
        parts = [_table_column(data, column)]
    elif _is_table_sequence(data):
        parts = [_table_column(table, column) for table in data]
    elif isinstance(data, (Sequence, np.ndarray, u.Quantity)) and not isinstance(data, str):
        parts = [data]
    else:
        raise InputError(
            "give a FlareTable, a list of FlareTables or an array/Quantity of values; "
            f"got {type(data).__name__}"
        )
    if unit is None:  # a column not known by name: the unit of the first data with one
        units = [part.unit for part in parts if isinstance(part, u.Quantity)]
        unit = units[0] if units else u.dimensionless_unscaled
    arrays = [_in_unit(part, unit, column) for part in parts]
    return np.concatenate([np.atleast_1d(a).ravel() for a in arrays]), unit


def _is_table_sequence(data: Any) -> bool:
    if not isinstance(data, (list, tuple)) or not data:
        return False
    tables = [isinstance(item, Table) for item in data]
    if any(tables) and not all(tables):
        raise InputError("a list of tables must hold only tables")
    return all(tables)


def _table_column(table: Table, column: str) -> Any:
    if column not in table.colnames:
        raise InputError(
            f"the table has no column {column!r}; available columns: "
            f"{', '.join(table.colnames) or 'none'}"
        )
    values = table[column]
    mask = getattr(values, "mask", None)
    if hasattr(values, "unmasked"):  # astropy Masked Quantity
        values = values.unmasked
    elif hasattr(values, "filled") and not isinstance(values, u.Quantity):
        values = values.data
    if not isinstance(values, u.Quantity) and getattr(values, "unit", None) is not None:
        values = u.Quantity(values, copy=False)
    if mask is not None and np.any(mask):
        values = values.copy() if isinstance(values, u.Quantity) else np.array(values, float)
        values[np.asarray(mask, dtype=bool)] = np.nan
    return values


def _in_unit(values: Any, unit: u.UnitBase, name: str) -> np.ndarray:
    """``values`` as floats in ``unit``; plain numbers are taken to be in ``unit``."""
    if isinstance(values, u.Quantity):
        try:
            return np.asarray(values.to_value(unit), dtype=float)
        except u.UnitConversionError as err:
            raise InputError(
                f"{name} has unit {values.unit}, which does not convert to {unit}"
                + (" (give energies in erg or J, equivalent durations in s)"
                   if name in ("energy", "equivalent_duration") else "")
            ) from err
    return _plain_floats(values, name)


def _plain_floats(values: Any, name: str) -> np.ndarray:
    try:
        return np.asarray(values, dtype=float)
    except (TypeError, ValueError) as err:
        raise InputError(f"{name} must be numbers, got {values!r}") from err


def _drop_unusable(values: np.ndarray, column: str) -> np.ndarray:
    keep = np.isfinite(values) & (values > 0)
    dropped = int(values.size - keep.sum())
    if dropped:
        warnings.warn(
            f"dropped {dropped} of {values.size} {column} values that are missing, NaN, "
            "infinite or not positive",
            FCN4FlareWarning,
            stacklevel=3,
        )
    return values[keep]


def _evaluate(correction: Any, values: np.ndarray, unit: u.UnitBase, name: str,
              positive: bool) -> np.ndarray:
    """A correction (callable, (grid, values) tuple or number) at ``values``."""
    if callable(correction):
        result = correction(values * unit)
        if isinstance(result, u.Quantity):
            result = result.to_value(u.one)
        result = np.broadcast_to(_plain_floats(result, name), values.shape).astype(float)
    elif isinstance(correction, tuple):
        if len(correction) != 2:
            raise InputError(f"{name} as a tuple must be (x_grid, values), got {len(correction)} "
                             "items")
        grid = np.atleast_1d(_in_unit(correction[0], unit, f"{name} grid")).ravel()
        table = np.atleast_1d(_plain_floats(correction[1], name)).ravel()
        if grid.size != table.size or grid.size == 0:
            raise InputError(
                f"{name}: x_grid and values must have the same, non-zero length; got "
                f"{grid.size} and {table.size}"
            )
        good = np.isfinite(grid) & (grid > 0) & np.isfinite(table)
        if not good.any():
            raise InputError(f"{name}: no finite grid point with positive x")
        grid, table = grid[good], table[good]
        order = np.argsort(grid)
        result = np.interp(np.log(values), np.log(grid[order]), table[order])
    else:
        number = float(np.squeeze(_plain_floats(correction, name)))
        result = np.full(values.shape, number)
    if positive and not np.all(np.isfinite(result) & (result > 0)):
        bad = int((~(np.isfinite(result) & (result > 0))).sum())
        raise InputError(f"{name} must be positive and finite; {bad} values are not")
    return result


def _checked_probability(probability: np.ndarray, values: np.ndarray,
                         unit: u.UnitBase) -> np.ndarray:
    bad = ~(np.isfinite(probability) & (probability > 0) & (probability <= 1))
    if bad.any():
        raise InputError(
            f"recovery_probability must be in (0, 1]; it is not for {int(bad.sum())} flares "
            f"(e.g. {probability[bad][0]:g} at {values[bad][0]:g} {unit})"
        )
    return probability
