"""Analytic white-light flare templates, with exact integration over an exposure.

Two published single-peak templates are provided:

* ``"mendoza2022"`` (default): Tovar Mendoza et al. (2022, AJ 164, 17), "Llamaradas Estelares",
  the convolution of a Gaussian with a double exponential, fitted to GJ 1243 Kepler short-cadence
  flares.  Coefficients from the authors' code
  (https://github.com/lupitatovar/Llamaradas-Estelares, ``Flare_model.py``):
  A = 0.9687734504375167, B = -0.251299705922117, C = 0.22675974948468916,
  D1 = 0.15551880775110513, D2 = 1.2150539528490194, f1 = 0.12695865022878844, f2 = 1 - f1.
* ``"davenport2014"``: Davenport et al. (2014, ApJ 797, 122), eqs. 1 and 4: a quartic rise for
  -1 <= x <= 0 and a double-exponential decay for x > 0.

Both are published as functions of ``x = (t - tpeak) / t_half``.  Their maxima are not exactly 1
and their measured full widths at half maximum are not exactly ``t_half`` (Mendoza: peak 0.9502,
FWHM 1.0866 t_half; Davenport: peak 1, FWHM 0.9130 t_half), so `flare_model` re-parameterises them:
its ``amplitude`` is the exact maximum of the flare, reached at ``tpeak``, and its ``fwhm`` is the
exact full width at half maximum.  The raw published shapes are available as
`mendoza2022_template` and `davenport2014_template`.

Exposure integration uses the analytic antiderivative of each template, so a long cadence
(e.g. Kepler's 29.4 min) averages the flare exactly over each exposure: the peak drops, the flare
broadens, and the time integral (equivalent duration) is conserved.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
from astropy import units as u
from astropy.time import Time
from scipy import optimize, special

from ..exceptions import InputError

__all__ = [
    "FLARE_TEMPLATES",
    "mendoza2022_template",
    "davenport2014_template",
    "flare_model",
    "flare_equivalent_duration",
    "component_flux",
]

FLARE_TEMPLATES = ("mendoza2022", "davenport2014")

# Tovar Mendoza et al. (2022), Flare_model.py of Llamaradas-Estelares (MCMC, 256 walkers).
_MENDOZA_A = 0.9687734504375167
_MENDOZA_B = -0.251299705922117
_MENDOZA_C = 0.22675974948468916
_MENDOZA_D = (0.15551880775110513, 1.2150539528490194)
_MENDOZA_F1 = 0.12695865022878844
_MENDOZA_F = (_MENDOZA_F1, 1.0 - _MENDOZA_F1)

# Davenport et al. (2014), eq. 1 (rise polynomial, ascending powers of x) and eq. 4 (decay).
_DAVENPORT_RISE = (1.0, 1.941, -0.175, -2.246, -1.125)
_DAVENPORT_DECAY_AMP = (0.6890, 0.3030)
_DAVENPORT_DECAY_RATE = (1.600, 0.2783)


@dataclass(frozen=True)
class _EMGShape:
    """A Gaussian (centre ``b``, width ``c``) convolved with a sum of one-sided exponentials.

    ``amp * exp(b**2/c**2)`` is the Gaussian height in the parameterisation of Mendoza et al.,
    ``rates`` the decay rates and ``weights`` their fractions.
    """

    amp: float
    b: float
    c: float
    rates: tuple[float, ...]
    weights: tuple[float, ...]

    def value(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        total = np.zeros_like(x)
        scale = 0.5 * np.sqrt(np.pi) * self.amp * self.c
        for rate, weight in zip(self.rates, self.weights, strict=True):
            total += weight * scale * _exp_gauss_term(x, self.b, self.c, rate)
        return total

    def cumulative(self, x: np.ndarray) -> np.ndarray:
        """Integral of `value` from minus infinity to ``x``."""
        x = np.asarray(x, dtype=float)
        scale = 0.5 * np.sqrt(np.pi) * self.amp * self.c
        gauss_cdf = (
            0.5 * np.sqrt(np.pi) * self.c * np.exp((self.b / self.c) ** 2)
            * special.erfc((self.b - x) / self.c)
        )
        total = np.zeros_like(x)
        for rate, weight in zip(self.rates, self.weights, strict=True):
            term = scale * _exp_gauss_term(x, self.b, self.c, rate)
            total += weight * (self.amp * gauss_cdf - term) / rate
        return total


def _exp_gauss_term(x: np.ndarray, b: float, c: float, rate: float) -> np.ndarray:
    """``exp(-rate*x + (b/c + rate*c/2)**2) * erfc((b - x)/c + rate*c/2)``, without overflow.

    Where the erfc argument ``z`` is positive the product is rewritten with the scaled
    complementary error function ``erfcx(z) = exp(z**2) erfc(z)``.
    """
    z = (b - x) / c + rate * c / 2.0
    out = np.empty_like(x)
    pos = z >= 0
    out[pos] = np.exp((b / c) ** 2 - ((b - x[pos]) / c) ** 2) * special.erfcx(z[pos])
    neg = ~pos
    out[neg] = np.exp(-rate * x[neg] + (b / c + rate * c / 2.0) ** 2) * special.erfc(z[neg])
    return out


_MENDOZA_SHAPE = _EMGShape(_MENDOZA_A, _MENDOZA_B, _MENDOZA_C, _MENDOZA_D, _MENDOZA_F)


def mendoza2022_template(x: np.ndarray) -> np.ndarray:
    """The published Tovar Mendoza et al. (2022) flare shape, in its own units.

    Parameters
    ----------
    x : array-like
        Time from the nominal peak in units of the template's ``t_1/2``,
        ``x = (t - tpeak) / t_half``.

    Returns
    -------
    numpy.ndarray
        Relative flux for unit amplitude, exactly as in ``flare_eqn`` of the authors'
        ``Flare_model.py`` but evaluated without overflow.  Its maximum is 0.9502 at
        x = -0.0026 and its FWHM is 1.0866 in units of x; use `flare_model` for a flare whose
        amplitude and FWHM are exact.

    Examples
    --------
    >>> from fcn4flare.simulate import mendoza2022_template
    >>> mendoza2022_template([0.0, 1.0, 5.0])  # doctest: +FLOAT_CMP
    array([0.95012374, 0.39765798, 0.07662545])
    """
    return _MENDOZA_SHAPE.value(np.atleast_1d(np.asarray(x, dtype=float)))


def _davenport_value(x: np.ndarray) -> np.ndarray:
    out = np.zeros_like(x)
    rise = (x >= -1.0) & (x <= 0.0)
    out[rise] = np.polynomial.polynomial.polyval(x[rise], _DAVENPORT_RISE)
    decay = x > 0.0
    for amp, rate in zip(_DAVENPORT_DECAY_AMP, _DAVENPORT_DECAY_RATE, strict=True):
        out[decay] += amp * np.exp(-rate * x[decay])
    return out


_DAVENPORT_RISE_INTEGRAL = np.polynomial.polynomial.polyint(_DAVENPORT_RISE)


def _davenport_cumulative(x: np.ndarray) -> np.ndarray:
    start = np.polynomial.polynomial.polyval(-1.0, _DAVENPORT_RISE_INTEGRAL)
    xr = np.clip(x, -1.0, 0.0)
    out = np.polynomial.polynomial.polyval(xr, _DAVENPORT_RISE_INTEGRAL) - start
    xd = np.clip(x, 0.0, None)
    for amp, rate in zip(_DAVENPORT_DECAY_AMP, _DAVENPORT_DECAY_RATE, strict=True):
        out += amp / rate * -np.expm1(-rate * xd)
    return out


def davenport2014_template(x: np.ndarray) -> np.ndarray:
    """The published Davenport et al. (2014) flare shape, in its own units.

    Parameters
    ----------
    x : array-like
        Time from the peak in units of the template's ``t_1/2``, ``x = (t - tpeak) / t_half``.

    Returns
    -------
    numpy.ndarray
        Relative flux for unit amplitude (eqs. 1 and 4 of the paper): 1 at x = 0, zero before
        x = -1.  Its FWHM is 0.9130 in units of x; use `flare_model` for an exact FWHM.

    Examples
    --------
    >>> from fcn4flare.simulate import davenport2014_template
    >>> davenport2014_template([-2.0, -0.5, 0.0, 1.0])  # doctest: +FLOAT_CMP
    array([0.        , 0.1961875 , 1.        , 0.36849881])
    """
    return _davenport_value(np.atleast_1d(np.asarray(x, dtype=float)))


@dataclass(frozen=True)
class _Geometry:
    """Where a raw template peaks, how high, and how wide it is at half maximum (in x)."""

    x_peak: float
    peak: float
    width: float
    integral: float


def _measure(value, x_lo: float, x_hi: float, integral: float) -> _Geometry:
    grid = np.linspace(x_lo, x_hi, 20001)
    i = int(np.argmax(value(grid)))
    res = optimize.minimize_scalar(
        lambda s: -value(np.array([s]))[0],
        bounds=(grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]),
        method="bounded",
        options={"xatol": 1e-12},
    )
    x_peak = float(res.x) if -res.fun >= value(grid[i : i + 1])[0] else float(grid[i])
    peak = float(value(np.array([x_peak]))[0])

    def half(s: float) -> float:
        return value(np.array([s]))[0] - 0.5 * peak

    left = optimize.brentq(half, x_lo, x_peak, xtol=1e-13)
    right = optimize.brentq(half, x_peak, x_hi, xtol=1e-13)
    return _Geometry(x_peak, peak, right - left, integral)


@cache
def _geometry(template: str) -> _Geometry:
    if template == "mendoza2022":
        shape = _MENDOZA_SHAPE
        total = shape.amp * np.sqrt(np.pi) * shape.c * np.exp((shape.b / shape.c) ** 2) * sum(
            w / r for w, r in zip(shape.weights, shape.rates, strict=True)
        )
        return _measure(shape.value, -3.0, 10.0, float(total))
    total = float(_davenport_cumulative(np.array([np.inf]))[0])
    # The published rise (x <= 0) reaches exactly 1 at x = 0; the decay starts at 0.992.
    geo = _measure(_davenport_value, -1.0, 10.0, total)
    return _Geometry(0.0, 1.0, geo.width, total)


def _raw_functions(template: str):
    if template == "mendoza2022":
        return _MENDOZA_SHAPE.value, _MENDOZA_SHAPE.cumulative
    return _davenport_value, _davenport_cumulative


def _check_template(template: str) -> str:
    if template not in FLARE_TEMPLATES:
        raise InputError(
            f"unknown flare template {template!r}; choose one of {', '.join(FLARE_TEMPLATES)}"
        )
    return template


def _component_flux(
    time: np.ndarray,
    tpeak: float,
    fwhm: float,
    amplitude: float,
    exposure: float,
    template: str,
) -> np.ndarray:
    """One flare on plain float arrays (days); ``exposure`` 0 means instantaneous sampling."""
    geo = _geometry(template)
    value, cumulative = _raw_functions(template)
    scale = geo.width / fwhm  # x units per day
    x = (time - tpeak) * scale + geo.x_peak
    norm = amplitude / geo.peak
    half = 0.5 * exposure * scale
    if half < 1e-7:
        return norm * value(x)
    return norm * (cumulative(x + half) - cumulative(x - half)) / (2.0 * half)


def component_flux(
    time: np.ndarray,
    tpeak: float,
    fwhm: float,
    amplitude: float,
    exposure: float = 0.0,
    template: str = "mendoza2022",
) -> np.ndarray:
    """One flare component on plain float arrays, for fitting code that calls it many times.

    The unit-free core of `flare_model`: no unit conversion and no checks on the numbers.

    Parameters
    ----------
    time : numpy.ndarray
        Sample times in days.
    tpeak : float
        Time of the maximum of the instantaneous flare, in days.
    fwhm : float
        Full width at half maximum of the instantaneous flare, in days (positive).
    amplitude : float
        Peak relative flux of the instantaneous flare.
    exposure : float
        Exposure in days over which each sample averages the flare (exactly); 0 samples it
        instantaneously.
    template : {"mendoza2022", "davenport2014"}
        Flare shape.

    Returns
    -------
    numpy.ndarray
        Relative flux at ``time``.

    Examples
    --------
    >>> import numpy as np
    >>> from fcn4flare.simulate import component_flux
    >>> component_flux(np.array([0.0, 0.01]), 0.0, 0.01, 0.5)  # doctest: +FLOAT_CMP
    array([0.5       , 0.19508949])
    """
    return _component_flux(time, tpeak, fwhm, amplitude, exposure, _check_template(template))


def _to_days(value, name: str, *, reference: Time | None = None) -> np.ndarray:
    """Convert a Time, Quantity or plain number (days) to a float array of days."""
    if isinstance(value, Time):
        if reference is None:
            return np.asarray(value.jd, dtype=float)
        return np.asarray((value - reference).to_value(u.day), dtype=float)
    if isinstance(value, u.Quantity):
        try:
            return np.asarray(value.to_value(u.day), dtype=float)
        except u.UnitConversionError as err:
            raise InputError(f"{name} must be a time quantity, got unit {value.unit}") from err
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError) as err:
        raise InputError(f"{name} must be numeric, a Quantity or a Time, got {value!r}") from err


def flare_model(
    time,
    tpeak,
    fwhm,
    amplitude,
    *,
    template: str = "mendoza2022",
    exposure_time=None,
) -> np.ndarray:
    """Relative flux of one flare, or the sum of several (a complex flare).

    Parameters
    ----------
    time : array-like, `~astropy.time.Time` or `~astropy.units.Quantity`
        Sample times.  Plain numbers are days.
    tpeak : float, array-like, `~astropy.time.Time` or `~astropy.units.Quantity`
        Time of the flare maximum (same kind as ``time``).  Give a sequence, together with
        sequences (or scalars) of ``fwhm`` and ``amplitude``, for a multi-peak flare: the
        components are added.
    fwhm : float, array-like or `~astropy.units.Quantity`
        Full width at half maximum of the (instantaneous) flare; plain numbers are days.
    amplitude : float or array-like
        Peak flux of the instantaneous flare relative to the quiescent star.
    template : {"mendoza2022", "davenport2014"}
        Published flare shape; see the module documentation.
    exposure_time : float or `~astropy.units.Quantity`, optional
        If given, every sample is the mean of the flare over an exposure of this length centred
        on the sample time (exact, from the template's analytic integral).  Use the cadence of
        the data.  Plain numbers are days.  ``None`` samples the flare instantaneously.

    Returns
    -------
    numpy.ndarray
        Flare flux relative to the quiescent star, same length as ``time``.

    Examples
    --------
    A 10-minute flare of amplitude 0.5 sampled every minute, and the same flare seen through
    30-minute exposures: the peak is lower, the time integral is unchanged.

    >>> import numpy as np
    >>> import astropy.units as u
    >>> from fcn4flare.simulate import flare_model
    >>> t = np.arange(-0.1, 0.5, 1 / 1440)
    >>> fine = flare_model(t, 0.0, 10 * u.min, 0.5)
    >>> float(fine.max())  # doctest: +FLOAT_CMP
    0.5
    >>> tl = np.arange(-0.1, 0.5, 30 / 1440)
    >>> coarse = flare_model(tl, 0.0, 10 * u.min, 0.5, exposure_time=30 * u.min)
    >>> bool(coarse.max() < 0.5)
    True
    >>> round(float(coarse.sum() * 30 / fine.sum()), 2)
    1.0
    """
    template = _check_template(template)
    reference = time[0] if isinstance(time, Time) and time.size else None
    t = np.atleast_1d(_to_days(time, "time", reference=reference))
    peaks = _to_days(tpeak, "tpeak", reference=reference)
    widths = _to_days(fwhm, "fwhm")
    amps = np.asarray(amplitude, dtype=float)
    exposure = 0.0 if exposure_time is None else float(_to_days(exposure_time, "exposure_time"))
    try:
        peaks, widths, amps = np.broadcast_arrays(peaks, widths, amps)
    except ValueError as err:
        raise InputError("tpeak, fwhm and amplitude must have matching lengths") from err
    if np.any(~np.isfinite(widths)) or np.any(widths <= 0):
        raise InputError("fwhm must be positive and finite")
    if exposure < 0 or not np.isfinite(exposure):
        raise InputError("exposure_time must be non-negative and finite")
    flux = np.zeros(t.shape, dtype=float)
    for tp, fw, amp in zip(peaks.ravel(), widths.ravel(), amps.ravel(), strict=True):
        flux += _component_flux(t, float(tp), float(fw), float(amp), exposure, template)
    return flux


def flare_equivalent_duration(fwhm, amplitude, *, template: str = "mendoza2022") -> u.Quantity:
    """Equivalent duration (time integral of the relative flux) of a flare.

    Parameters
    ----------
    fwhm : float, array-like or `~astropy.units.Quantity`
        Full width at half maximum, as in `flare_model`; plain numbers are days.
    amplitude : float or array-like
        Peak relative flux, as in `flare_model`.
    template : {"mendoza2022", "davenport2014"}
        Flare shape.

    Returns
    -------
    `~astropy.units.Quantity`
        Equivalent duration in seconds (exposure integration does not change it).

    Examples
    --------
    >>> import astropy.units as u
    >>> from fcn4flare.simulate import flare_equivalent_duration
    >>> flare_equivalent_duration(10 * u.min, 0.5)  # doctest: +FLOAT_CMP
    <Quantity 592.99445108 s>
    """
    template = _check_template(template)
    geo = _geometry(template)
    width_days = _to_days(fwhm, "fwhm")
    ed = np.asarray(amplitude, dtype=float) * width_days * geo.integral / geo.peak / geo.width
    return (ed * u.day).to(u.s)
