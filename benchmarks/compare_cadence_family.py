"""One model for all cadences, or a specialist per cadence family? Score both on one family.

The issue asks whether a single model or a small family of models, chosen from the light
curve's cadence, is better. This script scores checkpoints side by side on the data of one
cadence family: the simulated test set of ``fcn4flare evaluate`` (64 x 4096
samples, seed 777000 + family index) and the same injections (10 realisations, seeds
10000 + 100 j + r) into the real light curves of that cadence.

The comparison behind the docs (``docs/benchmarks.rst``, "One model or a family")::

    common="--init-from runs/default/best --epochs 2 --lr 3e-4"
    fcn4flare train $common --cadence-mix kepler_long=1 --output runs/family_long
    fcn4flare train $common --output runs/family_all          # control: the default mix
    python benchmarks/compare_cadence_family.py --family kepler_long \
        --model generalist=runs/default/best --model specialist=runs/family_long/best \
        --model control=runs/family_all/best

The control is fine-tuned for as long as the specialist, on every cadence, so that a gain of
the specialist is not just the extra training.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from fcn4flare.evaluation import DEFAULT_DATA
from fcn4flare.evaluation.cases import (
    FAMILIES,
    INJECTION_TEST_SEED,
    TEST_SEED,
    Curve,
    file_label,
    injection_set,
    read_real_curve,
    simulated_set,
)
from fcn4flare.evaluation.methods import model_rules, run_model
from fcn4flare.evaluation.scoring import flare_records, score_answers, target_recall
from fcn4flare.network import load_model
from fcn4flare.simulate import CADENCES

REALISATIONS = 10
N_TEST = 64


def _same_cadence(curve: Curve, family: str) -> bool:
    return abs(curve.cadence_minutes / float(CADENCES[family]) - 1.0) < 0.1


def _real_sets(data_dir: Path, family: str) -> dict[str, list[Curve]]:
    """Injections into each real file of the family's cadence, seeded as in the evaluation."""
    originals = [read_real_curve(p) for p in sorted(data_dir.glob("*.fits"))]
    sets = {}
    for j, curve in enumerate(originals):
        if _same_cadence(curve, family):
            seed = INJECTION_TEST_SEED + 100 * j
            sets[file_label(curve)] = injection_set([curve], REALISATIONS, seed)
    return sets


def _row(name: str, data: str, s: dict, target: tuple[int, float] | None) -> str:
    clear = f"{target[1]:6.3f} ({target[0]:3d})" if target else f"{'--':>12}"
    return (f"{name:<12} {data:<24} {s['precision']:6.3f} {s['recall']:6.3f} {s['f1']:6.3f} "
            f"{s['iou']:6.3f} {s['average_precision']:6.3f} {s['event_recall']:6.3f} "
            f"{s['n_false_events']:6d}  {clear}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", required=True, metavar="LABEL=SPEC",
                        help="a label and a checkpoint directory or shipped model (repeatable)")
    parser.add_argument("--family", default="kepler_long", choices=FAMILIES)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if any("=" not in spec for spec in args.model):
        parser.error("--model takes LABEL=SPEC, e.g. specialist=runs/family_long/best")
    models = dict(spec.split("=", 1) for spec in args.model)

    index = list(FAMILIES).index(args.family)
    datasets = {f"simulated {args.family}": simulated_set(args.family, N_TEST, TEST_SEED + index)}
    if args.data_dir.is_dir():
        real = _real_sets(args.data_dir, args.family)
        datasets.update({f"injected {name}": curves for name, curves in real.items()})
    else:
        real = {}
        print(f"no real light curves in {args.data_dir}: simulated data only")

    print(f"Cadence family {args.family}: default rules (merge_gap 3, min_points 3) at each "
          "model's own threshold")
    print(f"{'model':<12} {'data':<24} {'P':>6} {'R':>6} {'F1':>6} {'IoU':>6} {'AP':>6} "
          f"{'ev R':>6} {'false':>6}  clear recall")
    for label, spec in models.items():
        model = load_model(spec)
        rules = model_rules(model)
        start = time.perf_counter()
        scored = {data: (curves, run_model(model, curves, batch_size=1))
                  for data, curves in datasets.items()}
        if len(real) > 1:  # the union of the files, without running the network again
            files = [value for data, value in scored.items() if data.startswith("injected")]
            scored["injected, all files"] = ([c for curves, _ in files for c in curves],
                                             [r for _, runs in files for r in runs])
        for data, (curves, runs) in scored.items():
            answers = [r.events_answer(rules) for r in runs]
            scores = score_answers(curves, answers)
            scores["average_precision"] = score_answers(
                curves, [r.raw_answer(0.5) for r in runs])["average_precision"]
            injected = data.startswith("injected")
            target = target_recall(flare_records(curves, answers)) if injected else None
            print(_row(label, data, scores, target), flush=True)
        print(f"{label}: {time.perf_counter() - start:.0f} s")
    print("false: predicted events matching no labelled flare and no excursion of the "
          "un-injected curve; clear recall: peak > 5 x scatter, length >= 3.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
