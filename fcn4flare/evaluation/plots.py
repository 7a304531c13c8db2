"""Vetting figures of the model evaluation: each real light curve with the detected events.

Part of `fcn4flare.evaluation`. The figures are `matplotlib.figure.Figure` objects written
straight to PNG, so pyplot's backend and state are left alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .._arrays import find_runs
from .cases import Curve
from .methods import Answer

__all__ = ["plot_overview", "plot_zooms"]

_PEER_COLOURS = ("C2", "C0", "C4", "C5")
_MAX_ZOOMS = 30


def plot_overview(curve: Curve, probability: np.ndarray, events: Answer,
                  peers: Mapping[str, Answer], title: str, path: Path) -> None:
    """Normalised flux with fcn4flare's events shaded, peers' events as bars, probability.

    Parameters
    ----------
    curve : `~fcn4flare.evaluation.cases.Curve`
        The light curve.
    probability : ndarray
        fcn4flare's probability per sample.
    events : `~fcn4flare.evaluation.methods.Answer`
        fcn4flare's events (shaded).
    peers : mapping of str to `~fcn4flare.evaluation.methods.Answer`
        The peers' answers (bars above the light curve).
    title : str
        Figure title.
    path : path-like
        PNG file to write.
    """
    fig = Figure(figsize=(16, 6))
    ax, ax_p = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    flux = curve.flux / np.nanmedian(curve.flux)
    ax.plot(curve.time, flux, "k.", ms=1.2, lw=0)
    _shade(ax, curve.time, events.flagged, "C3", "fcn4flare events")
    _peer_bars(ax, curve.time, flux, {k: a.flagged for k, a in peers.items()})
    ax.set_ylabel("flux / median")
    ax.set_title(title, fontsize=9)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper right", fontsize=7)
    ax_p.plot(curve.time, probability, "C3-", lw=0.6)
    ax_p.axhline(0.5, color="0.5", lw=0.5, ls="--")
    ax_p.set_ylim(-0.02, 1.02)
    ax_p.set_ylabel("probability")
    ax_p.set_xlabel(f"time [{curve.meta.get('time_format', 'd').upper()}]")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def plot_zooms(curve: Curve, probability: np.ndarray, events: Answer,
               peers: Mapping[str, Answer], title: str, path: Path) -> int:
    """One small panel per fcn4flare event (at most 30).

    Parameters
    ----------
    curve, probability, events, peers, title, path
        As for `plot_overview`.

    Returns
    -------
    int
        The number of panels (0: no event, no file written).
    """
    starts, stops = find_runs(events.flagged)
    n = min(starts.size, _MAX_ZOOMS)
    if n == 0:
        return 0
    cols = min(n, 5)
    rows = int(np.ceil(n / cols))
    fig = Figure(figsize=(3.2 * cols, 2.6 * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    flux = curve.flux / np.nanmedian(curve.flux)
    for k, ax in enumerate(axes.ravel()):
        if k >= n:
            ax.axis("off")
            continue
        width = stops[k] - starts[k] + 1
        lo = max(starts[k] - max(width, 15), 0)
        hi = min(stops[k] + max(2 * width, 30) + 1, curve.time.size)
        window = slice(lo, hi)
        ax.plot(curve.time[window], flux[window], "k.-", ms=2, lw=0.4)
        _shade(ax, curve.time[window], events.flagged[window], "C3", None)
        _peer_bars(ax, curve.time[window], flux[window],
                   {k: a.flagged[window] for k, a in peers.items()})
        twin = ax.twinx()
        twin.plot(curve.time[window], probability[window], "C3-", lw=0.6, alpha=0.6)
        twin.set_ylim(-0.02, 1.02)
        twin.tick_params(labelsize=6)
        ax.tick_params(labelsize=6)
        ax.xaxis.set_major_locator(MaxNLocator(3))
        ax.set_title(f"#{k + 1}  t={curve.time[starts[k]]:.3f}", fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return n


def _shade(ax, time: np.ndarray, flagged: np.ndarray, colour: str, label: str | None) -> None:
    starts, stops = find_runs(flagged)
    half = 0.5 * float(np.median(np.diff(time))) if time.size > 1 else 0.0
    for k, (start, stop) in enumerate(zip(starts, stops, strict=True)):
        ax.axvspan(time[start] - half, time[stop] + half, color=colour, alpha=0.3, lw=0,
                   label=label if k == 0 else None)


def _peer_bars(ax, time: np.ndarray, flux: np.ndarray, peers: Mapping[str, np.ndarray]
               ) -> None:
    finite = flux[np.isfinite(flux)]
    if finite.size == 0:
        return
    top, spread = float(np.max(finite)), float(np.ptp(finite)) or 1e-3
    for j, (name, flagged) in enumerate(peers.items()):
        level = top + (0.04 + 0.04 * j) * spread
        starts, stops = find_runs(flagged)
        for k, (start, stop) in enumerate(zip(starts, stops, strict=True)):
            ax.plot([time[start], time[stop]], [level, level], "-",
                    color=_PEER_COLOURS[j % len(_PEER_COLOURS)], lw=3,
                    label=name if k == 0 else None)
