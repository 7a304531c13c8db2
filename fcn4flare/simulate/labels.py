"""Per-sample flare labels that follow the human convention.

A human marks a flare from the last quiescent sample before the rise until the flux is back at
the quiescent level; how far into the tail they go depends on both the noise and the flare.  We
reproduce that from the exposure-integrated model flux ``m`` of one flare (all components of a
complex flare together) and the point-to-point noise ``sigma``:

1. A flare is *visible* only if its matched-filter signal-to-noise ``sqrt(sum(m**2)) / sigma``
   reaches ``visibility_snr`` (4 by default); invisible flares get no label at all.
2. The label floor is ``max(0.5 * sigma, 0.25 * sqrt(sigma * peak))`` with ``peak = max(m)``:
   near the noise a human follows the tail down to half the noise, a big flare is cut at a
   fraction of its peak that shrinks slowly with its size.
3. The labelled region runs from ``start_pad`` samples (1 by default) before the first sample
   where ``m`` exceeds the floor to the last such sample.

The constants were calibrated on the 4,300 classical GJ 1243 flares of Davenport et al. (2014)
(`benchmarks/fit_flare_distributions.py`; see ``docs/simulate.rst`` for the numbers).
"""

from __future__ import annotations

import numpy as np

from .._arrays import point_to_point_noise
from ..exceptions import InputError

__all__ = ["LABEL_NOISE_FLOOR", "LABEL_PEAK_FLOOR", "VISIBILITY_SNR", "flare_label_region",
           "point_to_point_sigma"]

LABEL_NOISE_FLOOR = 0.5
LABEL_PEAK_FLOOR = 0.25
VISIBILITY_SNR = 4.0


def _label_floor(peak: float, sigma: float) -> float:
    """Flux level below which the flare tail is no longer labelled."""
    return max(LABEL_NOISE_FLOOR * sigma, LABEL_PEAK_FLOOR * np.sqrt(sigma * max(peak, 0.0)))


def flare_label_region(
    flare_flux: np.ndarray,
    noise_sigma: float,
    *,
    visibility_snr: float = VISIBILITY_SNR,
    start_pad: int = 1,
) -> tuple[int, int] | None:
    """Index range a careful human would label for one flare.

    Parameters
    ----------
    flare_flux : array-like
        Exposure-integrated model flux of the flare alone (relative units, >= 0), sampled like
        the light curve.  NaN is treated as 0.
    noise_sigma : float
        Point-to-point noise of the light curve in the same units.
    visibility_snr : float
        Minimum matched-filter signal-to-noise ``sqrt(sum(flux**2)) / noise_sigma`` for the
        flare to be labelled at all.  0 labels every flare that rises above the floor.
    start_pad : int
        Samples labelled before the first sample above the floor (the last quiescent sample).

    Returns
    -------
    tuple of int or None
        ``(start, stop)``, inclusive indices into ``flare_flux``, or `None` when nothing is
        labelled.

    Examples
    --------
    >>> import numpy as np
    >>> from fcn4flare.simulate import flare_label_region, flare_model
    >>> t = np.arange(200) / 1440
    >>> m = flare_model(t, 50 / 1440, 5 / 1440, 0.02, exposure_time=1 / 1440)
    >>> flare_label_region(m, 1e-3)
    (47, 83)
    >>> flare_label_region(m * 0.01, 1e-3) is None  # far below the noise
    True
    """
    if not np.isfinite(noise_sigma) or noise_sigma <= 0:
        raise InputError(f"noise_sigma must be positive and finite, got {noise_sigma}")
    flux = np.nan_to_num(np.asarray(flare_flux, dtype=float), nan=0.0)
    if flux.size == 0:
        return None
    if visibility_snr > 0 and np.sqrt(np.dot(flux, flux)) < visibility_snr * noise_sigma:
        return None
    floor = _label_floor(float(flux.max()), noise_sigma)
    above = np.flatnonzero(flux > floor)
    if above.size == 0:
        return None
    return max(int(above[0]) - start_pad, 0), int(above[-1])


def point_to_point_sigma(flux: np.ndarray) -> float:
    """Robust point-to-point scatter of a light curve (white-noise equivalent sigma).

    ``1.4826 * median(|diff - median(diff)|) / sqrt(2)`` over consecutive finite samples;
    insensitive to slow variability, flares and isolated outliers.

    Parameters
    ----------
    flux : array-like
        Flux, NaN for missing samples.

    Returns
    -------
    float
        The noise estimate, NaN when fewer than three finite samples exist.

    Examples
    --------
    >>> import numpy as np
    >>> from fcn4flare.simulate import point_to_point_sigma
    >>> rng = np.random.default_rng(0)
    >>> round(point_to_point_sigma(1 + 1e-3 * rng.standard_normal(20000)), 4)
    0.001
    """
    return point_to_point_noise(flux)
