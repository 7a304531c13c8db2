r"""Flare energies from equivalent durations: instrument response functions and band
luminosities of Kepler, K2 and TESS.

**The approximation.** The star is a sphere of radius :math:`R` radiating as a blackbody of
its effective temperature :math:`T_\mathrm{eff}`. Its luminosity in the band of a mission is

.. math::

    L_\mathrm{band} = 4 \pi R^2 \; \pi \int B_\lambda(T_\mathrm{eff}) \, S(\lambda)\,
    \mathrm{d}\lambda ,

with :math:`B_\lambda` the Planck function (per unit wavelength and solid angle) and
:math:`S(\lambda)` the instrument response function **normalised to a peak of 1**, the usual
convention of flare papers (e.g. Shibayama et al. 2013; Davenport 2016; AltaiPony). With this
normalisation :math:`L_\mathrm{band}` is the luminosity "seen through" the band and is a
fraction of the bolometric :math:`4 \pi R^2 \sigma T_\mathrm{eff}^4` (0.39 for the Sun in
the Kepler band, 0.34 in the TESS band). The integral is a trapezoid on the wavelength grid
of the response function (1 nm for Kepler, 2 nm for TESS).

The response functions are those published by the missions and shipped as package data
under ``fcn4flare/data/response/`` (the source and citation are in each file's header):

- Kepler and K2: ``kepler_response_hires1.txt`` of the Kepler Guest Observer Office (Van
  Cleve & Caldwell 2016, Kepler Instrument Handbook, KSCI-19033), 348-970 nm;
- TESS: ``tess-response-function-v2.0.csv`` of the TESS Science Support Center (Vanderspek
  et al. 2018, TESS Instrument Handbook), non-zero from 534 to 1060 nm.

The flare energy is, by default, the equivalent duration (ED) times the band luminosity,
:math:`E = \mathrm{ED} \times L_\mathrm{band}`: over its ED the flare emits, in the band,
what the quiescent star emits there (the convention of AltaiPony and Davenport 2016, and of
`fcn4flare.catalog.flare_energy`). It is an energy *in the band*, not a bolometric one.

Optionally (``flare_temperature=``), the bolometric energy is estimated as in Shibayama et al.
(2013, ApJS 209, 5): the flare is a blackbody of temperature :math:`T_\mathrm{fl}`
(commonly 9000 K) and area :math:`A_\mathrm{fl}` seen face-on, so that its flux relative to
the star's, :math:`C'(t) = A_\mathrm{fl}(t) \int S B_\lambda(T_\mathrm{fl}) \mathrm{d}\lambda /
(\pi R^2 \int S B_\lambda(T_\mathrm{eff}) \mathrm{d}\lambda)`, and its luminosity is
:math:`L_\mathrm{fl} = \sigma T_\mathrm{fl}^4 A_\mathrm{fl}`. Integrated over time
(:math:`\mathrm{ED} = \int C' \mathrm{d}t`),

.. math::

    E_\mathrm{bol} = \mathrm{ED} \; \sigma T_\mathrm{fl}^4 \; \pi R^2 \;
    \frac{\int S B_\lambda(T_\mathrm{eff}) \mathrm{d}\lambda}
         {\int S B_\lambda(T_\mathrm{fl}) \mathrm{d}\lambda}
    = \mathrm{ED} \; L_\mathrm{band} \;
    \frac{\sigma T_\mathrm{fl}^4}{4 \pi \int S B_\lambda(T_\mathrm{fl}) \mathrm{d}\lambda},

which does not depend on the normalisation of :math:`S`. The factor 4 against the naive
"band energy divided by the flare's band fraction" comes from the geometry: a flat patch
seen face-on against a sphere.

Neglected: limb darkening of the star (and the position of the flare on the disc), spots and
faculae, the star's departure from a blackbody (molecular bands of M dwarfs make their real
band luminosity differ by tens of per cent), interstellar extinction, contamination of the
aperture by other stars, and the difference between the response per photon and per unit
energy (the published curves are used as given).

Uncertainties are propagated to first order and added in quadrature:
:math:`\sigma_E^2 = (L \, \sigma_\mathrm{ED})^2 + (\mathrm{ED} \, \sigma_L)^2` (times the
bolometric factor, taken as exact, when ``flare_temperature`` is given), with
:math:`\sigma_L^2 = (\partial L/\partial T \, \sigma_T)^2 + (2 L \, \sigma_R / R)^2` and
:math:`\partial L/\partial T` the analytic derivative of the band integral. The inputs'
errors are taken as independent.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from importlib import resources
from typing import Any

import astropy.constants as const
import astropy.units as u
import numpy as np

from ..exceptions import InputError
from .characterize import flare_energy

__all__ = [
    "MISSIONS",
    "DEFAULT_FLARE_TEMPERATURE",
    "mission_of",
    "response_function",
    "band_luminosity",
    "flare_energies",
]

#: The missions with a response function (K2 uses Kepler's).
MISSIONS = ("kepler", "k2", "tess")

#: Flare temperature of Shibayama et al. (2013), for ``flare_energies(flare_temperature=...)``.
DEFAULT_FLARE_TEMPERATURE = 9000.0 * u.K

_RESPONSE_FILES = {"kepler": "kepler.csv", "k2": "kepler.csv", "tess": "tess.csv"}

# Planck function in cgs units: B_lambda = _C1 / lambda^5 / (exp(_C2 / (lambda T)) - 1).
_C1 = 2.0 * const.h.cgs.value * const.c.cgs.value**2  # erg cm^2 / s
_C2 = const.h.cgs.value * const.c.cgs.value / const.k_B.cgs.value  # cm K
_SIGMA = const.sigma_sb.cgs.value  # erg / (cm^2 s K^4)
_R_SUN_CM = const.R_sun.cgs.value
_NM_TO_CM = 1e-7

_trapezoid = getattr(np, "trapezoid", None) or np.trapz  # noqa: NPY201 (numpy < 2.0)


def mission_of(lc: Any) -> str:
    """The mission of a light curve, from its ``MISSION`` or ``TELESCOP`` header entry.

    Parameters
    ----------
    lc : `lightkurve.LightCurve` or mapping
        A light curve (its ``meta`` is read) or a header-like mapping itself. Keys are
        matched regardless of case; ``MISSION`` is preferred to ``TELESCOP``.

    Returns
    -------
    mission : str
        One of `MISSIONS`, in lower case.

    Raises
    ------
    InputError
        If neither entry is there or it names no known mission.

    Examples
    --------
    >>> from fcn4flare.catalog import mission_of
    >>> mission_of({"TELESCOP": "TESS"})
    'tess'
    >>> mission_of({"MISSION": "K2", "TELESCOP": "Kepler"})
    'k2'
    """
    meta = lc if isinstance(lc, Mapping) else getattr(lc, "meta", None)
    if not isinstance(meta, Mapping):
        raise InputError(
            f"cannot read a mission from a {type(lc).__name__}: expected a light curve with "
            "a meta mapping (or the mapping itself); pass mission='kepler', 'k2' or 'tess'"
        )
    entries = {str(key).upper(): value for key, value in meta.items()}
    for key in ("MISSION", "TELESCOP"):
        value = entries.get(key)
        if value is not None and str(value).strip():
            return _mission_name(str(value), f"meta[{key!r}]")
    raise InputError(
        "the light curve's meta has no MISSION or TELESCOP entry; pass mission='kepler', "
        "'k2' or 'tess' explicitly"
    )


def response_function(mission: Any) -> tuple[u.Quantity, np.ndarray]:
    """The instrument response function of a mission, normalised to a peak of 1.

    Parameters
    ----------
    mission : str or `lightkurve.LightCurve`
        ``"kepler"``, ``"k2"`` or ``"tess"`` (any case; K2 uses Kepler's response), or a
        light curve whose mission `mission_of` reads.

    Returns
    -------
    wavelength : `~astropy.units.Quantity`
        Wavelength grid in nm, increasing.
    response : `~numpy.ndarray`
        Relative response on that grid, non-negative, with maximum 1.

    Raises
    ------
    InputError
        If the mission is unknown.

    Examples
    --------
    >>> from fcn4flare.catalog import response_function
    >>> wavelength, response = response_function("TESS")
    >>> print(wavelength.min(), wavelength.max(), response.max())
    532.0 nm 1062.0 nm 1.0
    >>> print(wavelength[response.argmax()])
    722.0 nm
    """
    wavelength_nm, response = _load_response(_mission(mission))
    return wavelength_nm.copy() * u.nm, response.copy()


def band_luminosity(teff: Any, radius: Any, mission: Any) -> u.Quantity:
    r"""Luminosity of a blackbody star in a mission's band.

    .. math::

        L_\mathrm{band} = 4 \pi R^2 \; \pi \int B_\lambda(T_\mathrm{eff}) \, S(\lambda)\,
        \mathrm{d}\lambda

    with :math:`S` the response function normalised to a peak of 1 (`response_function`),
    integrated by the trapezoid rule on its wavelength grid. See the module's notes for what
    the approximation neglects.

    Parameters
    ----------
    teff : `~astropy.units.Quantity` or array-like
        Effective temperature; plain numbers are kelvin. NaN propagates.
    radius : `~astropy.units.Quantity` or array-like
        Stellar radius; plain numbers are solar radii. NaN propagates.
    mission : str or `lightkurve.LightCurve`
        ``"kepler"``, ``"k2"`` or ``"tess"``, or a light curve (see `mission_of`).

    Returns
    -------
    luminosity : `~astropy.units.Quantity`
        Band luminosity in erg/s, of the broadcast shape of ``teff`` and ``radius``.

    Raises
    ------
    InputError
        On an unknown mission, wrong units, non-positive or infinite ``teff`` or ``radius``,
        or shapes that do not broadcast.

    Examples
    --------
    The Sun sees 39 % of its luminosity through the (peak-normalised) Kepler band:

    >>> import astropy.units as u
    >>> from fcn4flare.catalog import band_luminosity
    >>> sun = band_luminosity(5772 * u.K, 1 * u.R_sun, "kepler")
    >>> print(f"{sun:.3e}", f"{(sun / u.L_sun).to_value(u.one):.3f}")
    1.497e+33 erg / s 0.391
    >>> band_luminosity([3000, 5772], [0.3, 1.0], "tess")  # doctest: +FLOAT_CMP
    <Quantity [5.59001866e+30, 1.30159956e+33] erg / s>
    """
    name = _mission(mission)
    temperature = _positive(teff, u.K, "teff")
    radius_cm = _positive(radius, u.R_sun, "radius") * _R_SUN_CM
    temperature, radius_cm = _broadcast(temperature=temperature, radius=radius_cm)
    integral, _ = _band_integral(temperature, name)
    return _as_result(4.0 * np.pi**2 * radius_cm**2 * integral, u.erg / u.s)


def flare_energies(
    equivalent_duration: Any,
    *,
    luminosity: Any = None,
    teff: Any = None,
    radius: Any = None,
    mission: Any = None,
    teff_err: Any = None,
    radius_err: Any = None,
    luminosity_err: Any = None,
    equivalent_duration_err: Any = None,
    flare_temperature: Any = None,
) -> tuple[u.Quantity, u.Quantity]:
    r"""Flare energies and their uncertainties from equivalent durations.

    By default :math:`E = \mathrm{ED} \times L_\mathrm{band}`, the energy in the band (the
    convention of AltaiPony and Davenport 2016): give the band luminosity directly, or the
    star's ``teff``, ``radius`` and ``mission`` for `band_luminosity`. With
    ``flare_temperature`` the bolometric energy of a blackbody flare of that temperature is
    returned instead (Shibayama et al. 2013),

    .. math::

        E_\mathrm{bol} = \mathrm{ED} \; L_\mathrm{band} \;
        \frac{\sigma T_\mathrm{fl}^4}{4 \pi \int S B_\lambda(T_\mathrm{fl}) \mathrm{d}\lambda}
        = \mathrm{ED} \; \sigma T_\mathrm{fl}^4 \, \pi R^2 \,
        \frac{\int S B_\lambda(T_\mathrm{eff}) \mathrm{d}\lambda}
             {\int S B_\lambda(T_\mathrm{fl}) \mathrm{d}\lambda}

    which needs ``mission`` also when ``luminosity`` is given (then in the convention of
    `band_luminosity`, peak-normalised response).

    The uncertainty is the first-order propagation, in quadrature, of the independent errors
    of the equivalent duration and of the luminosity; the latter is ``luminosity_err`` or,
    from ``teff_err`` and ``radius_err``, :math:`\sigma_L^2 = (\partial L/\partial T\,
    \sigma_T)^2 + (2 L \sigma_R / R)^2` with the analytic temperature derivative of the band
    integral. Errors not given count as zero; ``flare_temperature`` is taken as exact.

    Parameters
    ----------
    equivalent_duration : `~astropy.units.Quantity` or array-like
        Equivalent durations; plain numbers are seconds.
    luminosity : `~astropy.units.Quantity` or array-like, optional
        Quiescent band luminosity (scalar or one per flare); plain numbers are erg/s. Give
        either this or ``teff`` and ``radius``.
    teff, radius : `~astropy.units.Quantity` or array-like, optional
        Effective temperature (plain numbers: K) and radius (plain numbers: solar radii) of
        the star, scalars or one per flare.
    mission : str or `lightkurve.LightCurve`, optional
        ``"kepler"``, ``"k2"`` or ``"tess"``, or a light curve (see `mission_of`). Needed
        with ``teff`` and ``radius`` and with ``flare_temperature``.
    teff_err, radius_err, luminosity_err, equivalent_duration_err : optional
        One-sigma errors of the inputs, in the same units (and defaults) as the values.
    flare_temperature : `~astropy.units.Quantity` or float, optional
        Blackbody temperature of the flare (plain numbers: K), e.g.
        ``DEFAULT_FLARE_TEMPERATURE`` (9000 K); if given, the energies are bolometric.

    Returns
    -------
    energy, energy_err : `~astropy.units.Quantity`
        Energies and their one-sigma errors in erg, of the broadcast shape of the inputs.

    Raises
    ------
    InputError
        If neither ``luminosity`` nor all of ``teff``, ``radius`` and ``mission`` are given,
        or both; on an unknown mission, wrong units, non-positive ``teff``, ``radius``,
        ``luminosity`` or ``flare_temperature``, negative errors, errors without their value,
        or shapes that do not broadcast.

    Examples
    --------
    >>> import astropy.units as u
    >>> from fcn4flare.catalog import flare_energies
    >>> energy, error = flare_energies([100.0, 1000.0] * u.s, luminosity=1e30 * u.erg / u.s,
    ...                                equivalent_duration_err=10 * u.s,
    ...                                luminosity_err=1e29 * u.erg / u.s)
    >>> energy  # doctest: +FLOAT_CMP
    <Quantity [1.e+32, 1.e+33] erg>
    >>> error  # doctest: +FLOAT_CMP
    <Quantity [1.41421356e+31, 1.00498756e+32] erg>

    An M dwarf seen by TESS, in the band and bolometric for a 9000 K flare:

    >>> energy, error = flare_energies(100 * u.s, teff=3000 * u.K, radius=0.3 * u.R_sun,
    ...                                mission="tess", teff_err=50 * u.K)
    >>> print(f"{energy:.3e} +- {error:.1e}")
    5.590e+32 erg +- 5.7e+31 erg
    >>> bolometric, _ = flare_energies(100 * u.s, teff=3000 * u.K, radius=0.3 * u.R_sun,
    ...                                mission="tess", flare_temperature=9000 * u.K)
    >>> print(f"{bolometric:.3e}")
    6.575e+32 erg
    """
    seconds = _values(equivalent_duration, u.s, "equivalent_duration")
    seconds_err = _error(equivalent_duration_err, u.s, "equivalent_duration_err")
    name = None if mission is None else _mission(mission)

    if luminosity is not None:
        if teff is not None or radius is not None:
            raise InputError(
                "give either luminosity or teff and radius (with mission), not both"
            )
        if teff_err is not None or radius_err is not None:
            raise InputError(
                "teff_err and radius_err need teff and radius; with luminosity give "
                "luminosity_err"
            )
        band = _positive(luminosity, u.erg / u.s, "luminosity")
        band_err = _error(luminosity_err, u.erg / u.s, "luminosity_err")
    else:
        missing = [key for key, value in
                   (("teff", teff), ("radius", radius), ("mission", mission)) if value is None]
        if missing:
            raise InputError(
                "flare_energies needs either luminosity, or teff, radius and mission "
                f"(missing: {', '.join(missing)})"
            )
        if luminosity_err is not None:
            raise InputError("luminosity_err needs luminosity; with teff and radius give "
                             "teff_err and radius_err")
        band, band_err = _luminosity_and_error(teff, radius, name, teff_err, radius_err)

    if flare_temperature is None:
        factor = 1.0
    else:
        if name is None:
            raise InputError("flare_temperature needs mission, for the response function")
        flare_t = _positive(flare_temperature, u.K, "flare_temperature")
        if flare_t.ndim:
            raise InputError("flare_temperature must be a single temperature")
        integral, _ = _band_integral(flare_t, name)
        factor = float(_SIGMA * flare_t**4 / (4.0 * np.pi * integral))

    seconds, seconds_err, band, band_err = _broadcast(
        equivalent_duration=seconds, equivalent_duration_err=seconds_err,
        luminosity=band, luminosity_err=band_err)
    energy = flare_energy(seconds * u.s, factor * band * (u.erg / u.s))
    energy_err = factor * np.hypot(band * seconds_err, seconds * band_err)
    return _as_result(energy.to_value(u.erg), u.erg), _as_result(energy_err, u.erg)


# -- internals ---------------------------------------------------------------------------------

@functools.cache
def _load_response(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Wavelength (nm) and peak-normalised response read from the package data (cached)."""
    text = (resources.files("fcn4flare") / "data" / "response" / _RESPONSE_FILES[name]).read_text()
    rows = [line.split(",") for line in text.splitlines()
            if line.strip() and not line.startswith("#") and line[0].isdigit()]
    table = np.array(rows, dtype=float)
    wavelength, response = table[:, 0], table[:, 1]
    response = response / response.max()
    wavelength.setflags(write=False)
    response.setflags(write=False)
    return wavelength, response


def _mission_name(value: str, source: str) -> str:
    name = value.strip().lower()
    if name not in MISSIONS:
        raise InputError(
            f"unknown mission {value!r} ({source}); valid missions: "
            + ", ".join(repr(m) for m in MISSIONS)
        )
    return name


def _mission(mission: Any) -> str:
    if isinstance(mission, str):
        return _mission_name(mission, "mission")
    if mission is None:
        raise InputError("mission is required: one of " + ", ".join(repr(m) for m in MISSIONS))
    return mission_of(mission)


def _band_integral(temperature: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """``∫ S B_λ(T) dλ`` and its derivative in ``T`` (cgs: erg/s/cm²/sr and per K)."""
    wavelength_nm, response = _load_response(name)
    lam = wavelength_nm * _NM_TO_CM
    t = np.asarray(temperature, dtype=float)[..., np.newaxis]
    x = _C2 / (lam * t)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        planck = _C1 / lam**5 / np.expm1(x)  # exp overflow (very low T) gives 0, not NaN
        # dB/dT = B x e^x / (e^x - 1) / T, written with e^-x so that large x stays finite
        dplanck = planck * x / (-np.expm1(-x)) / t
    integral = _trapezoid(planck * response, lam, axis=-1)
    derivative = _trapezoid(dplanck * response, lam, axis=-1)
    return integral, derivative


def _luminosity_and_error(teff: Any, radius: Any, name: str, teff_err: Any,
                          radius_err: Any) -> tuple[np.ndarray, np.ndarray]:
    temperature = _positive(teff, u.K, "teff")
    radius_rsun = _positive(radius, u.R_sun, "radius")
    t_err = _error(teff_err, u.K, "teff_err")
    r_err = _error(radius_err, u.R_sun, "radius_err")
    temperature, radius_rsun, t_err, r_err = _broadcast(
        teff=temperature, radius=radius_rsun, teff_err=t_err, radius_err=r_err)
    integral, derivative = _band_integral(temperature, name)
    area = 4.0 * np.pi**2 * (radius_rsun * _R_SUN_CM) ** 2
    band = area * integral
    band_err = np.hypot(area * derivative * t_err, 2.0 * band * r_err / radius_rsun)
    return band, band_err


def _values(values: Any, unit: u.UnitBase, name: str) -> np.ndarray:
    """``values`` as floats in ``unit`` (plain numbers are taken to be in ``unit``)."""
    if isinstance(values, u.Quantity):
        try:
            array = values.to_value(unit)
        except u.UnitConversionError as err:
            raise InputError(
                f"{name} must be convertible to {unit.to_string()}, got unit "
                f"{values.unit.to_string() or 'dimensionless'}"
            ) from err
    else:
        array = values
    try:
        return np.array(array, dtype=float)
    except (TypeError, ValueError) as err:
        raise InputError(f"{name} must be numeric, got {type(values).__name__}") from err


def _positive(values: Any, unit: u.UnitBase, name: str) -> np.ndarray:
    array = _values(values, unit, name)
    bad = ~np.isnan(array) & ~((array > 0) & np.isfinite(array))
    if np.any(bad):
        raise InputError(f"{name} must be positive and finite, got {array[bad].flat[0]!r}"
                         + (f" {unit.to_string()}" if unit is not u.one else ""))
    return array


def _error(values: Any, unit: u.UnitBase, name: str) -> np.ndarray:
    if values is None:
        return np.zeros(())
    array = _values(values, unit, name)
    if np.any(array < 0) or np.any(np.isinf(array)):
        raise InputError(f"{name} must be non-negative and finite")
    return array


def _broadcast(**arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    try:
        return tuple(np.broadcast_arrays(*arrays.values()))
    except ValueError as err:
        shapes = ", ".join(f"{key} {np.shape(value)}" for key, value in arrays.items())
        raise InputError(f"input shapes do not broadcast: {shapes}") from err


def _as_result(values: np.ndarray, unit: u.UnitBase) -> u.Quantity:
    array = np.asarray(values, dtype=float)
    return (array[()] if array.ndim == 0 else array.copy()) * unit
