"""Synthetic stars and instrument effects to inject flares into, and flare look-alikes.

`synthetic_background` builds a relative light curve (about 1.0, NaN in gaps) from:

* rotational modulation by evolving spots: one to three spot groups with slightly different
  periods (differential rotation), periods 0.1-30 d, semi-amplitudes 1e-4 to 0.1, amplitudes and
  phases wandering on the spot lifetime (1-20 rotations); a quarter of the spotted stars are
  fast rotators (0.1-2 d, 0.3-10 %), whose slope at long cadence is many noise units per
  cadence;
* granulation / red noise: one or two AR(1) processes (time scales 10 min to 1 d);
* white noise from 5e-5 (bright, quiet star) to 2e-2 (faint star);
* a slow polynomial trend;
* mission-like gaps: a data downlink (up to 1.5 d), a few short gaps, isolated missing samples,
  with exponential thermal ramps after gaps;
* momentum dumps (every 2.5-6 d: a missing or deviant sample) and, at Kepler/K2 long cadence,
  K2-like 6-hour roll sawtooth.

`add_contaminants` adds signals that are *not* flares (the caller labels them 0): cosmic-ray
hits (single positive outliers), eclipsing binaries (dips and their rising egresses), RR Lyrae
and high-amplitude delta Scuti pulsations (fast rise, slow decline), multi-periodic delta Scuti
pulsations, flux jumps (step changes and sudden pixel-sensitivity drops with recovery), and
kinks (a sudden change of slope that relaxes over hours).

Everything works on plain float arrays; time is in days.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from ..exceptions import InputError
from .labels import point_to_point_sigma

__all__ = ["synthetic_background", "add_contaminants", "smooth_walk", "CONTAMINANT_KINDS"]

CONTAMINANT_KINDS = (
    "cosmic_ray", "eclipsing_binary", "rr_lyrae", "delta_scuti", "flux_jump", "kink",
)

_WHITE_SIGMA_RANGE = (5e-5, 2e-2)
_SPOT_PERIOD_RANGE = (0.1, 30.0)
_SPOT_AMPLITUDE_RANGE = (1e-4, 0.1)
_P_FAST_ROTATOR = 0.25
_FAST_PERIOD_RANGE = (0.1, 2.0)
_FAST_AMPLITUDE_RANGE = (3e-3, 0.1)


def _loguniform(rng: np.random.Generator, lo: float, hi: float, size=None):
    return np.exp(rng.uniform(np.log(lo), np.log(hi), size))


def smooth_walk(t: np.ndarray, scale: float, rng: np.random.Generator) -> np.ndarray:
    """Zero-mean, unit-variance random curve that changes on the time scale ``scale``.

    Linear interpolation between standard-normal knots ``scale`` apart (the evolution of
    spots, of a pulsation's envelope).

    Examples
    --------
    >>> import numpy as np
    >>> from fcn4flare.simulate import smooth_walk
    >>> walk = smooth_walk(np.linspace(0, 10, 1001), 2.0, np.random.default_rng(0))
    >>> walk.shape, bool(np.all(np.abs(np.diff(walk)) < 0.1))
    ((1001,), True)
    """
    span = t[-1] - t[0]
    n_knots = int(np.ceil(span / scale)) + 2
    knots = np.linspace(t[0], t[0] + scale * (n_knots - 1), n_knots)
    return np.interp(t, knots, rng.standard_normal(n_knots))


def _spot_modulation(t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    fast = rng.random() < _P_FAST_ROTATOR
    period = _loguniform(rng, *(_FAST_PERIOD_RANGE if fast else _SPOT_PERIOD_RANGE))
    amplitude = _loguniform(rng, *(_FAST_AMPLITUDE_RANGE if fast else _SPOT_AMPLITUDE_RANGE))
    flux = np.zeros_like(t)
    for group in range(int(rng.integers(1, 4))):
        p = period * (1.0 + rng.uniform(-0.05, 0.05)) if group else period
        lifetime = p * _loguniform(rng, 1.0, 20.0)
        envelope = np.clip(1.0 + 0.4 * smooth_walk(t, lifetime, rng), 0.05, None)
        phase = rng.uniform(0, 2 * np.pi) + 0.6 * smooth_walk(t, lifetime, rng)
        weight = amplitude * (1.0 if group == 0 else rng.uniform(0.2, 0.8))
        harmonic = rng.uniform(0.0, 0.4)
        angle = 2 * np.pi * t / p + phase
        flux += weight * envelope * (np.sin(angle) + harmonic * np.sin(2 * angle + 1.0))
    return flux


def _red_noise(n: int, cadence_days: float, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """AR(1) noise with stationary standard deviation ``sigma``."""
    tau = _loguniform(rng, 10 / 1440, 1.0)
    phi = np.exp(-cadence_days / tau)
    drive = rng.standard_normal(n) * sigma * np.sqrt(1.0 - phi**2)
    start = rng.standard_normal() * sigma
    return signal.lfilter([1.0], [1.0, -phi], drive, zi=[phi * start])[0]


def _trend(t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    x = np.linspace(-1.0, 1.0, t.size)
    coeffs = rng.standard_normal(int(rng.integers(2, 5))) * _loguniform(rng, 1e-5, 3e-3)
    coeffs[0] = 0.0
    return np.polynomial.legendre.legval(x, coeffs)


def _gap_mask(n: int, cadence_days: float, rng: np.random.Generator) -> tuple[np.ndarray, list]:
    """Boolean mask of missing samples and the list of (start, stop) of contiguous gaps."""
    missing = np.zeros(n, dtype=bool)
    gaps = []
    if rng.random() < 0.3:  # a data downlink / orbit gap
        length = int(min(_loguniform(rng, 0.2, 1.5) / cadence_days, 0.3 * n))
        if length >= 1:
            start = int(rng.integers(0, max(n - length, 1)))
            gaps.append((start, start + length))
    for _ in range(int(rng.poisson(1.0))):  # short gaps
        length = int(min(_loguniform(rng, 1, 50), 0.1 * n))
        start = int(rng.integers(0, max(n - length, 1)))
        gaps.append((start, start + length))
    for start, stop in gaps:
        missing[start:stop] = True
    if rng.random() < 0.5:  # isolated missing samples
        missing[rng.random(n) < _loguniform(rng, 1e-4, 1e-2)] = True
    return missing, gaps


def _ramps(n: int, cadence_days: float, gaps: list, rng: np.random.Generator) -> np.ndarray:
    """Exponential thermal settling after gaps (1e-4 to 2e-3, either sign, 0.2-2 d)."""
    flux = np.zeros(n)
    idx = np.arange(n)
    for _, stop in gaps:
        if stop >= n or rng.random() < 0.4:
            continue
        amp = rng.choice([-1.0, 1.0]) * _loguniform(rng, 1e-4, 2e-3)
        tau = _loguniform(rng, 0.2, 2.0) / cadence_days
        after = idx >= stop
        flux[after] += amp * np.exp(-(idx[after] - stop) / tau)
    return flux


def _momentum_dumps(flux: np.ndarray, cadence_days: float, sigma: float,
                    rng: np.random.Generator) -> None:
    """Every 2.5-6 days a missing or deviant sample (in place)."""
    n = flux.size
    step = _loguniform(rng, 2.5, 6.0) / cadence_days
    first = rng.uniform(0, step)
    for pos in np.arange(first, n, step).astype(int):
        width = 1 if rng.random() < 0.7 else 2
        if rng.random() < 0.5:
            flux[pos : pos + width] = np.nan
        else:
            sign = 1.0 if rng.random() < 0.3 else -1.0
            flux[pos : pos + width] += sign * _loguniform(rng, 3.0, 50.0) * sigma


def _roll_sawtooth(t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """K2-like pointing drift corrected every ~6 h by thruster firings."""
    period = rng.uniform(0.2, 0.3)
    amp = _loguniform(rng, 1e-4, 3e-3)
    return amp * (((t / period) + rng.random()) % 1.0 - 0.5)


def synthetic_background(
    n_points: int,
    cadence_minutes: float,
    rng: np.random.Generator,
    *,
    white_sigma: float | None = None,
) -> tuple[np.ndarray, float]:
    """A synthetic star without flares, as relative flux with NaN gaps.

    Parameters
    ----------
    n_points : int
        Number of samples.
    cadence_minutes : float
        Sampling interval in minutes.
    rng : numpy.random.Generator
        Random generator.
    white_sigma : float, optional
        White-noise level; drawn log-uniformly from 5e-5 to 2e-2 when omitted.

    Returns
    -------
    flux : numpy.ndarray
        Relative flux (median 1), NaN where data are missing.
    noise_sigma : float
        Point-to-point scatter of the noise part (white plus red), the value used for labels.

    Examples
    --------
    >>> import numpy as np
    >>> from fcn4flare.simulate import synthetic_background
    >>> flux, sigma = synthetic_background(2000, 2.0, np.random.default_rng(3))
    >>> flux.shape, bool(abs(np.nanmedian(flux) - 1) < 1e-12), bool(sigma > 0)
    ((2000,), True, True)
    """
    if n_points < 2:
        raise InputError(f"n_points must be at least 2, got {n_points}")
    if not np.isfinite(cadence_minutes) or cadence_minutes <= 0:
        raise InputError(f"cadence_minutes must be positive and finite, got {cadence_minutes}")
    cadence = cadence_minutes / 1440.0
    t = np.arange(n_points) * cadence
    sigma_w = _loguniform(rng, *_WHITE_SIGMA_RANGE) if white_sigma is None else white_sigma
    noise = rng.standard_normal(n_points) * sigma_w
    for _ in range(int(rng.integers(0, 3))):
        noise += _red_noise(n_points, cadence, sigma_w * _loguniform(rng, 0.1, 2.0), rng)
    sigma = point_to_point_sigma(noise)
    flux = 1.0 + noise
    if rng.random() < 0.85:
        flux += _spot_modulation(t, rng)
    if rng.random() < 0.6:
        flux += _trend(t, rng)
    missing, gaps = _gap_mask(n_points, cadence, rng)
    flux += _ramps(n_points, cadence, gaps, rng)
    if rng.random() < 0.5:
        _momentum_dumps(flux, cadence, sigma, rng)
    if cadence_minutes > 20 and rng.random() < 0.1:
        flux += _roll_sawtooth(t, rng)
    flux[missing] = np.nan
    median = np.nanmedian(flux) if np.any(np.isfinite(flux)) else 1.0
    return flux / median, sigma / median


def _pulse_shape(phase: np.ndarray, rise: float, steepness: float) -> np.ndarray:
    """Fast-rise, slow-decline pulsation profile in [0, 1] versus phase in [0, 1)."""
    up = phase < rise
    out = np.empty_like(phase)
    out[up] = 0.5 * (1.0 - np.cos(np.pi * phase[up] / rise))
    out[~up] = (1.0 - (phase[~up] - rise) / (1.0 - rise)) ** steepness
    return out


def _cosmic_rays(flux, t, sigma, rng):
    for pos in rng.integers(0, flux.size, 1 + int(rng.poisson(2.0))):
        flux[pos] += _loguniform(rng, 3.0, 100.0) * sigma


def _eclipsing_binary(flux, t, sigma, rng):
    period = _loguniform(rng, 0.3, 15.0)
    depth = _loguniform(rng, 1e-3, 0.5)
    width = period * _loguniform(rng, 0.01, 0.08)
    t0 = rng.uniform(0, period)
    shape = rng.uniform(1.5, 4.0)
    second = depth * rng.uniform(0.0, 1.0)
    offset = 0.5 + rng.uniform(-0.03, 0.03)
    phase = ((t - t0) / period) % 1.0
    for centre, d in ((0.0, depth), (offset, second)):
        x = np.abs(((phase - centre + 0.5) % 1.0) - 0.5) * period / (0.5 * width)
        inside = x < 1.0
        flux[inside] -= d * (1.0 - x[inside] ** shape)
    flux += depth * rng.uniform(0.0, 0.2) * np.cos(4 * np.pi * phase)


def _rr_lyrae(flux, t, sigma, rng):
    if rng.random() < 0.6:  # RR Lyrae (ab or c)
        period, amp = rng.uniform(0.25, 0.9), _loguniform(rng, 0.05, 0.8)
    else:  # high-amplitude delta Scuti
        period, amp = _loguniform(rng, 0.04, 0.2), _loguniform(rng, 0.01, 0.3)
    rise = rng.uniform(0.08, 0.25)
    blazhko = 1.0 + rng.uniform(0.0, 0.3) * np.sin(2 * np.pi * t / rng.uniform(20, 100))
    profile = _pulse_shape((t / period + rng.random()) % 1.0, rise, rng.uniform(0.8, 2.0))
    flux += amp * blazhko * (profile - 0.35)


def _delta_scuti(flux, t, sigma, rng):
    for _ in range(int(rng.integers(1, 7))):
        freq = rng.uniform(5.0, 60.0)
        flux += _loguniform(rng, 1e-4, 1e-2) * np.sin(2 * np.pi * (freq * t + rng.random()))


def _flux_jump(flux, t, sigma, rng):
    if flux.size < 2:
        return
    for _ in range(int(rng.integers(1, 3))):
        pos = int(rng.integers(1, flux.size))
        # Capped so that a noisy star's step cannot drive the flux negative.
        amp = rng.choice([-1.0, 1.0]) * min(_loguniform(rng, 3.0, 100.0) * sigma, 0.3)
        after = slice(pos, None)
        if rng.random() < 0.5:  # permanent step
            flux[after] += amp
        else:  # sudden pixel sensitivity dropout, recovering exponentially
            tau = _loguniform(rng, 0.1, 2.0)
            flux[after] -= abs(amp) * np.exp(-(t[after] - t[pos]) / tau)


def _kink(flux, t, sigma, rng):
    """A sudden change of slope relaxing over 0.1-1 d: a corner, not a flare."""
    if flux.size < 2:
        return
    pos = int(rng.integers(1, flux.size))
    tau = _loguniform(rng, 0.1, 1.0)
    slope = rng.choice([-1.0, 1.0]) * min(_loguniform(rng, 5.0, 100.0) * sigma, 0.05) / tau
    dt = t[pos:] - t[pos]
    flux[pos:] += slope * tau * (1.0 - np.exp(-dt / tau))


_CONTAMINANTS = {
    "cosmic_ray": _cosmic_rays,
    "eclipsing_binary": _eclipsing_binary,
    "rr_lyrae": _rr_lyrae,
    "delta_scuti": _delta_scuti,
    "flux_jump": _flux_jump,
    "kink": _kink,
}


def add_contaminants(
    flux: np.ndarray,
    cadence_minutes: float,
    rng: np.random.Generator,
    noise_sigma: float,
    *,
    kinds=None,
) -> np.ndarray:
    """Add non-flare signals that a detector must not flag (to be labelled 0).

    Parameters
    ----------
    flux : numpy.ndarray
        Relative flux (about 1, NaN gaps allowed); not modified.
    cadence_minutes : float
        Sampling interval in minutes.
    rng : numpy.random.Generator
        Random generator.
    noise_sigma : float
        Noise level, the unit of outlier and jump amplitudes.
    kinds : sequence of str, optional
        Which of `CONTAMINANT_KINDS` to add; by default one or two chosen at random.

    Returns
    -------
    numpy.ndarray
        A new flux array.

    Examples
    --------
    >>> import numpy as np
    >>> from fcn4flare.simulate import add_contaminants
    >>> flux = np.ones(500)
    >>> out = add_contaminants(flux, 2.0, np.random.default_rng(0), 1e-3, kinds=["cosmic_ray"])
    >>> bool(out.max() > 1.002), bool(np.all(flux == 1))
    (True, True)
    """
    if kinds is None:
        kinds = rng.choice(CONTAMINANT_KINDS, size=int(rng.integers(1, 3)), replace=False)
    unknown = set(kinds) - set(CONTAMINANT_KINDS)
    if unknown:
        raise InputError(f"unknown contaminant kinds {sorted(unknown)}; "
                         f"choose from {', '.join(CONTAMINANT_KINDS)}")
    out = np.array(flux, dtype=float, copy=True)
    t = np.arange(out.size) * cadence_minutes / 1440.0
    for kind in kinds:
        _CONTAMINANTS[kind](out, t, noise_sigma, rng)
    return out
