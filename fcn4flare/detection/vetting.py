"""Vetting: does a flare template explain a candidate better than a smooth background?

For each candidate event, `vet_events` fits a flare template on a local polynomial background
(`fcn4flare.catalog.fit_flare`; by default its grid optimum, ``refine=False``) and the
background alone, on the same samples, and compares them by the difference of their
Bayesian information criteria, ``delta_bic`` (positive favours the flare). The verdict is
folded into the event's score,

.. math::  s_\\mathrm{vetted} = s \\cdot w, \\qquad
           w = \\frac{1}{1 + \\exp\\bigl(-(\\Delta\\mathrm{BIC} - b_0) / b_s\\bigr)},

and into the per-sample probability inside the event (multiplied by the same ``w``), so that
rankings (average precision) reflect it. Events with ``delta_bic`` below ``reject_below``
are dropped. The fit's parameters (peak time, amplitude, FWHM, equivalent duration, their
errors and the fit quality) are kept for the flare table.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ..exceptions import InputError

__all__ = ["VettingRules", "VettingResult", "vet_events", "DEFAULT_VETTING"]

# Samples of local background on each side of a candidate, at least.
_MIN_MARGIN = 10


@dataclasses.dataclass(frozen=True)
class VettingRules:
    """How the template-fit verdict changes events (see the module docs).

    Attributes
    ----------
    midpoint : float
        ``b_0``: the ``delta_bic`` at which the score is halved.
    width : float
        ``b_s``: how quickly the weight goes from 0 to 1 around ``midpoint``.
    reject_below : float or None
        Events whose ``delta_bic`` is lower are dropped; None keeps every event.
    template : {'mendoza2022', 'davenport2014'}
        Flare template of the fit.
    background_order : int
        Degree of the local background polynomial.
    refine : bool
        Run the least-squares optimiser on each candidate (``fit_flare(refine=True)``);
        the default, False, takes the optimum of its grid in peak time and FWHM, at about a
        quarter of the cost (``benchmarks/bench_vetting.py``).

    Examples
    --------
    >>> from fcn4flare.detection.vetting import VettingRules
    >>> rules = VettingRules(midpoint=10.0, width=5.0)
    >>> float(rules.weight(10.0)), round(float(rules.weight(40.0)), 4)
    (0.5, 0.9975)
    """

    midpoint: float = 10.0
    width: float = 5.0
    reject_below: float | None = None
    template: str = "mendoza2022"
    background_order: int = 2
    refine: bool = False

    def __post_init__(self) -> None:
        for name in ("midpoint", "width"):
            value = getattr(self, name)
            if isinstance(value, bool) or not np.isfinite(float(value)):
                raise InputError(f"VettingRules.{name} must be a finite number, got {value!r}.")
        if not float(self.width) > 0:
            raise InputError(f"VettingRules.width must be positive, got {self.width!r}.")
        if self.reject_below is not None and not np.isfinite(float(self.reject_below)):
            raise InputError("VettingRules.reject_below must be a finite number or None.")
        if int(self.background_order) != self.background_order or self.background_order < 0:
            raise InputError("VettingRules.background_order must be a non-negative integer.")

    def kept(self, delta_bic: Any) -> np.ndarray:
        """Which events survive ``reject_below`` (all without it; NaN ``delta_bic`` survives).

        Examples
        --------
        >>> import numpy as np
        >>> from fcn4flare.detection.vetting import VettingRules
        >>> VettingRules(reject_below=0.0).kept([-5.0, 3.0, np.nan]).tolist()
        [False, True, True]
        >>> VettingRules().kept([-5.0, 3.0]).tolist()
        [True, True]
        """
        delta = np.asarray(delta_bic, dtype=float)
        if self.reject_below is None:
            return np.ones(delta.shape, dtype=bool)
        return ~(delta < float(self.reject_below))

    def weight(self, delta_bic: Any) -> np.ndarray:
        """The factor ``w`` applied to scores and probabilities (NaN ``delta_bic`` -> 1)."""
        delta = np.asarray(delta_bic, dtype=float)
        with np.errstate(over="ignore"):
            w = 1.0 / (1.0 + np.exp(-(delta - self.midpoint) / self.width))
        return np.where(np.isfinite(delta), w, 1.0)


#: The vetting applied by ``FlareDetector(vetting=True)``.
DEFAULT_VETTING = VettingRules()


@dataclasses.dataclass(frozen=True, eq=False)
class VettingResult:
    """Per-event outcome of `vet_events` (plain floats: days, relative flux, seconds).

    Attributes
    ----------
    delta_bic, weight : ndarray
        The verdict and the factor it gives.
    keep : ndarray of bool
        Events that pass ``reject_below``.
    fits : list of `~fcn4flare.catalog.FlareFit` or None
        The fit of each event (None where it could not be made).

    Examples
    --------
    >>> import numpy as np
    >>> from fcn4flare.detection.vetting import VettingRules, vet_events
    >>> days = np.arange(400) * 2 / 1440
    >>> flux = 1 + 1e-3 * np.random.default_rng(0).standard_normal(400)
    >>> result = vet_events(days, flux, np.array([100, 390]), np.array([120, 395]),
    ...                     VettingRules(reject_below=0.0))
    >>> len(result), result.fits[0] is not None
    (2, True)
    >>> bool(result.delta_bic[0] < 0), result.keep.tolist() == (result.delta_bic >= 0).tolist()
    (True, True)
    """

    delta_bic: np.ndarray
    weight: np.ndarray
    keep: np.ndarray
    fits: list

    def __len__(self) -> int:
        return len(self.delta_bic)


def vet_events(
    days: np.ndarray,
    flux: np.ndarray,
    starts: np.ndarray,
    stops: np.ndarray,
    rules: VettingRules = DEFAULT_VETTING,
    *,
    flux_err: np.ndarray | None = None,
) -> VettingResult:
    """Fit every candidate ``[start, stop]`` (inclusive indices) and weigh its verdict.

    Parameters
    ----------
    days : ndarray
        Sample times in days (increasing; NaN flux allowed).
    flux : ndarray
        Flux at any positive level.
    starts, stops : ndarray of int
        The candidates.
    rules : VettingRules
        Weighting and rejection.
    flux_err : ndarray, optional
        Flux errors; default the local point-to-point scatter (see `~fcn4flare.catalog.fit_flare`).

    Returns
    -------
    VettingResult

    Examples
    --------
    >>> import numpy as np
    >>> from fcn4flare.detection.vetting import vet_events
    >>> from fcn4flare.simulate import flare_model
    >>> days = np.arange(600) * 2 / 1440
    >>> rng = np.random.default_rng(0)
    >>> flux = 1 + 1e-3 * rng.standard_normal(600) + flare_model(days, 0.4, 0.01, 0.02)
    >>> result = vet_events(days, flux, np.array([285, 500]), np.array([310, 510]))
    >>> bool(result.delta_bic[0] > 30), bool(result.delta_bic[1] < 10)
    (True, True)
    """
    from ..catalog.fit import fit_flare

    starts = np.asarray(starts, dtype=np.int64)
    stops = np.asarray(stops, dtype=np.int64)
    delta = np.full(starts.size, np.nan)
    fits: list = [None] * starts.size
    for k, (start, stop) in enumerate(zip(starts, stops, strict=True)):
        margin = max(int(stop - start + 1), _MIN_MARGIN)
        lo, hi = max(start - margin, 0), min(stop + margin + 1, flux.size)
        part = slice(lo, hi)
        try:
            fit = fit_flare(
                days[part], flux[part], None if flux_err is None else flux_err[part],
                tstart=days[start], tstop=days[stop], template=rules.template,
                background_order=rules.background_order, window=days[hi - 1] - days[lo],
                refine=rules.refine,
            )
        except InputError:
            continue  # too few samples to fit: no verdict, the event keeps its score
        fits[k] = fit
        delta[k] = fit.delta_bic
    return VettingResult(delta_bic=delta, weight=rules.weight(delta),
                         keep=rules.kept(delta), fits=fits)
