"""The ``fcn4flare`` command.

Each subcommand is one function that adds its parser to the subparsers and sets
``func`` (the function that runs it, taking the parsed arguments and returning the exit
status). `COMMANDS` lists them; a new subcommand is a new function added there.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .exceptions import FCN4FlareError, FCN4FlareWarning, InputError
from .scaling import SCALING_METHODS

__all__ = ["main", "build_parser", "COMMANDS"]

logger = logging.getLogger("fcn4flare")

#: Exit status of a run stopped by an `~fcn4flare.exceptions.FCN4FlareError`
#: (bad input, checkpoint).
EXIT_ERROR = 1
#: Exit status when the command line cannot be used (argparse's own convention).
EXIT_USAGE = 2


# --------------------------------------------------------------------------- train

# Settings given their own options below (or not offered on the command line).
_TRAIN_SPECIAL = {
    "source", "dataset", "fits_dir", "events", "output_dir", "resume", "overwrite", "recipe",
}
_TRAIN_CHOICES = {
    "split": ("star", "file"),
    "lr_schedule": ("none", "step", "cosine", "linear"),
    "input_scaling": tuple(SCALING_METHODS),
}


def _none_or(convert: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        return None if text.strip().lower() == "none" else convert(text)

    parse.__name__ = getattr(convert, "__name__", "value")
    return parse


def _weights(text: str) -> dict[str, float] | None:
    """``'kepler_long=1,tess_2min=2'`` or a JSON object -> dict of weights."""
    text = text.strip()
    if text.lower() == "none":
        return None
    try:
        if text.startswith("{"):
            return {str(k): float(v) for k, v in json.loads(text).items()}
        pairs = [item.split("=", 1) for item in text.replace(" ", ",").split(",") if item]
        return {name.strip(): float(value) for name, value in pairs}
    except (ValueError, AttributeError, json.JSONDecodeError):
        raise argparse.ArgumentTypeError(
            f"expected name=weight pairs such as 'kepler_long=1,tess_2min=2', got {text!r}"
        ) from None


def _option_for(name: str, annotation: Any) -> dict[str, Any]:
    """argparse keyword arguments for a `TrainingConfig` field of this type."""
    args = typing.get_args(annotation)
    optional = type(None) in args
    base = next((a for a in args if a is not type(None)), annotation) if args else annotation
    origin = typing.get_origin(base)
    if base is bool:
        return {"action": argparse.BooleanOptionalAction}
    if origin is list:
        return {"nargs": "+", "type": int, "metavar": "N"}
    if origin is dict:
        return {"type": _weights, "metavar": "NAME=W,..."}
    convert = {int: int, float: float}.get(base, str)
    kwargs: dict[str, Any] = {"type": _none_or(convert) if optional else convert}
    if name in _TRAIN_CHOICES:
        kwargs["choices"] = _TRAIN_CHOICES[name]
    kwargs["metavar"] = name.upper() if name not in _TRAIN_CHOICES else None
    return kwargs


def _add_train(subparsers: Any) -> None:
    from .training import RECIPES, TrainingConfig

    parser = subparsers.add_parser(
        "train",
        help="train a model (simulated flares, a published-layout data set or FITS files)",
        description=(
            "Train an FCN4Flare model. Settings start from --recipe (or --config) and are "
            "overridden by the options given. Reproduce the published Kepler model with: "
            "fcn4flare train --dataset path/to/kepler_flare --recipe published"
        ),
        argument_default=argparse.SUPPRESS,
    )
    data = parser.add_argument_group("training data (one of)")
    choice = data.add_mutually_exclusive_group()
    choice.add_argument(
        "--simulated", dest="source", action="store_const", const="simulated",
        help="flares simulated on the fly (the default recipe's data)",
    )
    choice.add_argument(
        "--dataset", metavar="PATH",
        help="parquet/arrow file or directory in the published kepler_flare layout",
    )
    choice.add_argument(
        "--fits-dir", dest="fits_dir", metavar="DIR",
        help="directory of Kepler/K2/TESS light-curve FITS files (needs --events)",
    )
    data.add_argument(
        "--events", metavar="CSV", help="CSV of flare events (columns file, start, end)"
    )

    run = parser.add_argument_group("run")
    run.add_argument(
        "--recipe", choices=tuple(RECIPES), default="default",
        help="starting settings: this project's (default) or the paper's (published) "
        "[default]",
    )
    run.add_argument(
        "--config", metavar="JSON",
        help="start from a training_config.json instead of a recipe",
    )
    run.add_argument(
        "--output", "--output-dir", dest="output_dir", metavar="DIR",
        help="directory for models, checkpoints and logs (default: fcn4flare-training)",
    )
    run.add_argument(
        "--resume", action="store_true", help="continue the run saved in DIR/last"
    )
    run.add_argument(
        "--overwrite", action="store_true", help="replace a run already in DIR"
    )

    settings = parser.add_argument_group(
        "settings ([value] of the default recipe; 'none' unsets optional ones)"
    )
    types = TrainingConfig.field_types()
    defaults = TrainingConfig.from_recipe("default").to_dict()
    for name, help_text in TrainingConfig.field_help().items():
        if name in _TRAIN_SPECIAL:
            continue
        kwargs = _option_for(name, types[name])
        default = defaults[name]
        if isinstance(default, list):
            shown = " ".join(map(str, default))
        elif isinstance(default, dict):
            shown = ",".join(f"{key}={value:g}" for key, value in default.items())
        else:
            shown = default
        settings.add_argument(
            f"--{name.replace('_', '-')}", dest=name, help=f"{help_text} [{shown}]", **kwargs
        )
    parser.set_defaults(func=_run_train, recipe="default")


def _train_config(args: argparse.Namespace) -> Any:
    from .training import TrainingConfig

    given = dict(vars(args))
    for key in ("func", "command", "verbose", "quiet"):
        given.pop(key, None)
    recipe = given.pop("recipe", "default")
    config_file = given.pop("config", None)
    if "events" in given and "fits_dir" not in given:
        raise InputError("--events needs --fits-dir.")
    if "fits_dir" in given:
        if "events" not in given:
            raise InputError("--fits-dir needs --events CSV.")
        given["source"] = "fits"
    if "dataset" in given:
        given["source"] = "dataset"
    if config_file:
        values = TrainingConfig.from_json(config_file).to_dict()
        values.update(given)
        return TrainingConfig.from_dict(values)
    if recipe == "published" and not ({"dataset", "fits_dir"} & set(given)):
        raise InputError(
            "--recipe published trains on the Kepler flare data set: add --dataset PATH "
            "(or --fits-dir DIR --events CSV)."
        )
    return TrainingConfig.from_recipe(recipe, **given)


def _run_train(args: argparse.Namespace) -> int:
    from .training import train

    config = _train_config(args)
    logger.info("Training into %s (recipe %s, data %s).", config.output_dir, config.recipe,
                config.source)
    result = train(config)
    summary = {
        "output_dir": str(result.output_dir),
        "best_model": str(result.best_dir),
        "best_epoch": result.best_epoch,
        "best_val_dice": round(result.best_val_dice, 6),
        "epochs": result.epochs_completed,
        "stopped_early": result.stopped_early,
    }
    if result.test_metrics:
        summary["test"] = {k: round(v, 6) if isinstance(v, float) else v
                           for k, v in result.test_metrics.items()}
    print(json.dumps(summary, indent=2))
    return 0


# --------------------------------------------------------------------------- detect


def _add_detect(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "detect",
        help="find flares in light-curve files and write one catalogue",
        description=(
            "Find flares in Kepler, K2 and TESS light-curve files (anything lightkurve.read "
            "opens) and write one catalogue for all of them. A file that cannot be processed "
            "is reported and skipped; the exit status is non-zero only when no file could be "
            "processed. With --output the run streams to disk and can be resumed: run the "
            "same command again after an interruption and the files already done are "
            "skipped. --example runs on the built-in simulated light curve instead."
        ),
    )
    parser.add_argument("files", nargs="*", metavar="FILE",
                        help="light-curve files, folders (their FITS files) or lists of files "
                             "(a .txt file or @LIST: one path a line)")
    parser.add_argument("--example", action="store_true",
                        help="run on the built-in example light curve (simulated, no download)")
    parser.add_argument("-o", "--output", metavar="FILE_OR_DIR/",
                        help="catalogue to write (format from the suffix: .ecsv, .fits, "
                             ".fit, .fits.gz, .csv, .parquet with pyarrow, .txt), or a run "
                             "directory when it ends with '/' (flares.<ext> and "
                             "status.<ext> inside); checked before any work, written to a "
                             "temporary name and renamed into place")
    parser.add_argument("--format", default=None,
                        help="format of a run directory (ecsv, fits or parquet) [ecsv], or of "
                             "--output instead of its suffix")
    parser.add_argument("--status", metavar="FILE",
                        help="also write the per-file status table (file, status, n_flares, "
                             "seconds, error) here; a run directory has its own")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing --output (one that is not resumed)")
    parser.add_argument("--no-resume", dest="resume", action="store_false",
                        help="do not continue the run found at --output (start again; an "
                             "existing one needs --overwrite)")
    parser.add_argument("--retry-failed", action="store_true",
                        help="when resuming, search again the files that failed")
    parser.add_argument("--threshold", type=float, default=None,
                        help="probability above which a sample is flagged [the model's own "
                             "config.detection_threshold; 0.5 for published checkpoints]")
    parser.add_argument("--rules", choices=("default", "published"), default="default",
                        help="post-processing rules [default]")
    parser.add_argument("--model", metavar="PATH", help="checkpoint directory (default: shipped)")
    parser.add_argument("--plot-dir", metavar="DIR",
                        help="save one PNG per file here (created if needed)")
    parser.add_argument("--quality-bitmask", default="default",
                        help="lightkurve quality bitmask: none, default, hard, hardest or an int")
    parser.add_argument("-j", "--jobs", "--n-jobs", dest="jobs", type=int, default=1,
                        help="worker processes on this machine (-1: one per CPU) [1]")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="run on the Dask cluster of this scheduler (tcp://host:8786; "
                             "needs fcn4flare[dask]); the files must be readable by its "
                             "workers at the same paths")
    parser.add_argument("--group-size", type=int, default=None,
                        help="files searched together (one task, one part of the store) [8]")
    parser.add_argument("-r", "--recursive", action="store_true",
                        help="take the FITS files of folders' subfolders too")
    parser.add_argument("--no-progress", dest="progress", action="store_false",
                        help="hide the progress bar")
    parser.set_defaults(func=_run_detect)


def _bitmask(text: str) -> str | int:
    return int(text) if text.lstrip("-").isdigit() else text


def _check_detect_outputs(args: argparse.Namespace) -> str | None:
    """Check --output and --plot-dir before any work; return the catalogue's format.

    Raises `InputError` for an unknown suffix, a missing or unwritable directory or an
    existing --output without --overwrite, so that a long run cannot fail at its end.
    """
    from .catalog.writer import check_directory, check_output

    output_format = None
    if args.output:
        output = Path(args.output)
        if output.exists() and not output.is_dir() and not args.overwrite:
            raise InputError(f"{args.output} exists; pass --overwrite to replace it.")
        output_format = check_output(output, overwrite=True, format=args.format,
                                     label="--output")
    if args.plot_dir:
        check_directory(args.plot_dir, label="--plot-dir")
    return output_format


def _write_catalogue(table: Any, args: argparse.Namespace, output_format: str | None) -> None:
    from .catalog.writer import write_table

    try:
        write_table(table, args.output, format=output_format, overwrite=args.overwrite)
    except OSError as err:
        raise FCN4FlareError(
            f"cannot write {args.output}: {err}; an existing file there is unchanged."
        ) from err


def _run_detect(args: argparse.Namespace) -> int:
    if args.example == bool(args.files):
        raise InputError("give light-curve FILEs or --example (not both).")
    if args.example:
        return _run_example(args)
    result = _detect_files(args)
    for path, status, _, _, error in result.status.iterrows():
        if error and status != "skipped":
            logger.warning("%s %s: %s", "failed" if status == "failed" else "warning", path,
                           error)
    if not result.processed:
        print(f"fcn4flare detect: error: none of {len(result.status)} file(s) could be "
              "processed.", file=sys.stderr)
        return EXIT_ERROR
    if args.output:
        logger.info("%d flare(s) written to %s.", len(result.table), args.output)
    else:
        _print_table(result.table)
    counts = {name: int(np.count_nonzero(np.asarray(result.status["status"]) == name))
              for name in ("ok", "failed", "skipped")}
    logger.info("%d flare(s) found; %d file(s) searched, %d failed, %d skipped (done by an "
                "earlier run).", len(result.table), counts["ok"], counts["failed"],
                counts["skipped"])
    return 0


def _detect_files(args: argparse.Namespace) -> Any:
    """`fcn4flare.detect_many` with the command's options (checked before any work)."""
    import warnings

    from .catalog.writer import check_directory
    from .detection.catalogue_run import _detect_many, _Names

    directory = bool(args.output) and args.output.endswith(("/", os.sep))
    names = _Names(output="--output", status="--status", overwrite="--overwrite",
                   no_resume="--no-resume")
    if args.status and not args.output:
        raise InputError("--status needs --output.")
    if args.plot_dir:
        from .detection.catalogue_run import plan_output

        if args.output:  # the output first, as always: then the plots' folder is created
            plan_output(args.output, format=args.format, status_file=args.status,
                        overwrite=args.overwrite, resume=args.resume,
                        kind="directory" if directory else "file", names=names)
        check_directory(args.plot_dir, label="--plot-dir")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FCN4FlareWarning)
        result = _detect_many(
            args.files, output=args.output or None, format=args.format,
            status_file=args.status, resume=args.resume, overwrite=args.overwrite,
            retry_failed=args.retry_failed, n_jobs=args.jobs, client=args.scheduler,
            progress=args.progress and sys.stderr.isatty(), group_size=args.group_size,
            recursive=args.recursive, model=args.model, threshold=args.threshold,
            rules=args.rules, flux_column=None,
            quality_bitmask=_bitmask(args.quality_bitmask), plot_dir=args.plot_dir,
            device=None, kind="directory" if directory else "file", names=names,
        )
    for warning in caught:
        if issubclass(warning.category, FCN4FlareWarning):
            logger.info("%s", warning.message)
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                   warning.lineno)
    return result


def _run_example(args: argparse.Namespace) -> int:
    from .detection import detect_flares
    from .simulate import example_light_curve

    output_format = _check_detect_outputs(args)
    lc = example_light_curve()
    table = detect_flares(lc, model=args.model, threshold=args.threshold, rules=args.rules)
    if args.plot_dir:
        import matplotlib

        from .catalog.writer import atomic_path

        matplotlib.use("Agg")
        ax = lc.flares.plot(model=args.model, threshold=args.threshold, rules=args.rules)
        with atomic_path(Path(args.plot_dir) / "fcn4flare_example.png") as part:
            ax.figure.savefig(part, dpi=100, format="png")
    if args.output:
        _write_catalogue(table, args, output_format)
        logger.info("%d flare(s) written to %s.", len(table), args.output)
    else:
        _print_table(table)
    logger.info("%d flare(s) found.", len(table))
    return 0


def _print_table(table: Any) -> None:
    shown = table.copy()
    for name in ("tstart", "tpeak", "tstop"):
        if name in shown.colnames and len(shown):
            if shown[name].format in ("jd", "mjd"):
                shown[name].format = "iso"
    shown.pprint(max_lines=-1, max_width=-1)


# --------------------------------------------------------------------------- evaluate


def _add_evaluate(subparsers: Any) -> None:
    from .evaluation import build_parser as add_evaluation_options

    parser = subparsers.add_parser(
        "evaluate",
        help="score a model: simulated sets, injections into real light curves, peers",
        description=(
            "Evaluate an FCN4Flare model with the protocol of docs/benchmarks.rst: held-out "
            "simulated light curves, flares injected into the real light curves of --data, "
            "the events on those light curves, the post-processing sweep and, with --peers, "
            "AltaiPony and stella on the same data (each in its own environment). Tables go "
            "to --out as text, CSV, JSON and reStructuredText. Without real light curves the "
            "sections on them are skipped."
        ),
    )
    add_evaluation_options(parser)
    parser.set_defaults(func=_run_evaluate)


def _run_evaluate(args: argparse.Namespace) -> int:
    from .evaluation.protocol import run_from_args

    run_from_args(args)
    return 0


# --------------------------------------------------------------------------- info


def _add_info(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "info", help="print the model card of the shipped (or a given) model",
        description="Print the model card of a shipped model, or the config of a checkpoint.",
    )
    parser.add_argument("--model", metavar="NAME_OR_PATH",
                        help="a shipped model's name or a checkpoint directory")
    parser.set_defaults(func=_run_info)


def _run_info(args: argparse.Namespace) -> int:
    from .network import available_models, model_card

    target = args.model
    if target is not None and Path(target).exists():
        from .network import FCN4FlareModel

        model = FCN4FlareModel.from_pretrained(target)
        card = Path(target) / "README.md"
        print(card.read_text() if card.is_file() else json.dumps(model.config.to_dict(), indent=2))
        print(f"checksum: {model.checksum()}")
        return 0
    print(model_card(target))
    print(f"shipped models: {', '.join(available_models())}; fcn4flare {__version__}")
    return 0


# --------------------------------------------------------------------------- release


def _add_release(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "release",
        help="ship a trained run as a named model of the package, with its model card",
        description=(
            "Copy the best model of a 'fcn4flare train' run (RUN_DIR/best), its settings and "
            "log into fcn4flare/data/NAME and write its model card. The model keeps the "
            "input scaling it was trained with; to use another, train or fine-tune with it."
        ),
    )
    parser.add_argument("run_dir", metavar="RUN_DIR", help="output directory of fcn4flare train")
    parser.add_argument("--name", required=True,
                        help="name of the released model (fcn4flare-default replaces the "
                             "default)")
    parser.add_argument("--eval", dest="eval_dir", metavar="DIR",
                        help="evaluation output whose tables (summary.md, gj1243_replay.txt, "
                             "limitations.md) go into the card and whose results.json gives "
                             "the detection threshold")
    parser.add_argument("--threshold", type=float, default=None,
                        help="detection threshold to record [the evaluation's, else the "
                             "checkpoint's]")
    parser.add_argument("--data-dir", metavar="DIR",
                        help="where to put the model [the package's fcn4flare/data]")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a model of that name")
    parser.set_defaults(func=_run_release)


def _run_release(args: argparse.Namespace) -> int:
    from .training.release import release_model

    path = release_model(args.run_dir, args.name, eval_dir=args.eval_dir,
                         data_dir=args.data_dir, threshold=args.threshold,
                         overwrite=args.overwrite)
    print(path)
    return 0


# --------------------------------------------------------------------------- registry

#: Subcommand registration functions, in the order ``fcn4flare --help`` lists them. Each takes
#: the subparsers object, adds one parser and sets ``func`` on it (``(args) -> int``).
COMMANDS: list[Callable[[Any], None]] = [
    _add_detect,
    _add_evaluate,
    _add_info,
    _add_train,
    _add_release,
]


def build_parser() -> argparse.ArgumentParser:
    """The ``fcn4flare`` argument parser with every registered subcommand.

    Examples
    --------
    >>> from fcn4flare.cli import build_parser
    >>> args = build_parser().parse_args(["train", "--lr", "0.01", "--epochs", "3"])
    >>> args.command, args.lr, args.epochs
    ('train', 0.01, 3)
    """
    parser = argparse.ArgumentParser(
        prog="fcn4flare",
        description="Stellar flare detection with the FCN4Flare fully convolutional network.",
    )
    parser.add_argument("--version", action="version", version=f"fcn4flare {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    parser.add_argument("-q", "--quiet", action="store_true", help="log warnings only")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for register in COMMANDS:
        register(subparsers)
    return parser


def _configure_logging(verbose: bool, quiet: bool) -> None:
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logger.setLevel(level)
    if not any(getattr(h, "_fcn4flare_cli", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("fcn4flare: %(message)s"))
        handler._fcn4flare_cli = True  # type: ignore[attr-defined]
        logger.addHandler(handler)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``fcn4flare`` command and return its exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; ``sys.argv[1:]`` when omitted.

    Returns
    -------
    int
        0 on success, 1 when fcn4flare reported an error (printed to stderr), 2 for a
        command line that cannot be used, 130 when interrupted.

    Examples
    --------
    >>> from fcn4flare.cli import main
    >>> main(["train", "--recipe", "published"])  # doctest: +SKIP
    fcn4flare train: error: --recipe published trains on the Kepler flare data set: ...
    1
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    _configure_logging(getattr(args, "verbose", False), getattr(args, "quiet", False))
    try:
        return int(args.func(args) or 0)
    except FCN4FlareError as exc:
        print(f"fcn4flare {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"fcn4flare {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
