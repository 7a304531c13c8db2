"""What each trend leaves of the flares: the model's input, not only its output.

A trend that follows a flare hides it from the network whatever the weights; one that misses
the star shows the network bumps that are not flares. For each trend of
`~fcn4flare.trend.estimate_trend`, this measures

* on the evaluation's simulated sets (`~fcn4flare.evaluation.cases.simulated_set`), the
  fraction of labelled flare samples left more than `VISIBLE_SIGMA` noise units above the
  trend (the trend's own noise, as the input scaling divides by it), per cadence family;
* on the real light curves, the robust scatter of the residual in units of the white noise
  (`~fcn4flare.trend.second_difference_noise`): 1 where the trend leaves only noise.

Run::

    python -m fcn4flare.evaluation.trends [--examples N] [--seed S] [--data DIR]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..trend import TREND_METHODS, estimate_trend, residual_scatter, second_difference_noise
from .cases import FAMILIES, Curve, file_label, real_curves, simulated_set

__all__ = ["VISIBLE_SIGMA", "labelled_visibility", "real_residual_scatter", "main"]

#: Noise units above the trend from which a labelled sample counts as visible.
VISIBLE_SIGMA = 2.0


def labelled_visibility(curves: Sequence[Curve], methods: Sequence[str] = TREND_METHODS,
                        sigma: float = VISIBLE_SIGMA) -> dict[str, dict[str, float]]:
    """Fraction of the labelled samples more than ``sigma`` noise units above each trend.

    Parameters
    ----------
    curves : sequence of Curve
        Labelled light curves (``labels`` set), grouped by ``group`` (the cadence family).
    methods : sequence of str
        `~fcn4flare.trend.estimate_trend` methods.
    sigma : float
        The visibility threshold, in units of the trend's noise (``StarTrend.noise``).

    Returns
    -------
    dict
        ``{group: {method: fraction}}`` pooled over the group's labelled samples, and the
        same over all curves under ``'all'``; groups without a labelled sample are left out.

    Examples
    --------
    >>> from fcn4flare.evaluation.cases import simulated_set
    >>> from fcn4flare.evaluation.trends import labelled_visibility
    >>> curves = simulated_set("tess_2min", 2, seed=3, length=1024)
    >>> shown = labelled_visibility(curves, ["stellar"])
    >>> sorted(shown), 0 <= shown["all"]["stellar"] <= 1
    (['all', 'tess_2min'], True)
    """
    counts: dict[str, dict[str, list[int]]] = {}
    for curve in curves:
        labels = np.asarray(curve.labels, dtype=bool)
        if not labels.any():
            continue
        for method in methods:
            star = estimate_trend(curve.flux, method)
            above = star.residual(np.asarray(curve.flux) / star.median)[labels] > sigma
            for group in (curve.group, "all"):
                seen = counts.setdefault(group, {}).setdefault(method, [0, 0])
                seen[0] += int(np.count_nonzero(above))
                seen[1] += int(labels.sum())
    order = sorted(counts, key=lambda group: (group == "all", group))
    return {group: {method: visible / total for method, (visible, total) in counts[group].items()}
            for group in order}


def real_residual_scatter(curves: Sequence[Curve], methods: Sequence[str] = TREND_METHODS
                          ) -> dict[str, dict[str, float]]:
    """Robust scatter of each trend's residual, in white-noise units, per real light curve.

    Parameters
    ----------
    curves : sequence of Curve
        Light curves on a regular cadence (`~fcn4flare.evaluation.cases.real_curves`).
    methods : sequence of str
        `~fcn4flare.trend.estimate_trend` methods.

    Returns
    -------
    dict
        ``{file label: {method: scatter}}``; 1 where the trend leaves white noise.

    Examples
    --------
    >>> import numpy as np
    >>> from fcn4flare.evaluation.cases import Curve
    >>> from fcn4flare.evaluation.trends import real_residual_scatter
    >>> t = np.arange(4000)
    >>> rng = np.random.default_rng(2)
    >>> flux = 1 + 0.03 * np.sin(2 * np.pi * t / 60) + 1e-3 * rng.standard_normal(t.size)
    >>> curve = Curve(name="fast", group="fast.fits", time=t / 48.0, flux=flux,
    ...               flux_err=np.full(t.size, np.nan), cadence_minutes=30.0)
    >>> scatter = real_residual_scatter([curve], ["adaptive", "running_median"])["fast"]
    >>> bool(scatter["adaptive"] < 1.3), bool(scatter["running_median"] > 10)
    (True, True)
    """
    out: dict[str, dict[str, float]] = {}
    for curve in curves:
        flux = curve.on_grid(curve.flux, np.nan)
        relative = flux / np.nanmedian(flux)
        white = second_difference_noise(relative)
        out[file_label(curve)] = {
            method: residual_scatter(relative, estimate_trend(flux, method).trend, white)
            for method in methods
        }
    return out


def _table(rows: dict[str, dict[str, float]], methods: Sequence[str], first: str) -> str:
    width = max([len(first), *map(len, rows)])
    columns = [max(len(m), 8) for m in methods]
    lines = [f"{first:<{width}}  " + "  ".join(f"{m:>{c}}" for m, c in zip(methods, columns,
                                                                        strict=True))]
    for name, values in rows.items():
        lines.append(f"{name:<{width}}  " + "  ".join(
            f"{values[m]:{c}.3f}" for m, c in zip(methods, columns, strict=True)))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Print both measurements for every trend method."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=16,
                        help="simulated light curves per cadence family [16]")
    parser.add_argument("--length", type=int, default=2048, help="samples each [2048]")
    parser.add_argument("--seed", type=int, default=424242, help="simulation seed [424242]")
    parser.add_argument("--data", type=Path,
                        default=Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
                        / "lightcurves", help="directory of real FITS light curves")
    args = parser.parse_args(argv)
    curves = [curve for index, family in enumerate(FAMILIES)
              for curve in simulated_set(family, args.examples, args.seed + index, args.length)]
    shown = labelled_visibility(curves)
    print(f"Labelled samples more than {VISIBLE_SIGMA:g} noise units above the trend "
          f"({args.examples} x {args.length} samples per family, seed {args.seed} + family)")
    print(_table(shown, TREND_METHODS, "family"))
    real = real_curves(args.data)
    if real:
        print("\nRobust scatter of the residual in white-noise units (real light curves)")
        print(_table(real_residual_scatter(real), TREND_METHODS, "file"))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
