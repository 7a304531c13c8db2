"""The star's own variability under its flares: trends to subtract before detection.

`stellar_trend` is what the ``trend_noise_asinh`` input scaling
(`fcn4flare.scaling.scale_flux`) subtracts. It chooses, per light curve, between two
estimates of the quiescent flux:

* where a `running_median` of `BASELINE_WINDOW` samples already leaves only noise (robust
  scatter of the residual at most `QUIET_SCATTER` noise units), the star varies slowly next
  to that window, and `flare_masked_trend` follows it more closely: a
  local quadratic over `TREND_WINDOW` samples with flares masked. A running median is biased
  at the extrema of spot modulation (below a maximum, above a minimum), which hides faint
  flares near a minimum and invents bumps near a maximum; the quadratic is not;
* otherwise (fast rotators at long cadence, pulsators) a least-squares trend short enough to
  follow the star also follows its flares, and the running median is the safer estimate.

`adaptive_trend` (the ``adaptive_trend_noise_asinh`` scaling) instead checks flare-masked
quadratics of several windows against the data and uses, at each sample, the longest one
that fits there: long where the star is quiet, short on the slopes of a fast rotator.

All functions take plain float arrays with NaN for missing samples and return new arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from astropy.stats import mad_std
from scipy import fft as sp_fft
from scipy.ndimage import maximum_filter1d, median_filter, uniform_filter1d

from .._arrays import fill_by_interpolation
from ..exceptions import InputError

__all__ = [
    "BASELINE_WINDOW",
    "TREND_WINDOW",
    "QUIET_SCATTER",
    "CLIP_SIGMA",
    "running_median",
    "local_quadratic",
    "flare_masked_trend",
    "stellar_trend",
    "ADAPTIVE_WINDOWS",
    "adaptive_trend",
    "residual_scatter",
]

#: Length, in samples, of the local quadratic of `flare_masked_trend`.
TREND_WINDOW = 255
#: Largest robust scatter (in noise units) of the running-median residual for which
#: `stellar_trend` uses `flare_masked_trend`.
QUIET_SCATTER = 1.5
#: Samples more than this many noise units above the trend are masked as flare candidates.
CLIP_SIGMA = 3.0
_ITERATIONS = 3
_MIN_WEIGHT = 5.0


#: Length, in samples, of the running median that ``running_median_noise_asinh`` subtracts
#: and that `stellar_trend` falls back to.
BASELINE_WINDOW = 127


def running_median(values: Any, window: int = BASELINE_WINDOW) -> np.ndarray:
    """Running median of the finite values, NaN kept where ``values`` is NaN.

    Finite samples on either side of a run of NaN are treated as neighbours; at the ends the
    window is filled with the first or last finite value.

    Parameters
    ----------
    values : array-like
        Values, NaN for missing samples.
    window : int
        Window length in samples (made odd, and at most the number of finite values).

    Returns
    -------
    ndarray
        A new float64 array of the same length.

    Raises
    ------
    InputError
        ``window`` is not a positive integer.

    Examples
    --------
    >>> import numpy as np
    >>> from fcn4flare.trend import running_median
    >>> running_median([1.0, 1.0, 9.0, np.nan, 1.0, 2.0], window=3)
    array([ 1.,  1.,  1., nan,  2.,  2.])
    """
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
        raise InputError(f"running_median: window must be a positive integer, got {window!r}.")
    values = np.asarray(values, dtype=np.float64)
    out = np.full(values.shape, np.nan)
    finite = np.isfinite(values)
    n = int(finite.sum())
    if n:
        size = min(int(window), n)
        size -= 1 - size % 2
        out[finite] = median_filter(values[finite], size=size, mode="nearest")
    return out


def _dilate(mask: np.ndarray, half: int) -> np.ndarray:
    """``mask`` widened by ``half`` samples each side: ``binary_dilation`` with a centred
    structure of ``2 * half + 1`` ones, by a running count (the same booleans, in O(n))."""
    count = np.concatenate([[0], np.cumsum(mask, dtype=np.int64)])
    index = np.arange(mask.size)
    return count[np.minimum(index + half + 1, mask.size)] - count[np.maximum(index - half, 0)] > 0


def _check_window(window: Any, where: str) -> int:
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 3:
        raise InputError(f"{where}: window must be an integer of at least 3, got {window!r}.")
    return (int(window) - 1) // 2


def local_quadratic(values: Any, window: int = TREND_WINDOW, weights: Any = None) -> np.ndarray:
    """Least-squares quadratic through a sliding window, evaluated at its centre.

    A Savitzky-Golay filter of order 2 that skips missing samples: each output is the value at
    the centre sample of the weighted least-squares parabola through the ``window`` samples
    around it.

    Parameters
    ----------
    values : array-like
        Values, NaN for missing samples.
    window : int
        Window length in samples (made odd by rounding down to an odd number, at least 3).
    weights : array-like of bool or float, optional
        Per-sample weights (default: 1 where ``values`` is finite). NaN values always get 0.

    Returns
    -------
    ndarray
        A new float64 array; NaN where fewer than 5 weighted samples, or samples on one side
        only, leave the parabola undetermined.

    Raises
    ------
    InputError
        ``window`` is not an integer of at least 3, or ``weights`` has another length.

    Examples
    --------
    >>> import numpy as np
    >>> from fcn4flare.trend import local_quadratic
    >>> x = np.arange(8.0)
    >>> y = 0.5 * x**2 - x
    >>> y[3] = np.nan
    >>> local_quadratic(y, 7).round(9)  # the ends see fewer than 5 samples
    array([nan, nan, 0. , 1.5, 4. , 7.5, nan, nan])
    """
    return _local_quadratic(values, window, weights)


def _local_quadratic(values: Any, window: int, weights: Any = None,
                     memo: dict | None = None) -> np.ndarray:
    """`local_quadratic`; ``memo`` keeps what depends on the weights alone between calls.

    A caller that fits one set of weights again and again (the rounds of the rotation trend,
    whose weights rarely change) passes the same dict each time: the moments of the weights,
    the cofactors and the determinant are then reused when the weights are equal to the last
    ones, with the very same values.
    """
    half = _check_window(window, "local_quadratic")
    y = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(y)
    if weights is None:
        w = finite.astype(np.float64)
    else:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != y.shape:
            raise InputError(f"local_quadratic: {w.size} weights for {y.size} values.")
        w = np.where(finite, w, 0.0)
    out = np.full(y.shape, np.nan)
    if y.size == 0:
        return out
    wy = w * np.where(finite, y, 0.0)

    # Sums over the window of a[i + j] * u_j ** p: five moments of the weights, three of the
    # weighted values, as convolutions with the kernels u ** p sharing one transform of each
    # signal.
    length, spectra = _kernel_spectra(half, y.size, memo)
    if memo is not None and memo.get("half") == half and np.array_equal(memo["w"], w):
        s1, s2, s3, s4, cofactor, det, good = memo["fit"]
    else:
        s0, s1, s2, s3, s4 = _convolve_same(w, spectra, length, half)
        cofactor = s2 * s4 - s3 * s3
        det = s0 * cofactor - s1 * (s1 * s4 - s3 * s2) + s2 * (s1 * s3 - s2 * s2)
        # s0 counts the samples (for 0/1 weights): compared with a margin for the FFT's
        # rounding, so that a full window of the minimum size is never refused.
        good = (s0 >= _MIN_WEIGHT - 1e-6) & (det > 1e-6 * np.maximum(s0, 1.0) ** 3)
        if memo is not None:
            memo.update(half=half, w=w, fit=(s1, s2, s3, s4, cofactor, det, good))
    t0, t1, t2 = _convolve_same(wy, spectra[:3], length, half)
    intercept = t0 * cofactor - s1 * (t1 * s4 - s3 * t2) + s2 * (t1 * s3 - s2 * t2)
    out[good] = intercept[good] / det[good]
    return out


def _kernel_spectra(half: int, size: int, memo: dict | None) -> tuple[int, np.ndarray]:
    """Real FFTs of the five kernels ``u ** p`` of `_local_quadratic`, for signals of
    ``size`` samples (kept in ``memo`` for the next call with the same window and size)."""
    length = sp_fft.next_fast_len(size + 2 * half, real=True)
    if memo is not None and memo.get("spectra_key") == (half, length):
        return length, memo["spectra"]
    u = np.arange(-half, half + 1, dtype=np.float64) / half
    spectra = sp_fft.rfft(np.stack([(u**p)[::-1] for p in range(5)]), length, axis=-1)
    if memo is not None:
        memo.update(spectra_key=(half, length), spectra=spectra)
    return length, spectra


def _convolve_same(signal: np.ndarray, spectra: np.ndarray, length: int, half: int
                   ) -> np.ndarray:
    """``np.convolve(signal, kernel, 'same')`` for each kernel of ``spectra`` (real FFTs of
    ``length``), with one transform of ``signal``."""
    full = sp_fft.irfft(sp_fft.rfft(signal, length) * spectra, length, axis=-1)
    return full[:, half:half + signal.size]


def flare_masked_trend(
    values: Any,
    noise: float,
    window: int = TREND_WINDOW,
    *,
    clip: float = CLIP_SIGMA,
    iterations: int = _ITERATIONS,
) -> np.ndarray:
    """Local-quadratic trend of a light curve with its flares masked.

    Iterates `local_quadratic`: samples more than ``clip * noise`` above the trend, widened by
    about ``window / 16`` samples (at least 2) on each side to take in rises and tails, and
    samples more than ``2 * clip * noise`` below it are left out of the next fit.

    Parameters
    ----------
    values : array-like
        Relative flux (for instance ``flux / median - 1``), NaN for missing samples.
    noise : float
        Point-to-point noise of ``values`` (`~fcn4flare.trend.robust_noise`).
    window : int
        Window of the quadratic, in samples.
    clip : float
        Masking threshold, in units of ``noise``.
    iterations : int
        Number of fits (1 masks nothing).

    Returns
    -------
    ndarray
        A new float64 array, NaN where ``values`` is NaN; bridged by linear interpolation where
        masking left the quadratic undetermined.

    Raises
    ------
    InputError
        ``noise`` is not positive and finite, or ``window`` or ``iterations`` is invalid.

    Examples
    --------
    >>> import numpy as np
    >>> from fcn4flare.trend import flare_masked_trend
    >>> rng = np.random.default_rng(1)
    >>> t = np.arange(3000)
    >>> star = 0.01 * np.sin(2 * np.pi * t / 900)
    >>> flare = np.where(t >= 1000, 0.02 * np.exp(-(t - 1000) / 8.0), 0.0)
    >>> flux = star + flare + 1e-3 * rng.standard_normal(t.size)
    >>> trend = flare_masked_trend(flux, 1e-3)
    >>> bool(abs(trend[1000] - star[1000]) < 5e-4)  # the flare is not in the trend
    True
    """
    if not (np.isfinite(noise) and noise > 0):
        raise InputError(f"flare_masked_trend: noise must be positive and finite, got {noise}.")
    if isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)) \
            or iterations < 1:
        raise InputError(f"flare_masked_trend: iterations must be a positive integer, got "
                         f"{iterations!r}.")
    _check_window(window, "flare_masked_trend")
    return _flare_masked_fit(np.asarray(values, dtype=np.float64), noise, window, clip,
                             int(iterations))[0]


def _flare_masked_fit(y: np.ndarray, noise: float, window: int, clip: float = CLIP_SIGMA,
                      iterations: int = _ITERATIONS) -> tuple[np.ndarray, np.ndarray]:
    """`flare_masked_trend` and the samples its last round would keep (not masked)."""
    half = (int(window) - 1) // 2
    finite = np.isfinite(y)
    fallback = float(np.median(y[finite])) if finite.any() else np.nan
    grow = max(2, half // 8)
    keep = finite
    trend = np.full(y.shape, fallback)
    memo: dict = {}  # the mask often stops changing after the first rounds
    for _ in range(iterations):
        trend = _local_quadratic(y, window, keep, memo)
        trend = (fill_by_interpolation(trend) if np.isfinite(trend).any()
                 else np.full(y.shape, fallback))
        residual = np.where(finite, y - trend, 0.0) / noise
        high = _dilate(residual > clip, grow)
        keep = finite & ~high & (residual >= -2 * clip)
    trend[~finite] = np.nan
    return trend, keep


def stellar_trend(values: Any, noise: float, *, with_branch: bool = False
                  ) -> np.ndarray | tuple[np.ndarray, bool]:
    """The quiescent flux under a light curve's flares, as ``trend_noise_asinh`` subtracts it.

    `flare_masked_trend` over `TREND_WINDOW` samples when a running median of
    `BASELINE_WINDOW` samples leaves a residual whose robust scatter
    is at most `QUIET_SCATTER` times ``noise``; that running median otherwise.

    Parameters
    ----------
    values : array-like
        Relative flux, NaN for missing samples.
    noise : float
        Point-to-point noise of ``values``.
    with_branch : bool
        Also return whether the flare-masked quadratic (True) or the running median (False)
        was used.

    Returns
    -------
    ndarray
        A new float64 array, NaN where ``values`` is NaN (and the branch, see
        ``with_branch``).

    Raises
    ------
    InputError
        ``noise`` is not positive and finite.

    Examples
    --------
    >>> import numpy as np
    >>> from fcn4flare.trend import stellar_trend
    >>> rng = np.random.default_rng(2)
    >>> t = np.arange(4000)
    >>> star = 0.02 * np.sin(2 * np.pi * t / 1500)
    >>> flux = star + 1e-3 * rng.standard_normal(t.size)
    >>> residual = (flux - stellar_trend(flux, 1e-3)) / 1e-3
    >>> bool(abs(residual[(t > 300) & (t < 450)].mean()) < 0.5)  # near a maximum
    True
    """
    if not (np.isfinite(noise) and noise > 0):
        raise InputError(f"stellar_trend: noise must be positive and finite, got {noise}.")
    y = np.asarray(values, dtype=np.float64)
    median = running_median(y, BASELINE_WINDOW)
    if not np.isfinite(y).any() or residual_scatter(y, median, noise) > QUIET_SCATTER:
        return (median, False) if with_branch else median
    trend = flare_masked_trend(y, noise, TREND_WINDOW)
    return (trend, True) if with_branch else trend


#: Windows, in samples and longest first, of the flare-masked quadratics `adaptive_trend`
#: chooses between.
ADAPTIVE_WINDOWS = (255, 127, 63, 31, 15)
#: `adaptive_trend` takes the longest window whose local misfit is within this factor of the
#: best window's (or of the noise, where the best is below it).
_ADAPTIVE_TOLERANCE = 1.2
#: Where a window's flare masking leaves out more than this fraction of its samples, the
#: window does not fit there (a fast rotator's extrema masked as flares).
_ADAPTIVE_MAX_MASKED = 0.5
#: ... counted over the window, or over this many samples for shorter windows (so that one
#: flare, masked with its surroundings, does not fill a short window).
_ADAPTIVE_MIN_SPAN = 63
#: A shorter window chosen at one sample is kept over this many samples around it, so that
#: the trend does not switch back to a long window between neighbouring misfits.
_ADAPTIVE_SPREAD = 15


def adaptive_trend(values: Any, noise: float, windows: tuple[int, ...] = ADAPTIVE_WINDOWS
                   ) -> np.ndarray:
    """Flare-masked local quadratic whose window follows the star, checked against the data.

    `flare_masked_trend` is computed for each of ``windows``. Its local misfit is the robust
    scatter about the trend (``1.4826`` times the running median of ``|values - trend|``
    over that window, in noise units) of the samples its flare masking kept, and is infinite
    where it masked more than half the samples of the window. At each sample the longest
    window is used whose misfit is at most 1.2 times the smallest misfit of all windows
    (1.2 where the smallest is below 1); where every misfit is infinite, the shortest
    window's quadratic without masking. A quiet star keeps the longest window, so that a
    flare, masked in every fit, is not followed by a short one; on the steep slopes and
    sharp extrema of a fast rotator (many noise units per cadence at long cadence), where a
    long quadratic leaves tens of noise units for hours, the window shortens to what the
    star needs there.

    Parameters
    ----------
    values : array-like
        Relative flux, NaN for missing samples.
    noise : float
        White noise of ``values`` (`~fcn4flare.trend.second_difference_noise`).
    windows : tuple of int
        The candidate windows, longest first.

    Returns
    -------
    ndarray
        A new float64 array, NaN where ``values`` is NaN.

    Raises
    ------
    InputError
        ``noise`` is not positive and finite, or a window is invalid.

    Examples
    --------
    >>> import numpy as np
    >>> from fcn4flare.trend import adaptive_trend, residual_scatter, stellar_trend
    >>> t = np.arange(4000)
    >>> rng = np.random.default_rng(3)
    >>> fast = 0.03 * np.sin(2 * np.pi * t / 60) + 1e-3 * rng.standard_normal(t.size)
    >>> round(residual_scatter(fast, adaptive_trend(fast, 1e-3), 1e-3), 1)
    1.1
    >>> bool(residual_scatter(fast, stellar_trend(fast, 1e-3), 1e-3) > 10)
    True
    """
    if not (np.isfinite(noise) and noise > 0):
        raise InputError(f"adaptive_trend: noise must be positive and finite, got {noise}.")
    if not windows:
        raise InputError("adaptive_trend: needs at least one window.")
    for window in windows:
        _check_window(window, "adaptive_trend")
    y = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(y)
    trends, misfits = [], []
    for window in windows:
        trend, keep = _flare_masked_fit(y, noise, window)
        kept = np.where(keep, np.abs(y - trend), np.nan)
        misfit = 1.4826 * running_median(kept, window) / noise
        misfit = (fill_by_interpolation(misfit) if np.isfinite(misfit).any()
                  else np.full(y.shape, np.inf))
        span = max(window, _ADAPTIVE_MIN_SPAN)
        masked = uniform_filter1d((finite & ~keep).astype(np.float64), span, mode="nearest")
        present = uniform_filter1d(finite.astype(np.float64), span, mode="nearest")
        misfit[masked > _ADAPTIVE_MAX_MASKED * present] = np.inf
        trends.append(trend)
        misfits.append(misfit)
    # Where every fit masked most of its window (a sharp extremum that each window's
    # masking ate away, bridging under it), the shortest quadratic unmasked follows it.
    unmasked = _local_quadratic(y, windows[-1])
    unmasked = fill_by_interpolation(unmasked) if np.isfinite(unmasked).any() else trends[-1]
    trends.append(np.where(finite, unmasked, np.nan))
    misfit = np.stack(misfits)
    best = np.fmin.reduce(misfit, axis=0)
    good_enough = misfit <= _ADAPTIVE_TOLERANCE * np.fmax(best, 1.0)
    choice = np.where(np.isfinite(best), np.argmax(good_enough, axis=0), len(windows))
    choice = maximum_filter1d(choice, _ADAPTIVE_SPREAD, mode="nearest")
    return np.stack(trends)[choice, np.arange(y.size)]


def residual_scatter(values: Any, trend: Any, noise: float) -> float:
    """Robust scatter of ``values - trend`` in units of ``noise``: 1 when the trend leaves noise.

    Parameters
    ----------
    values, trend : array-like
        Relative flux and a trend of it, NaN for missing samples (skipped).
    noise : float
        Point-to-point noise of ``values``.

    Returns
    -------
    float
        `~astropy.stats.mad_std` of the finite residuals divided by ``noise``; NaN if none.

    Examples
    --------
    >>> import numpy as np
    >>> from fcn4flare.trend import residual_scatter
    >>> flux = np.random.default_rng(4).normal(0.0, 2e-3, 10000)
    >>> round(residual_scatter(flux, np.zeros(flux.size), 1e-3), 1)
    2.0
    """
    residual = (np.asarray(values, dtype=np.float64) - np.asarray(trend, dtype=np.float64))
    residual = residual[np.isfinite(residual)]
    return float(mad_std(residual) / noise) if residual.size else np.nan
