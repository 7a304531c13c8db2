"""The evaluation protocol, `fcn4flare.evaluation`, and ``fcn4flare evaluate``.

Scores are checked on hand-made answers whose results are worked out by hand; the report
writers on a tiny table; the light-curve builders on synthetic data; the whole protocol once
with the QUICK settings on the synthetic FITS files of ``conftest.py`` (and once on the real
light curves, when they are there).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from astropy.table import QTable
from conftest import FLARE_FLAGGED, flare_flux, make_random_model

from fcn4flare import FlareDetector, cli, metrics
from fcn4flare.detection import DetectionRules
from fcn4flare.evaluation import (
    QUICK,
    Settings,
    build_parser,
    cases,
    run_evaluation,
    scoring,
    select_peers,
)
from fcn4flare.evaluation.cases import Curve
from fcn4flare.evaluation.methods import Answer, peers, rows_mask, run_model
from fcn4flare.evaluation.report import MISSING, Column, Table, write_json
from fcn4flare.exceptions import FCN4FlareWarning, InputError

REAL_LIGHTCURVES = Path(__file__).parents[2] / "shared" / "data" / "lightcurves"

# --------------------------------------------------------------------------- helpers

N = 20
CADENCE_DAYS = 0.02


def _curve(labels=None, flux=None, unknown=None, neutral=None, truth=None) -> Curve:
    return Curve(
        name="c", group="g", time=np.arange(N) * CADENCE_DAYS,
        flux=np.ones(N) if flux is None else flux, flux_err=np.full(N, np.nan),
        cadence_minutes=CADENCE_DAYS * 1440, labels=labels, unknown=unknown, neutral=neutral,
        truth=truth,
    )


def _mask(*ranges: tuple[int, int]) -> np.ndarray:
    mask = np.zeros(N, dtype=bool)
    for start, stop in ranges:
        mask[start : stop + 1] = True
    return mask


def _answer(flagged: np.ndarray, score=None) -> Answer:
    return Answer(flagged=flagged, score=score, answered=np.ones(N, dtype=bool))


# Labelled flares at samples 3-5 and 12-13; the detector flags 4-6 and 16.
LABELS = _mask((3, 5), (12, 13))
FLAGGED = _mask((4, 6), (16, 16))


# --------------------------------------------------------------------------- scoring


def test_scores_of_a_hand_made_answer():
    result = scoring.score_answers([_curve(LABELS)], [_answer(FLAGGED)])
    # point-wise: TP 4, 5; FP 6, 16; FN 3, 12, 13
    assert result["precision"] == pytest.approx(0.5)
    assert result["recall"] == pytest.approx(0.4)
    assert result["f1"] == pytest.approx(2 * 0.5 * 0.4 / 0.9)
    assert result["iou"] == pytest.approx(2 / 7)
    # events: flare 3-5 found, 12-13 missed; event 4-6 correct, event 16 false
    assert (result["n_true_events"], result["n_recovered_events"]) == (2, 1)
    assert (result["n_predicted_events"], result["n_false_events"]) == (2, 1)
    assert result["event_recall"] == result["event_precision"] == result["event_f1"] == 0.5
    assert math.isnan(result["average_precision"]) and math.isnan(result["roc_auc"])
    assert result["coverage"] == 1.0 and result["n_curves"] == 1


def test_unknown_samples_are_left_out_of_every_score():
    unknown = _mask((16, 16))
    result = scoring.score_answers([_curve(LABELS, unknown=unknown)], [_answer(FLAGGED)])
    assert result["precision"] == pytest.approx(2 / 3)  # sample 16 no longer counts
    assert result["n_false_events"] == 0 and result["n_predicted_events"] == 1
    assert result["event_precision"] == 1.0


def test_a_continuous_score_gives_average_precision_and_auc():
    score = np.where(LABELS, 0.9, 0.1)
    result = scoring.score_answers([_curve(LABELS)], [_answer(LABELS, score=score)])
    assert result["average_precision"] == pytest.approx(1.0)
    assert result["roc_auc"] == pytest.approx(1.0)
    assert result["f1"] == pytest.approx(1.0)


def test_unanswered_samples_count_as_not_flagged_and_lower_the_coverage():
    answered = ~_mask((0, 4))
    answer = Answer(flagged=FLAGGED, score=np.where(answered, 0.5, np.nan), answered=answered)
    result = scoring.score_answers([_curve(LABELS)], [answer])
    assert result["coverage"] == pytest.approx(15 / 20)
    assert math.isfinite(result["average_precision"])


def test_predicted_events_break_at_unusable_samples():
    flux = np.ones(N)
    flux[5] = np.nan
    starts, stops = scoring.predicted_events(_curve(LABELS, flux=flux), _answer(FLAGGED))
    assert starts.tolist() == [4, 6, 16] and stops.tolist() == [4, 6, 16]
    reported = Answer(FLAGGED, None, np.ones(N, bool), events=(np.array([4]), np.array([6])))
    assert scoring.predicted_events(_curve(LABELS), reported)[0].tolist() == [4]


def test_true_events_are_the_runs_of_labels():
    starts, stops = scoring.true_events(_curve(LABELS))
    assert starts.tolist() == [3, 12] and stops.tolist() == [5, 13]


def _truth() -> QTable:
    return QTable({
        "labelled": [True, True, False, True],
        "start_index": [3, 12, 0, 16],
        "stop_index": [5, 13, 0, 18],
        "peak_sigma": [8.0, 20.0, 1.0, 4.0],
        "amplitude_sigma": [9.0, 25.0, 1.0, 5.0],
        "fwhm_cadences": [1.0, 1.0, 0.5, 2.0],
        "length_cadences": [3, 2, 0, 3],
    })


def test_flare_records_and_recalls():
    labels = _mask((3, 5), (12, 13), (16, 18))
    unknown = _mask((18, 18))
    curve = _curve(labels, unknown=unknown, truth=_truth())
    records = scoring.flare_records([curve], [_answer(FLAGGED)])
    assert [r["recovered"] for r in records] == [True, False, True]
    assert [r["touches_unknown"] for r in records] == [False, False, True]
    assert [r["length"] for r in records] == [3, 2, 3]
    assert len(scoring.counted(records)) == 2
    assert scoring.overall_recall(records) == (2, 0.5)
    assert scoring.target_recall(records) == (1, 1.0)  # only 3-5: peak > 5, length >= 3
    by_length = scoring.recall_by_bin(records, "length", scoring.LENGTH_BINS, inclusive=True)
    assert by_length[0] == ("1-2", 1, 0.0) and by_length[1] == ("3-5", 1, 1.0)
    assert math.isnan(by_length[2][2]) and by_length[2][1] == 0


def test_count_events_per_30_days():
    unknown = _mask((16, 16))
    counts = scoring.count_events([_curve(unknown=unknown)], [_answer(FLAGGED)])
    days = (N - 1) * CADENCE_DAYS
    assert (counts["n_events"], counts["n_outside"]) == (2, 1)
    assert counts["days"] == pytest.approx(days)
    assert counts["per_30d"] == pytest.approx(2 * 30 / days)
    assert counts["outside_per_30d"] == pytest.approx(30 / days)


# --------------------------------------------------------------------------- report


def _table() -> Table:
    table = Table("demo", "A demo", [Column("name", "name"), Column("x", "x", ".2f"),
                                     Column("n", "n", "d"), Column("ok", "ok")], note="a note")
    table.add(name="first", x=0.123, n=np.int64(3), ok=np.bool_(True))
    table.add(name="second", x=float("nan"), n=10, ok=False, hidden=None)
    return table


def test_table_as_text_and_rst():
    table = _table()
    assert table.to_text() == (
        "A demo\n"
        "name    x     n   ok\n"
        "------  ----  --  ---\n"
        "first   0.12  3   yes\n"
        f"second  {MISSING}    10  no\n"
        "a note"
    )
    rst = table.to_rst()
    assert rst.startswith("**A demo**\n\n======  ====  ==  ===\nname    x     n   ok\n")
    assert "second  --    10  no\n======  ====  ==  ===\n\na note\n" in rst


def test_print_limit_shortens_the_text_only(tmp_path):
    table = _table()
    table.print_limit = 1
    assert table.to_text().splitlines()[-2] == "... 1 more rows in demo.csv"
    table.to_csv(tmp_path / "demo.csv")
    assert len((tmp_path / "demo.csv").read_text().splitlines()) == 3


def test_table_csv_holds_every_key_unformatted(tmp_path):
    path = tmp_path / "demo.csv"
    _table().to_csv(path)
    with open(path, newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert list(rows[0]) == ["name", "x", "n", "ok", "hidden"]
    assert rows[0] == {"name": "first", "x": "0.123", "n": "3", "ok": "True", "hidden": ""}
    assert rows[1]["x"] == "" and rows[1]["ok"] == "False"


def test_json_holds_tables_metadata_and_extras(tmp_path):
    path = tmp_path / "results.json"
    write_json(path, {"model": "m", "seed": np.int64(1)}, [_table()], {"best": {"t": 0.5}})
    payload = json.loads(path.read_text())
    assert payload["metadata"] == {"model": "m", "seed": 1}
    assert payload["best"] == {"t": 0.5}
    demo = payload["tables"]["demo"]
    assert demo["title"] == "A demo" and demo["note"] == "a note"
    assert demo["rows"][0] == {"name": "first", "x": 0.123, "n": 3, "ok": True}
    assert demo["rows"][1]["x"] is None  # NaN -> null
    assert demo["columns"][1] == ["x", "x", ".2f"]


# --------------------------------------------------------------------------- cases


def test_simulated_sets_are_deterministic_in_their_seed():
    first = cases.simulated_set("kepler_long", 2, seed=5, length=512)
    again = cases.simulated_set("kepler_long", 2, seed=5, length=512)
    other = cases.simulated_set("kepler_long", 2, seed=6, length=512)
    assert [c.name for c in first] == ["sim_kepler_long_5_0000", "sim_kepler_long_5_0001"]
    assert all(c.group == "kepler_long" and c.time.size == 512 for c in first)
    assert first[0].cadence_minutes == pytest.approx(29.4244, rel=1e-3)
    np.testing.assert_array_equal(first[1].flux, again[1].flux)
    np.testing.assert_array_equal(first[1].labels, again[1].labels)
    assert not np.array_equal(first[0].flux, other[0].flux)
    assert not np.array_equal(first[0].flux, first[1].flux)  # one stream, not one seed each


def _quiet_curve(n: int = 3000, seed: int = 0) -> Curve:
    rng = np.random.default_rng(seed)
    flux = 100.0 * (1 + 1e-3 * rng.standard_normal(n))
    flux[1000:1010] = np.nan
    time = 1000.0 + np.arange(n) * 2.0 / 1440
    return Curve("quiet", "quiet.fits", time, flux, np.full(n, np.nan), 2.0,
                 unknown=np.zeros(n, bool))


def test_excursion_mask_finds_upward_excursions_only():
    curve = _quiet_curve()
    flux = curve.flux.copy()
    flux[500:502] = 101.0  # two samples at 10 sigma
    flux[1500] = 100.4  # one sample at 4 sigma: not enough alone
    flux[2000] = 100.8  # one sample at 8 sigma
    flux[2500:2503] = 99.0  # a dip
    mask = cases.excursion_mask(curve.time, flux)
    assert mask[498:504].all() and not mask[497] and not mask[504]  # padded by 2
    assert mask[1998:2003].all()
    assert not mask[1500] and not mask[2490:2510].any()
    assert mask.sum() < 30
    assert not cases.excursion_mask(curve.time[:5], flux[:5]).any()  # too short


# inject_flares reads the plain day numbers as JD: ERFA notes a "dubious year"
@pytest.mark.filterwarnings("ignore::erfa.ErfaWarning")
def test_injections_are_labelled_seeded_and_keep_the_gaps():
    curve = _quiet_curve()
    injected = cases.injection_set([curve], 2, base_seed=100)
    assert [c.name for c in injected] == ["quiet_inj100", "quiet_inj101"]
    assert all(c.source is curve and c.group == "quiet.fits" for c in injected)
    first = injected[0]
    again = cases.inject_realisation(curve, 100, "again")
    np.testing.assert_array_equal(first.flux, again.flux)
    assert not np.array_equal(first.flux, injected[1].flux)
    assert np.isnan(first.flux[1000:1010]).all()
    assert not (first.labels & ~curve.usable).any()
    assert len(first.truth) == 2990 // 500  # one flare per 500 usable samples
    assert first.meta["seed"] == 100
    labelled = first.truth["labelled"]
    starts = np.asarray(first.truth["start_index"])[labelled]
    assert first.labels[starts].all()
    assert {"peak_sigma", "amplitude_sigma", "length_cadences"} <= set(first.truth.colnames)
    assert not (first.neutral & first.labels).any()


def test_real_curves_of_a_folder(tmp_path, kepler_file, tess_file):
    assert cases.real_curves(tmp_path / "absent") == []
    shutil.copy(kepler_file.path, tmp_path)
    shutil.copy(tess_file.path, tmp_path)
    both = cases.real_curves(tmp_path)
    assert [cases.file_label(c) for c in both] == ["Kepler Q5", "TESS S1"]
    smallest = cases.real_curves(tmp_path, files=1)
    assert [c.group for c in smallest] == [kepler_file.path.name]
    kepler = smallest[0]
    # lightkurve.read drops the rows without a time and the quality-flagged ones
    dropped = len(kepler_file.nan_time_rows) + len(kepler_file.flagged_rows)
    assert kepler.time.size == 600 - dropped
    assert np.isnan(kepler.flux).sum() == len(kepler_file.nan_flux_rows)
    assert kepler.cadence_minutes == pytest.approx(29.4244, rel=1e-3)
    assert kepler.unknown.any()  # the flares are upward excursions


# --------------------------------------------------------------------------- methods


def test_rows_mask():
    mask = rows_mask(np.array([0, 5]), np.array([2, 5]), 7)
    assert mask.tolist() == [True, True, True, False, False, True, False]


def test_model_runs_are_flare_detector_runs(threshold_model):
    rows = (100, 300)
    flux = flare_flux(600, rows)
    time = 2459000.0 + np.arange(600) / 720
    curve = Curve("x", "g", time, flux, np.full(600, np.nan), 2.0)
    (run,) = run_model(threshold_model, [curve])
    detection = FlareDetector(threshold_model).run(time, flux=flux)
    np.testing.assert_array_equal(run.probability, detection.probability.value)
    events = run.events_answer()
    table = detection.table()
    np.testing.assert_array_equal(events.events[0], np.asarray(table["istart"]))
    assert events.events[0].tolist() == list(rows)
    assert events.events[1].tolist() == [r + FLARE_FLAGGED - 1 for r in rows]
    assert events.flagged.sum() == 2 * FLARE_FLAGGED and events.score is None
    raw = run.raw_answer(0.5)
    assert raw.flagged.sum() == 2 * FLARE_FLAGGED and raw.score is not None
    # other rules on the same probability: at least 6 samples keeps no event
    strict = DetectionRules(threshold=0.5, min_points=FLARE_FLAGGED + 1)
    assert not run.events_answer(strict).flagged.any()
    with pytest.raises(InputError, match="threshold"):
        run.events_answer(DetectionRules(threshold=None, min_points=1))


def test_rejection_answer_drops_candidates_below_delta_bic(threshold_model):
    from fcn4flare.detection.vetting import VettingResult

    rows = (100, 300, 500)
    flux = flare_flux(700, rows)
    time = 2459000.0 + np.arange(700) / 720
    curve = Curve("x", "g", time, flux, np.full(700, np.nan), 2.0)
    (run,) = run_model(threshold_model, [curve], vetting=True)
    # the verdicts, set by hand: below zero, a failed fit (NaN, kept), a clear flare
    delta = np.array([-3.0, np.nan, 40.0])
    run.detection.__dict__["vetted"] = VettingResult(delta_bic=delta, weight=np.ones(3),
                                                     keep=np.ones(3, bool), fits=[None] * 3)
    assert run.rejection_answer(None).events[0].tolist() == list(rows)
    assert run.rejection_answer(0.0).events[0].tolist() == [300, 500]
    assert run.rejection_answer(50.0).events[0].tolist() == [300]
    assert run.rejection_answer(0.0).flagged.sum() == 2 * FLARE_FLAGGED
    (plain,) = run_model(threshold_model, [curve])
    with pytest.raises(InputError, match="without vetting"):
        plain.rejection_answer(0.0)


def test_peer_registry_and_selection(tmp_path, capsys):
    registry = peers(tmp_path / "envs", tmp_path / "runners")
    assert registry["altaipony"].python == tmp_path / "envs" / "altaipony-venv" / "bin" / "python"
    assert registry["stella"].script == tmp_path / "runners" / "run_stella.py"
    assert registry["stella"].continuous and not registry["altaipony"].continuous
    assert select_peers(None, tmp_path, tmp_path) == {}
    assert select_peers([], tmp_path, tmp_path) == {}  # none set up here
    err = capsys.readouterr().err
    assert "altaipony: not set up" in err and "stella: not set up" in err
    with pytest.raises(InputError, match="unknown peer 'pony'"):
        select_peers(["pony"])


def test_parser_options():
    args = build_parser().parse_args(["--peers", "--data", "d", "--out", "o"])
    assert args.peers == [] and args.data == Path("d") and args.out == Path("o")
    assert args.model == "fcn4flare-default" and args.quick is False
    assert build_parser().parse_args([]).peers is None
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--peers", "pony"])


# --------------------------------------------------------------------------- end to end

TABLES = ["simulated_test", "calibration", "injection", "recall_by_peak", "recall_by_length",
          "recall_grid", "targets", "false_events", "event_list", "postprocessing", "timing"]


def test_quick_evaluation_on_synthetic_light_curves(tmp_path, kepler_file, tess_file,
                                                    threshold_model):
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(kepler_file.path, data)
    shutil.copy(tess_file.path, data)
    threads = torch.get_num_threads()
    evaluation = run_evaluation(threshold_model, quick=True, data_dir=data,
                                out=tmp_path / "out")
    assert torch.get_num_threads() == threads  # restored
    assert [t.name for t in evaluation.tables] == TABLES
    assert evaluation.skipped == []
    assert evaluation.extra["public_api_consistent"] is True
    tables = {t.name: t for t in evaluation.tables}
    # QUICK uses the smallest file; the threshold model finds its three flares
    events = tables["event_list"].rows
    assert [row["file"] for row in events] == ["Kepler Q5"] * 3
    assert [row["n_points"] for row in events] == [FLARE_FLAGGED] * 3
    assert all(row["excursion"] for row in events)
    rows = {(r["family"], r["method"]) for r in tables["simulated_test"].rows}
    assert ("tess_2min", "fcn4flare default rules") in rows and ("all", "fcn4flare p>0.5") in rows
    sweep = tables["postprocessing"].rows
    # thresholds x gaps x min_points, quiescent level 1.0 at min_points 3, published rules
    assert len(sweep) == 3 * 2 * 2 + 3 * 2 + 3
    assert {row["quiescent_level"] for row in sweep} == {None, 1.0}
    assert sum(row["is_default"] for row in sweep) == 0  # merge_gap 3 is not in QUICK's grid
    assert sweep[0]["score"] == max(row["score"] for row in sweep)
    out = tmp_path / "out"
    for name in [*TABLES, "injected_flares"]:
        assert (out / f"{name}.csv").is_file()
    assert (out / "png" / f"{kepler_file.path.stem}_overview.png").is_file()
    payload = json.loads((out / "results.json").read_text())
    assert payload["metadata"]["quick"] is True
    assert payload["metadata"]["model_checksum"] == threshold_model.checksum()
    assert payload["metadata"]["default_rules"] == {
        "threshold": 0.5, "merge_gap": 3, "min_points": 3, "peak_not_first": False,
        "decay_longer_than_rise": False, "level_consistency": False, "low_threshold": None,
        "quiescent_level": None}
    assert payload["recommended_rules"]["rules"] == sweep[0]["rules"]
    assert payload["recommended_rules"]["quiescent_level"] == sweep[0]["quiescent_level"]
    report = (out / "report.txt").read_text()
    assert "QUICK run" in report and "2d. Targets" in report
    summary = (out / "summary.md").read_text()
    assert "| injections: clear-flare recall, Kepler Q5 |" in summary
    assert "| simulated test sets: point-wise F1 |" in summary


@pytest.mark.skipif(not REAL_LIGHTCURVES.is_dir(), reason="real light curves not available")
def test_quick_evaluation_on_the_real_light_curves(tmp_path):
    model = make_random_model()
    evaluation = run_evaluation(model, quick=True, data_dir=REAL_LIGHTCURVES, out=tmp_path)
    assert [t.name for t in evaluation.tables] == TABLES
    assert evaluation.extra["public_api_consistent"] is True
    injection = next(t for t in evaluation.tables if t.name == "injection")
    assert {row["method"] for row in injection.rows} == {
        "fcn4flare p>0.5", "fcn4flare default rules", "fcn4flare published rules"}
    assert all(row["n_curves"] == QUICK.realisations for row in injection.rows)


def test_vetting_adds_the_rejection_sweep(tmp_path, kepler_file, threshold_model):
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(kepler_file.path, data)
    settings = Settings(families=("tess_2min",), n_test=2, n_validation=2, length=1024,
                        files=1, realisations=1, tuning_realisations=1, thresholds=(0.5,),
                        merge_gaps=(3,), min_points=(3,), timing_examples=1,
                        stella_sim_examples=1)
    evaluation = run_evaluation(threshold_model, settings=settings, data_dir=data,
                                out=tmp_path / "out", vetting=True)
    names = [t.name for t in evaluation.tables]
    assert names.index("vetting_rejection") == names.index("postprocessing") + 1
    rows = next(t for t in evaluation.tables if t.name == "vetting_rejection").rows
    assert [r["reject_below"] for r in rows] == ["none", "0", "10", "30", "50", "100"]
    # dropping more candidates never adds events
    per_30d = [r["real_per_30d"] for r in rows]
    assert per_30d == sorted(per_30d, reverse=True)
    assert evaluation.extra["recommended_rejection"] in {r["reject_below"] for r in rows}
    # without rejection, the vetted run keeps every candidate of the default rules
    none = rows[0]
    sweep = next(t for t in evaluation.tables if t.name == "postprocessing").rows
    (default,) = [r for r in sweep if r["rules"] == "default"]
    assert none["real_per_30d"] == pytest.approx(default["real_per_30d"])
    assert none["val_event_f1"] == pytest.approx(default["val_event_f1"])


def test_evaluations_are_deterministic_and_skip_absent_data(tmp_path, random_model):
    settings = Settings(families=("tess_2min",), n_test=2, n_validation=1, length=1024,
                        files=1, realisations=1, tuning_realisations=1, thresholds=(0.3, 0.5),
                        merge_gaps=(0,), min_points=(1,), timing_examples=1,
                        stella_sim_examples=1)
    outputs = []
    for k in range(2):
        evaluation = run_evaluation(random_model, settings=settings,
                                    data_dir=tmp_path / "absent", out=tmp_path / str(k))
        outputs.append(tmp_path / str(k))
    assert evaluation.skipped == ["injections", "ffi_binned", "false_events"]
    assert [t.name for t in evaluation.tables] == ["simulated_test", "calibration",
                                                   "postprocessing", "timing"]
    sweep = evaluation.tables[2]
    assert all(row["inj_f1"] is None for row in sweep.rows)
    assert sweep.rows[0]["score"] == pytest.approx(
        (sweep.rows[0]["val_event_f1"] + sweep.rows[0]["val_f1"]) / 2)
    for name in ("simulated_test.csv", "calibration.csv", "postprocessing.csv"):
        assert (outputs[0] / name).read_text() == (outputs[1] / name).read_text()


def test_cli_evaluate(tmp_path, random_model_dir, capsys):
    out = tmp_path / "out"
    status = cli.main(["evaluate", "--model", str(random_model_dir), "--quick",
                       "--data", str(tmp_path / "absent"), "--out", str(out),
                       "--peers", "altaipony", "--peer-envs", str(tmp_path / "no-envs")])
    assert status == 0
    captured = capsys.readouterr()
    assert "altaipony: not set up" in captured.err
    assert "no FITS light curves in" in captured.out
    report = (out / "report.txt").read_text()
    assert "Skipped (no real light curves" in report
    assert "injections, ffi_binned, false_events" in report
    assert "1. Simulated test sets (3 x 4096 samples" in report
    payload = json.loads((out / "results.json").read_text())
    assert payload["metadata"]["model"] == str(random_model_dir)
    assert payload["metadata"]["peers"] == {}
    assert set(payload["tables"]) == {"simulated_test", "calibration", "postprocessing",
                                      "timing"}
    assert 0.05 <= payload["temperature"] <= 20.0
    assert cli.main(["evaluate", "--model", str(tmp_path / "missing"), "--quick",
                     "--data", str(tmp_path), "--out", str(out)]) == 1


# --------------------------------------------------------------------------- FFI-like curves


def _tess_curve(days: float = 6.0, seed: int = 3) -> Curve:
    time = np.arange(0.0, days, 2.0 / 1440.0) + 1325.0
    rng = np.random.default_rng(seed)
    flux = 1.0 + 0.002 * rng.standard_normal(time.size)
    flux[1000:1030] = np.nan  # a flagged stretch
    return Curve("tess_s1", "tess_s1.fits", time, flux, np.full(time.size, 0.002), 2.0,
                 meta={"mission": "TESS", "sector": 1})


def test_bin_curve_averages_and_keeps_gaps():
    curve = _tess_curve()
    binned = cases.bin_curve(curve, 10)
    assert binned.cadence_minutes == 10.0 and binned.meta["binned_minutes"] == 10
    assert cases.file_label(binned) == "TESS S1 binned 10 min"
    assert binned.group == "tess_s1.fits binned 10 min" and binned.labels is None
    np.testing.assert_allclose(binned.flux[:3], [curve.flux[5 * k : 5 * k + 5].mean()
                                                 for k in range(3)])
    np.testing.assert_allclose(binned.time[:2], [curve.time[2], curve.time[7]])
    np.testing.assert_allclose(binned.flux_err[0], 0.002 / np.sqrt(5))
    # samples 1000-1029 are bins 200-205 whole: NaN; none is half-filled here
    assert np.isnan(binned.flux[200:206]).all() and np.isfinite(binned.flux[199])
    assert np.isfinite(binned.flux[206])
    # a bin with 2 of its 5 samples is NaN, with 3 it is kept
    partial = _tess_curve()
    partial.flux[0:3] = np.nan
    partial.flux[5:7] = np.nan
    out = cases.bin_curve(partial, 10)
    assert np.isnan(out.flux[0]) and out.flux[1] == pytest.approx(partial.flux[7:10].mean())
    assert binned.time.size == int(np.ceil(curve.time.size / 5))


def test_bin_curve_refuses_labelled_or_coarser_input():
    curve = _tess_curve()
    with pytest.raises(InputError, match="not longer than its 2-min cadence"):
        cases.bin_curve(curve, 2)
    injected = cases.inject_realisation(curve, 1, "x")
    with pytest.raises(InputError, match="un-injected"):
        cases.bin_curve(injected, 10)


def test_ffi_like_curves_bins_only_tess_short_cadence():
    tess = _tess_curve()
    kepler = Curve("k", "k.fits", tess.time, tess.flux, tess.flux_err, 29.4,
                   meta={"mission": "Kepler", "quarter": 2})
    binned = cases.ffi_like_curves([kepler, tess])
    assert [c.cadence_minutes for c in binned] == list(cases.FFI_BINS_MINUTES)
    assert all(c.source is None and c.meta["mission"] == "TESS" for c in binned)
    assert cases.ffi_like_curves([kepler]) == []


def test_split_fraction_counts_flares_found_as_several_events():
    records = [{"recovered": True, "touches_unknown": False, "n_events": 1},
               {"recovered": True, "touches_unknown": False, "n_events": 3},
               {"recovered": False, "touches_unknown": False, "n_events": 0},
               {"recovered": True, "touches_unknown": True, "n_events": 2}]
    assert scoring.split_fraction(records) == (2, 0.5)
    assert math.isnan(scoring.split_fraction([])[1])


def test_flare_records_count_the_events_on_each_flare():
    curve = _tess_curve()
    injected = cases.inject_realisation(curve, 5, "inj")
    truth = injected.truth[injected.truth["labelled"]]
    start, stop = int(truth["start_index"][0]), int(truth["stop_index"][0])
    flagged = np.zeros(curve.time.size, dtype=bool)
    flagged[start] = flagged[stop] = True  # two fragments of the first flare
    answer = Answer(flagged=flagged, score=None, answered=np.ones(flagged.size, dtype=bool))
    records = scoring.flare_records([injected], [answer])
    assert records[0]["n_events"] == (2 if stop > start + 1 else 1)
    assert all(r["n_events"] == 0 for r in records[1:])


def test_ffi_section_scores_the_binned_tess_curves(tmp_path, threshold_model):
    from fcn4flare.evaluation.protocol import Evaluation

    settings = dataclasses.replace(QUICK, realisations=2)
    evaluation = Evaluation(threshold_model, settings, {}, tmp_path, tmp_path)
    evaluation._originals = [_tess_curve(days=12.0)]
    evaluation.ffi_binned()
    table = evaluation.tables[-1]
    assert table.name == "ffi_binned"
    assert {row["file"] for row in table.rows} == {"TESS S1 binned 10 min",
                                                   "TESS S1 binned 30 min"}
    assert {row["method"] for row in table.rows} == {
        "fcn4flare p>0.5", "fcn4flare default rules", "fcn4flare published rules"}
    assert all(row["n_target"] > 0 for row in table.rows)
    assert all(0.0 <= row["target_recall"] <= 1.0 for row in table.rows)
    assert all(row["recall_ok"] == (row["target_recall"] >= 0.9) for row in table.rows)


# --------------------------------------------------------------------------- calibration

TINY = Settings(families=("tess_2min", "kepler_long"), n_test=2, n_validation=1, length=1024,
                files=1, realisations=1, tuning_realisations=1, thresholds=(0.5,),
                merge_gaps=(0,), min_points=(1,), timing_examples=1, stella_sim_examples=1)


def _scored_probability(model, family: str, n: int, seed_base: int) -> tuple[np.ndarray, ...]:
    """Labels and probability of the scored samples of one simulated set, computed afresh."""
    index = list(cases.FAMILIES).index(family)
    curves = cases.simulated_set(family, n, seed_base + index, TINY.length)
    runs = run_model(model, curves)
    labels = np.concatenate([c.labels[c.scored] for c in curves])
    probability = np.concatenate([r.probability[c.scored] for c, r in zip(curves, runs,
                                                                          strict=True)])
    return labels, probability


def test_calibration_section(tmp_path, random_model):
    from fcn4flare.evaluation.protocol import Evaluation

    evaluation = Evaluation(random_model, TINY, {}, tmp_path / "absent", tmp_path)
    evaluation.simulated_test()
    assert set(evaluation.extra["simulated_test_probability"]) == set(TINY.families)
    evaluation.calibration()
    assert "simulated_test_probability" not in evaluation.extra  # freed
    table = evaluation.tables[-1]
    assert table.name == "calibration"
    assert table.title.startswith("1b. Calibration of the probability on the simulated sets")
    rows = {row["family"]: row for row in table.rows}
    assert list(rows) == ["tess_2min", "kepler_long", "all"]

    # The pooled temperature: fitted on the validation sets of both families together.
    validation = [_scored_probability(random_model, f, TINY.n_validation,
                                      cases.VALIDATION_SEED) for f in TINY.families]
    val_labels = np.concatenate([v[0] for v in validation])
    val_probability = np.concatenate([v[1] for v in validation])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FCN4FlareWarning)  # the fit may end at a bound
        temperature = metrics.fit_temperature(val_labels, val_probability)
    assert evaluation.extra["temperature"] == temperature == rows["all"]["temperature"]
    assert f"T = {temperature:.3f}" in table.title

    # ECE and Brier of the test probability on the scored samples, raw and scaled.
    tests = {f: _scored_probability(random_model, f, TINY.n_test, cases.TEST_SEED)
             for f in TINY.families}
    tests["all"] = tuple(np.concatenate([tests[f][k] for f in TINY.families]) for k in (0, 1))
    for family, (labels, probability) in tests.items():
        row = rows[family]
        scaled = metrics.apply_temperature(probability, temperature)
        assert row["n_samples"] == labels.size
        assert row["flare_fraction"] == pytest.approx(labels.mean())
        assert row["ece"] == pytest.approx(metrics.expected_calibration_error(labels,
                                                                              probability))
        assert row["brier"] == pytest.approx(metrics.brier_score(labels, probability))
        assert row["ece_scaled"] == pytest.approx(metrics.expected_calibration_error(labels,
                                                                                     scaled))
        assert row["brier_scaled"] == pytest.approx(metrics.brier_score(labels, scaled))
    assert (tmp_path / "png" / "reliability.png").is_file()


def test_calibration_section_runs_the_test_sets_itself(tmp_path, random_model):
    from fcn4flare.evaluation.protocol import Evaluation

    first = Evaluation(random_model, TINY, {}, tmp_path / "absent", tmp_path / "a")
    first.simulated_test()
    first.calibration()
    alone = Evaluation(random_model, TINY, {}, tmp_path / "absent", tmp_path / "b")
    alone.calibration()  # without simulated_test: the network runs on the test sets here
    assert [t.name for t in alone.tables] == ["calibration"]
    assert alone.tables[0].rows == first.tables[-1].rows
    assert alone.extra["temperature"] == first.extra["temperature"]


def test_calibration_section_without_flares_has_no_temperature(tmp_path, random_model,
                                                                monkeypatch):
    from fcn4flare.evaluation.protocol import Evaluation

    def quiet_set(family, n, seed, length):
        curves = original(family, n, seed, length)
        for curve in curves:
            curve.labels = np.zeros_like(curve.labels)
        return curves

    original = cases.simulated_set
    monkeypatch.setattr(cases, "simulated_set", quiet_set)
    settings = dataclasses.replace(TINY, families=("tess_2min",))
    evaluation = Evaluation(random_model, settings, {}, tmp_path / "absent", tmp_path)
    evaluation.calibration()
    (row,) = evaluation.tables[-1].rows
    assert evaluation.extra["temperature"] is None
    assert row["temperature"] is None and row["ece_scaled"] is None
    _, probability = _scored_probability(random_model, "tess_2min", settings.n_test,
                                         cases.TEST_SEED)
    # without flares every bin's flare fraction is 0: the ECE is the mean probability
    assert row["flare_fraction"] == 0.0
    assert row["ece"] == pytest.approx(probability.mean())
    assert row["brier"] == pytest.approx(np.mean(probability**2))
    assert "no temperature: the temperature is undefined" in evaluation.tables[-1].note
    assert "T = --" in evaluation.tables[-1].title
