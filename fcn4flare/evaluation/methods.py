"""The detectors of the model evaluation: fcn4flare (through `~fcn4flare.detection.FlareDetector`:
probability once, any rules afterwards) and the peer detectors AltaiPony and stella, run in
their own environments through their ``.npz`` protocol.

Part of `fcn4flare.evaluation`; see ``docs/benchmarks.rst`` and ``benchmarks/peers/README.md``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..detection.detector import Detection, FlareDetector
from ..detection.rules import DetectionRules, Events
from ..exceptions import InputError
from .cases import Curve

__all__ = [
    "model_rules",
    "Answer",
    "ModelRun",
    "run_model",
    "events_on_rows",
    "rows_mask",
    "DEFAULT_PEER_ENVS",
    "DEFAULT_PEER_RUNNERS",
    "PEERS",
    "Peer",
    "peers",
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
    """fcn4flare's answer on one light curve: its detection, and any rules applied after.

    The network runs once (`run_model`); `events_answer` applies other rules to the same
    probability, as the post-processing sweep needs.

    Attributes
    ----------
    detection : `~fcn4flare.detection.Detection`
        What `~fcn4flare.detection.FlareDetector` found (its rules are the detector's).

    Examples
    --------
    >>> from fcn4flare.detection import DetectionRules
    >>> from fcn4flare.evaluation import cases
    >>> from fcn4flare.evaluation.methods import run_model
    >>> curves = cases.simulated_set("tess_2min", 1, seed=0, length=2048)
    >>> run, = run_model("fcn4flare-default", curves)
    >>> raw = run.raw_answer(0.5)  # every sample above 0.5, the probability as its score
    >>> raw.flagged.shape == raw.score.shape == curves[0].flux.shape
    True
    >>> events = run.events_answer()  # the samples of the detection's own events
    >>> events.score is None, len(events.events[0]) == len(run.detection.events)
    (True, True)
    >>> looser = run.events_answer(DetectionRules(threshold=0.3, min_points=1))
    >>> bool(looser.flagged.sum() >= events.flagged.sum())
    True
    """

    detection: Detection

    @property
    def grid(self) -> Any:
        """The light curve's `~fcn4flare.lightcurve.GridMap` (rows <-> cadence grid)."""
        return self.detection.grid

    @property
    def probability(self) -> np.ndarray:
        """Probability at the input samples, NaN where the model saw no flux."""
        return np.asarray(self.detection.probability.value)

    def events(self, rules: Any = None) -> Events:
        """Events on the grid by ``rules`` (default: the detection's own rules).

        Parameters
        ----------
        rules : `~fcn4flare.detection.DetectionRules`, optional
            Rules with a threshold; the detection's own when None or equal to them.

        Returns
        -------
        `~fcn4flare.detection.Events`
        """
        if rules is None or rules == self.detection.rules:
            return self.detection.events
        return _with_threshold(rules).apply(self.detection.grid_probability,
                                            self.detection.residual_input)

    def raw_answer(self, threshold: float = 0.5) -> Answer:
        """Every sample above ``threshold`` (the paper's point-wise protocol).

        Parameters
        ----------
        threshold : float
            Probability a sample must exceed.

        Returns
        -------
        Answer
            With the probability as a continuous score.
        """
        p = self.probability
        with np.errstate(invalid="ignore"):
            return Answer(flagged=p > threshold, score=p, answered=np.isfinite(p))

    def events_answer(self, rules: Any = None) -> Answer:
        """Samples inside the events that ``rules`` keep (see `events`).

        Parameters
        ----------
        rules : `~fcn4flare.detection.DetectionRules`, optional
            Rules with a threshold; default: the detection's own.

        Returns
        -------
        Answer
            Without a continuous score, with the events themselves as ``events``.
        """
        starts, _, stops, _ = events_on_rows(self, rules)
        return self._answer(starts, stops)

    def _answer(self, starts: np.ndarray, stops: np.ndarray) -> Answer:
        p = self.probability
        return Answer(flagged=rows_mask(starts, stops, p.size), score=None,
                      answered=np.isfinite(p), events=(starts, stops))

    def rejection_answer(self, reject_below: float | None) -> Answer:
        """The detection's candidates whose vetting ``delta_bic`` is at least ``reject_below``.

        What the detector's own rules give with ``VettingRules(reject_below=...)``, for any
        value, from one vetting of the candidates (candidates whose fit failed are kept).

        Parameters
        ----------
        reject_below : float or None
            None keeps every candidate.

        Returns
        -------
        Answer
            As `events_answer`.

        Raises
        ------
        InputError
            The detection was made without vetting.
        """
        detection = self.detection
        if detection.vetted is None:
            raise InputError("rejection_answer: the detection was made without vetting.")
        rules = replace(detection.vetting, reject_below=reject_below)
        keep = rules.kept(detection.vetted.delta_bic)
        candidates = detection.candidates
        starts, stops = self.grid.rows_of(candidates.start[keep], candidates.stop[keep])
        return self._answer(starts, stops)


def run_model(model: Any, curves: Sequence[Curve], batch_size: int = 16,
              rules: Any = None, vetting: Any = None) -> list[ModelRun]:
    """`~fcn4flare.detection.FlareDetector` over several light curves, through the network together.

    Parameters
    ----------
    model : `~fcn4flare.network.FCN4FlareModel` or str
        The model (or a shipped model's name, a checkpoint path).
    curves : sequence of Curve
        The light curves (times in days and flux, NaN where unusable).
    batch_size : int
        Windows per forward pass (memory only).
    rules : `~fcn4flare.detection.DetectionRules`, str or None
        The detector's rules; default: the default rules at the model's own threshold.
    vetting : bool or `~fcn4flare.detection.vetting.VettingRules`, optional
        The detector's vetting stage (none by default).

    Returns
    -------
    list of ModelRun
        One per curve, in order.
    """
    detector = FlareDetector(model, rules="default" if rules is None else rules,
                             batch_size=batch_size, vetting=vetting)
    prepared = [detector.prepare(c.time, c.flux, label=c.name) for c in curves]
    labels = [c.name for c in curves]
    return [ModelRun(d) for d in detector.run_prepared(prepared, labels=labels)]


def model_rules(model: Any) -> DetectionRules:
    """What ``FlareDetector(model)`` applies: the default rules at the model's own threshold.

    Parameters
    ----------
    model : `~fcn4flare.network.FCN4FlareModel` or str
        The model (``config.detection_threshold`` gives the threshold).

    Returns
    -------
    `~fcn4flare.detection.DetectionRules`
    """
    return FlareDetector(model).rules


def events_on_rows(run: ModelRun, rules: Any = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, Events]:
    """Events on the grid mapped to input samples, as a detection's flare table maps them.

    The mapping of `fcn4flare.detection.Detection.table`.

    Parameters
    ----------
    run : ModelRun
        fcn4flare's answer on one light curve.
    rules : `~fcn4flare.detection.DetectionRules`, optional
        Default: the detection's own rules.

    Returns
    -------
    starts, peaks, stops : ndarray of int
        Input-sample indices (inclusive stops).
    events : `~fcn4flare.detection.Events`
        The events on the grid.
    """
    events = run.events(rules)
    starts, stops, peaks = run.grid.rows_of(events.start, events.stop, events.peak)
    return starts, peaks, stops, events


def rows_mask(starts: np.ndarray, stops: np.ndarray, size: int) -> np.ndarray:
    """Boolean mask of the samples from ``starts[k]`` to ``stops[k]`` (inclusive), for all k.

    Parameters
    ----------
    starts, stops : ndarray of int
        First and last sample of each run.
    size : int
        Length of the mask.

    Returns
    -------
    ndarray of bool

    Examples
    --------
    >>> import numpy as np
    >>> from fcn4flare.evaluation.methods import rows_mask
    >>> rows_mask(np.array([1, 4]), np.array([2, 4]), 6)
    array([False,  True,  True, False,  True, False])
    """
    edges = np.zeros(size + 1, dtype=np.int64)
    np.add.at(edges, starts, 1)
    np.add.at(edges, stops + 1, -1)
    return np.cumsum(edges[:-1]) > 0


def _with_threshold(rules: Any) -> DetectionRules:
    rules = DetectionRules.resolve(rules)
    if rules.threshold is None:
        raise InputError("the rules of an evaluation answer need a threshold.")
    return rules


# --------------------------------------------------------------------------- peers

#: Where the peers' virtual environments live: ``$PEERS_DIR``, default ``/work/peers``
#: (made by ``benchmarks/peers/setup_peers.sh``).
DEFAULT_PEER_ENVS = Path(os.environ.get("PEERS_DIR", "/work/peers"))
#: The peers' runner scripts in a repository checkout: ``<repository>/benchmarks/peers``.
DEFAULT_PEER_RUNNERS = Path(__file__).resolve().parents[2] / "benchmarks" / "peers"


@dataclass(frozen=True)
class Peer:
    """A peer detector: its interpreter and runner script.

    Attributes
    ----------
    key : str
        Its name on the command line (``altaipony``, ``stella``).
    label : str
        Its name in the tables.
    version : str
        Exactly what runs.
    python : Path
        The interpreter of its own environment.
    script : Path
        Its runner (``benchmarks/peers/run_<key>.py``).
    continuous : bool
        Whether its answer has a continuous score.
    """

    key: str
    label: str
    version: str
    python: Path
    script: Path
    continuous: bool


def peers(envs: Path = DEFAULT_PEER_ENVS, runners: Path = DEFAULT_PEER_RUNNERS
          ) -> dict[str, Peer]:
    """The peer detectors, by key, with their environments under ``envs``.

    Parameters
    ----------
    envs : path-like
        Directory holding ``altaipony-venv`` and ``stella-venv``.
    runners : path-like
        Directory holding ``run_altaipony.py`` and ``run_stella.py``.

    Returns
    -------
    dict of str to Peer

    Examples
    --------
    >>> from fcn4flare.evaluation.methods import peers
    >>> sorted(peers("/opt/peers"))
    ['altaipony', 'stella']
    >>> str(peers("/opt/peers")["stella"].python)
    '/opt/peers/stella-venv/bin/python'
    """
    envs, runners = Path(envs), Path(runners)
    return {
        "altaipony": Peer("altaipony", "AltaiPony",
                          "AltaiPony 2.1.2, detrend('savgol') and find_flares() with defaults",
                          envs / "altaipony-venv" / "bin" / "python",
                          runners / "run_altaipony.py", continuous=False),
        "stella": Peer("stella", "stella",
                       "stella 0.1.0, median of the 10 released models, probability >= 0.5",
                       envs / "stella-venv" / "bin" / "python",
                       runners / "run_stella.py", continuous=True),
    }


#: The peers at the default places (`DEFAULT_PEER_ENVS`, `DEFAULT_PEER_RUNNERS`).
PEERS: dict[str, Peer] = peers()


def peer_available(peer: Peer) -> bool:
    """Whether the peer's environment and runner exist (see ``benchmarks/peers/README.md``).

    Parameters
    ----------
    peer : Peer

    Returns
    -------
    bool
    """
    return peer.python.is_file() and peer.script.is_file()


def run_peer(peer: Peer, curves: Sequence[Curve], args: Sequence[str] = (),
             log: Any = None) -> list[Answer]:
    """Run a peer on light curves through its ``.npz`` protocol (labels are never written).

    Parameters
    ----------
    peer : Peer
        The detector.
    curves : sequence of Curve
        The light curves.
    args : sequence of str
        Extra arguments of its runner.
    log : file-like, optional
        Receives the command and what the runner printed.

    Returns
    -------
    list of Answer
        One per curve.

    Raises
    ------
    RuntimeError
        The runner failed, or failed on one light curve.
    """
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
