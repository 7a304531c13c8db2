"""Evaluate an FCN4Flare checkpoint: the numbers that decide and document the shipped model.

Usage::

    fcn4flare evaluate --model M [--quick] [--peers [NAME ...]] [--out DIR] [--data DIR]

or, from Python, `run_evaluation`. Sections (protocol in ``docs/benchmarks.rst``):

1. held-out simulated test sets, one per cadence family (point-wise and event-level scores of
   the raw probability and of the post-processed events); 1b. the calibration of the
   probability there (expected calibration error, Brier score, a temperature fitted on the
   simulated validation sets, a reliability diagram);
2. flares injected into the real light curves of ``--data`` (scores, event recall by peak
   amplitude and labelled length, the targets), and into their TESS 2-min files binned to
   10 and 30 min (full-frame-image-like light curves);
3. events on the un-injected real light curves (events per 30 days, a list to vet, figures);
4. the post-processing sweep (threshold, merge gap, minimum points, published rules) on
   validation-like simulated sets and separate injections; with ``--vetting``, also the
   candidates dropped below a vetting ``delta_bic`` (4b);
5. with ``--peers``: AltaiPony and stella on the same data, each run in its own environment
   by its runner in ``benchmarks/peers``;
6. wall time per light curve of every method.

Without real light curves (``--data`` absent or without FITS files) sections 2 and 3 are
skipped, with a message, and section 4 ranks on the simulated validation sets alone.

Tables are printed and written to ``--out`` (default ``runs/eval``) as CSV, one JSON file, a
reStructuredText fragment and a text report; vetting figures go to ``--out/png``. fcn4flare
runs through `~fcn4flare.detection.FlareDetector` everywhere. Every number except the timings is a
deterministic function of the model and the seeds.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import io
import json
import os
import platform
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from astropy import units as u
from erfa import ErfaWarning

from .. import __version__, metrics
from ..detection.detector import FlareDetector
from ..detection.rules import PUBLISHED_RULES, DetectionRules
from ..exceptions import InputError
from . import calibration as calib
from . import cases, scoring
from .methods import (
    DEFAULT_PEER_ENVS,
    DEFAULT_PEER_RUNNERS,
    Answer,
    ModelRun,
    Peer,
    events_on_rows,
    peer_available,
    run_model,
)
from .methods import peers as peer_registry
from .methods import run_peer as _run_peer
from .report import Column, Table, write_json
from .summary import summary_markdown

__all__ = [
    "Settings",
    "FULL",
    "QUICK",
    "Evaluation",
    "REPOSITORY",
    "DEFAULT_DATA",
    "DEFAULT_OUT",
    "build_parser",
    "select_peers",
    "run_evaluation",
    "write_outputs",
    "main",
]

#: The repository checkout this package sits in (the peers' runners, the data next to it).
REPOSITORY = Path(__file__).resolve().parents[2]
#: The real light curves: ``../shared/data/lightcurves`` relative to the repository.
DEFAULT_DATA = REPOSITORY.parent / "shared" / "data" / "lightcurves"
#: Where the tables go (relative to the working directory; ignored by git).
DEFAULT_OUT = Path("runs/eval")
TARGET_EVENT_RECALL = 0.90
TARGET_DICE = 0.75
TARGET_SPLIT = 0.02

# The fcn4flare variants scored everywhere: raw probability and two post-processings.
RAW = "fcn4flare p>0.5"
DEFAULT = "fcn4flare default rules"
PUBLISHED = "fcn4flare published rules"
FCN_VARIANTS = (RAW, DEFAULT, PUBLISHED)

STELLA_SIM_FAMILIES = ("tess_2min",)  # stella's training domain (TESS 2-min)
#: The ``reject_below`` values of the vetting sweep (section 4 with ``--vetting``).
REJECTION_GRID: tuple[float | None, ...] = (None, 0.0, 10.0, 30.0, 50.0, 100.0)


@dataclass(frozen=True)
class Settings:
    """Sizes of one evaluation run (`FULL` decides; `QUICK` is a smoke test).

    Attributes
    ----------
    families : tuple of str
        Cadence families of the simulated sets.
    n_test, n_validation : int
        Simulated light curves per family in the test and validation sets.
    length : int
        Samples per simulated light curve.
    files : int or None
        None: every FITS file; else the ``files`` with the fewest samples.
    realisations, tuning_realisations : int
        Injections per real file for the scores and for the sweep.
    thresholds, merge_gaps, min_points : tuple
        The grid of the post-processing sweep.
    timing_examples : int
        Simulated light curves timed per family.
    stella_sim_examples : int
        Simulated TESS 2-min light curves given to stella.
    quiescent_levels : tuple
        Levels of the extension to quiescence swept besides none, at the default
        ``min_points`` (`~fcn4flare.detection.extend_to_quiescence`).
    """

    families: tuple[str, ...]
    n_test: int
    n_validation: int
    length: int
    files: int | None  # None: every FITS file; else the smallest ``files`` ones
    realisations: int
    tuning_realisations: int
    thresholds: tuple[float, ...]
    merge_gaps: tuple[int, ...]
    min_points: tuple[int, ...]
    timing_examples: int
    stella_sim_examples: int
    quiescent_levels: tuple[float, ...] = ()


FULL = Settings(families=cases.FAMILIES, n_test=64, n_validation=32, length=4096, files=None,
                realisations=10, tuning_realisations=5, thresholds=(0.3, 0.4, 0.5, 0.6, 0.7),
                merge_gaps=(0, 1, 2, 3), min_points=(1, 2, 3),
                quiescent_levels=(0.5, 1.0, 2.0, 3.0), timing_examples=8,
                stella_sim_examples=64)
QUICK = Settings(families=("kepler_long", "tess_2min"), n_test=3, n_validation=2, length=4096,
                 files=1, realisations=1, tuning_realisations=1, thresholds=(0.3, 0.5, 0.7),
                 merge_gaps=(0, 2), min_points=(1, 3), quiescent_levels=(1.0,),
                 timing_examples=2,
                 stella_sim_examples=1)

POINTWISE = [
    Column("precision", "P", ".3f"), Column("recall", "R", ".3f"), Column("f1", "F1", ".3f"),
    Column("iou", "IoU", ".3f"), Column("dice", "Dice", ".3f"),
    Column("average_precision", "AP", ".3f"), Column("roc_auc", "AUC", ".3f"),
]
EVENTS = [
    Column("n_true_events", "flares", "d"), Column("event_recall", "ev R", ".3f"),
    Column("event_precision", "ev P", ".3f"), Column("n_false_events", "false ev", "d"),
]


# --------------------------------------------------------------------------- the evaluation


class Evaluation:
    """State shared by the sections: detector, settings, peers, the data sets and outputs.

    Each section (`simulated_test`, `calibration`, `injections`, `ffi_binned`,
    `false_events`, `postprocessing`, `timing`) adds its tables to ``tables``;
    `run_evaluation` runs them in that order.

    Parameters
    ----------
    model : `~fcn4flare.network.FCN4FlareModel`, str or path-like
        The model, a shipped model's name or a checkpoint.
    settings : Settings
        Sizes of the run.
    peers : mapping of str to `~fcn4flare.evaluation.methods.Peer`
        The peers to run, by key (see `select_peers`).
    data_dir : path-like
        Directory of the real FITS light curves (may be absent).
    out : path-like
        Output directory (for the figures).
    vetting : bool
        Evaluate the detector with the template-fit vetting stage.
    rules : dict or str, optional
        The detector's rules (default: the default rules at the model's threshold).
    """

    def __init__(self, model: Any, settings: Settings, peers: Mapping[str, Peer],
                 data_dir: Path, out: Path, *, vetting: bool = False,
                 rules: Any = None) -> None:
        self.detector = FlareDetector(model, rules="default" if rules is None else rules,
                                      vetting=vetting)
        self.vetting = self.detector.vetting
        self.model = self.detector.model
        self.default_rules = self.detector.rules
        self.published_rules = DetectionRules.resolve(
            "published", threshold=PUBLISHED_RULES["threshold"])
        self.settings = settings
        self.peers = dict(peers)
        self.data_dir = Path(data_dir)
        self.out = Path(out)
        self.tables: list[Table] = []
        self.extra: dict[str, Any] = {}
        self.peer_log = io.StringIO()
        self.timings: list[dict[str, Any]] = []
        self.skipped: list[str] = []
        self.metadata: dict[str, Any] = {}
        self._originals: list[cases.Curve] | None = None
        self._file_labels: dict[str, str] = {}

    # ---------------------------------------------------------------- helpers

    def table(self, table: Table) -> Table:
        """Keep ``table`` for the outputs and print it."""
        self.tables.append(table)
        print("\n" + table.to_text(), flush=True)
        return table

    def run_peer(self, key: str, curves: Sequence[cases.Curve], args: Sequence[str] = ()
                 ) -> list[Answer]:
        """Run peer ``key`` on ``curves`` (see `~fcn4flare.evaluation.methods.run_peer`)."""
        _log(f"{key}: {len(curves)} light curve(s) {' '.join(args)}")
        return _run_peer(self.peers[key], curves, args, log=self.peer_log)

    def run_model(self, curves: Sequence[cases.Curve], batch_size: int = 16
                  ) -> list[ModelRun]:
        """The detector on ``curves``: one `~fcn4flare.detection.Detection` each."""
        return run_model(self.model, curves, batch_size=batch_size, rules=self.default_rules,
                         vetting=self.vetting)

    def fcn_answers(self, runs: Sequence[ModelRun]) -> dict[str, list[Answer]]:
        """The three fcn4flare variants (p>0.5, default rules, published rules) per run."""
        variants: dict[str, Callable[[ModelRun], Answer]] = {
            RAW: lambda run: run.raw_answer(0.5),
            DEFAULT: lambda run: run.events_answer(self.default_rules),
            PUBLISHED: lambda run: run.events_answer(self.published_rules),
        }
        return {name: [variant(run) for run in runs] for name, variant in variants.items()}

    def originals(self) -> list[cases.Curve]:
        """The real light curves (read once); empty when ``data_dir`` holds none."""
        if self._originals is None:
            curves = cases.real_curves(self.data_dir, self.settings.files)
            if not curves:
                _log(f"no FITS light curves in {self.data_dir}: the sections on real light "
                     "curves are skipped (use --data DIR)")
            self._originals = curves
            self._file_labels.update({c.group: cases.file_label(c) for c in curves})
        return self._originals

    def short(self, name: str) -> str:
        """A table label for a real file: mission and quarter, campaign or sector."""
        return self._file_labels.get(name, name.removesuffix(".fits"))

    def _skip(self, section: str) -> bool:
        if self.originals():
            return False
        self.skipped.append(section)
        _log(f"section {section} skipped: no real light curves in {self.data_dir}")
        return True

    # ---------------------------------------------------------------- 1. simulated test sets

    def simulated_test(self) -> None:
        """Section 1: the simulated test sets, one per cadence family."""
        s = self.settings
        table = Table("simulated_test", f"1. Simulated test sets ({s.n_test} x {s.length} "
                      "samples per cadence family, seed 777000 + family index)",
                      [Column("family", "family"), Column("method", "method"), *POINTWISE,
                       *EVENTS, Column("coverage", "answered", ".3f")],
                      note="P..AUC point-wise over all samples concatenated; AP/AUC only for "
                           "continuous scores; ev R/ev P/false ev: runs of flagged samples vs "
                           "labelled flares (>= 1 shared sample).")
        pooled: dict[str, tuple[list, list]] = {}
        for family in s.families:
            index = list(cases.FAMILIES).index(family)
            curves = cases.simulated_set(family, s.n_test, cases.TEST_SEED + index, s.length)
            runs = self.run_model(curves)
            # kept for section 1b (calibration), which would otherwise run the network again
            self.extra.setdefault("simulated_test_probability", {})[family] = (
                calib.ProbabilitySamples.from_runs(curves, runs))
            methods = self.fcn_answers(runs)
            if "altaipony" in self.peers:
                methods[self.peers["altaipony"].label] = self.run_peer("altaipony", curves)
            if "stella" in self.peers and family in STELLA_SIM_FAMILIES:
                subset = curves[: s.stella_sim_examples]
                name = self.peers["stella"].label + " (floored gaps)"
                answers = self.run_peer("stella", subset, ["--gap-rule", "floored"])
                methods[name] = answers + [None] * (len(curves) - len(subset))
            for name, answers in methods.items():
                chosen = [(c, a) for c, a in zip(curves, answers, strict=True) if a is not None]
                used_curves, used_answers = zip(*chosen, strict=True)
                result = scoring.score_answers(used_curves, used_answers)
                table.add(family=family, method=name, **result)
                pooled.setdefault(name, ([], []))
                pooled[name][0].extend(used_curves)
                pooled[name][1].extend(used_answers)
            self._time_fcn_on_sims(family, curves)
            self._record_peer_times(methods, family, curves)
        for name, (curves, answers) in pooled.items():
            if len({c.group for c in curves}) > 1:
                table.add(family="all", method=name, **scoring.score_answers(curves, answers))
        self.table(table)

    def _time_fcn_on_sims(self, family: str, curves: Sequence[cases.Curve]) -> None:
        for curve in curves[: self.settings.timing_examples]:
            start = time.perf_counter()
            self.detector.run(curve.time, flux=curve.flux).table()
            self.timings.append({"method": "fcn4flare detect_flares", "data": f"sim {family}",
                                 "points": curve.time.size,
                                 "seconds": time.perf_counter() - start})

    def _record_peer_times(self, methods: dict[str, list], data: str,
                           curves: Sequence[cases.Curve]) -> None:
        for name, answers in methods.items():
            if name.startswith("fcn4flare"):
                continue
            for curve, answer in zip(curves, answers, strict=True):
                if answer is not None:
                    self.timings.append({"method": name, "data": f"sim {data}",
                                         "points": curve.time.size,
                                         "seconds": answer.runtime_s})

    # ---------------------------------------------------------------- 1b. calibration

    def calibration(self) -> None:
        """Section 1b: calibration of the probability on the simulated sets.

        Per family and pooled: the expected calibration error (`fcn4flare.metrics`, 10
        equal-width bins) and Brier score of the probability on the scored samples of the
        test sets, raw and divided in logit by a temperature fitted on the validation sets
        of all families pooled (`fcn4flare.metrics.fit_temperature`); the temperature fitted
        on each family's validation set alone; the reliability diagram in
        ``png/reliability.png``. The temperature goes to ``extra["temperature"]`` (and
        ``results.json``); it is measured, not applied to the model or the detector. The
        test probabilities come from `simulated_test` when it ran first.
        """
        s = self.settings
        cached = self.extra.pop("simulated_test_probability", {})
        test: dict[str, calib.ProbabilitySamples] = {}
        validation: dict[str, calib.ProbabilitySamples] = {}
        for family in s.families:
            index = list(cases.FAMILIES).index(family)
            if family in cached:
                test[family] = cached[family]
            else:
                curves = cases.simulated_set(family, s.n_test, cases.TEST_SEED + index,
                                             s.length)
                test[family] = calib.ProbabilitySamples.from_runs(curves,
                                                                  self.run_model(curves))
            curves = cases.simulated_set(family, s.n_validation, cases.VALIDATION_SEED + index,
                                         s.length)
            validation[family] = calib.ProbabilitySamples.from_runs(curves,
                                                                    self.run_model(curves))
        pooled_validation = calib.ProbabilitySamples.pooled(validation.values())
        temperature, remark = calib.fitted_temperature(pooled_validation)
        self.extra["temperature"] = temperature

        shown = "--" if temperature is None else f"{temperature:.3f}"
        table = Table("calibration", "1b. Calibration of the probability on the simulated "
                      f"sets: test sets, raw and scaled by the temperature T = {shown} fitted "
                      f"on the validation sets ({s.n_validation} per family, all families "
                      "pooled)",
                      [Column("family", "family"), Column("n_samples", "samples", "d"),
                       Column("flare_fraction", "flare frac", ".4f"),
                       Column("ece", "ECE", ".4f"), Column("ece_scaled", "ECE (T)", ".4f"),
                       Column("brier", "Brier", ".5f"),
                       Column("brier_scaled", "Brier (T)", ".5f"),
                       Column("temperature", "T (val)", ".3f")],
                      note=f"ECE: {calib.N_BINS} equal-width bins on [0, 1], sum of "
                           "(n_b / N) abs(flare fraction - mean probability) over the scored "
                           "samples; dominated by the many quiet samples at low probability "
                           "(see png/reliability.png). T (val): the temperature fitted on "
                           "that family's validation set alone ('all': the pooled one, used "
                           "for the (T) columns). p -> sigmoid(logit(p) / T); measured, not "
                           "applied to the model or the detector.")
        _, val_probability = pooled_validation.flat()
        clip = metrics.PROBABILITY_CLIP
        clipped = float(np.mean((val_probability < clip) | (val_probability > 1 - clip)))
        table.note += (f"\n{100 * clipped:.1f} % of the validation samples lie beyond "
                       f"[{clip:g}, 1 - {clip:g}] and are clipped in the fit.")
        if remark:
            table.note += f"\n{remark}"
        for family in s.families:
            family_temperature, _ = calib.fitted_temperature(validation[family])
            table.add(family=family, **calib.calibration_scores(test[family], temperature),
                      temperature=family_temperature)
        pooled_test = calib.ProbabilitySamples.pooled(test.values())
        if len(s.families) > 1:
            table.add(family="all", **calib.calibration_scores(pooled_test, temperature),
                      temperature=temperature)
        self.table(table)

        curves = {"raw": metrics.reliability_curve(*pooled_test.flat(), n_bins=calib.N_BINS)}
        if temperature is not None:
            labels, probability = pooled_test.flat()
            curves[f"T = {temperature:.3f}"] = metrics.reliability_curve(
                labels, metrics.apply_temperature(probability, temperature),
                n_bins=calib.N_BINS)
        png = self.out / "png"
        png.mkdir(parents=True, exist_ok=True)
        calib.plot_reliability(curves, f"fcn4flare probability on the simulated test sets "
                               f"({', '.join(s.families)})", png / "reliability.png")

    # ---------------------------------------------------------------- 2. injections

    def injections(self) -> None:
        """Section 2: flares injected into the real light curves (skipped without them)."""
        if self._skip("injections"):
            return
        s = self.settings
        originals = self.originals()
        injected = cases.injection_set(originals, s.realisations, cases.INJECTION_TEST_SEED)
        on_original = self.fcn_answers(self.run_model(originals, batch_size=1))
        on_injected = self.fcn_answers(self.run_model(injected, batch_size=1))
        methods = {name: (on_original[name], on_injected[name]) for name in FCN_VARIANTS}
        methods.update(self._peers_on_real(originals, injected))
        self.extra["original_answers"] = {n: a[0] for n, a in methods.items()}

        table = Table("injection", f"2. Injected flares in real light curves ({s.realisations} "
                      "realisations per file, seeds 10000 + 100 j + r)",
                      [Column("file", "file"), Column("method", "method"), *POINTWISE, *EVENTS,
                       Column("coverage", "answered", ".3f")],
                      note="Not scored: upward excursions of the un-injected light curve "
                           "(possible real flares, same samples for every method) and the "
                           "surroundings of injected flares too faint to be labelled.")
        records: dict[str, list[dict[str, Any]]] = {}
        for name, (_, injected_answers) in methods.items():
            by_file: dict[str, tuple[list, list]] = {}
            for curve, answer in zip(injected, injected_answers, strict=True):
                if answer is not None:
                    entry = by_file.setdefault(curve.group, ([], []))
                    entry[0].append(curve)
                    entry[1].append(answer)
            everything: tuple[list, list] = ([], [])
            for group, (curves, answers) in by_file.items():
                table.add(file=self.short(group), method=name,
                          **scoring.score_answers(curves, answers))
                everything[0].extend(curves)
                everything[1].extend(answers)
            if len(by_file) > 1:
                table.add(file="all", method=name, **scoring.score_answers(*everything))
            records[name] = scoring.flare_records(*everything)
            self._record_real_times(name, injected, injected_answers, "injected")
        table.rows.sort(key=lambda row: (row["file"] == "all", row["file"]))
        self.table(table)
        self.extra["injected_flares"] = records
        self._recall_tables(records)
        self._targets(table, records)

    def _peers_on_real(self, originals: list[cases.Curve], injected: list[cases.Curve]
                       ) -> dict[str, tuple[list, list]]:
        methods: dict[str, tuple[list, list]] = {}
        if "altaipony" in self.peers:
            answers = self.run_peer("altaipony", originals + injected)
            methods[self.peers["altaipony"].label] = (answers[: len(originals)],
                                                 answers[len(originals):])
        if "stella" in self.peers:
            domain = [c for c in originals if abs(c.cadence_minutes - 2.0) < 0.5]
            if domain:
                chosen = domain + [c for c in injected if c.source in domain]
                answers = dict(zip((c.name for c in chosen),
                                   self.run_peer("stella", chosen), strict=True))
                methods[self.peers["stella"].label] = (
                    [answers.get(c.name) for c in originals],
                    [answers.get(c.name) for c in injected],
                )
        return methods

    def _record_real_times(self, name: str, curves: Sequence[cases.Curve],
                           answers: Sequence[Answer | None], data: str) -> None:
        if name.startswith("fcn4flare"):
            return
        for curve, answer in zip(curves, answers, strict=True):
            if answer is not None:
                self.timings.append({"method": name, "data": f"{data} {self.short(curve.group)}",
                                     "points": curve.time.size, "seconds": answer.runtime_s})

    def _recall_tables(self, records: dict[str, list[dict[str, Any]]]) -> None:
        peak = Table("recall_by_peak", "2a. Event recall by injected peak / point-to-point "
                     "scatter (number of flares in brackets)",
                     [Column("method", "method"), Column("files", "files", "d")]
                     + [Column(name, f"peak {name}") for name, _, _ in scoring.PEAK_BINS]
                     + [Column("all", "all")])
        length = Table("recall_by_length", "2b. Event recall by labelled length in cadences "
                       "(number of flares in brackets)",
                       [Column("method", "method"), Column("files", "files", "d")]
                       + [Column(name, f"len {name}") for name, _, _ in scoring.LENGTH_BINS])
        for name, flares in records.items():
            cells = {b: _recall_cell(n, r) for b, n, r in
                     scoring.recall_by_bin(flares, "peak_sigma", scoring.PEAK_BINS)}
            cells["all"] = _recall_cell(*scoring.overall_recall(flares))
            files = len({r["file"] for r in flares})
            peak.add(method=name, files=files, **cells)
            length.add(method=name, files=files, **{b: _recall_cell(n, r) for b, n, r in
                                       scoring.recall_by_bin(flares, "length",
                                                             scoring.LENGTH_BINS,
                                                             inclusive=True)})
        flares = records[DEFAULT]
        left_out = len(flares) - len(scoring.counted(flares))
        peak.note = (f"{left_out} of the {len(flares)} labelled injected flares touch an upward "
                     "excursion of the un-injected light curve and are left out of every "
                     "recall.")
        self.table(peak)
        self.table(length)
        grid = Table("recall_grid", "2c. Event recall of fcn4flare events (default rules) by "
                     "peak / scatter (rows) and labelled length (columns)",
                     [Column("peak", "peak / scatter")]
                     + [Column(name, f"len {name}") for name, _, _ in scoring.LENGTH_BINS])
        flares = records[DEFAULT]
        for name, low, high in scoring.PEAK_BINS:
            chosen = [r for r in flares if low <= r["peak_sigma"] < high]
            grid.add(peak=name, **{b: _recall_cell(n, r) for b, n, r in scoring.recall_by_bin(
                chosen, "length", scoring.LENGTH_BINS, inclusive=True)})
        self.table(grid)

    def _targets(self, table: Table, records: dict[str, list[dict[str, Any]]]) -> None:
        targets = Table("targets", f"2d. Targets on the injections: event recall (peak > "
                        f"{scoring.TARGET_PEAK_SIGMA:g} x scatter, labelled length >= "
                        f"{scoring.TARGET_MIN_LENGTH}) >= {TARGET_EVENT_RECALL}, point-wise "
                        f"Dice >= {TARGET_DICE}",
                        [Column("file", "file"), Column("method", "method"),
                         Column("n_target", "target flares", "d"),
                         Column("target_recall", "event recall", ".3f"),
                         Column("recall_ok", "ok"), Column("dice", "Dice", ".3f"),
                         Column("dice_ok", "ok"), Column("split", "split", ".3f")],
                        note="split: fraction of the recovered flares that come back as more "
                             f"than one event (target < {TARGET_SPLIT}).")
        for row in table.rows:
            flares = [r for r in records[row["method"]]
                      if row["file"] == "all" or self.short(r["file"]) == row["file"]]
            n_target, recall = scoring.target_recall(flares)
            targets.add(file=row["file"], method=row["method"], n_target=n_target,
                        target_recall=recall, recall_ok=bool(recall >= TARGET_EVENT_RECALL),
                        dice=row["dice"], dice_ok=bool(row["dice"] >= TARGET_DICE),
                        split=scoring.split_fraction(flares)[1])
        self.table(targets)

    # ---------------------------------------------------------------- 2e. FFI-like curves

    def ffi_binned(self) -> None:
        """Section 2e: the TESS 2-min files binned to full-frame-image cadences, with
        injections (`~fcn4flare.evaluation.cases.ffi_like_curves`)."""
        if self._skip("ffi_binned"):
            return
        s = self.settings
        binned = cases.ffi_like_curves(self.originals())
        if not binned:
            _log("section ffi_binned skipped: no TESS 2-min light curve to bin")
            return
        self._file_labels.update({c.group: cases.file_label(c) for c in binned})
        injected = cases.injection_set(binned, s.realisations, cases.INJECTION_FFI_SEED)
        on_original = self.fcn_answers(self.run_model(binned, batch_size=1))
        on_injected = self.fcn_answers(self.run_model(injected, batch_size=1))
        methods = {name: (on_original[name], on_injected[name]) for name in FCN_VARIANTS}
        if "altaipony" in self.peers:
            answers = self.run_peer("altaipony", binned + injected)
            methods[self.peers["altaipony"].label] = (answers[: len(binned)],
                                                 answers[len(binned):])
        table = Table("ffi_binned", f"2e. FFI-like light curves: TESS 2-min binned to "
                      f"{' and '.join(f'{m:g}' for m in cases.FFI_BINS_MINUTES)} min, with "
                      f"injections ({s.realisations} realisations each, seeds "
                      f"{cases.INJECTION_FFI_SEED} + 100 j + r); target event recall >= "
                      f"{TARGET_EVENT_RECALL}",
                      [Column("file", "file"), Column("method", "method"),
                       Column("f1", "F1", ".3f"), Column("dice", "Dice", ".3f"),
                       Column("average_precision", "AP", ".3f"),
                       Column("n_target", "target flares", "d"),
                       Column("target_recall", "event recall", ".3f"),
                       Column("recall_ok", "ok"), Column("split", "split", ".3f"),
                       Column("outside_per_30d", "un-injected ev/30 d", ".2f")],
                      note="un-injected ev/30 d: events on the binned light curve without "
                           "injections, away from its upward excursions.")
        for name, (original_answers, injected_answers) in methods.items():
            for curve in binned:
                chosen = [(c, a) for c, a in zip(injected, injected_answers, strict=True)
                          if c.source is curve and a is not None]
                j = binned.index(curve)
                if not chosen or original_answers[j] is None:
                    continue
                curves, answers = zip(*chosen, strict=True)
                scores = scoring.score_answers(curves, answers)
                flares = scoring.flare_records(curves, answers)
                n_target, recall = scoring.target_recall(flares)
                rate = scoring.count_events([curve], [original_answers[j]])
                table.add(file=self.short(curve.group), method=name, f1=scores["f1"],
                          dice=scores["dice"], average_precision=scores["average_precision"],
                          n_target=n_target, target_recall=recall,
                          recall_ok=bool(recall >= TARGET_EVENT_RECALL),
                          split=scoring.split_fraction(flares)[1],
                          outside_per_30d=rate["outside_per_30d"])
        self.table(table)

    # ---------------------------------------------------------------- 3. real light curves

    def false_events(self) -> None:
        """Section 3: events on the un-injected real light curves, a list and figures."""
        if self._skip("false_events"):
            return
        originals = self.originals()
        answers = self.extra["original_answers"]
        runs = self.run_model(originals, batch_size=1)
        rate = Table("false_events", "3. Events on the un-injected real light curves (real "
                     "flares included: an upper bound on false events)",
                     [Column("file", "file"), Column("method", "method"),
                      Column("days", "days", ".1f"), Column("n_events", "events", "d"),
                      Column("per_30d", "per 30 d", ".2f"),
                      Column("n_outside", "away from excursions", "d"),
                      Column("outside_per_30d", "per 30 d", ".2f")],
                     note="'away from excursions': events sharing no sample with an upward "
                          "excursion of the light curve (likely false; see the protocol).")
        listing = Table("event_list", "3a. fcn4flare events (default rules) on the real light "
                        "curves, for vetting",
                        [Column("file", "file"), Column("n", "#", "d"),
                         Column("tpeak", "tpeak", ".4f"), Column("amplitude", "amplitude", ".4g"),
                         Column("duration_min", "duration [min]", ".1f"),
                         Column("n_points", "points", "d"), Column("score", "score", ".3f"),
                         Column("max_score", "max score", ".3f"),
                         Column("excursion", "on excursion"),
                         Column("published", "published rules"), Column("peers", "peers")],
                        print_limit=60)
        consistent = True
        for j, curve in enumerate(originals):
            for name, per_curve in answers.items():
                if per_curve[j] is None:
                    continue
                rate.add(file=self.short(curve.group), method=name,
                         **scoring.count_events([curve], [per_curve[j]]))
            table, seconds = self._public_detection(curve)
            consistent &= self._same_events(runs[j], table)
            peers = {name: per_curve[j] for name, per_curve in answers.items()
                     if not name.startswith("fcn4flare") and per_curve[j] is not None}
            published = answers[PUBLISHED][j].flagged
            for k, row in enumerate(table):
                span = slice(int(row["istart"]), int(row["istop"]) + 1)
                found_by = [name for name, a in peers.items() if a.flagged[span].any()]
                listing.add(file=self.short(curve.group), n=k + 1, tpeak=float(row["tpeak"].value),
                            amplitude=float(u.Quantity(row["amplitude"]).value),
                            duration_min=float(row["duration"].to_value("min")),
                            n_points=int(row["n_points"]), score=float(row["score"]),
                            max_score=float(row["max_score"]),
                            excursion=bool(curve.unknown[span].any()),
                            published=bool(published[span].any()),
                            peers=", ".join(found_by) or "none")
            self._figures(curve, runs[j], answers[DEFAULT][j], peers)
            self.timings.append({"method": "fcn4flare detect_flares",
                                 "data": f"original {self.short(curve.group)}",
                                 "points": curve.time.size, "seconds": seconds})
            for name, per_curve in answers.items():
                self._record_real_times(name, [curve], [per_curve[j]], "original")
        if len(originals) > 1:
            for name, per_curve in answers.items():
                chosen = [(c, a) for c, a in zip(originals, per_curve, strict=True)
                          if a is not None]
                rate.add(file="all" if len(chosen) == len(originals) else "all run",
                         method=name, **scoring.count_events(*zip(*chosen, strict=True)))
        self.table(rate)
        self.table(listing)
        self.extra["public_api_consistent"] = consistent
        print(f"FlareDetector on the lightkurve objects gives the events scored here: "
              f"{'yes' if consistent else 'NO'}")

    def _public_detection(self, curve: cases.Curve) -> tuple[Any, float]:
        """`FlareDetector` on the file read by lightkurve: the user's path, timed."""
        import lightkurve as lk

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lc = lk.read(str(self.data_dir / curve.group))
        self.detector.run(lc).table()  # warm-up
        seconds = []
        for _ in range(3):
            start = time.perf_counter()
            table = self.detector.run(lc).table()
            seconds.append(time.perf_counter() - start)
        return table, float(np.median(seconds))

    def _same_events(self, run: ModelRun, table: Any) -> bool:
        starts, _, stops, _ = events_on_rows(run, self.default_rules)
        return bool(np.array_equal(starts, np.asarray(table["istart"]))
                    and np.array_equal(stops, np.asarray(table["istop"])))

    def _figures(self, curve: cases.Curve, run: ModelRun, events: Answer,
                 peers: dict[str, Answer]) -> None:
        from .plots import plot_overview, plot_zooms

        png = self.out / "png"
        png.mkdir(exist_ok=True)
        title = (f"{curve.group}  ({curve.meta.get('target', '')}): fcn4flare events "
                 f"(default rules) shaded; peers as bars")
        plot_overview(curve, run.probability, events, peers, title,
                      png / f"{curve.name}_overview.png")
        plot_zooms(curve, run.probability, events, peers, title, png / f"{curve.name}_events.png")

    # ---------------------------------------------------------------- 4. post-processing

    def postprocessing(self) -> None:
        """Section 4: the sweep of threshold, merge gap, minimum points and published rules.

        Without real light curves the injection columns stay empty and the ranking uses
        the validation scores alone.
        """
        s = self.settings
        validation = []
        for family in s.families:
            index = list(cases.FAMILIES).index(family)
            validation += cases.simulated_set(family, s.n_validation,
                                              cases.VALIDATION_SEED + index, s.length)
        originals = self.originals()
        tuning = cases.injection_set(originals, s.tuning_realisations,
                                     cases.INJECTION_TUNING_SEED)
        val_runs = self.run_model(validation)
        original_runs = self.run_model(originals, batch_size=1)
        tuning_runs = self.run_model(tuning, batch_size=1)

        table = Table("postprocessing", "4. Post-processing sweep: simulated validation sets "
                      f"({s.n_validation} per family, seed 778000 + family index) and separate "
                      f"injections ({s.tuning_realisations} per file, seeds 20000 + 100 j + r)",
                      [Column("rules", "rules"), Column("threshold", "thr", ".1f"),
                       Column("merge_gap", "gap", "d"), Column("min_points", "min pts", "d"),
                       Column("quiescent_level", "quiet", ".1f"),
                       Column("val_event_f1", "val ev F1", ".3f"),
                       Column("val_f1", "val F1", ".3f"), Column("val_iou", "val IoU", ".3f"),
                       Column("inj_event_f1", "inj ev F1", ".3f"),
                       Column("inj_target_recall", "inj target R", ".3f"),
                       Column("inj_f1", "inj F1", ".3f"), Column("inj_iou", "inj IoU", ".3f"),
                       Column("real_per_30d", "real ev/30d", ".2f"),
                       Column("score", "mean F1", ".4f")],
                      note="mean F1 = mean of val ev F1, val F1, inj ev F1 and inj F1 (the "
                           "ranking used; IoU ranks like F1). quiet: the quiescent_level of "
                           "the extension to quiescence (-- none).")
        if not originals:
            table.note += ("\nNo real light curves: the injection columns are empty and mean "
                           "F1 is the mean of val ev F1 and val F1.")
        def sweep_scores(answer):
            return _sweep_scores(answer, validation, val_runs, originals, original_runs,
                                 tuning, tuning_runs)

        for label, rules in _rule_grid(s):
            table.add(rules=label, threshold=rules.threshold, merge_gap=rules.merge_gap,
                      min_points=rules.min_points, quiescent_level=rules.quiescent_level,
                      **sweep_scores(lambda run, rules=rules: run.events_answer(rules)),
                      is_default=rules == self.default_rules)
        table.rows.sort(key=lambda row: -row["score"])
        best = table.rows[0]
        current = next((r for r in table.rows if r["is_default"]), None)
        table.note += (f"\nBest: {best['rules']} threshold {best['threshold']:g}, merge_gap "
                       f"{best['merge_gap']}, min_points {best['min_points']}, "
                       f"quiescent_level {best['quiescent_level']} (mean F1 "
                       f"{best['score']:.4f})")
        if current is not None:
            table.note += (f"; current defaults (threshold {current['threshold']:g}, merge_gap "
                           f"{current['merge_gap']}, min_points {current['min_points']}, "
                           f"quiescent_level {current['quiescent_level']}): "
                           f"{current['score']:.4f}, rank {table.rows.index(current) + 1} of "
                           f"{len(table.rows)}.")
        for metric in ("val_event_f1", "val_f1", "inj_event_f1", "inj_f1"):
            if table.rows[0][metric] is None:
                continue
            top = max(table.rows, key=lambda row, m=metric: row[m])
            table.note += (f"\nBest {metric}: {top['rules']} thr {top['threshold']:g} gap "
                           f"{top['merge_gap']} min {top['min_points']} quiet "
                           f"{top['quiescent_level']} ({top[metric]:.3f})")
        self.extra["recommended_rules"] = {k: best[k] for k in
                                           ("rules", "threshold", "merge_gap", "min_points",
                                            "quiescent_level")}
        self.table(table)
        if self.vetting is not None:
            self._rejection_sweep(sweep_scores)

    def _rejection_sweep(self, sweep_scores: Callable[[Callable], dict[str, Any]]) -> None:
        """Section 4 with ``--vetting``: dropping candidates by their vetting ``delta_bic``.

        For each ``reject_below`` of `REJECTION_GRID`, the default rules' candidates whose
        template fit beats the background alone by less than that are dropped, on the same
        sets and with the same columns as the rule sweep, ranked alike.
        """
        s = self.settings
        table = Table("vetting_rejection", "4b. Vetting: candidates dropped below a delta_bic "
                      "(default rules; the sets of section 4)",
                      [Column("reject_below", "reject below"),
                       Column("val_event_f1", "val ev F1", ".3f"),
                       Column("val_f1", "val F1", ".3f"),
                       Column("inj_event_f1", "inj ev F1", ".3f"),
                       Column("inj_target_recall", "inj target R", ".3f"),
                       Column("inj_f1", "inj F1", ".3f"),
                       Column("real_per_30d", "real ev/30d", ".2f"),
                       Column("score", "mean F1", ".4f")],
                      note="delta_bic: BIC of the local background alone minus that of "
                           "template + background (fcn4flare.detection.vetting); candidates "
                           "whose fit failed are kept. mean F1 as in section 4.")
        for reject in REJECTION_GRID:
            table.add(reject_below="none" if reject is None else f"{reject:g}",
                      **sweep_scores(lambda run, reject=reject: run.rejection_answer(reject)))
        best = max(table.rows, key=lambda r: r["score"])
        table.note += (f"\nBest: reject below {best['reject_below']} (mean F1 "
                       f"{best['score']:.4f}); {s.tuning_realisations} injection(s) per file.")
        self.extra["recommended_rejection"] = best["reject_below"]
        self.table(table)

    # ---------------------------------------------------------------- 6. timing

    def timing(self) -> None:
        """Section 6: wall time per light curve of every method."""
        import torch

        table = Table("timing", "6. Wall time per light curve (this machine, torch threads "
                      f"{torch.get_num_threads()}; peers: their runners' runtime_s)",
                      [Column("method", "method"), Column("data", "data"),
                       Column("n", "curves", "d"), Column("points", "median points", "d"),
                       Column("mean_s", "mean s", ".3f"), Column("max_s", "max s", ".3f")])
        groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for entry in self.timings:
            data = entry["data"]
            if data.startswith("injected"):
                data = "injected (all files)"
            groups.setdefault((entry["method"], data), []).append(entry)
        for (method, data), entries in groups.items():
            seconds = np.array([e["seconds"] for e in entries])
            table.add(method=method, data=data, n=len(entries),
                      points=int(np.median([e["points"] for e in entries])),
                      mean_s=float(seconds.mean()), max_s=float(seconds.max()))
        self.table(table)


# --------------------------------------------------------------------------- small helpers


def _sweep_scores(answer: Callable[[ModelRun], Any], validation: list[cases.Curve],
                  val_runs: list[ModelRun], originals: list[cases.Curve],
                  original_runs: list[ModelRun], tuning: list[cases.Curve],
                  tuning_runs: list[ModelRun]) -> dict[str, Any]:
    """The columns of one setting of a section-4 sweep; ``answer(run)`` is its answer.

    ``score`` (the ranking) is the mean of the validation and injection event and point-wise
    F1; without real light curves, of the validation ones, and the injection columns are None.
    """
    val = scoring.score_answers(validation, [answer(r) for r in val_runs])
    row = {"val_event_f1": val["event_f1"], "val_f1": val["f1"], "val_iou": val["iou"],
           **dict.fromkeys(("inj_event_f1", "inj_target_recall", "inj_f1", "inj_iou",
                            "real_per_30d"))}
    ranked = [val["event_f1"], val["f1"]]
    if originals:
        answers = [answer(r) for r in tuning_runs]
        inj = scoring.score_answers(tuning, answers)
        _, recall = scoring.target_recall(scoring.flare_records(tuning, answers))
        row.update(inj_event_f1=inj["event_f1"], inj_target_recall=recall, inj_f1=inj["f1"],
                   inj_iou=inj["iou"], real_per_30d=scoring.count_events(
                       originals, [answer(r) for r in original_runs])["per_30d"])
        ranked += [inj["event_f1"], inj["f1"]]
    row["score"] = float(np.mean(ranked))
    return row


def _rule_grid(s: Settings) -> list[tuple[str, DetectionRules]]:
    default, published = DetectionRules.resolve("default"), DetectionRules.resolve("published")
    grid = [("default", dataclasses.replace(default, threshold=t, merge_gap=g, min_points=m,
                                            quiescent_level=q))
            for t in s.thresholds for g in s.merge_gaps for m in s.min_points
            for q in (None, *(s.quiescent_levels if m == default.min_points else ()))]
    grid += [("published", published.with_threshold(t)) for t in s.thresholds]
    return grid


def _rules_dict(rules: DetectionRules) -> dict[str, Any]:
    """The keyword arguments of `~fcn4flare.detection.detect_events` (threshold first)."""
    return {"threshold": rules.threshold,
            **{key: getattr(rules, key) for key in DetectionRules.RULE_NAMES}}


def _recall_cell(n: int, recall: float) -> str:
    return "--" if n == 0 else f"{recall:.2f} ({n})"


def _log(message: str) -> None:
    print(f"[{datetime.datetime.now().strftime('%H:%M:%S')}] {message}", flush=True)


def _git_commit() -> str:
    try:
        done = subprocess.run(["git", "-C", str(REPOSITORY), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=False)
        return done.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def _metadata(evaluation: Evaluation, model_label: str, quick: bool) -> dict[str, Any]:
    import torch

    model, settings = evaluation.model, evaluation.settings
    return {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "model": model_label,
        "model_checksum": model.checksum(),
        "model_config": dict(model.config.to_dict()) if hasattr(model.config, "to_dict")
        else str(model.config),
        "fcn4flare_version": __version__,
        "git_commit": _git_commit(),
        "quick": bool(quick),
        "settings": asdict(settings),
        "seeds": {"test": cases.TEST_SEED, "validation": cases.VALIDATION_SEED,
                  "injection_test": cases.INJECTION_TEST_SEED,
                  "injection_tuning": cases.INJECTION_TUNING_SEED},
        "injection": {"amplitude_sigma": cases.AMPLITUDE_RANGE_SIGMA,
                      "fwhm_cadences": cases.FWHM_RANGE_CADENCES},
        "default_rules": _rules_dict(evaluation.default_rules),
        "published_rules": _rules_dict(evaluation.published_rules),
        "vetting": dataclasses.asdict(evaluation.vetting) if evaluation.vetting else None,
        "peers": {key: peer.version for key, peer in evaluation.peers.items()},
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "data_dir": str(evaluation.data_dir),
    }


def _rst_fragment(tables: Sequence[Table]) -> str:
    """The tables as reStructuredText for ``docs/benchmarks.rst``, the long ones shortened."""
    parts = []
    for table in tables:
        if table.name == "event_list":
            counts: dict[str, int] = {}
            for row in table.rows:
                counts[row["file"]] = counts.get(row["file"], 0) + 1
            listed = ", ".join(f"{name}: {n}" for name, n in counts.items()) or "none"
            parts.append(f"**{table.title}**: {len(table.rows)} events ({listed}), listed in "
                         "``event_list.csv``.\n")
        elif table.name == "postprocessing":
            top = table.rows[:_SWEEP_ROWS_IN_RST]
            extra = [r for r in table.rows[_SWEEP_ROWS_IN_RST:]
                     if r["is_default"] or (r["rules"] == "published" and r["threshold"] == 0.5)]
            short = Table(table.name, table.title, table.columns, top + extra,
                          note=f"The {len(top)} best of {len(table.rows)} settings by mean F1"
                               + (", then the current defaults and the published rules at 0.5"
                                  if extra else "")
                               + "; all of them in ``postprocessing.csv``. " + table.note)
            parts.append(short.to_rst())
        else:
            parts.append(table.to_rst())
    return "\n".join(parts)


_SWEEP_ROWS_IN_RST = 10


def write_outputs(evaluation: Evaluation, metadata: Mapping[str, Any]) -> None:
    """Write the tables of a finished evaluation to ``evaluation.out``.

    One CSV file per table, ``injected_flares.csv``, ``results.json`` (tables and
    ``metadata``), ``tables.rst``, ``report.txt``, ``peers.log`` and ``summary.md`` (the
    headline numbers for a model card, `~fcn4flare.evaluation.summary.summary_markdown`).

    Parameters
    ----------
    evaluation : Evaluation
        The evaluation, its sections run.
    metadata : mapping
        The run's metadata (model, checksum, settings, seeds, versions).
    """
    out = evaluation.out
    out.mkdir(parents=True, exist_ok=True)
    for table in evaluation.tables:
        table.to_csv(out / f"{table.name}.csv")
    flares = evaluation.extra.get("injected_flares", {})
    rows = [{"method": name, **record} for name, records in flares.items() for record in records]
    if rows:
        Table("injected_flares", "", [Column(k, k) for k in rows[0]], rows).to_csv(
            out / "injected_flares.csv")
    extra = {k: v for k, v in evaluation.extra.items()
             if k in ("recommended_rules", "public_api_consistent", "temperature")}
    write_json(out / "results.json", dict(metadata), evaluation.tables, extra)
    header = (f"Model ``{metadata['model']}`` (checksum ``{metadata['model_checksum'][:12]}``), "
              f"fcn4flare {metadata['fcn4flare_version']} (git {metadata['git_commit']}), "
              f"{metadata['date_utc']}{', QUICK run' if metadata['quick'] else ''}.\n\n")
    if evaluation.skipped:
        header += (f"Skipped (no real light curves in {evaluation.data_dir}): "
                   f"{', '.join(evaluation.skipped)}.\n\n")
    (out / "tables.rst").write_text(header + _rst_fragment(evaluation.tables))
    (out / "report.txt").write_text(header + "\n\n".join(t.to_text() for t in evaluation.tables)
                                    + "\n")
    (out / "peers.log").write_text(evaluation.peer_log.getvalue())
    (out / "summary.md").write_text(
        f"Measured with `fcn4flare evaluate` on {metadata['date_utc'][:10]} (fcn4flare "
        f"{metadata['fcn4flare_version']}); default rules at threshold "
        f"{evaluation.default_rules.threshold:g}; full tables in docs/benchmarks.rst.\n\n"
        + summary_markdown(evaluation.tables) + "\n")


# --------------------------------------------------------------------------- entry point


def select_peers(names: Sequence[str] | None, envs: Path = DEFAULT_PEER_ENVS,
                 runners: Path = DEFAULT_PEER_RUNNERS) -> dict[str, Peer]:
    """The peers to run: those named (all for an empty list) whose environment is set up.

    A peer that is not set up is reported on stderr and left out.

    Parameters
    ----------
    names : sequence of str or None
        Peer keys (``altaipony``, ``stella``); None: no peer; empty: every peer.
    envs, runners : path-like
        See `~fcn4flare.evaluation.methods.peers`.

    Returns
    -------
    dict of str to `~fcn4flare.evaluation.methods.Peer`

    Raises
    ------
    InputError
        An unknown peer name.

    Examples
    --------
    >>> from fcn4flare.evaluation import select_peers
    >>> select_peers(None)
    {}
    >>> select_peers(["pony"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    fcn4flare.exceptions.InputError: unknown peer 'pony'; the peers are altaipony, stella.
    """
    registry = peer_registry(envs, runners)
    if names is None:
        return {}
    chosen = list(names) or list(registry)
    for name in chosen:
        if name not in registry:
            raise InputError(f"unknown peer {name!r}; the peers are {', '.join(registry)}.")
    selected = {}
    for key in dict.fromkeys(chosen):
        peer = registry[key]
        if peer_available(peer):
            selected[key] = peer
        else:
            missing = peer.python if not peer.python.is_file() else peer.script
            print(f"{key}: not set up ({missing} not found); see benchmarks/peers/README.md "
                  "(bash benchmarks/peers/setup_peers.sh)", file=sys.stderr)
    return selected


def run_evaluation(
    model: Any,
    *,
    quick: bool = False,
    settings: Settings | None = None,
    peers: Sequence[str] | None = None,
    data_dir: os.PathLike | str = DEFAULT_DATA,
    out: os.PathLike | str = DEFAULT_OUT,
    threads: int = 1,
    peer_envs: os.PathLike | str = DEFAULT_PEER_ENVS,
    peer_runners: os.PathLike | str = DEFAULT_PEER_RUNNERS,
    vetting: bool = False,
    rules: Any = None,
) -> Evaluation:
    """Run every section of the evaluation and write its outputs.

    PyTorch runs with ``threads`` threads and deterministic algorithms while it runs; both
    settings, and the warning filters, are restored afterwards.

    Parameters
    ----------
    model : `~fcn4flare.network.FCN4FlareModel`, str or path-like
        The model, a shipped model's name, or a checkpoint directory or file.
    quick : bool
        Use `QUICK` instead of `FULL` (ignored when ``settings`` is given).
    settings : Settings, optional
        Sizes of the run.
    peers : sequence of str, optional
        Peers to run as well (see `select_peers`): None none, an empty list all.
    data_dir : path-like
        Directory of the real FITS light curves; without them the sections on real light
        curves are skipped.
    out : path-like
        Output directory (created).
    threads : int
        PyTorch threads.
    peer_envs, peer_runners : path-like
        Where the peers' environments and runner scripts are.
    vetting : bool
        Evaluate with the template-fit vetting stage (`fcn4flare.detection.vetting`).
    rules : dict or str, optional
        Rules of the detector instead of the default (e.g. ``{"low_threshold": 0.4}``).

    Returns
    -------
    Evaluation
        With its ``tables``; ``metadata`` holds what ``results.json`` records.

    Raises
    ------
    InputError
        An unknown peer.
    CheckpointError
        The model cannot be found or read.
    """
    import torch

    settings = settings if settings is not None else QUICK if quick else FULL
    chosen = select_peers(peers, Path(peer_envs), Path(peer_runners))
    out = Path(out)
    threads_before = torch.get_num_threads()
    deterministic_before = torch.are_deterministic_algorithms_enabled()
    try:
        with warnings.catch_warnings():
            torch.set_num_threads(threads)
            torch.use_deterministic_algorithms(True)
            warnings.filterwarnings("ignore", module="lightkurve")
            # inject_flares reads the plain BKJD/BTJD day numbers as JD: harmless "dubious
            # year" notes
            warnings.filterwarnings("ignore", category=ErfaWarning)
            out.mkdir(parents=True, exist_ok=True)
            evaluation = Evaluation(model, settings, chosen, Path(data_dir), out,
                                    vetting=vetting, rules=rules)
            label = evaluation.detector.model_name
            metadata = _metadata(evaluation, label, quick=quick or settings is QUICK)
            _log(f"model {label} checksum {metadata['model_checksum'][:12]}; output {out}")
            started = time.perf_counter()
            for section in (evaluation.simulated_test, evaluation.calibration,
                            evaluation.injections,
                            evaluation.ffi_binned, evaluation.false_events,
                            evaluation.postprocessing, evaluation.timing):
                _log(f"section {section.__name__}")
                section()
            metadata["wall_seconds"] = round(time.perf_counter() - started, 1)
            write_outputs(evaluation, metadata)
            evaluation.metadata = metadata
            _log(f"done in {metadata['wall_seconds']} s; tables in {out}")
    finally:
        torch.set_num_threads(threads_before)
        torch.use_deterministic_algorithms(deterministic_before)
    return evaluation


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """The options of ``fcn4flare evaluate``, added to ``parser`` (a new one if None).

    Parameters
    ----------
    parser : `argparse.ArgumentParser`, optional
        Parser to add the options to (the CLI's subparser).

    Returns
    -------
    `argparse.ArgumentParser`

    Examples
    --------
    >>> from fcn4flare.evaluation import build_parser
    >>> args = build_parser().parse_args(["--quick", "--peers", "altaipony"])
    >>> args.model, args.quick, args.peers
    ('fcn4flare-default', True, ['altaipony'])
    """
    if parser is None:
        parser = argparse.ArgumentParser(prog="fcn4flare evaluate",
                                         description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="fcn4flare-default", metavar="M",
                        help="checkpoint directory or file, or a shipped model's name "
                             "[fcn4flare-default]")
    parser.add_argument("--quick", action="store_true",
                        help="tiny version for smoke tests (the tables mean nothing)")
    parser.add_argument("--peers", nargs="*", metavar="NAME", choices=tuple(peer_registry()),
                        help="also run these peers (altaipony, stella; all without a NAME), "
                             "each in its own environment")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"output directory [{DEFAULT_OUT}]")
    parser.add_argument("--data", "--data-dir", dest="data", type=Path, default=DEFAULT_DATA,
                        metavar="DIR",
                        help="directory of the real FITS light curves [../shared/data/"
                             "lightcurves next to the repository]")
    parser.add_argument("--threads", type=int, default=1, help="torch threads [1]")
    parser.add_argument("--peer-envs", type=Path, default=DEFAULT_PEER_ENVS, metavar="DIR",
                        help="the peers' virtual environments [$PEERS_DIR or /work/peers]")
    parser.add_argument("--peer-runners", type=Path, default=DEFAULT_PEER_RUNNERS,
                        metavar="DIR", help="the peers' runner scripts [benchmarks/peers]")
    parser.add_argument("--vetting", action="store_true",
                        help="evaluate with the template-fit vetting stage")
    parser.add_argument("--rules", type=_rules_json, default=None, metavar="JSON",
                        help='rule overrides as JSON, e.g. \'{"low_threshold": 0.4}\'')
    return parser


def _rules_json(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"--rules must be a JSON object: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("--rules must be a JSON object")
    return value


def run_from_args(args: argparse.Namespace) -> Evaluation:
    """`run_evaluation` with the options of `build_parser`."""
    return run_evaluation(args.model, quick=args.quick, peers=args.peers, data_dir=args.data,
                          out=args.out, threads=args.threads, peer_envs=args.peer_envs,
                          peer_runners=args.peer_runners,
                          vetting=getattr(args, "vetting", False),
                          rules=getattr(args, "rules", None))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the evaluation from command-line arguments (those of ``fcn4flare evaluate``).

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments; ``sys.argv[1:]`` when omitted.

    Returns
    -------
    int
        0 on success.
    """
    run_from_args(build_parser().parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
