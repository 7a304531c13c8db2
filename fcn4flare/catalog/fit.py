"""Fit a flare template on a local polynomial background: `fit_flare` and its `FlareFit`.

The model of the flux in a window around a flare candidate is multiplicative,

.. math::  f(t) = B(t)\\,\\bigl(1 + F(t)\\bigr),

with ``B`` a polynomial in time (the quiescent star) and ``F`` the sum of flare components of
`fcn4flare.simulate.flare_model`, each averaged exactly over the exposure.  ``F`` is the flux
relative to the star, so a component's amplitude is its instantaneous peak relative to the
background at that time: the definition used by `~fcn4flare.simulate.flare_model` and
`~fcn4flare.catalog.measure_flares`.  The fit runs on plain float arrays in days and relative
flux; units and times are put back once, on the result.
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass, field
from typing import Any

import astropy.units as u
import numpy as np
from astropy.time import Time
from scipy import optimize

from .._arrays import float_array, median_step, point_to_point_noise
from ..exceptions import InputError
from ..simulate.templates import (
    FLARE_TEMPLATES,
    _geometry,
    _raw_functions,
    component_flux,
    flare_equivalent_duration,
)

__all__ = ["FlareFit", "fit_flare"]

#: Least margin, in samples, of the default fit window on each side of the candidate.
_MIN_MARGIN_SAMPLES = 10
# Forward-difference step of tpeak and fwhm in the Jacobian, as a fraction of the fwhm.
_FD_STEP = 1e-6
_MAX_NFEV = 60
_COMPONENT_FIELDS = ("tpeak", "fwhm", "amplitude")
# The grid of ``refine=False``: peaks searched near this many local maxima, at these offsets
# (in cadences) from each, and this many widths.
_GRID_PEAKS = 3
_GRID_OFFSETS = np.array([-0.5, 0.0, 0.5])
_GRID_FWHM = 10
# Most peak times in the grid that starts each further component of a complex flare.
_GUESS_PEAKS = 128


@dataclass(frozen=True)
class _Frame:
    """Converts the caller's times (Time, Quantity or days) to internal days and back."""

    reference: Time | None  # for Time input: days are counted from this time

    def days(self, value: Any, name: str) -> np.ndarray:
        if self.reference is None:
            if isinstance(value, Time):
                raise InputError(f"{name} is a Time but time is not; give it like time")
            return float_array(value, name, u.day, one_dimensional=False)
        ref = self.reference
        if isinstance(value, u.Quantity):
            raise InputError(
                f"{name} must be a Time, or a number in the format of time ({ref.format!r}), "
                "like time"
            )
        if not isinstance(value, Time):
            try:
                value = Time(value, format=ref.format, scale=ref.scale)
            except (TypeError, ValueError) as err:
                raise InputError(
                    f"{name} must be a Time or a number in the format {ref.format!r} of time"
                ) from err
        value = getattr(value, ref.scale)
        jd1 = float_array(value.jd1, name, one_dimensional=False)
        jd2 = float_array(value.jd2, name, one_dimensional=False)
        return (jd1 - ref.jd1) + (jd2 - ref.jd2)

    def output(self, days: np.ndarray) -> Time | u.Quantity:
        if self.reference is None:
            return days * u.day
        return self.reference + days * u.day


@dataclass(frozen=True, eq=False)
class FlareFit:
    """The result of `fit_flare`.

    With several components, ``tpeak``, ``amplitude`` and ``fwhm`` (and their errors) are those
    of the brightest component, ``equivalent_duration`` is the total of all components;
    ``components`` has every component, sorted by peak time.

    Attributes
    ----------
    tpeak : `~astropy.time.Time` or `~astropy.units.Quantity`
        Peak time of the instantaneous flare: a Time if the fitted time was a Time, else days.
    tpeak_err : `~astropy.units.Quantity`
        Its 1-sigma uncertainty, in days.
    amplitude, amplitude_err : `~astropy.units.Quantity`
        Peak of the instantaneous flare relative to the background at the peak (dimensionless).
    fwhm, fwhm_err : `~astropy.units.Quantity`
        Full width at half maximum of the instantaneous flare, in minutes.
    equivalent_duration, equivalent_duration_err : `~astropy.units.Quantity`
        Time integral of the relative flare flux, in seconds (exact for the template; the
        uncertainty is propagated with the covariance of amplitude and fwhm).
    components : dict
        ``tpeak``, ``tpeak_err``, ``amplitude``, ``amplitude_err``, ``fwhm``, ``fwhm_err``,
        ``equivalent_duration`` and ``equivalent_duration_err``, one value per component.
    chi2 : float
        Chi-square of the flare plus background fit.
    dof : int
        Its degrees of freedom: samples minus free parameters.
    chi2_background : float
        Chi-square of the background-only fit on the same samples.
    delta_bic : float
        BIC of the background-only model minus BIC of the flare model (Gaussian errors, BIC =
        chi2 + k ln n); positive values favour the flare, above ~10 strongly.
    log_likelihood_ratio : float
        ``(chi2_background - chi2) / 2``.
    n_points : int
        Number of samples fitted.
    noise : `~astropy.units.Quantity`
        Median per-sample error used, relative to the median flux of the window.
    exposure_time : `~astropy.units.Quantity`
        Exposure the model was averaged over, in minutes.
    success : bool
        The optimiser converged and the covariance is defined.
    message : str
        The optimiser's message, with notes on parameters that ended at a bound.
    template : str
        The flare template.

    Examples
    --------
    >>> import numpy as np
    >>> import astropy.units as u
    >>> from fcn4flare.catalog import fit_flare
    >>> from fcn4flare.simulate import flare_model
    >>> time = np.arange(0.0, 0.5, 2 / 1440)
    >>> flux = 1 + flare_model(time, 0.2, 12 * u.min, 0.05, exposure_time=2 * u.min)
    >>> flux += 1e-3 * np.random.default_rng(0).standard_normal(time.size)
    >>> fit = fit_flare(time, flux, tstart=0.19, tstop=0.25)
    >>> fit.tpeak.unit, fit.fwhm.unit, fit.equivalent_duration.unit
    (Unit("d"), Unit("min"), Unit("s"))
    >>> residual = flux / fit.background(time) - 1 - fit.model(time)
    >>> bool(np.std(residual) < 1.2e-3), fit.n_points - fit.dof
    (True, 6)
    """

    tpeak: Time | u.Quantity
    tpeak_err: u.Quantity
    amplitude: u.Quantity
    amplitude_err: u.Quantity
    fwhm: u.Quantity
    fwhm_err: u.Quantity
    equivalent_duration: u.Quantity
    equivalent_duration_err: u.Quantity
    components: dict = field(repr=False)
    chi2: float
    dof: int
    chi2_background: float
    delta_bic: float
    log_likelihood_ratio: float
    n_points: int
    noise: u.Quantity
    exposure_time: u.Quantity
    success: bool
    message: str
    template: str
    _frame: _Frame = field(repr=False)
    _origin: float = field(repr=False)  # internal days of tstart; fitted times count from it
    _params: np.ndarray = field(repr=False)  # (n_components, 3): tpeak, fwhm (days), amplitude
    _coef: np.ndarray = field(repr=False)  # background polynomial in (t - _centre) / _scale
    _centre: float = field(repr=False)
    _scale: float = field(repr=False)
    _level: float = field(repr=False)  # median flux of the window; the model is relative to it
    _unit: Any = field(repr=False)

    def model(self, time: Any, *, exposure_time: Any = None) -> np.ndarray:
        """Relative flare flux ``F`` of the fit at ``time`` (same kind as the fitted time).

        ``exposure_time`` (default: the fit's) sets the averaging; 0 samples instantaneously.
        """
        t = np.atleast_1d(self._frame.days(time, "time")) - self._origin
        exposure = (
            self.exposure_time.to_value(u.day) if exposure_time is None
            else _duration(exposure_time, "exposure_time")
        )
        flux = np.zeros(t.shape)
        for tp, fw, amp in self._params:
            flux += component_flux(t, tp, fw, amp, exposure, self.template)
        return flux

    def background(self, time: Any) -> np.ndarray | u.Quantity:
        """Fitted background (quiescent) flux at ``time``, in the unit of the fitted flux.

        A polynomial: meaningful inside the fit window only.
        """
        t = np.atleast_1d(self._frame.days(time, "time")) - self._origin
        values = self._level * np.polynomial.polynomial.polyval(
            (t - self._centre) / self._scale, self._coef
        )
        return values if self._unit is None else values * self._unit


class _Problem:
    """Weighted residuals and Jacobian of ``B(t) (1 + F(t))`` with parameters
    ``[background coefficients..., (tpeak, fwhm, amplitude) per component...]``."""

    def __init__(self, t, y, sigma, design, exposure, template):
        self.t, self.y, self.sigma = t, y, sigma
        self.design, self.exposure, self.template = design, exposure, template
        self.m = design.shape[1]
        self._key = None

    def _shape(self, tp: float, fw: float) -> np.ndarray:
        return component_flux(self.t, tp, fw, 1.0, self.exposure, self.template)

    def evaluate(self, p: np.ndarray):
        key = p.tobytes()
        if key != self._key:
            comps = p[self.m:].reshape(-1, 3)
            shapes = np.array([self._shape(tp, fw) for tp, fw, _ in comps])
            flare = comps[:, 2] @ shapes
            self._key, self._value = key, (self.design @ p[: self.m], flare, shapes)
        return self._value

    def residuals(self, p: np.ndarray) -> np.ndarray:
        background, flare, _ = self.evaluate(p)
        return (self.y - background * (1.0 + flare)) / self.sigma

    def jacobian(self, p: np.ndarray) -> np.ndarray:
        background, flare, shapes = self.evaluate(p)
        jac = np.empty((self.t.size, p.size))
        jac[:, : self.m] = self.design * (-(1.0 + flare) / self.sigma)[:, None]
        weight = -background / self.sigma
        for j, (tp, fw, amp) in enumerate(p[self.m:].reshape(-1, 3)):
            d_tp, d_fw = self._shape_derivatives(tp, fw, shapes[j])
            col = self.m + 3 * j
            jac[:, col] = weight * amp * d_tp
            jac[:, col + 1] = weight * amp * d_fw
            jac[:, col + 2] = weight * shapes[j]
        return jac

    def _shape_derivatives(self, tp: float, fw: float, shape: np.ndarray):
        """d shape / d tpeak and d shape / d fwhm.

        The exposure mean ``g(t) = (1/e) * integral of f over [t - e/2, t + e/2]`` of the
        instantaneous shape ``f`` has exact derivatives in terms of ``f`` at the exposure's
        ends (Leibniz rule, and integration by parts for the width, ``f`` depending on
        ``(t - tpeak) / fwhm``); without exposure, forward differences.
        """
        e = self.exposure
        if e <= 1e-7:
            h = _FD_STEP * fw
            return (self._shape(tp + h, fw) - shape) / h, (self._shape(tp, fw + h) - shape) / h
        n = self.t.size
        ends = np.concatenate([self.t + 0.5 * e, self.t - 0.5 * e])
        f = component_flux(ends, tp, fw, 1.0, 0.0, self.template)
        f_hi, f_lo = f[:n], f[n:]
        d_tp = (f_lo - f_hi) / e
        d_fw = (shape - (f_hi * (ends[:n] - tp) - f_lo * (ends[n:] - tp)) / e) / fw
        return d_tp, d_fw


def fit_flare(
    time: Any,
    flux: Any,
    flux_err: Any = None,
    *,
    tstart: Any = None,
    tstop: Any = None,
    tpeak: Any = None,
    template: str = "mendoza2022",
    n_components: int = 1,
    background_order: int = 2,
    exposure_time: Any = None,
    window: Any = None,
    refine: bool = True,
) -> FlareFit:
    """Fit a flare template plus a polynomial background to a flare candidate.

    The model ``flux = B(t) (1 + F(t))`` (see the module documentation) is fitted by weighted
    least squares (`scipy.optimize.least_squares`, bounded) on a window around the candidate
    ``[tstart, tstop]``; a background-only polynomial is fitted to the same samples for the
    model comparison (``delta_bic``).  Initial values come from the data: the highest sample of
    the candidate and its half-maximum width; each further component is fitted from two
    starts, the highest residual of the fit with one component less and the best single
    component on that residual over a grid of peak times and widths, and the better fit is
    kept.

    With ``refine=False`` (one component only) the optimiser is not run: the result is the
    best point of a grid in peak time (within half a cadence of the candidate's three
    highest local maxima) and FWHM (10 widths, geometric), refined by a parabola on each
    axis, with the background and the amplitude solved linearly at each point; the statistics
    (``chi2``, ``delta_bic``) and uncertainties are those of the full model at that point.
    It searches more widely than the optimiser, which can stop in a local minimum, and is
    cheaper; `fcn4flare.detection.vetting` uses it.

    Parameters
    ----------
    time : `~astropy.time.Time`, `~astropy.units.Quantity` or array-like
        Sample times, in increasing order; plain numbers are days.
    flux : array-like or `~astropy.units.Quantity`
        Flux (any positive level), the same length as ``time``.  NaN and masked samples are
        ignored.
    flux_err : float, array-like or `~astropy.units.Quantity`, optional
        1-sigma errors of ``flux`` (same unit), positive.  Default: the robust point-to-point
        scatter of the window outside the candidate, the same for every sample; the parameter
        uncertainties are then scaled by the reduced chi-square of the fit.
    tstart, tstop : `~astropy.time.Time`, `~astropy.units.Quantity` or float, optional
        First and last time of the candidate, given like ``time`` (for Time input, a number is
        read in the format of ``time``, e.g. BTJD); for sample indices ``i, j`` pass
        ``time[i], time[j]``.  Default: the start and end of the light curve (fit a cut-out).
    tpeak : like ``tstart``, optional
        Initial guess of the (first) peak time; default: the highest sample of the candidate.
    template : {"mendoza2022", "davenport2014"}
        Flare shape, see `fcn4flare.simulate`.
    n_components : int
        Number of flare components (a complex flare for more than one).
    background_order : int
        Degree of the background polynomial in time.
    exposure_time : `~astropy.units.Quantity` or float, optional
        Exposure each sample averages the model over; plain numbers are days.  Default: the
        median cadence (right for Kepler and TESS).  0 samples the model instantaneously.
    window : `~astropy.units.Quantity` or float, optional
        Margin of the fit window on each side of the candidate; plain numbers are days.
        Default: the candidate's duration, at least 10 cadences.
    refine : bool
        Run the bounded least-squares optimiser (default); False returns the grid optimum
        described above (``n_components`` must then be 1).

    Returns
    -------
    FlareFit
        Fitted parameters with uncertainties (from the Jacobian at the solution) and fit
        statistics.  A fit that does not converge has ``success=False`` and a ``message``.

    Raises
    ------
    InputError
        Mismatched lengths, ``tstart`` after ``tstop``, a candidate outside the light curve,
        too few finite samples for the number of parameters, an unknown template,
        ``n_components < 1`` (or above 1 with ``refine=False``), a negative
        ``background_order``, non-positive ``flux_err``, or a noise that cannot be estimated.

    Examples
    --------
    A flare of amplitude 0.05 and FWHM 12 minutes on a slowly varying star observed every two
    minutes, with 0.2 per cent noise:

    >>> import numpy as np
    >>> import astropy.units as u
    >>> from fcn4flare.catalog import fit_flare
    >>> from fcn4flare.simulate import flare_model
    >>> rng = np.random.default_rng(1)
    >>> time = np.arange(0.0, 0.5, 2 / 1440)
    >>> star = 1000 * (1 + 0.01 * time)
    >>> flare = flare_model(time, 0.2, 12 * u.min, 0.05, exposure_time=2 * u.min)
    >>> flux = star * (1 + flare) + 2 * rng.standard_normal(time.size)
    >>> fit = fit_flare(time, flux, tstart=0.19, tstop=0.25)
    >>> fit.success
    True
    >>> round(float(fit.amplitude), 2), round(float(fit.fwhm.to_value(u.min)))
    (0.05, 12)
    >>> bool(fit.delta_bic > 100)
    True
    >>> fit.equivalent_duration.unit
    Unit("s")
    """
    template = _choice(template)
    n_components = _integer(n_components, "n_components", 1)
    order = _integer(background_order, "background_order", 0)
    if not refine and n_components != 1:
        raise InputError(f"refine=False fits one component, not n_components={n_components}")
    frame, days = _time_frame(time)
    values = float_array(flux, "flux")
    unit = flux.unit if isinstance(flux, u.Quantity) else None
    if values.size != days.size:
        raise InputError(f"flux has {values.size} samples but time has {days.size}")
    sigma = _flux_errors(flux_err, values.size, unit)

    finite_t = np.isfinite(days)
    cadence = median_step(days)
    if not np.isfinite(cadence):
        raise InputError("time needs at least two distinct finite values to give a cadence")
    t_first, t_last = float(np.min(days[finite_t])), float(np.max(days[finite_t]))
    start = t_first if tstart is None else _scalar(frame.days(tstart, "tstart"), "tstart")
    stop = t_last if tstop is None else _scalar(frame.days(tstop, "tstop"), "tstop")
    if start > stop:
        raise InputError(f"tstart is {(start - stop) * 1440:.4g} min after tstop")
    if stop < t_first or start > t_last:
        raise InputError(
            "the candidate [tstart, tstop] lies outside the light curve "
            f"(it is {max(t_first - stop, start - t_last):.4g} d beyond its ends)"
        )
    exposure = cadence if exposure_time is None else _duration(exposure_time, "exposure_time")
    margin = (
        max(stop - start, _MIN_MARGIN_SAMPLES * cadence) if window is None
        else _duration(window, "window")
    )

    # The window's samples, sorted by time, relative to tstart and the window's median flux.
    idx = np.flatnonzero(finite_t & (days >= start - margin) & (days <= stop + margin))
    idx = idx[np.argsort(days[idx], kind="stable")]
    usable = np.isfinite(values[idx])
    if sigma is not None:
        usable &= np.isfinite(sigma[idx])
    idx = idx[usable]
    n_params = order + 1 + 3 * n_components
    if idx.size < n_params + 1:
        raise InputError(
            f"only {idx.size} finite samples in the fit window; a fit with {n_params} free "
            f"parameters ({n_components} flare component(s), background order {order}) needs "
            f"at least {n_params + 1} (widen the window or lower background_order)"
        )
    t = days[idx] - start
    level = float(np.median(values[idx]))
    if not level > 0:
        raise InputError(f"the median flux in the fit window is {level:g}; it must be positive")
    y = values[idx] / level
    duration = stop - start
    tol = 1e-3 * cadence
    candidate = (t >= -tol) & (t <= duration + tol)
    if not candidate.any():
        raise InputError("no finite sample between tstart and tstop")

    estimated = sigma is None
    if estimated:
        outside = y[~candidate] if np.count_nonzero(~candidate) >= 10 else y
        noise = point_to_point_noise(outside)
        if not noise > 0:
            raise InputError(
                "flux_err cannot be estimated: the point-to-point scatter outside the candidate "
                f"is {noise:g}; pass flux_err"
            )
        err = np.full(y.size, noise)
    else:
        err = sigma[idx] / level

    centre, scale = 0.5 * (t[0] + t[-1]), max(0.5 * (t[-1] - t[0]), cadence)
    design = np.vander((t - centre) / scale, order + 1, increasing=True)
    coef_bg = _weighted_lstsq(design, y, err)
    chi2_bg = float(np.sum(((y - design @ coef_bg) / err) ** 2))

    lo_t, hi_t = -cadence, duration + cadence
    fw_lo = 0.1 * max(cadence, exposure)
    fw_hi = max(t[-1] - t[0], 100 * fw_lo)
    first = None
    if tpeak is not None:
        first = _scalar(frame.days(tpeak, "tpeak"), "tpeak") - start
        if not lo_t <= first <= hi_t:
            raise InputError("tpeak lies outside the candidate [tstart, tstop]")

    fit_outside = np.count_nonzero(~candidate) >= 2 * (order + 1)
    coef = (
        _weighted_lstsq(design[~candidate], y[~candidate], err[~candidate]) if fit_outside
        else coef_bg
    )
    problem = _Problem(t, y, err, design, exposure, template)
    params = coef
    comps = np.zeros((0, 3))
    res = None
    try:
        for k in range(n_components if refine else 0):
            background, flare, _ = problem.evaluate(params)
            relative = y / (background * (1.0 + flare)) - 1.0
            guesses = [_guess(t, relative, candidate, cadence, exposure, float(np.median(err)),
                              first if k == 0 else None, (lo_t, hi_t), (fw_lo, fw_hi))]
            if k:
                guesses.append(_residual_guess(problem, background * (1.0 + flare), candidate,
                                               (lo_t, hi_t), (fw_lo, fw_hi)))
            free = np.full(order + 1, np.inf)
            lower = np.concatenate([-free, np.tile([lo_t, fw_lo, 0.0], k + 1)])
            upper = np.concatenate([free, np.tile([hi_t, fw_hi, np.inf], k + 1)])
            tries = [
                optimize.least_squares(
                    problem.residuals, np.concatenate([params[: order + 1], comps.ravel(), g]),
                    jac=problem.jacobian, bounds=(lower, upper), method="trf", x_scale="jac",
                    max_nfev=_MAX_NFEV,
                )
                for g in guesses
            ]
            res = min(tries, key=lambda r: (r.status <= 0, r.cost))
            params = res.x
            comps = params[order + 1:].reshape(-1, 3).copy()
    except (ValueError, np.linalg.LinAlgError) as err_fit:
        res = None
        message = f"the fit failed: {err_fit}"

    if not refine:
        params = _grid_fit(problem, coef, candidate, cadence, (lo_t, hi_t), (fw_lo, fw_hi), first)
    n = t.size
    dof = n - n_params
    if not refine:
        chi2 = float(np.sum(problem.residuals(params) ** 2))
        cov = _covariance(problem.jacobian(params))
        if estimated:
            cov *= chi2 / dof
        message, converged = "grid optimum (refine=False)", bool(params[-1] > 0)
    elif res is not None:
        chi2 = float(2.0 * res.cost)
        cov = _covariance(res.jac)
        if estimated:
            cov *= chi2 / dof
        message = res.message + _bound_notes(res.active_mask[order + 1:])
        converged = res.status > 0
    else:
        chi2, converged = np.nan, False
        params = np.concatenate([coef_bg, np.full(3 * n_components, np.nan)])
        cov = np.full((n_params, n_params), np.nan)
    errors = np.sqrt(np.diag(cov))
    success = bool(converged and np.all(np.isfinite(errors)))
    if converged and not success:
        message += "; the covariance is singular, uncertainties undefined"
    delta_bic = chi2_bg - chi2 - 3 * n_components * np.log(n)

    return _result(
        params, cov, order + 1, frame, start, template,
        chi2=chi2, dof=dof, chi2_background=chi2_bg, delta_bic=float(delta_bic),
        log_likelihood_ratio=0.5 * (chi2_bg - chi2), n_points=n,
        noise=float(np.median(err)) * u.dimensionless_unscaled,
        exposure_time=(exposure * u.day).to(u.min), success=success, message=message,
        _centre=centre, _scale=scale, _level=level, _unit=unit,
    )


def _result(params, cov, m, frame, origin, template, **stats) -> FlareFit:
    comps = params[m:].reshape(-1, 3)
    comp_err = np.sqrt(np.diag(cov)[m:]).reshape(-1, 3)
    ed_per = flare_equivalent_duration(1.0, 1.0, template=template).to_value(u.s)  # per day
    # ED = ed_per * amplitude * fwhm per component; its gradient over the parameters.
    grad = np.zeros((comps.shape[0], params.size))
    rows = np.arange(comps.shape[0])
    grad[rows, m + 3 * rows + 1] = ed_per * comps[:, 2]
    grad[rows, m + 3 * rows + 2] = ed_per * comps[:, 1]
    ed = ed_per * comps[:, 1] * comps[:, 2]
    ed_err = np.sqrt(np.einsum("ip,pq,iq->i", grad, cov, grad))
    total = grad.sum(axis=0)
    ed_total_err = float(np.sqrt(total @ cov @ total))

    order = np.argsort(comps[:, 0]) if np.all(np.isfinite(comps[:, 0])) else rows
    comps, comp_err, ed, ed_err = comps[order], comp_err[order], ed[order], ed_err[order]
    tpeak = frame.output(origin + comps[:, 0])
    components = {
        "tpeak": tpeak,
        "tpeak_err": comp_err[:, 0] * u.day,
        "amplitude": comps[:, 2] * u.dimensionless_unscaled,
        "amplitude_err": comp_err[:, 2] * u.dimensionless_unscaled,
        "fwhm": (comps[:, 1] * u.day).to(u.min),
        "fwhm_err": (comp_err[:, 1] * u.day).to(u.min),
        "equivalent_duration": ed * u.s,
        "equivalent_duration_err": ed_err * u.s,
    }
    main = int(np.argmax(comps[:, 2])) if np.any(np.isfinite(comps[:, 2])) else 0
    return FlareFit(
        tpeak=tpeak[main],
        tpeak_err=components["tpeak_err"][main],
        amplitude=components["amplitude"][main],
        amplitude_err=components["amplitude_err"][main],
        fwhm=components["fwhm"][main],
        fwhm_err=components["fwhm_err"][main],
        equivalent_duration=float(np.sum(ed)) * u.s,
        equivalent_duration_err=ed_total_err * u.s,
        components=components,
        template=template,
        _frame=frame,
        _origin=origin,
        _params=comps,
        _coef=params[:m],
        **stats,
    )


def _guess(t, relative, candidate, cadence, exposure, noise, at, t_bounds, fw_bounds):
    """Initial (tpeak, fwhm, amplitude): the highest candidate sample (or the one nearest
    ``at``) and the width of the run of samples above half of it."""
    if at is None:
        i = int(np.argmax(np.where(candidate, relative, -np.inf)))
    else:
        i = int(np.argmin(np.abs(t - at)))
    peak = relative[i]
    amplitude = max(peak, noise, 1e-6)
    above = relative > 0.5 * peak
    left, right = i, i
    while left > 0 and above[left - 1]:
        left -= 1
    while right < t.size - 1 and above[right + 1]:
        right += 1
    width = t[right] - t[left] + cadence
    fw_lo, fw_hi = fw_bounds
    fwhm = np.clip(np.sqrt(max(width**2 - exposure**2, 0.0)), 2 * fw_lo, 0.5 * fw_hi)
    span = t_bounds[1] - t_bounds[0]
    tpeak = np.clip(t[i] if at is None else at, t_bounds[0] + 1e-6 * span,
                    t_bounds[1] - 1e-6 * span)
    return np.array([tpeak, fwhm, amplitude])


def _residual_guess(problem: _Problem, model: np.ndarray, candidate: np.ndarray,
                    t_bounds: tuple, fw_bounds: tuple) -> np.ndarray:
    """(tpeak, fwhm, amplitude) of the one component that best explains what ``model``
    leaves: a matched filter over a grid of peak times (every candidate sample) and
    ``_GRID_FWHM`` widths, the amplitude solved linearly."""
    t, err = problem.t, problem.sigma
    tp = t[candidate]
    if tp.size > _GUESS_PEAKS:  # bounds the memory of a long candidate's grid
        tp = tp[np.linspace(0, tp.size - 1, _GUESS_PEAKS).round().astype(np.int64)]
    tp = np.clip(tp, *t_bounds)
    fw = _grid_widths(fw_bounds)
    h = _grid_shapes(t, tp, fw, problem.exposure, problem.template) * (model / err)
    gain, amp = _matched_gain(h, (problem.y - model) / err)
    i, j = np.unravel_index(int(np.argmax(gain)), gain.shape)
    return np.array([tp[i], fw[j], max(float(amp[i, j]), 1e-6)])


def _grid_widths(fw_bounds: tuple) -> np.ndarray:
    return np.geomspace(fw_bounds[0], max(0.5 * fw_bounds[1], 2 * fw_bounds[0]), _GRID_FWHM)


def _matched_gain(h: np.ndarray, rest: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Chi-square reduction and amplitude of each weighted template ``h[a, b]`` fitted
    linearly to the weighted residual ``rest`` (zero where the amplitude is not positive)."""
    norm = np.einsum("abi,abi->ab", h, h)
    dot = h @ rest
    with np.errstate(invalid="ignore", divide="ignore"):
        amp = np.where(norm > 0, dot / norm, 0.0)
    return np.where(amp > 0, amp * dot, 0.0), amp


def _grid_fit(problem: _Problem, coef: np.ndarray, candidate: np.ndarray, cadence: float,
              t_bounds: tuple, fw_bounds: tuple, at: float | None) -> np.ndarray:
    """Background and one component at the best point of a grid in (tpeak, fwhm).

    At fixed (tpeak, fwhm) the model is linear in the background coefficients and the
    amplitude once the flare's multiplier ``B(t)`` is held at the background ``coef`` gives
    (a second-order approximation); each grid point's chi-square reduction over the
    background alone then follows from projections.  The grid: peak times within half a
    cadence of the candidate's three highest local maxima (of ``at`` instead, if given),
    ``_GRID_FWHM`` widths spaced geometrically over the bounds; the optimum is refined by a
    parabola through its neighbours on each axis.
    """
    t, y, err, design = problem.t, problem.y, problem.sigma, problem.design
    background = design @ coef
    relative = np.where(candidate, y / background - 1.0, -np.inf)
    inner = relative[1:-1]
    local = np.flatnonzero((inner >= relative[:-2]) & (inner >= relative[2:])) + 1
    local = np.concatenate([local, [int(np.argmax(relative))]])
    local = local[np.isfinite(relative[local])]
    top = np.unique(local[np.argsort(relative[local])[::-1][:_GRID_PEAKS]])
    centres = t[top] if at is None else np.array([at])
    tp = np.unique(np.clip((centres[:, None] + _GRID_OFFSETS * cadence).ravel(), *t_bounds))
    fw = _grid_widths(fw_bounds)

    q, r = np.linalg.qr(design / err[:, None])
    yw = y / err
    rest = yw - q @ (q.T @ yw)

    def profile(tp_values, fw_values):
        shapes = _grid_shapes(t, tp_values, fw_values, problem.exposure, problem.template)
        h = shapes * (background / err)  # (n_tp, n_fw, n)
        h = h - np.einsum("ij,abj->abi", q, np.einsum("ij,abi->abj", q, h))
        return _matched_gain(h, rest)

    gain, _ = profile(tp, fw)
    i, j = np.unravel_index(int(np.argmax(gain)), gain.shape)
    best_tp, best_fw = tp[i], fw[j]
    if gain[i, j] > 0:
        best_tp = _parabola(tp, gain[:, j], i, best_tp)
        log_fw = _parabola(np.log(fw), gain[i, :], j, np.log(best_fw))
        best_fw = float(np.exp(log_fw))
    gain1, amp1 = profile(np.array([best_tp]), np.array([best_fw]))
    if not gain1[0, 0] >= gain[i, j]:
        best_tp, best_fw = tp[i], fw[j]
        gain1, amp1 = profile(np.array([best_tp]), np.array([best_fw]))
    amplitude = float(max(amp1[0, 0], 0.0))
    shape = _grid_shapes(t, np.array([best_tp]), np.array([best_fw]), problem.exposure,
                         problem.template)[0, 0]
    coef_fit = np.linalg.solve(r, q.T @ (yw - amplitude * shape * background / err))
    return np.concatenate([coef_fit, [best_tp, best_fw, amplitude]])


def _grid_shapes(t, tp, fw, exposure, template) -> np.ndarray:
    """Unit-amplitude components on ``t`` for every (tpeak, fwhm): shape (n_tp, n_fw, n).

    Interpolated in a table of the template's antiderivative (`_cumulative_table`), evaluated
    once per distinct exposure end (to 1e-9 d): with back-to-back exposures one end is the
    next sample's start.  Good to ~1e-4 of the peak: enough to choose a grid point, whose
    chi-square `fit_flare` then evaluates exactly.
    """
    geo = _geometry(template)
    xs, cs = _cumulative_table(template)
    scale = (geo.width / fw)[None, :, None]
    half = max(0.5 * exposure, 0.01 * float(fw.min()) / geo.width)
    ends, where = np.unique(np.round(np.concatenate([t - half, t + half]), 9),
                            return_inverse=True)
    x = (ends[None, None, :] - tp[:, None, None]) * scale + geo.x_peak
    c = np.interp(x, xs, cs)
    return (c[..., where[t.size:]] - c[..., where[: t.size]]) / (2 * half * scale * geo.peak)


@functools.cache
def _cumulative_table(template: str) -> tuple[np.ndarray, np.ndarray]:
    """The template's antiderivative from x = -5 to 400 (its tail below 1e-25 beyond)."""
    _, cumulative = _raw_functions(template)
    xs = np.concatenate([np.arange(-5.0, 20.0, 1e-3), np.arange(20.0, 400.0, 1e-2)])
    return xs, cumulative(xs)


def _parabola(x: np.ndarray, y: np.ndarray, i: int, default: float) -> float:
    """Vertex of the parabola through ``(x, y)`` at ``i - 1, i, i + 1`` (clipped to them)."""
    if not 0 < i < x.size - 1 or not np.all(np.isfinite(y[i - 1 : i + 2])):
        return default
    x0, x1, x2 = x[i - 1 : i + 2]
    y0, y1, y2 = y[i - 1 : i + 2]
    denom = (x0 - x1) * (x0 - x2) * (x1 - x2)
    a = (x2 * (y1 - y0) + x1 * (y0 - y2) + x0 * (y2 - y1)) / denom
    b = (x2**2 * (y0 - y1) + x1**2 * (y2 - y0) + x0**2 * (y1 - y2)) / denom
    if not a < 0:
        return default
    return float(np.clip(-b / (2 * a), x0, x2))


def _weighted_lstsq(design: np.ndarray, y: np.ndarray, err: np.ndarray) -> np.ndarray:
    return np.linalg.lstsq(design / err[:, None], y / err, rcond=None)[0]


def _covariance(jac: np.ndarray) -> np.ndarray:
    """``(J^T J)^-1`` by SVD; NaN where J is rank-deficient."""
    _, s, vt = np.linalg.svd(jac, full_matrices=False)
    if s.size == 0 or s[-1] <= np.finfo(float).eps * max(jac.shape) * s[0]:
        return np.full((jac.shape[1], jac.shape[1]), np.nan)
    return (vt.T / s**2) @ vt


def _bound_notes(active: np.ndarray) -> str:
    notes = [
        f"{_COMPONENT_FIELDS[i % 3]} of component {i // 3 + 1}"
        for i in np.flatnonzero(active)
    ]
    return f"; at a bound: {', '.join(notes)}" if notes else ""


def _time_frame(time: Any) -> tuple[_Frame, np.ndarray]:
    if isinstance(time, Time):
        jd1 = float_array(time.jd1, "time")
        jd2 = float_array(time.jd2, "time")
        finite = np.isfinite(jd1 + jd2)
        if not finite.any():
            raise InputError("time has no finite values")
        reference = time[int(np.argmax(finite))]
        return _Frame(reference), (jd1 - reference.jd1) + (jd2 - reference.jd2)
    days = float_array(time, "time", u.day)
    if not np.isfinite(days).any():
        raise InputError("time has no finite values")
    return _Frame(None), days


def _flux_errors(flux_err: Any, size: int, unit: Any) -> np.ndarray | None:
    if flux_err is None:
        return None
    err = float_array(flux_err, "flux_err", unit if isinstance(flux_err, u.Quantity) else None)
    if err.size == 1:
        err = np.full(size, err[0])
    elif err.size != size:
        raise InputError(f"flux_err has {err.size} values but flux has {size}")
    bad = np.count_nonzero(err[np.isfinite(err)] <= 0)
    if bad:
        raise InputError(f"flux_err must be positive; {bad} value(s) are zero or negative")
    return err


def _duration(value: Any, name: str) -> float:
    days = _scalar(float_array(value, name, u.day, one_dimensional=False), name)
    if not days >= 0:
        raise InputError(f"{name} must be non-negative, got {days:g} d")
    return days


def _scalar(days: np.ndarray, name: str) -> float:
    if np.ndim(days) != 0 and np.size(days) != 1:
        raise InputError(f"{name} must be a single value, got {np.size(days)}")
    value = float(np.ravel(days)[0])
    if not np.isfinite(value):
        raise InputError(f"{name} must be finite")
    return value


def _integer(value: Any, name: str, minimum: int) -> int:
    try:
        number = operator.index(value)
    except TypeError:
        raise InputError(f"{name} must be an integer, got {value!r}") from None
    if number < minimum:
        raise InputError(f"{name} must be at least {minimum}, got {number}")
    return number


def _choice(template: Any) -> str:
    if template not in FLARE_TEMPLATES:
        raise InputError(
            f"unknown flare template {template!r}; choose one of {', '.join(FLARE_TEMPLATES)}"
        )
    return template
