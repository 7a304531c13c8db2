"""Rotational modulation of spotted stars: period and a trend built from neighbouring rotations.

A star that rotates in a day or two varies by tens of noise units within a few hours at
Kepler's 30-minute cadence. No running filter short enough to follow it keeps out of its
flares, but the star repeats itself: `rotation_trend` predicts every sample from the samples
one and two rotations before and after it (a straight line through those four, so that spots
that grow or fade are followed), which never includes the sample's own flare.

All functions take plain float arrays on a regular grid, NaN for missing samples, and
return new arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from astropy.stats import mad_std
from astropy.timeseries import LombScargle
from scipy import fft as scipy_fft
from scipy.ndimage import label

from .._arrays import fill_by_interpolation
from ..exceptions import InputError
from .stellar import CLIP_SIGMA, _dilate, _local_quadratic, running_median

__all__ = [
    "MIN_PERIOD",
    "ROTATIONS",
    "rotation_period",
    "rotation_trend",
    "local_scatter",
]

#: Shortest period, in samples, that `rotation_period` searches.
MIN_PERIOD = 8
#: Rotations on each side of a sample that `rotation_trend` draws on.
ROTATIONS = 2
_MAX_PERIOD_FRACTION = 0.1
_LONG_TREND_WINDOW = 801
_ITERATIONS = 4
_SAMPLES_PER_PEAK = 10


def rotation_period(values: Any) -> tuple[float, float]:
    """Strongest period of a light curve, in samples, and its Lomb-Scargle power.

    Periods from `MIN_PERIOD` samples to a tenth of the light curve are searched, after a
    running median of 801 samples (or of the whole light curve) is subtracted so that slow
    drifts do not dominate.

    Parameters
    ----------
    values : array-like
        Relative flux on a regular grid, NaN for missing samples.

    Returns
    -------
    period : float
        Period in samples; NaN when fewer than ten shortest periods fit in the light curve.
    power : float
        Normalised Lomb-Scargle power of that period, 0 to 1 (NaN with the period).

    Examples
    --------
    >>> import numpy as np
    >>> from fcn4flare.trend import rotation_period
    >>> t = np.arange(3000)
    >>> flux = 0.01 * np.sin(2 * np.pi * t / 57.3)
    >>> period, power = rotation_period(flux)
    >>> round(period, 1), power > 0.9
    (57.3, True)
    """
    y = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(y)
    longest = _MAX_PERIOD_FRACTION * y.size
    if longest < MIN_PERIOD or finite.sum() < 10 * MIN_PERIOD:
        return np.nan, np.nan
    cadence = np.flatnonzero(finite)
    detrended = running_median(y, _LONG_TREND_WINDOW)
    np.subtract(y, detrended, out=detrended)
    detrended = detrended[finite]
    del finite
    if not np.any(detrended != detrended[0]):
        return np.nan, np.nan
    minimum, maximum = 1.0 / longest, 1.0 / MIN_PERIOD
    # LombScargle(index, detrended).autopower(minimum, maximum, samples_per_peak=10), with the
    # cadences as float times, searches minimum + df * arange(count); `_grid_power` gives the
    # same answer without making that grid.
    df = 1.0 / (float(cadence[-1]) - float(cadence[0])) / _SAMPLES_PER_PEAK
    count = 1 + int(np.round((maximum - minimum) / df))
    best = _grid_power(cadence, detrended, minimum, df, count, best_only=True,
                       overwrite=True)
    if best is None:  # where the shortcut does not apply, astropy itself
        periodogram = LombScargle(cadence.astype(np.float64), detrended)
        frequency = periodogram.autofrequency(
            minimum_frequency=minimum, maximum_frequency=maximum,
            samples_per_peak=_SAMPLES_PER_PEAK)
        power = periodogram.power(frequency, assume_regular_frequency=True)
        j = int(np.argmax(power))
        return float(1.0 / frequency[j]), float(power[j])
    j, power = best
    return float(1.0 / (minimum + df * j)), power


def _grid_power(index: np.ndarray, y: np.ndarray, f0: float, df: float, count: int, *,
                best_only: bool = False, overwrite: bool = False
                ) -> np.ndarray | tuple[int, float] | None:
    """The Lomb-Scargle power that `astropy.timeseries.LombScargle.autopower` gives, by FFT.

    At the frequencies ``f0 + df * arange(count)`` (astropy's ``autofrequency`` grid);
    ``best_only``: only where the power peaks (the first index of its maximum, as
    `numpy.argmax`) and that power, without keeping the rest.

    ``autopower`` runs astropy's 'fast' method (more than 200 frequencies): floating-mean,
    standard normalisation, its trigonometric sums approximated by a non-uniform FFT. Here
    the times are grid indices and the frequencies a grid whose step is ``1 / M`` for a whole
    ``M`` (ten times the baseline), so those sums are discrete Fourier sums that ordinary FFTs
    give exactly (`_FourierSums`); the formulas after them are astropy's, term for term. The
    power agrees with astropy's to its approximation's error (relative 1e-12) in a fraction
    of the time. None where the shortcut does not apply (200 frequencies or fewer, where
    astropy sums directly; times off the grid): the caller then asks astropy.
    ``overwrite``: ``index`` and ``y`` may be used as scratch (then undefined).
    """
    if count <= 200:
        return None
    modulus = int(round(1.0 / df))
    if modulus % 2 or abs(modulus * df - 1.0) > 1e-9 or not index[-1] - index[0] >= 1:
        return None
    if np.issubdtype(index.dtype, np.integer):
        tau = index if overwrite else index.copy()
        tau -= index[0]
    else:
        tau = np.rint(index - index.min()).astype(np.int64)
        if not np.array_equal(tau, index - index.min()):
            return None
    w = np.full(y.size, 1.0 / y.size)  # astropy's weights without errors: 1 / N each
    if overwrite:
        y -= np.dot(w, y)
    else:
        y = y - np.dot(w, y)
    yy = np.dot(w, y**2)
    wy = np.multiply(w, y, out=y)
    w = float(w[0])  # the same value everywhere: multiplied as a number, not an array
    del y
    # One Bluestein convolution over all the frequencies while its FFTs stay short; beyond
    # that, blocks of frequencies and the times in pieces of _SPAN lags (FFTs of _BLOCK +
    # _SPAN), which bounds the memory.
    one = int(tau[-1]) + count <= _ONE_BLOCK
    block = count if one else _BLOCK
    span = None if one or int(tau[-1]) < _SPAN else _SPAN
    starts = range(0, count, block)
    doubled = _FourierSums(tau, modulus, 2, min(block, count), span)
    s2_c2 = np.empty(count, dtype=np.complex128)
    for start in starts:
        s2_c2[start : start + block] = doubled([w], f0, start)[0][: count - start]
    del doubled  # one kernel at a time
    single = _FourierSums(tau, modulus, 1, min(block, count), span)
    power = None if best_only else np.empty(count)
    best, peak = 0, -np.inf
    for start in starts:
        size = min(block, count - start)
        sh_ch, s_c = single([wy, w], f0, start)
        for j in range(0, size, _FORMULA_BLOCK):  # element by element: blocks bound memory
            part = slice(j, min(j + _FORMULA_BLOCK, size))
            where = slice(start + part.start, start + part.stop)
            values = _standard_power(sh_ch[part], s_c[part], s2_c2[where], yy)
            if power is not None:
                power[where] = values
            else:
                k = int(np.argmax(values))
                if values[k] > peak or (np.isnan(values[k]) and not np.isnan(peak)):
                    best, peak = where.start + k, float(values[k])
        del sh_ch, s_c
    return power if power is not None else (best, peak)


#: Frequencies plus samples up to which `_grid_power` makes one convolution of all.
_ONE_BLOCK = 1 << 21
#: Frequencies per convolution beyond that; frequencies per step of the power formula.
_BLOCK = 1 << 19
#: Lags per convolution beyond that (the times in pieces).
_SPAN = 1 << 19
_FORMULA_BLOCK = 1 << 16


def _standard_power(sh_ch: np.ndarray, s_c: np.ndarray, s2_c2: np.ndarray,
                    yy: float) -> np.ndarray:
    """astropy's ``lombscargle_fast`` from its sums (fit_mean, 'standard'), term for term."""
    sh, ch, s, c, s2, c2 = sh_ch.imag, sh_ch.real, s_c.imag, s_c.real, s2_c2.imag, s2_c2.real
    tan_2omega_tau = (s2 - 2 * s * c) / (c2 - (c * c - s * s))
    s2w = tan_2omega_tau / np.sqrt(1 + tan_2omega_tau * tan_2omega_tau)
    c2w = 1 / np.sqrt(1 + tan_2omega_tau * tan_2omega_tau)
    cw = np.sqrt(0.5) * np.sqrt(1 + c2w)
    sw = np.sqrt(0.5) * np.sign(s2w) * np.sqrt(1 - c2w)
    yc = ch * cw + sh * sw
    ys = sh * cw - ch * sw
    cc = 0.5 * (1 + c2 * c2w + s2 * s2w)
    ss = 0.5 * (1 - c2 * c2w - s2 * s2w)
    cc -= (c * cw + s * sw) ** 2
    ss -= (s * cw - c * sw) ** 2
    power = yc * yc / cc + ys * ys / ss
    power /= yy
    return power


class _FourierSums:
    """``sum_n h_n exp(2 pi i f_j tau_n)`` (``C + i S``) for ``block`` frequencies at a time.

    ``f_j = factor * f0 + (start + j) / m`` with ``m = modulus / factor``, for
    ``j < block``, and ``tau`` whole numbers from 0. Bluestein's identity
    ``j t = (j^2 + t^2 - (j - t)^2) / 2`` makes each block one convolution, done by FFTs of a
    fast length just above ``span + block``; the chirps ``exp(i pi k^2 / m)`` and the
    offsets ``exp(2 pi i start tau / m)`` take their phases from ``k^2 mod 2m`` and
    ``start tau mod m`` in integers, so no phase loses precision however long the light curve.
    The convolution kernel serves every block. ``span`` (default: all of ``tau``) cuts the
    times into pieces of that many lags, ``t0 <= tau < t0 + span``, each convolved on its own
    with ``t = tau - t0`` and turned by ``exp(2 pi i j t0 / m)`` (phase ``j t0 mod m``), then
    summed: shorter FFTs, less memory, for light curves of millions of samples.
    """

    def __init__(self, tau: np.ndarray, modulus: int, factor: int, block: int,
                 span: int | None = None):
        self.tau, self.factor, self.block = tau, factor, block
        self.m = modulus // factor
        self.span = int(tau[-1]) + 1 if span is None else int(span)
        last = self.span - 1
        self.size = scipy_fft.next_fast_len(last + block, real=False)
        kernel = np.zeros(self.size, dtype=np.complex128)  # lags 0 ... block - 1, -last ... -1
        step = _FORMULA_BLOCK * 4
        for first in range(0, block, step):  # in pieces, as in __call__
            lags = np.arange(first, min(first + step, block), dtype=np.int64)
            kernel[first : first + lags.size] = np.conj(self._chirp(lags))
        for first in range(1, last + 1, step):  # lag -k sits at size - k
            lags = np.arange(first, min(first + step, last + 1), dtype=np.int64)
            kernel[self.size - lags] = np.conj(self._chirp(lags))
        self.kernel = scipy_fft.fft(kernel, overwrite_x=True)
        self.tail = kernel[:0]  # made on first use

    def _chirp(self, k: np.ndarray) -> np.ndarray:
        return np.exp(1j * np.pi * ((k * k) % (2 * self.m)) / self.m)  # even in k

    def __call__(self, weights: list[np.ndarray | float], f0: float, start: int
                 ) -> list[np.ndarray]:
        """``C + i S`` of each ``h`` in ``weights`` (an array, or one value for all samples)
        for the frequencies ``start ... start + block``."""
        tau, m, step = self.tau, self.m, _FORMULA_BLOCK
        if not self.tail.size:
            self.tail = self._chirp(np.arange(self.block, dtype=np.int64))
        bounds = np.searchsorted(tau, np.arange(0, int(tau[-1]) + self.span, self.span))
        totals: list[np.ndarray | None] = [None] * len(weights)
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            if lo == hi:
                continue
            t0 = int(tau[lo]) // self.span * self.span
            lags = tau[lo:hi] - t0
            lead = np.empty(lags.size, dtype=np.complex128)  # the same for every weight
            for first in range(0, lags.size, step):  # in pieces: short temporaries
                part = tau[lo + first : min(lo + first + step, hi)]
                out = lead[first : first + part.size]
                np.multiply(np.exp(2j * np.pi * (self.factor * f0) * part),
                            self._chirp(lags[first : first + part.size]), out=out)
                if start:
                    out *= np.exp(2j * np.pi * ((start * part) % m) / m)
            turn = None
            if t0:
                j = np.arange(self.block, dtype=np.int64)
                turn = np.exp(2j * np.pi * ((j * t0) % m) / m)
                del j
            for k, h in enumerate(weights):
                a = np.zeros(self.size, dtype=np.complex128)
                a[lags] = (h if np.ndim(h) == 0 else h[lo:hi]) * lead
                a = scipy_fft.fft(a, overwrite_x=True)
                a *= self.kernel
                piece = scipy_fft.ifft(a, overwrite_x=True)[: self.block]
                del a
                if turn is not None:  # a new array: the view would keep the whole transform
                    piece = piece * turn
                elif bounds.size > 2:
                    piece = piece.copy()
                if totals[k] is None:
                    totals[k] = piece
                else:
                    totals[k] += piece
            del lead, lags, turn
        return [total * self.tail for total in totals]


def rotation_trend(
    values: Any, noise: float, period: float | None = None, *, rotations: int = ROTATIONS
) -> np.ndarray:
    """The star's rotational modulation, predicted from its neighbouring rotations.

    Each sample is predicted by a straight line, in rotation number, through the samples
    ``±1 ... ±rotations`` periods away (interpolated between grid points), then smoothed over
    an eighth of a period. Samples more than 3 noise units (or 3 times the residual's robust
    scatter, if larger) above the prediction, widened by an eighth of a period, and more than
    twice that below it are left out of the next prediction; four rounds. The light curve is
    treated in segments separated by gaps longer than a quarter period (the flux may jump
    across them); segments shorter than 2.5 periods, and samples no neighbouring rotation
    predicts, get a running median over one period.

    Parameters
    ----------
    values : array-like
        Relative flux on a regular grid, NaN for missing samples.
    noise : float
        Point-to-point noise of ``values``.
    period : float, optional
        Rotation period in samples (default: `rotation_period`).
    rotations : int
        Rotations used on each side.

    Returns
    -------
    ndarray
        A new float64 array, NaN where ``values`` is NaN.

    Raises
    ------
    InputError
        ``noise`` is not positive and finite, ``period`` is shorter than `MIN_PERIOD` (or
        none was found), or ``rotations`` is not a positive integer.

    Examples
    --------
    >>> import numpy as np
    >>> from fcn4flare.trend import rotation_trend
    >>> rng = np.random.default_rng(3)
    >>> t = np.arange(4000)
    >>> star = 0.02 * np.sin(2 * np.pi * t / 57.3) + 0.01 * np.sin(4 * np.pi * t / 57.3)
    >>> flare = np.where(t >= 2000, 0.01 * np.exp(-(t - 2000) / 6.0), 0.0)
    >>> flux = star + flare + 1e-3 * rng.standard_normal(t.size)
    >>> trend = rotation_trend(flux, 1e-3)
    >>> residual = (flux - trend) / 1e-3
    >>> bool(residual[2000] > 8 and abs(np.median(residual)) < 0.1)
    True
    """
    if not (np.isfinite(noise) and noise > 0):
        raise InputError(f"rotation_trend: noise must be positive and finite, got {noise}.")
    if isinstance(rotations, bool) or not isinstance(rotations, (int, np.integer)) \
            or rotations < 1:
        raise InputError(f"rotation_trend: rotations must be a positive integer, got "
                         f"{rotations!r}.")
    y = np.asarray(values, dtype=np.float64)
    if period is None:
        period, _ = rotation_period(y)
    if not (np.isfinite(period) and period >= MIN_PERIOD):
        raise InputError(f"rotation_trend: the period must be at least {MIN_PERIOD} samples, "
                         f"got {period}.")
    finite = np.isfinite(y)
    trend = np.full(y.shape, np.nan)
    for start, stop in _segments(finite, max(3, int(period / 4))):
        trend[start:stop] = _segment_trend(y[start:stop], noise, float(period), int(rotations))
    trend[~finite] = np.nan
    return trend


def local_scatter(residual: Any, window: int) -> np.ndarray:
    """Robust scatter of a residual around its running median, in a sliding window.

    ``1.4826 * median(|r - median(r)|)`` over ``window`` samples, with both medians running;
    NaN where ``residual`` is NaN.

    Parameters
    ----------
    residual : array-like
        Residual, NaN for missing samples.
    window : int
        Window length in samples.

    Returns
    -------
    ndarray
        A new float64 array.

    Examples
    --------
    >>> import numpy as np
    >>> from fcn4flare.trend import local_scatter
    >>> r = np.random.default_rng(0).standard_normal(4000)
    >>> r[2000:] *= 3
    >>> scatter = local_scatter(r, 201)
    >>> round(float(np.median(scatter[:2000])), 1), round(float(np.median(scatter[2000:])), 1)
    (1.0, 3.0)
    """
    r = np.asarray(residual, dtype=np.float64)
    return 1.4826 * running_median(np.abs(r - running_median(r, window)), window)


def _segments(finite: np.ndarray, longest_gap: int) -> list[tuple[int, int]]:
    index = np.flatnonzero(finite)
    if index.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(index) > longest_gap)
    starts = np.r_[index[0], index[breaks + 1]]
    stops = np.r_[index[breaks], index[-1]] + 1
    return list(zip(starts.tolist(), stops.tolist(), strict=True))


def _segment_trend(y: np.ndarray, noise: float, period: float, rotations: int) -> np.ndarray:
    one_period = int(period) | 1
    fallback = fill_by_interpolation(running_median(y, one_period))
    if y.size < 2.5 * period:
        return fallback
    finite = np.isfinite(y)
    grow = max(2, int(period / 8))
    smooth = max(5, int(period / 8) | 1)
    keep = finite
    trend = fallback
    rotation = _Rotations(y.size, period, rotations)
    memo: dict = {}  # the smoothing's weights rarely change from round to round
    for round_ in range(_ITERATIONS):
        kept = np.where(keep, y, np.nan)
        teeth = rotation.teeth(kept)
        prediction = (_line_at_zero(teeth, rotation.offsets) if round_
                      else np.full(y.shape, np.nan))
        median = _median_of(teeth)
        prediction = np.where(np.isfinite(prediction), prediction, median)
        prediction = _local_quadratic(prediction, smooth, memo=memo)
        trend = np.where(np.isfinite(prediction), prediction, fallback)
        residual = np.where(finite, y - trend, 0.0) / noise
        clip = CLIP_SIGMA * max(1.0, float(mad_std(residual[finite])))
        high = _drop_long_runs(_dilate(residual > clip, grow), 2 * period)
        keep = finite & ~high & (residual >= -2 * clip)
    return trend


class _Rotations:
    """``y[i + k * period]`` for every ``k`` of ``±1 ... ±rotations``, interpolated linearly
    between grid points; NaN beyond the ends.

    The interpolation points and weights depend on the length and the period only, so they
    are found once per segment and serve every round of `_segment_trend`.
    """

    def __init__(self, size: int, period: float, rotations: int):
        self.offsets = np.array([k for k in range(-rotations, rotations + 1) if k],
                                dtype=np.float64)
        self.size = size
        self.inside, self.low, self.weight = [], [], []
        for k in self.offsets:
            position = np.arange(size) + k * period
            low = np.floor(position).astype(np.int64)
            inside = (low >= 0) & (low + 1 < size)
            self.inside.append(inside)
            self.low.append(low[inside])
            self.weight.append((position - low)[inside])

    def teeth(self, y: np.ndarray) -> np.ndarray:
        """[2 rotations, size]: ``y`` one, two, ... rotations before and after each sample."""
        out = np.full((self.offsets.size, self.size), np.nan)
        for row, inside, lo, fraction in zip(out, self.inside, self.low, self.weight,
                                             strict=True):
            row[inside] = (1 - fraction) * y[lo] + fraction * y[lo + 1]
        return out


def _median_of(teeth: np.ndarray) -> np.ndarray:
    """``np.nanmedian(teeth, axis=0)`` (NaN where a column has no finite value), bit for bit.

    NumPy takes the median of a few rows through masked arrays, slowly; sorting the columns
    (NaN sorts last) and taking the middle finite value, or the mean of the middle two, is
    the same arithmetic.
    """
    ordered = np.sort(teeth, axis=0)
    count = np.count_nonzero(~np.isnan(teeth), axis=0)
    out = np.full(teeth.shape[1], np.nan)
    for k in range(1, teeth.shape[0] + 1):
        cols = count == k
        if k % 2:
            out[cols] = ordered[k // 2, cols]
        else:
            out[cols] = (ordered[k // 2 - 1, cols] + ordered[k // 2, cols]) / 2
    return out


def _line_at_zero(teeth: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    known = np.isfinite(teeth)
    k = offsets[:, None]
    w = known.astype(np.float64)
    v = np.where(known, teeth, 0.0)
    s0, s1, s2 = w.sum(0), (w * k).sum(0), (w * k * k).sum(0)
    t0, t1 = v.sum(0), (v * k).sum(0)
    det = s0 * s2 - s1 * s1
    out = np.full(teeth.shape[1], np.nan)
    good = (s0 >= 2) & (det > 0.5)
    out[good] = (s2 * t0 - s1 * t1)[good] / det[good]
    return out


def _drop_long_runs(mask: np.ndarray, longest: float) -> np.ndarray:
    # A run longer than two rotations is a change of the star (or of the instrument), not a flare.
    labels, count = label(mask)
    if count == 0:
        return mask
    too_long = np.bincount(labels) > longest
    too_long[0] = False
    return mask & ~too_long[labels]
