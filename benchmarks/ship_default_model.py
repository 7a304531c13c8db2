"""Copy a trained model into the package as ``fcn4flare-default`` and write its model card.

Usage::

    fcn4flare train --recipe default --output runs/default          # ~65 min on 2 CPU threads
    python benchmarks/evaluate_model.py --model runs/default/best --out runs/eval
    python benchmarks/eval_gj1243_replay.py --model runs/default/best --peers \
        > runs/eval/gj1243_replay.txt
    python benchmarks/ship_default_model.py runs/default --eval runs/eval \
        --input-scaling rotation_trend_noise_asinh

The card records the architecture, the training recipe, seed, time and hardware (from the
run's own logs), and the evaluation tables written by ``evaluate_model.py``.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
from pathlib import Path

import torch

from fcn4flare import FCN4FlareModel, __version__
from fcn4flare.detrending import BASELINE_WINDOW, QUIET_SCATTER, TREND_WINDOW
from fcn4flare.preprocessing import SCALING_METHODS
from fcn4flare.simulate.injection import _ACTIVE_FLARE_RATE_RANGE, _P_ACTIVE_STAR

DEST = Path(__file__).resolve().parents[1] / "fcn4flare" / "data" / "fcn4flare-default"


def _scaling_lines(scaling: str, trained_with: str) -> list[str]:
    what = {
        "median_noise_asinh": "(flux / median - 1) / robust point-to-point noise, compressed as "
                              "5 asinh(z / 5)",
        "running_median_noise_asinh": f"(flux / median - running median of {BASELINE_WINDOW} "
                                      "samples) / robust point-to-point noise, compressed as "
                                      "5 asinh(z / 5)",
        "trend_noise_asinh": "(flux / median - the star's trend) / robust point-to-point noise, "
                             "compressed as 5 asinh(z / 5); the trend is a local quadratic over "
                             f"{TREND_WINDOW} samples with flares masked where a running median "
                             f"of {BASELINE_WINDOW} samples leaves at most {QUIET_SCATTER} times "
                             "the noise, that running median otherwise "
                             "(fcn4flare.detrending.stellar_trend)",
        "rotation_trend_noise_asinh": "as trend_noise_asinh, except for stars whose trend "
                                      f"leaves more than {QUIET_SCATTER} times the noise (fast "
                                      "rotators): there, if it leaves at most that, the "
                                      "prediction of each sample from the rotations before and "
                                      "after it (fcn4flare.rotation.rotation_trend), with the "
                                      "residual divided by its local robust scatter over one "
                                      "period where that exceeds the noise",
    }
    def describe(name: str) -> str:
        return what.get(name, "see fcn4flare.preprocessing.SCALING_METHODS")

    lines = [f"- Input scaling `{scaling}`: {describe(scaling)}."]
    if scaling != trained_with:
        lines += [f"  Trained with `{trained_with}` ({describe(trained_with)}); detection",
                  "  removes the star's variability first, which was measured better on the",
                  "  evaluation below (see docs/benchmarks.rst)."]
    return lines


def _card(run: Path, model: FCN4FlareModel, eval_dir: Path | None) -> str:
    cfg = json.loads((run / "training_config.json").read_text())
    log = json.loads((run / "training_log.json").read_text())
    best = max(log, key=lambda row: row["val_dice"])
    wall = log[-1]["wall_seconds"]
    n_params = sum(p.numel() for p in model.parameters())
    c = model.config
    lines = [
        "# fcn4flare-default",
        "",
        "The model shipped with fcn4flare and used by `lc.flares.detect()` when no `model=` is",
        "given. It is the FCN4Flare network of Jia, Luo & Qiu (2024), trained by this project",
        "on simulated light curves only (no labelled real light curve was used).",
        "",
        "## Architecture",
        "",
        f"- FCN4Flare, hidden_dim {c.hidden_dim}, depth {c.depth}, dilations {c.dilation},",
        f"  kernel {c.kernel_size}; {n_params:,} parameters; receptive field "
        f"{c.receptive_field} samples.",
        *_scaling_lines(c.input_scaling, cfg["input_scaling"]),
        f"- Weights SHA-256 (fcn4flare checksum): `{model.checksum()}`.",
        f"- Detection threshold {c.detection_threshold:g} (`config.detection_threshold`, used by",
        "  `lc.flares.detect()` unless `threshold=` is given), the best of the post-processing",
        "  sweep of `benchmarks/evaluate_model.py`.",
        "",
        "## Training",
        "",
        "- Command: `fcn4flare train --recipe default --output runs/default`"
        + ("." if c.input_scaling == cfg["input_scaling"] else
           f", shipped with `--input-scaling {c.input_scaling}` (see the docstring of"
           " `benchmarks/ship_default_model.py`)."),
        "- Data: flares simulated on the fly (`fcn4flare.simulate.simulate_training_example`):"
        " Mendoza (2022) and Davenport (2014) templates integrated over the exposure, on",
        "  synthetic stars (spots, granulation, white noise, gaps, ramps) with non-flare",
        "  look-alikes labelled 0 (cosmic rays, eclipsing binaries, RR Lyrae / delta Scuti,",
        "  flux jumps); cadences Kepler 1 and 29.4 min, TESS 20 s, 2, 3.3, 10 and 30 min",
        "  (mix: " + ", ".join(f"{k} {v:g}" for k, v in (cfg.get("cadence_mix") or {}).items())
        + f"); {100 * _P_ACTIVE_STAR:g} % of the examples are very active stars "
        f"({_ACTIVE_FLARE_RATE_RANGE[0]:g}-{_ACTIVE_FLARE_RATE_RANGE[1]:g} flares per 4096 "
        "samples).",
        f"- Sequence length {cfg['seq_len']}, batch {cfg['batch_size']}, AdamW lr {cfg['lr']} "
        f"(weight decay {cfg['weight_decay']}), {cfg['lr_schedule']} schedule, "
        f"{cfg['epochs']} epochs x {cfg['steps_per_epoch']} steps,",
        f"  loss Mask Dice + {cfg['bce_weight']} x BCE, gradient clipping {cfg['grad_clip']}, "
        f"seed {cfg['seed']}.",
        f"- Best epoch {best['epoch']} of {len(log)}: validation (simulated) Dice "
        f"{best['val_dice']:.3f}, IoU {best['val_iou']:.3f}, precision "
        f"{best['val_precision']:.3f}, recall {best['val_recall']:.3f}.",
        f"- Training time {wall / 60:.0f} min on {cfg['threads']} CPU threads "
        f"({platform.processor() or platform.machine()}, torch {torch.__version__}); "
        f"shipped with fcn4flare {__version__}.",
        "",
    ]
    if eval_dir is not None and (eval_dir / "summary.md").is_file():
        lines += ["## Evaluation", "", (eval_dir / "summary.md").read_text().strip(), ""]
    if eval_dir is not None and (eval_dir / "gj1243_replay.txt").is_file():
        lines += ["Human-labelled GJ 1243 flares replayed on a synthetic Kepler short-cadence star",
                  "(`python benchmarks/eval_gj1243_replay.py --model fcn4flare-default "
                  "--peers altaipony`):",
                  "", "```", (eval_dir / "gj1243_replay.txt").read_text().strip(), "```", ""]
    lines += [
        "## Limitations",
        "",
        "- Trained on simulations: flare shapes follow the two templates; real complex flares,",
        "  instrumental artefacts absent from the simulator, and unusual variables can fool it.",
        "- Labels follow a human-like convention (from the first rising sample until the flux",
        "  is back at quiescence), calibrated on the GJ 1243 catalogue's start/stop times.",
        "- Kepler and K2 long cadence on spotted stars: slow flares (FWHM of hours) of 5-30",
        "  times the scatter are missed more often than on TESS (see the evaluation).",
        "- Small flares of 4-6 times the noise are mostly missed (the GJ 1243 replay's recall",
        "  by peak above).",
    ]
    if c.input_scaling in ("trend_noise_asinh", "rotation_trend_noise_asinh"):
        lines += [
            "- The trend under a flare is fitted with the flare masked above 3 times the noise;",
            "  the part of a long tail that is within 3 times the noise of the trend is partly",
            f"  followed by it (the quadratic spans {TREND_WINDOW} samples), so stop times and",
            "  equivalent durations of long, faint-tailed flares are underestimated.",
        ]
    if c.input_scaling == "trend_noise_asinh":
        lines += [
            "- On stars whose variability a running median cannot follow (fast rotators at long",
            f"  cadence) the trend is that {BASELINE_WINDOW}-sample running median, and flares",
            "  on steep spot slopes are missed more often.",
        ]
    if c.input_scaling == "rotation_trend_noise_asinh":
        lines += [
            "- Fast rotators whose spots change faster than the neighbouring rotations predict",
            f"  (residual above {QUIET_SCATTER} times the noise; Kepler Q2 and K2 C4 here) keep",
            f"  the {BASELINE_WINDOW}-sample running median, and flares on their steep spot",
            "  slopes are missed more often (see the evaluation). Where the rotation trend is",
            "  used, spot changes it does not predict can still be flagged.",
        ]
    if c.input_scaling == "running_median_noise_asinh":
        lines += [
            "- A flare that stays above the noise for more than about half the running",
            f"  median's {BASELINE_WINDOW} samples (an hour at 1-min cadence, 20 minutes at 20 s)",
            "  loses the end of its tail: its stop time and equivalent duration are",
            "  underestimated.",
            "- On the simulated test sets this scaling raises three times as many false events",
            "  as the global one the weights were trained with (docs/benchmarks.rst).",
        ]
    return "\n".join(lines + [""])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="output directory of fcn4flare train")
    parser.add_argument("--eval", type=Path, help="output directory of evaluate_model.py")
    parser.add_argument("--threshold", type=float,
                        help="detection threshold to record (default: the best threshold of "
                             "the --eval post-processing sweep, else the checkpoint's)")
    parser.add_argument("--input-scaling", choices=tuple(SCALING_METHODS),
                        help="input scaling detection uses (default: the one trained with)")
    args = parser.parse_args()
    model = FCN4FlareModel.from_pretrained(args.run / "best")
    if args.input_scaling is not None:
        model.config.input_scaling = args.input_scaling
    threshold = args.threshold
    if threshold is None and args.eval is not None and (args.eval / "results.json").is_file():
        results = json.loads((args.eval / "results.json").read_text())
        best = results.get("recommended_rules", {})
        threshold = best.get("threshold") if best.get("rules") == "default" else None
    if threshold is not None:
        model.config.detection_threshold = float(threshold)
    if DEST.exists():
        shutil.rmtree(DEST)
    model.save_pretrained(DEST)
    (DEST / "README.md").write_text(_card(args.run, model, args.eval))
    size = sum(p.stat().st_size for p in DEST.iterdir())
    print(f"shipped {DEST} ({size / 1e6:.2f} MB), checksum {model.checksum()[:16]}")


if __name__ == "__main__":
    main()
