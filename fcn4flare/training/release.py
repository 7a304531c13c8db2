"""Release a trained run as a named model of the package, with its model card.

`release_model` copies the best checkpoint of a `~fcn4flare.training.train` run (its
``best/``: ``config.json`` and ``model.safetensors``), the run's ``training_config.json`` and
``training_log.json`` into ``fcn4flare/data/<name>/`` and writes the model card
(``README.md``): the architecture, the recipe, seed, training time and hardware from the run's
own record, and the evaluation tables of an evaluation directory when one is given. From the
command line::

    fcn4flare train --recipe default --output runs/default          # ~65 min on 2 CPU threads
    fcn4flare evaluate --model runs/default/best --out runs/eval --peers
    python -m fcn4flare.evaluation.replay --model runs/default/best --peers \\
        > runs/eval/gj1243_replay.txt
    fcn4flare release runs/default --name fcn4flare-default --eval runs/eval --overwrite

A released model runs with the input scaling it was trained with: the release keeps the
run's ``input_scaling`` and refuses a checkpoint whose ``config.json`` was edited away from
it. To detect with another scaling, train (or fine-tune, ``init_from``) with that scaling.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from .. import __version__
from ..exceptions import CheckpointError, InputError
from ..network.model import CONFIG_NAME, FCN4FlareModel
from ..network.pretrained import DEFAULT_MODEL, MODEL_CARD_NAME, models_dir
from .config import TrainingConfig
from .loop import BEST_DIR, LOG_JSON, TEST_METRICS_NAME, TRAINING_CONFIG_NAME

__all__ = ["release_model", "EVALUATION_FILES"]

logger = logging.getLogger("fcn4flare.training")

#: Files of an evaluation directory that the model card uses: ``summary.md`` (the evaluation
#: tables, Markdown), ``gj1243_replay.txt`` (the output of
#: ``python -m fcn4flare.evaluation.replay``), ``limitations.md`` (Markdown bullets of the
#: limitations the evaluation measured, added to the card's own) and ``results.json`` (of
#: ``fcn4flare evaluate``: its ``recommended_rules`` give the detection threshold).
EVALUATION_FILES = ("summary.md", "gj1243_replay.txt", "limitations.md", "results.json")

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def release_model(
    run_dir: str | os.PathLike,
    name: str,
    *,
    eval_dir: str | os.PathLike | None = None,
    data_dir: str | os.PathLike | None = None,
    threshold: float | None = None,
    overwrite: bool = False,
) -> Path:
    """Copy a trained run into the package as model ``name`` and write its model card.

    The released directory holds ``config.json`` and ``model.safetensors`` (the run's
    ``best/`` checkpoint, so `~fcn4flare.network.load_model` (``name``) loads it), the run's
    ``training_config.json``, ``training_log.json`` (and ``test_metrics.json`` when the run
    has one) and ``README.md``, the model card. Everything is written to a temporary
    directory beside the destination and renamed into place, so a failed release leaves the
    previous model untouched.

    The ``input_scaling`` of the released config is the one the run trained with, never
    another: detection scales the flux as training did.

    Parameters
    ----------
    run_dir : path-like
        Output directory of `~fcn4flare.training.train` (``fcn4flare train --output``).
    name : str
        Name of the released model (a directory name: letters, digits, ``.``, ``_``,
        ``-``); ``fcn4flare-default`` replaces the model ``lc.flares.detect()`` uses.
    eval_dir : path-like, optional
        Output directory of the evaluation (see `EVALUATION_FILES`): its tables go into the
        card, and the threshold its post-processing sweep recommends for the default rules
        into ``config.detection_threshold``.
    data_dir : path-like, optional
        Where to put the model; the package's ``fcn4flare/data`` by default.
    threshold : float, optional
        Detection threshold to record; overrides the evaluation's. The checkpoint's own when
        neither is given.
    overwrite : bool
        Replace a model of that name that is already there.

    Returns
    -------
    pathlib.Path
        The released model's directory.

    Raises
    ------
    InputError
        No run at ``run_dir``, an invalid ``name``, a missing or unusable ``eval_dir``, or a
        model of that name already there without ``overwrite=True``.
    CheckpointError
        A run without ``best/``, or whose checkpoint's ``input_scaling`` is not the one
        it was trained with.

    Examples
    --------
    >>> import tempfile
    >>> from fcn4flare.network import load_model
    >>> from fcn4flare.training import TrainingConfig, train
    >>> from fcn4flare.training.release import release_model
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     cfg = TrainingConfig(hidden_dim=4, depth=2, seq_len=128, batch_size=2,
    ...                          steps_per_epoch=2, epochs=1, val_examples=2, test_examples=0,
    ...                          output_dir=f"{tmp}/run", progress=False)
    ...     _ = train(cfg)
    ...     path = release_model(f"{tmp}/run", "tiny", data_dir=f"{tmp}/data")
    ...     (path / "README.md").is_file(), load_model(path).config.input_scaling
    (True, 'median_noise')
    """
    run = Path(run_dir)
    if not run.is_dir():
        raise InputError(f"release: no training run at {run} (not a directory).")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InputError(
            f"release: invalid model name {name!r}; use letters, digits, '.', '_' and '-' "
            "(a directory name), starting with a letter or digit."
        )
    best = run / BEST_DIR
    if not (best / CONFIG_NAME).is_file():
        raise CheckpointError(
            f"release: {run} holds no {BEST_DIR}/{CONFIG_NAME}; it is not the output "
            "directory of a finished fcn4flare train run (train saves its best model there)."
        )
    evaluation = _read_evaluation(None if eval_dir is None else Path(eval_dir))
    target_dir = Path(data_dir) if data_dir is not None else models_dir()
    dest = target_dir / name
    if dest.exists() and not overwrite:
        raise InputError(
            f"release: {dest} already holds a model; pass overwrite=True (--overwrite) to "
            "replace it."
        )

    model = FCN4FlareModel.from_pretrained(best)
    cfg_file = best / TRAINING_CONFIG_NAME
    if not cfg_file.is_file():
        cfg_file = run / TRAINING_CONFIG_NAME
    if not cfg_file.is_file():
        raise CheckpointError(
            f"release: {run} holds no {TRAINING_CONFIG_NAME}; the card needs the run's settings."
        )
    cfg = TrainingConfig.from_json(cfg_file)
    log = _read_log(run / LOG_JSON)
    trained = model.config.trained_input_scaling or cfg.input_scaling
    if model.config.input_scaling != trained:
        raise CheckpointError(
            f"release: {best / CONFIG_NAME} has input_scaling {model.config.input_scaling!r} "
            f"but the run trained with {trained!r}. A model is released with the scaling it "
            f"was trained with; to detect with {model.config.input_scaling!r}, train or "
            f"fine-tune with it (init_from={str(best)!r}, input_scaling="
            f"{model.config.input_scaling!r})."
        )
    training = model.config.extra.get("training")
    model.config.extra["training"] = {
        **(dict(training) if isinstance(training, Mapping) else {}),
        "input_scaling": trained,
    }

    threshold_origin = "the checkpoint's"
    if threshold is None and evaluation.get("threshold") is not None:
        threshold = evaluation["threshold"]
        threshold_origin = (f"the best of the post-processing sweep of the evaluation "
                            f"(`{Path(eval_dir).name}/results.json`)")
    elif threshold is not None:
        threshold_origin = "chosen at release"
    if threshold is not None:
        try:
            model.config.detection_threshold = float(threshold)
        except (TypeError, ValueError):
            raise InputError(f"release: threshold must be a number, got {threshold!r}.") from None
        if not 0.0 <= model.config.detection_threshold < 1.0:
            raise InputError(f"release: threshold must be in [0, 1), got {threshold!r}.")

    card = _card(name, model, cfg, log, evaluation, threshold_origin)
    target_dir.mkdir(parents=True, exist_ok=True)
    tmp = target_dir / f".{name}.{os.getpid()}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        model.save_pretrained(tmp)
        cfg.to_json(tmp / TRAINING_CONFIG_NAME)
        shutil.copyfile(run / LOG_JSON, tmp / LOG_JSON)
        if (run / TEST_METRICS_NAME).is_file():
            shutil.copyfile(run / TEST_METRICS_NAME, tmp / TEST_METRICS_NAME)
        (tmp / MODEL_CARD_NAME).write_text(card)
        check = FCN4FlareModel.from_pretrained(tmp)
        if check.checksum() != model.checksum() or check.config != model.config:
            raise CheckpointError(f"release: the copy in {tmp} does not read back as written.")
        _move_into_place(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    size = sum(p.stat().st_size for p in dest.iterdir())
    logger.info("Released %s as %s (%.2f MB, checksum %s, input scaling %s).", run, dest,
                size / 1e6, model.checksum()[:16], trained)
    return dest


def _move_into_place(tmp: Path, dest: Path) -> None:
    """Rename ``tmp`` to ``dest``; an existing ``dest`` is moved aside first, then removed."""
    if not dest.exists():
        tmp.rename(dest)
        return
    old = dest.with_name(f".{dest.name}.{os.getpid()}.old")
    if old.exists():
        shutil.rmtree(old)
    dest.rename(old)
    try:
        tmp.rename(dest)
    except OSError:
        old.rename(dest)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _read_log(path: Path) -> list[dict[str, Any]]:
    try:
        log = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"release: cannot read the training log {path}: {exc}") from exc
    if not isinstance(log, list) or not log or not all(isinstance(r, dict) for r in log):
        raise CheckpointError(f"release: {path} holds no epoch rows.")
    return log


def _read_evaluation(eval_dir: Path | None) -> dict[str, Any]:
    """The parts of an evaluation directory the release uses (see `EVALUATION_FILES`)."""
    if eval_dir is None:
        return {}
    if not eval_dir.is_dir():
        raise InputError(f"release: no evaluation directory at {eval_dir}.")
    found = [n for n in EVALUATION_FILES if (eval_dir / n).is_file()]
    if not found:
        raise InputError(
            f"release: {eval_dir} holds none of the evaluation files "
            f"({', '.join(EVALUATION_FILES)})."
        )
    out: dict[str, Any] = {}
    for key, filename in (("summary", "summary.md"), ("replay", "gj1243_replay.txt"),
                          ("limitations", "limitations.md")):
        if (eval_dir / filename).is_file():
            out[key] = (eval_dir / filename).read_text().strip()
    if (eval_dir / "results.json").is_file():
        try:
            results = json.loads((eval_dir / "results.json").read_text())
        except json.JSONDecodeError as exc:
            raise InputError(f"release: cannot read {eval_dir / 'results.json'}: {exc}") from exc
        best = (results.get("recommended_rules") or {}) if isinstance(results, dict) else {}
        if best.get("rules") == "default" and best.get("threshold") is not None:
            out["threshold"] = float(best["threshold"])
    return out


# --------------------------------------------------------------------------- the card


def _scaling_line(scaling: str) -> str:
    from ..trend import BASELINE_WINDOW, QUIET_SCATTER, TREND_WINDOW

    noise = "robust point-to-point noise"
    what = {
        "median": "flux / median (what the published checkpoints expect)",
        "median_noise": f"(flux / median - 1) / {noise}",
        "median_noise_asinh": f"(flux / median - 1) / {noise}, compressed as 5 asinh(z / 5)",
        "running_median_noise_asinh": f"(flux / median - running median of {BASELINE_WINDOW} "
                                      f"samples) / {noise}, compressed as 5 asinh(z / 5)",
        "trend_noise_asinh": "(flux / median - the star's trend) / robust point-to-point noise, "
                             "compressed as 5 asinh(z / 5); the trend is a local quadratic over "
                             f"{TREND_WINDOW} samples with flares masked where a running median "
                             f"of {BASELINE_WINDOW} samples leaves at most {QUIET_SCATTER} times "
                             "the noise, that running median otherwise "
                             "(fcn4flare.trend.stellar_trend)",
        "rotation_trend_noise_asinh": "as trend_noise_asinh, except for stars whose trend "
                                      f"leaves more than {QUIET_SCATTER} times the noise (fast "
                                      "rotators): there, if it leaves at most that, the "
                                      "prediction of each sample from the rotations before and "
                                      "after it (fcn4flare.trend.rotation_trend), with the "
                                      "residual divided by its local robust scatter over one "
                                      "period where that exceeds the noise",
        "adaptive_trend_noise_asinh": "(flux / median - the star's trend) / the larger of "
                                      "the white noise from second differences and the "
                                      "residual's robust scatter, compressed as "
                                      "5 asinh(z / 5); the "
                                      "trend is a flare-masked local quadratic whose window "
                                      "(255 down to 15 samples) is, at each sample, the "
                                      "longest that fits the data there within 1.2 times the "
                                      "best window's misfit (fcn4flare.trend.adaptive_trend)",
        "rotation_adaptive_trend_noise_asinh": "as rotation_trend_noise_asinh, except where "
                                               "neither the stellar nor the rotation trend "
                                               "follows the star: there, as "
                                               "adaptive_trend_noise_asinh",
    }.get(scaling, "see fcn4flare.scaling.SCALING_METHODS")
    return (f"- Input scaling `{scaling}`, the one it was trained with "
            f"(`config.input_scaling`): {what}.")


def _data_lines(cfg: TrainingConfig) -> list[str]:
    if cfg.source != "simulated":
        where = cfg.dataset if cfg.source == "dataset" else f"{cfg.fits_dir} ({cfg.events})"
        return [f"- Data: labelled light curves ({cfg.source}: `{where}`), split by "
                f"{cfg.split} (validation {cfg.val_fraction:g}, test {cfg.test_fraction:g})."]
    from ..simulate.injection import ACTIVE_FLARE_RATE_RANGE, P_ACTIVE_STAR

    mix = (", ".join(f"{k} {v:g}" for k, v in cfg.cadence_mix.items())
           if cfg.cadence_mix else "the simulator's training mix")
    return [
        "- Data: flares simulated on the fly (`fcn4flare.simulate.simulate_training_example`):"
        " Mendoza (2022) and Davenport (2014) templates integrated over the exposure, on",
        "  synthetic stars (spots, granulation, white noise, gaps, ramps) with non-flare",
        "  look-alikes labelled 0 (cosmic rays, eclipsing binaries, RR Lyrae / delta Scuti,",
        "  flux jumps); cadences Kepler 1 and 29.4 min, TESS 20 s, 2, 3.3, 10 and 30 min",
        f"  (mix: {mix}); {100 * P_ACTIVE_STAR:g} % of the examples are very active stars "
        f"({ACTIVE_FLARE_RATE_RANGE[0]:g}-{ACTIVE_FLARE_RATE_RANGE[1]:g} flares per 4096 "
        "samples)."
        + ("" if not cfg.background_dir else
           f" A fraction {cfg.background_fraction:g} of them on real backgrounds "
           f"(`{cfg.background_dir}`)."),
    ]


def _card(name: str, model: FCN4FlareModel, cfg: TrainingConfig, log: list[dict[str, Any]],
          evaluation: Mapping[str, Any], threshold_origin: str) -> str:
    c = model.config
    training = c.extra.get("training") or {}
    epoch = training.get("epoch")
    best = next((row for row in log if row.get("epoch") == epoch), None)
    if best is None:
        best = max(log, key=lambda row: row.get("val_dice", float("-inf")))
    wall = float(log[-1].get("wall_seconds", float("nan")))
    n_params = sum(p.numel() for p in model.parameters())
    threads = f"{cfg.threads} threads" if cfg.threads else "torch's default threads"
    if name == DEFAULT_MODEL:
        intro = ["The model shipped with fcn4flare and used by `lc.flares.detect()` when no "
                 "`model=` is", "given."]
    else:
        intro = [f"A model shipped with fcn4flare: `lc.flares.detect(model=\"{name}\")`."]
    origin = ("trained by this project on simulated light curves only (no labelled real light "
              "curve was used)." if cfg.source == "simulated" else
              "trained by this project on labelled light curves.")
    lines = [
        f"# {name}",
        "",
        *intro,
        f"It is the FCN4Flare network of Jia, Luo & Qiu (2024), {origin}",
        "",
        "## Architecture",
        "",
        f"- FCN4Flare, hidden_dim {c.hidden_dim}, depth {c.depth}, dilations {c.dilation},",
        f"  kernel {c.kernel_size}; {n_params:,} parameters; receptive field "
        f"{c.receptive_field} samples.",
        _scaling_line(c.input_scaling),
        f"- Weights SHA-256 (fcn4flare checksum): `{model.checksum()}`.",
        f"- Detection threshold {c.detection_threshold:g} (`config.detection_threshold`, used by",
        f"  `lc.flares.detect()` unless `threshold=` is given), {threshold_origin}.",
        "",
        "## Training",
        "",
        f"- Recipe `{cfg.recipe}`; every setting is in `{TRAINING_CONFIG_NAME}` beside the "
        f"weights (`fcn4flare train --config {TRAINING_CONFIG_NAME}` repeats the run)"
        + (f", fine-tuned from `{cfg.init_from}`." if cfg.init_from else "."),
        *_data_lines(cfg),
        f"- Sequence length {cfg.seq_len}, batch {cfg.batch_size}, AdamW lr {cfg.lr} "
        f"(weight decay {cfg.weight_decay}), {cfg.lr_schedule} schedule, "
        f"{cfg.epochs} epochs x "
        + (f"{cfg.steps_per_epoch} steps," if cfg.steps_per_epoch else "one pass of the data,"),
        f"  loss Mask Dice + {cfg.bce_weight} x BCE, gradient clipping {cfg.grad_clip}, "
        f"seed {cfg.seed}.",
        f"- Best epoch {best.get('epoch')} of {len(log)}: validation Dice "
        f"{best.get('val_dice', float('nan')):.3f}, IoU {best.get('val_iou', float('nan')):.3f}, "
        f"precision {best.get('val_precision', float('nan')):.3f}, recall "
        f"{best.get('val_recall', float('nan')):.3f} (`{LOG_JSON}`).",
        f"- Training time {wall / 60:.0f} min on device `{cfg.device}` with {threads}; "
        f"released with fcn4flare {__version__} and torch {torch.__version__} on "
        f"{platform.processor() or platform.machine()}.",
        "",
    ]
    if "summary" in evaluation:
        lines += ["## Evaluation", "", evaluation["summary"], ""]
    if "replay" in evaluation:
        lines += ["Human-labelled GJ 1243 flares replayed on a synthetic Kepler short-cadence star",
                  f"(`python -m fcn4flare.evaluation.replay --model {name} "
                  "--peers altaipony`):",
                  "", "```", evaluation["replay"], "```", ""]
    lines += ["## Limitations", ""]
    if cfg.source == "simulated":
        lines += [
            "- Trained on simulations: flare shapes follow the two templates; real complex "
            "flares,",
            "  instrumental artefacts absent from the simulator, and unusual variables can fool "
            "it.",
            "- Labels follow a human-like convention (from the first rising sample until the "
            "flux",
            "  is back at quiescence), calibrated on the GJ 1243 catalogue's start/stop times.",
        ]
    if "limitations" in evaluation:
        lines += [evaluation["limitations"]]
    lines += _scaling_limitations(c.input_scaling)
    return "\n".join(lines + [""])


def _scaling_limitations(scaling: str) -> list[str]:
    from ..trend import BASELINE_WINDOW, QUIET_SCATTER, TREND_WINDOW

    lines: list[str] = []
    if scaling in ("trend_noise_asinh", "rotation_trend_noise_asinh",
                   "rotation_adaptive_trend_noise_asinh"):
        lines += [
            "- The trend under a flare is fitted with the flare masked above 3 times the noise;",
            "  the part of a long tail that is within 3 times the noise of the trend is partly",
            f"  followed by it (the quadratic spans {TREND_WINDOW} samples), so stop times and",
            "  equivalent durations of long, faint-tailed flares are underestimated.",
        ]
    if scaling in ("adaptive_trend_noise_asinh", "rotation_adaptive_trend_noise_asinh"):
        lines += [
            "- The trend under a flare is fitted with the flare masked above 3 times the noise;",
            "  where the star varies fast the window shortens (to 15 samples, 7 hours at long",
            "  cadence), and the part of a long tail within 3 times the noise is partly",
            "  followed by it, so stop times and equivalent durations of long, faint-tailed",
            "  flares on fast rotators are underestimated.",
        ]
    if scaling == "trend_noise_asinh":
        lines += [
            "- On stars whose variability a running median cannot follow (fast rotators at long",
            f"  cadence) the trend is that {BASELINE_WINDOW}-sample running median, and flares",
            "  on steep spot slopes are missed more often.",
        ]
    if scaling == "rotation_trend_noise_asinh":
        lines += [
            "- Fast rotators whose spots change faster than the neighbouring rotations predict",
            f"  (residual above {QUIET_SCATTER} times the noise) keep the {BASELINE_WINDOW}-"
            "sample running",
            "  median, and flares on their steep spot slopes are missed more often. Where the",
            "  rotation trend is used, spot changes it does not predict can still be flagged.",
        ]
    if scaling == "running_median_noise_asinh":
        lines += [
            "- A flare that stays above the noise for more than about half the running",
            f"  median's {BASELINE_WINDOW} samples (an hour at 1-min cadence, 20 minutes at 20 s)",
            "  loses the end of its tail: its stop time and equivalent duration are",
            "  underestimated.",
        ]
    if scaling == "median_noise_asinh":
        lines += [
            "- The flux is scaled around the light curve's global median: a flare on the bright",
            "  or faint phase of a spotted star reaches the network tens of noise units from",
            "  zero, where the asinh has compressed it, and is found less often than near the",
            "  median flux (docs/model.rst, input scaling).",
        ]
    return lines
