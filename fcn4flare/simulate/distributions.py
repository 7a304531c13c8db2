"""Cadence families and flare-parameter distributions fitted to published catalogues.

Every number marked "fitted" below is printed by ``benchmarks/fit_flare_distributions.py``
from the catalogues in ``shared/data/catalogs`` (see that script for the method):

* Kepler short cadence: ``gj1243_master_flares.tbl`` (Davenport et al. 2014), 4,390 classical
  flares of GJ 1243 inverted to the intrinsic FWHM and amplitude of a Tovar Mendoza (2022)
  flare integrated over the 58.8-s exposure.
* TESS: ``gunther2020_tess_flares.txt`` (Guenther et al. 2020), 8,695 flares from 2-min data;
  their Davenport ``t_1/2`` converted to a true FWHM (x 0.913).  The other TESS cadences
  (20 s, 200 s and 10/30-min full-frame images) have no catalogue here and use the same
  intrinsic distributions: exposure integration makes them look different.
* Kepler long cadence: ``fcn4flare_kepler_flare_param.txt`` with the stellar radii and
  temperatures of ``fcn4flare_kepler_flare_star_param.txt`` (Jia et al. 2024), energies turned
  into equivalent durations, durations read as the bright core of each event (samples above a
  quarter of the integrated peak; reading them as back-to-quiescence labels gives 2.6-min,
  20 %-amplitude flares, implausible for these mostly solar-type stars).

Power-law indices are differential (``dN/dA ~ A**-alpha``) and were fitted by maximum
likelihood above the lower cut that minimises the Kolmogorov-Smirnov distance (Clauset et al.
2009).  Log-normal widths are standard deviations of ``log10``.

For training, :func:`draw_flare_parameters` deliberately widens these catalogue distributions
(a single star's catalogue is narrower than the flares in a survey): half the FWHMs come from a
log-uniform distribution from 30 s to 8 h, independent of the amplitude, and with a noise level
the amplitudes span from below the noise to several times the stellar flux, with extra weight
on moderate flares of 3 to 30 times the noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..exceptions import InputError

__all__ = [
    "CADENCES",
    "CadenceFamily",
    "CADENCE_FAMILIES",
    "cadence_family",
    "draw_cadence",
    "draw_flare_parameters",
]


@dataclass(frozen=True)
class CadenceFamily:
    """Observing mode and the flare distributions fitted for it.

    Attributes
    ----------
    name : str
        Key in `CADENCES`.
    cadence_minutes : float
        Sampling interval.
    exposure_fraction : float
        Fraction of the cadence during which photons are collected (Kepler: 6.02-s frames,
        0.52-s readout; TESS: 2-s frames, 0.02-s transfer; TESS 2-min and FFI data lose 20 %
        to onboard cosmic-ray mitigation).
    fwhm_median_minutes, fwhm_sigma_dex : float
        Fitted log-normal FWHM distribution.
    amplitude_median, amplitude_sigma_dex : float
        Fitted log-normal amplitude (peak relative flux) distribution.
    amplitude_alpha, amplitude_xmin : float
        Fitted differential power-law index of the amplitudes above ``amplitude_xmin``.
    source : str
        Catalogue the numbers come from.

    Examples
    --------
    >>> from fcn4flare.simulate import CADENCE_FAMILIES
    >>> fam = CADENCE_FAMILIES["tess_2min"]
    >>> fam.cadence_minutes, fam.fwhm_median_minutes, fam.amplitude_alpha
    (2.0, 6.06, 2.1)
    """

    name: str
    cadence_minutes: float
    exposure_fraction: float
    fwhm_median_minutes: float
    fwhm_sigma_dex: float
    amplitude_median: float
    amplitude_sigma_dex: float
    amplitude_alpha: float
    amplitude_xmin: float
    source: str


# Fitted (benchmarks/fit_flare_distributions.py).
_GJ1243 = dict(
    fwhm_median_minutes=1.81, fwhm_sigma_dex=0.53,
    amplitude_median=3.7e-3, amplitude_sigma_dex=0.36,
    amplitude_alpha=2.25, amplitude_xmin=3.8e-3,
    source="gj1243_master_flares.tbl (Davenport et al. 2014), Kepler short cadence",
)
_GUNTHER2020 = dict(
    fwhm_median_minutes=6.06, fwhm_sigma_dex=0.43,
    amplitude_median=3.2e-2, amplitude_sigma_dex=0.60,
    amplitude_alpha=2.10, amplitude_xmin=0.112,
    source="gunther2020_tess_flares.txt (Guenther et al. 2020), TESS 2-min",
)
_FCN4FLARE_KEPLER = dict(
    fwhm_median_minutes=53.3, fwhm_sigma_dex=0.21,
    amplitude_median=1.16e-2, amplitude_sigma_dex=0.53,
    amplitude_alpha=2.37, amplitude_xmin=3.2e-2,
    source="fcn4flare_kepler_flare_param.txt (Jia et al. 2024), Kepler long cadence",
)

CADENCE_FAMILIES: dict[str, CadenceFamily] = {
    "kepler_long": CadenceFamily("kepler_long", 29.4244, 0.9206, **_FCN4FLARE_KEPLER),
    "kepler_short": CadenceFamily("kepler_short", 0.98081, 0.9206, **_GJ1243),
    "tess_20s": CadenceFamily("tess_20s", 1.0 / 3.0, 0.99, **_GUNTHER2020),
    "tess_2min": CadenceFamily("tess_2min", 2.0, 0.8 * 0.99, **_GUNTHER2020),
    "tess_200s": CadenceFamily("tess_200s", 10.0 / 3.0, 0.8 * 0.99, **_GUNTHER2020),
    "tess_ffi_10min": CadenceFamily("tess_ffi_10min", 10.0, 0.8 * 0.99, **_GUNTHER2020),
    "tess_ffi_30min": CadenceFamily("tess_ffi_30min", 30.0, 0.8 * 0.99, **_GUNTHER2020),
}

CADENCES: dict[str, float] = {name: fam.cadence_minutes for name, fam in CADENCE_FAMILIES.items()}

# How often each family appears in training data: Kepler long cadence (the published model's
# domain) and TESS 2-min dominate.
_CADENCE_WEIGHTS = {
    "kepler_long": 0.32,
    "kepler_short": 0.14,
    "tess_20s": 0.06,
    "tess_2min": 0.24,
    "tess_200s": 0.08,
    "tess_ffi_10min": 0.08,
    "tess_ffi_30min": 0.08,
}

# Training-time widening of the catalogue distributions.
_BROAD_FWHM_FRACTION = 0.5
_BROAD_FWHM_RANGE_MINUTES = (0.5, 480.0)
_MIN_FWHM_SIGMA_DEX = 0.35
_LOGUNIFORM_AMPLITUDE_FRACTION = 0.5
_AMPLITUDE_FLOOR_SIGMA = 0.3  # log-uniform part
_POWERLAW_FLOOR_SIGMA = 0.7
_AMPLITUDE_MAX = 5.0  # power-law part
_LOGUNIFORM_AMPLITUDE_MAX = 3.0
_LOGUNIFORM_AMPLITUDE_MAX_SIGMA = 1000.0
# Moderate flares (a few to a few tens of times the noise) are where detection is decided:
# the v3 model missed most 5-10 sigma flares on Kepler long cadence and most 4-10 sigma
# flares of the GJ 1243 replay, while the two parts above put only ~10 % of flares there.
_MODERATE_AMPLITUDE_FRACTION = 0.3
_MODERATE_AMPLITUDE_RANGE_SIGMA = (3.0, 30.0)
_FWHM_LIMITS_MINUTES = (0.1, 720.0)


def cadence_family(cadence_minutes: float) -> CadenceFamily:
    """The cadence family closest (in log cadence) to a sampling interval.

    Parameters
    ----------
    cadence_minutes : float
        Sampling interval in minutes.

    Returns
    -------
    CadenceFamily

    Examples
    --------
    >>> from fcn4flare.simulate import cadence_family
    >>> cadence_family(29.4).name
    'kepler_long'
    >>> cadence_family(2.0).name
    'tess_2min'
    """
    if not np.isfinite(cadence_minutes) or cadence_minutes <= 0:
        raise InputError(f"cadence_minutes must be positive and finite, got {cadence_minutes}")
    names = list(CADENCE_FAMILIES)
    distance = [abs(np.log(cadence_minutes / CADENCES[n])) for n in names]
    return CADENCE_FAMILIES[names[int(np.argmin(distance))]]


def draw_cadence(rng: np.random.Generator) -> tuple[str, float]:
    """Draw a cadence family from the training mix.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random generator.

    Returns
    -------
    tuple of (str, float)
        Family name and cadence in minutes.

    Examples
    --------
    >>> import numpy as np
    >>> from fcn4flare.simulate import CADENCES, draw_cadence
    >>> name, minutes = draw_cadence(np.random.default_rng(1))
    >>> CADENCES[name] == minutes
    True
    """
    names = list(_CADENCE_WEIGHTS)
    weights = np.array([_CADENCE_WEIGHTS[n] for n in names])
    name = names[int(rng.choice(len(names), p=weights / weights.sum()))]
    return name, CADENCES[name]


def _truncated_powerlaw(rng: np.random.Generator, alpha: float, lo: float, hi: float,
                        size: int) -> np.ndarray:
    """Inverse-CDF draw from ``dN/dx ~ x**-alpha`` on ``[lo, hi]`` (alpha != 1)."""
    u = rng.random(size)
    a, b = lo ** (1.0 - alpha), hi ** (1.0 - alpha)
    return (a + u * (b - a)) ** (1.0 / (1.0 - alpha))


def _loguniform(rng: np.random.Generator, lo: float, hi: float, size: int) -> np.ndarray:
    return np.exp(rng.uniform(np.log(lo), np.log(hi), size))


def draw_flare_parameters(
    n: int,
    cadence_minutes: float,
    rng: np.random.Generator,
    *,
    noise_sigma: float | None = None,
) -> dict[str, np.ndarray]:
    """Draw FWHMs and amplitudes of ``n`` flares for a cadence family.

    Parameters
    ----------
    n : int
        Number of flares.
    cadence_minutes : float
        Sampling interval; selects the family (see `cadence_family`).
    rng : numpy.random.Generator
        Random generator.
    noise_sigma : float, optional
        Point-to-point noise of the light curve.  Without it the catalogue distributions are
        used as fitted (log-normal FWHM and amplitude): a realistic population.  With it the
        training distributions are used: the FWHM is log-normal (at least 0.35 dex wide)
        or, for half the flares, log-uniform from 30 s to 8 h; the amplitude is drawn for
        35 % of the flares from the fitted power law between ``0.7 * noise_sigma`` and 5,
        for 35 % log-uniformly between ``0.3 * noise_sigma`` and ``min(3, 1000 *
        noise_sigma)`` and for 30 % log-uniformly between 3 and 30 times the noise, so that
        undetectable, marginal, moderate and very large flares all occur.

    Returns
    -------
    dict
        ``"fwhm_minutes"`` and ``"amplitude"`` arrays of length ``n``.

    Examples
    --------
    >>> import numpy as np
    >>> from fcn4flare.simulate import draw_flare_parameters
    >>> p = draw_flare_parameters(1000, 2.0, np.random.default_rng(0))
    >>> 3 < float(np.median(p["fwhm_minutes"])) < 10
    True
    """
    if n < 0:
        raise InputError(f"n must be non-negative, got {n}")
    fam = cadence_family(cadence_minutes)
    if noise_sigma is None:
        fwhm = fam.fwhm_median_minutes * 10 ** (fam.fwhm_sigma_dex * rng.standard_normal(n))
        amp = fam.amplitude_median * 10 ** (fam.amplitude_sigma_dex * rng.standard_normal(n))
        return {
            "fwhm_minutes": np.clip(fwhm, *_FWHM_LIMITS_MINUTES),
            "amplitude": np.clip(amp, 0.0, _AMPLITUDE_MAX),
        }
    if not np.isfinite(noise_sigma) or noise_sigma <= 0:
        raise InputError(f"noise_sigma must be positive and finite, got {noise_sigma}")
    width = max(fam.fwhm_sigma_dex, _MIN_FWHM_SIGMA_DEX)
    fwhm = fam.fwhm_median_minutes * 10 ** (width * rng.standard_normal(n))
    broad = rng.random(n) < _BROAD_FWHM_FRACTION
    fwhm[broad] = _loguniform(rng, *_BROAD_FWHM_RANGE_MINUTES, int(broad.sum()))
    lo = min(_POWERLAW_FLOOR_SIGMA * noise_sigma, 0.1 * _AMPLITUDE_MAX)
    amp = _truncated_powerlaw(rng, fam.amplitude_alpha, lo, _AMPLITUDE_MAX, n)
    flat = rng.random(n) < _LOGUNIFORM_AMPLITUDE_FRACTION
    lo = min(_AMPLITUDE_FLOOR_SIGMA * noise_sigma, 0.1 * _LOGUNIFORM_AMPLITUDE_MAX)
    hi = min(_LOGUNIFORM_AMPLITUDE_MAX_SIGMA * noise_sigma, _LOGUNIFORM_AMPLITUDE_MAX)
    amp[flat] = _loguniform(rng, lo, max(hi, 2 * lo), int(flat.sum()))
    moderate = rng.random(n) < _MODERATE_AMPLITUDE_FRACTION
    lo, hi = (min(k * noise_sigma, _LOGUNIFORM_AMPLITUDE_MAX)
              for k in _MODERATE_AMPLITUDE_RANGE_SIGMA)
    amp[moderate] = _loguniform(rng, lo, max(hi, 1.01 * lo), int(moderate.sum()))
    return {"fwhm_minutes": np.clip(fwhm, *_FWHM_LIMITS_MINUTES), "amplitude": amp}
