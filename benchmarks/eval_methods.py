"""The detectors of the model evaluation: fcn4flare (probability once, any post-processing
afterwards) and the peer detectors AltaiPony and stella through their ``.npz`` protocol.

Helper of ``benchmarks/evaluate_model.py``; see ``docs/benchmarks.rst`` and
``benchmarks/peers/README.md``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from eval_cases import Curve

from fcn4flare.inference import predict_probability
from fcn4flare.model import FCN4FlareModel
from fcn4flare.postprocessing import DEFAULT_RULES, Events, detect_events
from fcn4flare.preprocessing import DEFAULT_MAX_GAP, GridMap, prepare_light_curve

__all__ = [
    "model_rules",
    "Answer",
    "ModelRun",
    "run_model",
    "events_on_rows",
    "rows_mask",
    "PEERS",
    "Peer",
    "peer_available",
    "run_peer",
]


@dataclass(frozen=True)
class Answer:
    """A detector's answer on one light curve, per input sample.

    Attributes
    ----------
    flagged : ndarray of bool
        Samples the detector puts inside a flare.
    score : ndarray of float or None
        Continuous score (for AP and ROC AUC), NaN where the detector gave no answer; None for
        detectors that only answer yes or no.
    answered : ndarray of bool
        Samples the detector gave an answer for.
    runtime_s : float
        Wall time of the detection, when measured (NaN otherwise).
    events : tuple of ndarray or None
        ``(starts, stops)``: first and last (inclusive) sample of each event, when the detector
        reports events itself (fcn4flare's post-processing); None: its events are the runs of
        flagged samples on the regular cadence grid.
    """

    flagged: np.ndarray
    score: np.ndarray | None
    answered: np.ndarray
    runtime_s: float = float("nan")
    events: tuple[np.ndarray, np.ndarray] | None = None


@dataclass(frozen=True)
class ModelRun:
    """fcn4flare's network output on one light curve, on its regular grid."""

    grid: GridMap
    grid_flux: np.ndarray
    grid_probability: np.ndarray

    @property
    def probability(self) -> np.ndarray:
        """Probability at the input samples, NaN where the model saw no flux."""
        return self.grid.from_grid(self.grid_probability)

    def raw_answer(self, threshold: float = 0.5) -> Answer:
        """Every sample above ``threshold`` (the paper's point-wise protocol)."""
        p = self.probability
        with np.errstate(invalid="ignore"):
            return Answer(flagged=p > threshold, score=p, answered=np.isfinite(p))

    def events_answer(self, rules: Mapping[str, Any]) -> Answer:
        """Samples inside the events that ``detect_events(**rules)`` keeps."""
        p = self.probability
        starts, _, stops, _ = events_on_rows(self, rules)
        return Answer(flagged=rows_mask(starts, stops, p.size), score=None,
                      answered=np.isfinite(p), events=(starts, stops))


def run_model(model: FCN4FlareModel, curves: Sequence[Curve], batch_size: int = 16
              ) -> list[ModelRun]:
    """The network over several light curves: the steps of `fcn4flare.detect_flares`
    (preparation, scaled flux on the regular grid, chunked inference), without the events."""
    max_gap = max(DEFAULT_MAX_GAP, int(model.config.context))
    inputs = [prepare_light_curve(c.time, c.flux).model_input(model.config.input_scaling,
                                                             max_gap=max_gap)
              for c in curves]
    probabilities = predict_probability(model, [flux for flux, _ in inputs],
                                        batch_size=batch_size)
    return [ModelRun(grid=grid, grid_flux=flux, grid_probability=p)
            for (flux, grid), p in zip(inputs, probabilities, strict=True)]


def model_rules(model: FCN4FlareModel) -> dict[str, Any]:
    """What ``detect_flares(model=model)`` applies: the default rules at the model's own
    threshold (``config.detection_threshold``)."""
    return {**DEFAULT_RULES, "threshold": float(model.config.detection_threshold)}


def events_on_rows(run: ModelRun, rules: Mapping[str, Any]
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, Events]:
    """Events on the grid mapped to input samples, as `fcn4flare.detect_flares` maps them.

    Returns ``(starts, peaks, stops, events)`` with input-sample indices (inclusive stops).
    """
    events = detect_events(run.grid_probability, run.grid_flux, **rules)
    index = run.grid.index
    starts = np.searchsorted(index, events.start, side="left")
    stops = np.searchsorted(index, events.stop, side="right") - 1
    peaks = np.clip(np.searchsorted(index, events.peak, side="left"), starts, stops)
    return starts, peaks, stops, events


def rows_mask(starts: np.ndarray, stops: np.ndarray, size: int) -> np.ndarray:
    """Boolean mask of the samples ``starts[k] .. stops[k]`` (inclusive)."""
    edges = np.zeros(size + 1, dtype=np.int64)
    np.add.at(edges, starts, 1)
    np.add.at(edges, stops + 1, -1)
    return np.cumsum(edges[:-1]) > 0


# --------------------------------------------------------------------------- peers

_PEERS_DIR = Path(os.environ.get("PEERS_DIR", "/work/peers"))
_RUNNERS = Path(__file__).resolve().parent / "peers"


@dataclass(frozen=True)
class Peer:
    """A peer detector: its interpreter and runner script; ``label`` names it in tables,
    ``version`` says exactly what runs."""

    key: str
    label: str
    version: str
    python: Path
    script: Path
    continuous: bool


PEERS: dict[str, Peer] = {
    "altaipony": Peer("altaipony", "AltaiPony",
                      "AltaiPony 2.1.2, detrend('savgol') and find_flares() with defaults",
                      _PEERS_DIR / "altaipony-venv" / "bin" / "python",
                      _RUNNERS / "run_altaipony.py", continuous=False),
    "stella": Peer("stella", "stella",
                   "stella 0.1.0, median of the 10 released models, probability >= 0.5",
                   _PEERS_DIR / "stella-venv" / "bin" / "python",
                   _RUNNERS / "run_stella.py", continuous=True),
}


def peer_available(peer: Peer) -> bool:
    """Whether the peer's environment and runner exist (see ``benchmarks/peers/README.md``)."""
    return peer.python.is_file() and peer.script.is_file()


def run_peer(peer: Peer, curves: Sequence[Curve], args: Sequence[str] = (),
             log: Any = None) -> list[Answer]:
    """Run a peer on light curves through its ``.npz`` protocol (labels are never written)."""
    with tempfile.TemporaryDirectory(prefix=f"fcn4flare-eval-{peer.key}-") as tmp:
        in_dir, out_dir = Path(tmp) / "in", Path(tmp) / "out"
        in_dir.mkdir()
        out_dir.mkdir()
        names = [f"{k:05d}.npz" for k in range(len(curves))]
        for name, curve in zip(names, curves, strict=True):
            np.savez(in_dir / name, time=curve.time, flux=curve.flux, flux_err=curve.flux_err,
                     cadence_minutes=np.float64(curve.cadence_minutes))
        command = [str(peer.python), str(peer.script), str(in_dir), str(out_dir), *args]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if log is not None:
            log.write(f"$ {' '.join(command)}\n{done.stdout}{done.stderr}\n")
        if done.returncode != 0:
            sys.stderr.write(done.stderr[-3000:])
            raise RuntimeError(f"{peer.key} runner failed with exit code {done.returncode}")
        return [_read_answer(out_dir / name, curve, peer)
                for name, curve in zip(names, curves, strict=True)]


def _read_answer(path: Path, curve: Curve, peer: Peer) -> Answer:
    with np.load(path, allow_pickle=False) as data:
        prediction = np.asarray(data["prediction"], dtype=float)
        score = np.asarray(data["score"], dtype=float)
        runtime = float(data["runtime_s"])
        status = str(data["status"])
    if status != "ok" or prediction.size != curve.time.size:
        raise RuntimeError(f"{peer.key} failed on {curve.name}: {status}")
    answered = np.isfinite(prediction)
    return Answer(flagged=prediction == 1.0, score=score if peer.continuous else None,
                  answered=answered, runtime_s=runtime)
