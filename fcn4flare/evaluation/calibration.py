"""Calibration of fcn4flare's probability in the model evaluation (section 1b).

The probability of every scored sample of the simulated sets, the expected calibration error
and Brier score, a temperature fitted on the validation sets, and the reliability diagram.
Part of `fcn4flare.evaluation` (run by ``fcn4flare evaluate``); the metrics are those of
`fcn4flare.metrics`. Nothing here changes the model or the detector: the temperature is
measured, not applied.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from .. import metrics
from ..exceptions import FCN4FlareWarning, InputError
from .cases import Curve
from .methods import ModelRun

__all__ = [
    "N_BINS",
    "ProbabilitySamples",
    "fitted_temperature",
    "calibration_scores",
    "plot_reliability",
]

#: Equal-width probability bins of the ECE and the reliability diagram.
N_BINS = 10


@dataclass(frozen=True)
class ProbabilitySamples:
    """fcn4flare's probability on labelled light curves, with what is scored, per curve.

    Only these arrays are kept (not the detections), so that the probabilities of the
    simulated test sets can wait for section 1b cheaply.

    Attributes
    ----------
    labels : tuple of ndarray of bool
        The per-sample flare labels of each light curve.
    probability : tuple of ndarray of float
        The probability at each sample (as `~fcn4flare.evaluation.methods.ModelRun.raw_answer`
        uses it), NaN where the model saw no flux.
    scored : tuple of ndarray of bool
        `~fcn4flare.evaluation.cases.Curve.scored`: usable, neither neutral nor unknown.
    """

    labels: tuple[np.ndarray, ...]
    probability: tuple[np.ndarray, ...]
    scored: tuple[np.ndarray, ...]

    @classmethod
    def from_runs(cls, curves: Sequence[Curve], runs: Sequence[ModelRun]
                  ) -> ProbabilitySamples:
        """The samples of ``curves`` with the probability of their ``runs``.

        Parameters
        ----------
        curves : sequence of `~fcn4flare.evaluation.cases.Curve`
            Labelled light curves.
        runs : sequence of `~fcn4flare.evaluation.methods.ModelRun`
            fcn4flare on each of them.

        Returns
        -------
        ProbabilitySamples
        """
        return cls(labels=tuple(np.asarray(c.labels, dtype=bool) for c in curves),
                   probability=tuple(np.asarray(r.probability, dtype=float) for r in runs),
                   scored=tuple(c.scored for c in curves))

    @classmethod
    def pooled(cls, parts: Iterable[ProbabilitySamples]) -> ProbabilitySamples:
        """All light curves of ``parts`` together."""
        parts = list(parts)
        return cls(labels=sum((p.labels for p in parts), ()),
                   probability=sum((p.probability for p in parts), ()),
                   scored=sum((p.scored for p in parts), ()))

    def scaled(self, temperature: float) -> ProbabilitySamples:
        """The same samples with the probability scaled by ``temperature``
        (`fcn4flare.metrics.apply_temperature`)."""
        return ProbabilitySamples(
            labels=self.labels, scored=self.scored,
            probability=tuple(metrics.apply_temperature(p, temperature)
                              for p in self.probability))

    def flat(self) -> tuple[np.ndarray, np.ndarray]:
        """Labels and probability of the scored samples with a probability, concatenated."""
        keep = [s & np.isfinite(p) for s, p in zip(self.scored, self.probability, strict=True)]
        return (np.concatenate([y[k] for y, k in zip(self.labels, keep, strict=True)]),
                np.concatenate([p[k] for p, k in zip(self.probability, keep, strict=True)]))


def fitted_temperature(samples: ProbabilitySamples) -> tuple[float | None, str]:
    """`fcn4flare.metrics.fit_temperature` on the scored samples, and a remark on the fit.

    Parameters
    ----------
    samples : ProbabilitySamples
        Where to fit (the validation sets).

    Returns
    -------
    temperature : float or None
        None when the temperature is undefined (a single class, or every probability 0.5).
    remark : str
        Empty, or why the temperature is None or at a bound of its search.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FCN4FlareWarning)
        try:
            temperature = metrics.fit_temperature(*samples.flat())
        except InputError as error:
            return None, f"no temperature: {error}."
    remarks = [str(w.message) for w in caught if issubclass(w.category, FCN4FlareWarning)]
    return temperature, "; ".join(remarks) + ("." if remarks else "")


def calibration_scores(samples: ProbabilitySamples, temperature: float | None,
                       n_bins: int = N_BINS) -> dict[str, float | int | None]:
    """ECE and Brier score of the raw and of the temperature-scaled probability.

    Parameters
    ----------
    samples : ProbabilitySamples
        The scored samples.
    temperature : float or None
        The temperature (None: the scaled scores are None).
    n_bins : int
        Bins of the ECE.

    Returns
    -------
    dict
        ``n_samples``, ``flare_fraction``, ``ece``, ``brier``, ``ece_scaled``,
        ``brier_scaled``.
    """
    labels, probability = samples.flat()
    row: dict[str, float | int | None] = {
        "n_samples": int(labels.size),
        "flare_fraction": float(labels.mean()) if labels.size else float("nan"),
        "ece": metrics.expected_calibration_error(labels, probability, n_bins=n_bins),
        "brier": metrics.brier_score(labels, probability),
        "ece_scaled": None, "brier_scaled": None,
    }
    if temperature is not None:
        scaled = metrics.apply_temperature(probability, temperature)
        row["ece_scaled"] = metrics.expected_calibration_error(labels, scaled, n_bins=n_bins)
        row["brier_scaled"] = metrics.brier_score(labels, scaled)
    return row


def plot_reliability(curves: Mapping[str, metrics.ReliabilityCurve], title: str,
                     path: Path) -> None:
    """Reliability diagram (observed flare fraction against mean probability) and counts.

    Parameters
    ----------
    curves : mapping of str to `~fcn4flare.metrics.ReliabilityCurve`
        The curves to draw, by legend label (the same bins for all).
    title : str
        Figure title.
    path : path-like
        PNG file to write.
    """
    fig = Figure(figsize=(6.5, 7))
    ax, ax_n = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    ax.plot([0, 1], [0, 1], color="0.5", lw=0.8, ls="--", label="calibrated")
    markers = "osD^v"
    for k, (label, curve) in enumerate(curves.items()):
        filled = curve.count > 0
        colour = f"C{(3, 0, 2, 4, 1)[k % 5]}"
        ax.plot(curve.mean_predicted[filled], curve.observed_fraction[filled],
                marker=markers[k % len(markers)], ms=4, lw=1.2, color=colour,
                label=f"{label} (ECE {curve.expected_calibration_error:.4f})")
        ax_n.stairs(np.maximum(curve.count, 0.5), curve.bin_edges, color=colour, lw=1.2)
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("observed flare fraction")
    ax.set_title(title, fontsize=9)
    ax.legend(loc="upper left", fontsize=8)
    ax_n.set_yscale("log")
    ax_n.set_ylim(bottom=0.8)
    ax_n.set_ylabel("samples per bin")
    ax_n.set_xlabel("mean predicted probability (bin)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
