"""Figures of a `~fcn4flare.detection.Detection`: the light curve with its flares shaded, and
the probability underneath."""

from __future__ import annotations

import types
from typing import Any

import numpy as np
from astropy.time import Time

__all__ = ["plot_detection"]


def plot_detection(detection: Any, flares: Any, ax: Any = None, **kwargs: Any) -> Any:
    """Draw the light curve the model saw, shade ``flares``, add a probability panel below.

    ``detection`` is a `~fcn4flare.detection.Detection`, ``flares`` its table; ``kwargs`` go
    to the light-curve line. Returns the light-curve axes; the panel is ``ax.figure.axes[-1]``.
    """
    from mpl_toolkits.axes_grid1 import make_axes_locatable

    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(10, 5))
    lc = detection.prepared
    drawn = types.SimpleNamespace(time=lc.time, flux=lc.flux * lc.flux_unit)
    flares.plot(drawn, ax=ax, **kwargs)
    panel = make_axes_locatable(ax).append_axes("bottom", size="35%", pad=0.1, sharex=ax)
    panel.plot(_time_values(lc.time), detection.probability.value, color="C0", linewidth=0.7)
    panel.axhline(detection.rules.threshold, color="C3", linestyle="--", linewidth=0.8,
                  label="threshold")
    panel.set_ylim(-0.05, 1.05)
    panel.set_ylabel("Flare probability")
    panel.set_xlabel(ax.get_xlabel())
    ax.set_xlabel("")
    ax.tick_params(labelbottom=False)
    target = flares.meta.get("TARGET")
    if target:
        ax.set_title(f"{target}: {len(flares)} flare{'s' if len(flares) != 1 else ''}")
    return ax


def _time_values(time: Time) -> np.ndarray:
    values = np.asarray(time.value)
    return values.astype(float) if values.dtype.kind in "fiu" else np.asarray(time.jd, float)
