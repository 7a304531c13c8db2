"""The training loop: AdamW on the Mask Dice loss, validation Dice, early stopping, resuming."""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import logging
import math
import random
import shutil
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, RandomSampler

from .. import metrics
from ..exceptions import CheckpointError, FCN4FlareWarning, InputError
from ..network.model import FCN4FlareModel, mask_dice_loss, widen_input
from ..scaling import scaling_channels
from .config import MODEL_FIELDS, SIMULATED_STEPS_PER_EPOCH, TrainingConfig
from .datasets import (
    TEST_STREAM,
    TRAIN_STREAM,
    VALIDATION_STREAM,
    LightCurveWindows,
    SimulatedFlareDataset,
)
from .sources import load_backgrounds, read_fits_directory, read_published_dataset
from .splits import split_by_file, split_by_star

__all__ = [
    "TrainingResult",
    "train",
    "build_datasets",
    "evaluate_model",
    "LOG_COLUMNS",
    "BEST_DIR",
    "LAST_DIR",
    "STATE_NAME",
    "TRAINING_CONFIG_NAME",
]

logger = logging.getLogger("fcn4flare.training")

BEST_DIR = "best"
LAST_DIR = "last"
STATE_NAME = "training_state.pt"
TRAINING_CONFIG_NAME = "training_config.json"
LOG_CSV = "training_log.csv"
LOG_JSON = "training_log.json"
TEST_METRICS_NAME = "test_metrics.json"
SPLITS_NAME = "splits.json"

#: Columns of the per-epoch log (``training_log.csv`` / ``training_log.json``).
LOG_COLUMNS = (
    "epoch",
    "train_loss",
    "val_loss",
    "val_dice",
    "val_iou",
    "val_f1",
    "val_precision",
    "val_recall",
    "lr",
    "epoch_seconds",
    "wall_seconds",
)


@dataclasses.dataclass
class TrainingResult:
    """What `train` did and where it put the results.

    Attributes
    ----------
    output_dir : pathlib.Path
        The run's directory.
    best_dir : pathlib.Path
        The best model (``save_pretrained`` layout plus ``training_config.json``).
    last_dir : pathlib.Path
        The state after the last completed epoch, to resume from.
    best_epoch : int
        Epoch (1-based) of the best validation Dice.
    best_val_dice : float
        That Dice.
    epochs_completed : int
        Epochs trained in total (over all resumed sessions).
    stopped_early : bool
        True when early stopping ended the run.
    history : list of dict
        One row per epoch with the `LOG_COLUMNS`.
    test_metrics : dict or None
        Metrics of the best model on the test split, when there is one.
    checksum : str
        `~fcn4flare.network.FCN4FlareModel.checksum` of the best model.

    Examples
    --------
    >>> from fcn4flare.training import TrainingResult
    >>> TrainingResult.__name__
    'TrainingResult'
    """

    output_dir: Path
    best_dir: Path
    last_dir: Path
    best_epoch: int
    best_val_dice: float
    epochs_completed: int
    stopped_early: bool
    history: list[dict[str, float]]
    test_metrics: dict[str, float] | None
    checksum: str

    def load_best(self, device: str | torch.device | None = None) -> FCN4FlareModel:
        """Load the best model (in eval mode)."""
        return FCN4FlareModel.from_pretrained(self.best_dir, device=device)


# --------------------------------------------------------------------------- data


def _real_records(config: TrainingConfig) -> list:
    if config.source == "dataset":
        return read_published_dataset(config.dataset)
    return read_fits_directory(config.fits_dir, config.events)


def _split_records(config: TrainingConfig, records: list) -> dict[str, list]:
    given = {r.split for r in records}
    if config.split == "file" and None not in given and {"train", "validation"} <= given:
        logger.info("Using the data set's own train/validation/test split.")
        return {name: [r for r in records if r.split == name]
                for name in ("train", "validation", "test")}
    if config.split == "file":
        parts = split_by_file([r.file for r in records], config.val_fraction,
                              config.test_fraction)
    else:
        parts = split_by_star([r.star_id for r in records], config.val_fraction,
                              config.test_fraction, seed=config.seed)
    return {name: [records[i] for i in index] for name, index in parts.items()}


def build_datasets(
    config: TrainingConfig, input_scaling: str | None = None
) -> dict[str, Dataset]:
    """The training, validation and test data sets a configuration describes.

    Parameters
    ----------
    config : TrainingConfig
        Its data settings (``source``, ``seq_len``, splits, simulation settings).
    input_scaling : str, optional
        Flux scaling; ``config.input_scaling`` when omitted (`train` passes the model's).

    Returns
    -------
    dict
        ``{'train': ..., 'validation': ..., 'test': ...}``; ``'test'`` is None when
        ``test_fraction`` (real data) or ``test_examples`` (simulated) is 0.

    Examples
    --------
    >>> from fcn4flare.training import TrainingConfig, build_datasets
    >>> cfg = TrainingConfig(seq_len=128, batch_size=2, steps_per_epoch=3, val_examples=4,
    ...                      test_examples=0)
    >>> data = build_datasets(cfg)
    >>> len(data["train"]), len(data["validation"]), data["test"]
    (6, 4, None)
    """
    scaling = input_scaling or config.input_scaling
    if config.source == "simulated":
        from ..simulate import CADENCES

        backgrounds = None
        if config.background_dir:
            backgrounds = load_backgrounds(config.background_dir, CADENCES)
        common = dict(
            seq_len=config.seq_len,
            input_scaling=scaling,
            cadence_mix=config.cadence_mix,
            seed=config.seed,
            min_length=config.min_length,
            backgrounds=backgrounds,
            background_fraction=config.background_fraction,
        )
        steps = config.steps_per_epoch or SIMULATED_STEPS_PER_EPOCH
        sizes = {
            "train": (steps * config.batch_size, TRAIN_STREAM),
            "validation": (config.val_examples, VALIDATION_STREAM),
            "test": (config.test_examples, TEST_STREAM),
        }
        return {
            name: SimulatedFlareDataset(size, stream=stream, **common) if size else None
            for name, (size, stream) in sizes.items()
        }
    splits = _split_records(config, _real_records(config))
    out: dict[str, Dataset | None] = {}
    for name, records in splits.items():
        out[name] = LightCurveWindows(records, config.seq_len, scaling) if records else None
    for name in ("train", "validation"):
        if out[name] is None or len(out[name]) == 0:
            raise InputError(f"The {name} split holds no usable light curve.")
    return out


# --------------------------------------------------------------------------- evaluation


def evaluate_model(
    model: FCN4FlareModel,
    dataset: Dataset,
    *,
    batch_size: int = 32,
    threshold: float = 0.5,
    device: str | torch.device | None = None,
    num_workers: int = 0,
) -> dict[str, float]:
    """Point-wise metrics of a model over every non-padded sample of a data set.

    The model runs in eval mode; probabilities above ``threshold`` count as flare samples and
    the samples of all sequences are pooled, as in the paper's evaluation (see
    `fcn4flare.metrics`).

    Parameters
    ----------
    model : FCN4FlareModel
        The model; its training mode is restored afterwards.
    dataset : Dataset
        Items ``(flux, labels, sequence_mask)``.
    batch_size : int
        Sequences per forward pass.
    threshold : float
        Probability threshold.
    device : str or torch.device, optional
        Where to run; the model's device when omitted.
    num_workers : int
        DataLoader workers.

    Returns
    -------
    dict
        ``loss`` (mean Mask Dice loss per sequence), ``dice``, ``iou``, ``f1``,
        ``precision``, ``recall`` and ``n_samples``.

    Examples
    --------
    >>> import torch
    >>> from fcn4flare import FCN4FlareConfig, FCN4FlareModel
    >>> from fcn4flare.training import SimulatedFlareDataset, evaluate_model
    >>> _ = torch.manual_seed(0)
    >>> model = FCN4FlareModel(FCN4FlareConfig(hidden_dim=4, depth=1, dilation=[1]))
    >>> data = SimulatedFlareDataset(2, seq_len=128, input_scaling="median", seed=0)
    >>> sorted(evaluate_model(model, data))
    ['dice', 'f1', 'iou', 'loss', 'n_samples', 'precision', 'recall']
    """
    device = torch.device(device) if device is not None else model.device
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    was_training = model.training
    model.eval()
    labels_seen, scores_seen = [], []
    loss_sum, n_sequences = 0.0, 0
    try:
        with torch.no_grad():
            for flux, labels, mask in loader:
                flux, labels, mask = (t.to(device) for t in (flux, labels, mask))
                logits = model(flux)
                loss = mask_dice_loss(logits, labels, mask, model.config.maskdice_threshold)
                loss_sum += float(loss) * len(flux)
                n_sequences += len(flux)
                valid = mask > 0
                labels_seen.append(labels[valid].to(torch.int8).cpu().numpy())
                scores_seen.append(torch.sigmoid(logits.squeeze(-1))[valid].float().cpu().numpy())
    finally:
        model.train(was_training)
    if n_sequences == 0:
        raise InputError("evaluate_model: the data set is empty.")
    y = np.concatenate(labels_seen)
    p = np.concatenate(scores_seen)
    return {
        "loss": loss_sum / n_sequences,
        "dice": metrics.dice(y, p, threshold),
        "iou": metrics.iou(y, p, threshold),
        "f1": metrics.f1_score(y, p, threshold),
        "precision": metrics.precision(y, p, threshold),
        "recall": metrics.recall(y, p, threshold),
        "n_samples": int(y.size),
    }


# --------------------------------------------------------------------------- helpers


def _resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise InputError(f"Unknown device {name!r}: {exc}") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device={name!r} but CUDA is not available; use 'cpu' or 'auto'.")
    return device


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - the legacy global RNG users rely on
    torch.manual_seed(seed)


def _derived_seed(*key: int) -> int:
    return int(np.random.SeedSequence([int(k) for k in key]).generate_state(1)[0])


@contextlib.contextmanager
def _torch_settings(config: TrainingConfig) -> Iterator[None]:
    """Apply thread count and determinism for the run, and restore them afterwards."""
    previous = (
        torch.get_num_threads(),
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
    )
    try:
        if config.threads:
            torch.set_num_threads(config.threads)
        if config.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.backends.cudnn.deterministic = True
            torch.backends.cudnn.benchmark = False
        yield
    finally:
        torch.set_num_threads(previous[0])
        torch.use_deterministic_algorithms(previous[1], warn_only=previous[2])
        torch.backends.cudnn.deterministic = previous[3]
        torch.backends.cudnn.benchmark = previous[4]


def _architecture(model_config: Any) -> dict[str, Any]:
    values = model_config.to_dict()
    return {k: values[k] for k in MODEL_FIELDS if k in values}


def _new_model(config: TrainingConfig) -> FCN4FlareModel:
    if config.init_from:
        model = FCN4FlareModel.from_pretrained(config.init_from)
        model.config.extra.pop("training", None)
        if scaling_channels(config.input_scaling) > model.config.input_dim:
            # More input channels than the checkpoint takes: the new ones start at weight
            # zero, so training begins from exactly what the checkpoint computes.
            model = widen_input(model, config.input_scaling)
            logger.info("Widened %s to the %d input channels of %s.", config.init_from,
                        model.config.input_dim, config.input_scaling)
        logger.info("Starting from %s (%s scaling).", config.init_from,
                    model.config.input_scaling)
        return model.train()
    return FCN4FlareModel(config.model_config()).train()


def _lr_factor(config: TrainingConfig, steps_per_epoch: int) -> Callable[[int], float]:
    total = max(1, config.epochs * steps_per_epoch)
    warmup = config.warmup_steps

    def factor(step: int) -> float:
        if config.lr_schedule == "none":
            return 1.0
        if config.lr_schedule == "step":
            return config.gamma ** (step // (config.step_size * steps_per_epoch))
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        if config.lr_schedule == "linear":
            return 1.0 - progress
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


def _train_loader(
    dataset: Dataset, config: TrainingConfig, epoch: int, pin: bool
) -> DataLoader:
    generator = torch.Generator().manual_seed(_derived_seed(config.seed, 3, epoch))
    if isinstance(dataset, SimulatedFlareDataset):
        dataset.set_epoch(epoch)
        sampler = None
    else:
        n = len(dataset)
        num_samples = config.steps_per_epoch * config.batch_size if config.steps_per_epoch else n
        sampler = RandomSampler(dataset, num_samples=num_samples, generator=generator)
    return DataLoader(
        dataset,
        batch_size=config.batch_size,
        sampler=sampler,
        shuffle=False,
        num_workers=config.num_workers,
        generator=generator,
        pin_memory=pin,
        drop_last=False,
    )


def _steps_per_epoch(dataset: Dataset, config: TrainingConfig) -> int:
    if config.steps_per_epoch:
        return config.steps_per_epoch
    return math.ceil(len(dataset) / config.batch_size)


def _rng_state(device: torch.device) -> dict[str, Any]:
    np_state = np.random.get_state()  # noqa: NPY002
    state = {
        "torch": torch.get_rng_state(),
        "numpy": [np_state[0], np_state[1].tolist(), *np_state[2:]],
        "python": random.getstate(),
    }
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: Mapping[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), *rest))  # noqa: NPY002
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def _show_progress(config: TrainingConfig) -> bool:
    return bool(config.progress) and sys.stderr.isatty()


# --------------------------------------------------------------------------- the run


@dataclasses.dataclass
class _RunState:
    epoch: int = 0
    global_step: int = 0
    best_dice: float = -math.inf
    best_epoch: int = 0
    stop_reference: float = -math.inf
    epochs_without_gain: int = 0
    stopped_early: bool = False
    wall_seconds: float = 0.0
    history: list[dict[str, float]] = dataclasses.field(default_factory=list)


class _Run:
    """One call of `train`: owns the model, optimiser, data and output directory."""

    def __init__(self, config: TrainingConfig):
        self.config = config
        self.out = Path(config.output_dir)
        self.device = _resolve_device(config.device)
        self.state = _RunState()
        _seed_everything(config.seed)
        resuming = self._check_output_dir()
        self.model = _new_model(config)
        if self.model.config.input_scaling != config.input_scaling:
            warnings.warn(
                f"init_from: {config.init_from} expects input scaling "
                f"{self.model.config.input_scaling!r}, which fine-tuning keeps; the configured "
                f"{config.input_scaling!r} is not used (set input_scaling in the checkpoint's "
                "config.json to fine-tune it to another scaling).", FCN4FlareWarning,
                stacklevel=3)
            self.config = config = dataclasses.replace(
                config, input_scaling=self.model.config.input_scaling)
        self.data = build_datasets(config, self.model.config.input_scaling)
        self.steps_per_epoch = _steps_per_epoch(self.data["train"], config)
        self.model.to(self.device)
        self.optimizer = torch.optim.AdamW(
            self.model.parameters(), lr=config.lr, weight_decay=config.weight_decay
        )
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, _lr_factor(config, self.steps_per_epoch)
        )
        if resuming:
            self._load_last()

    # -- output directory -----------------------------------------------------------------
    def _check_output_dir(self) -> bool:
        last = self.out / LAST_DIR / STATE_NAME
        if self.config.resume:
            if last.exists():
                return True
            warnings.warn(
                f"resume=True but {last} does not exist; starting a new run.", FCN4FlareWarning
            )
        existing = [p for p in (self.out / LAST_DIR, self.out / BEST_DIR) if p.exists()]
        if existing and not self.config.overwrite:
            raise InputError(
                f"{self.out} already holds a training run; pass resume=True (--resume) to "
                "continue it, overwrite=True (--overwrite) to replace it, or another "
                "output_dir."
            )
        for path in existing:
            shutil.rmtree(path)
        for name in (LOG_CSV, LOG_JSON, TEST_METRICS_NAME, SPLITS_NAME):
            (self.out / name).unlink(missing_ok=True)
        return False

    def _load_last(self) -> None:
        last = self.out / LAST_DIR
        saved = FCN4FlareModel.from_pretrained(last)
        if _architecture(saved.config) != _architecture(self.model.config):
            raise CheckpointError(
                f"{last}: the saved model {_architecture(saved.config)} does not match the "
                f"configuration {_architecture(self.model.config)}; resume with the settings "
                "of the original run."
            )
        self.model.load_state_dict(saved.state_dict())
        try:
            state = torch.load(last / STATE_NAME, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises many types for a damaged file
            raise CheckpointError(f"{last / STATE_NAME}: cannot read the state: {exc}") from exc
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.state = _RunState(**state["run"])
        _set_rng_state(state["rng"], self.device)
        logger.info("Resuming %s after epoch %d.", self.out, self.state.epoch)

    # -- saving ---------------------------------------------------------------------------
    def _save_model(self, directory: Path) -> None:
        tmp = directory.with_name(directory.name + ".tmp")
        if tmp.exists():
            shutil.rmtree(tmp)
        self.model.config.extra["training"] = {
            "recipe": self.config.recipe,
            "source": self.config.source,
            "seq_len": self.config.seq_len,
            "epoch": self.state.epoch,
            # What the weights were trained with; loading warns if config.input_scaling is
            # ever edited away from it (fcn4flare.network.FCN4FlareConfig.from_dict).
            "input_scaling": self.model.config.input_scaling,
        }
        self.model.save_pretrained(tmp)
        self.config.to_json(tmp / TRAINING_CONFIG_NAME)
        if directory == self.out / LAST_DIR:
            torch.save(
                {
                    "optimizer": self.optimizer.state_dict(),
                    "scheduler": self.scheduler.state_dict(),
                    "run": dataclasses.asdict(self.state),
                    "rng": _rng_state(self.device),
                },
                tmp / STATE_NAME,
            )
        if directory.exists():
            shutil.rmtree(directory)
        tmp.rename(directory)

    def _write_logs(self) -> None:
        with open(self.out / LOG_CSV, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=LOG_COLUMNS)
            writer.writeheader()
            writer.writerows(self.state.history)
        (self.out / LOG_JSON).write_text(json.dumps(self.state.history, indent=2) + "\n")

    # -- epochs ---------------------------------------------------------------------------
    def _train_epoch(self, epoch: int) -> tuple[float, float]:
        """Train one epoch; return the mean loss and the learning rate of the last step."""
        loader = _train_loader(self.data["train"], self.config, epoch,
                               self.device.type == "cuda")
        self.model.train()
        total = torch.zeros((), device=self.device)
        steps, lr = 0, self.optimizer.param_groups[0]["lr"]
        bar = _progress_bar(self.steps_per_epoch, epoch + 1, self.config)
        for flux, labels, mask in loader:
            flux, labels, mask = (
                t.to(self.device, non_blocking=True) for t in (flux, labels, mask)
            )
            out = self.model(flux, mask, labels=labels)
            loss = out.loss
            if self.config.bce_weight:
                loss = loss + self.config.bce_weight * _masked_bce(out.logits, labels, mask)
            self.optimizer.zero_grad(set_to_none=True)
            lr = self.optimizer.param_groups[0]["lr"]
            loss.backward()
            if self.config.grad_clip:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
            self.optimizer.step()
            self.scheduler.step()
            self.state.global_step += 1
            total += loss.detach()
            steps += 1
            if bar is not None:
                bar.update(1)
                if steps % 10 == 0:
                    bar.set_postfix(loss=f"{float(total) / steps:.4f}")
        if bar is not None:
            bar.close()
        return float(total) / max(steps, 1), lr

    def _validate(self) -> dict[str, float]:
        return evaluate_model(
            self.model,
            self.data["validation"],
            batch_size=self.config.eval_batch_size or self.config.batch_size,
            threshold=self.config.eval_threshold,
            device=self.device,
            num_workers=self.config.num_workers,
        )

    def _finished(self) -> bool:
        return self.state.stopped_early or self.state.epoch >= self.config.epochs

    def _write_splits(self) -> None:
        splits = {
            name: sorted(set(data.files))
            for name, data in self.data.items()
            if isinstance(data, LightCurveWindows)
        }
        if splits:
            (self.out / SPLITS_NAME).write_text(json.dumps(splits, indent=1) + "\n")

    def run(self, callback: Callable[[dict[str, float]], bool | None] | None) -> None:
        cfg = self.config
        self.out.mkdir(parents=True, exist_ok=True)
        cfg.to_json(self.out / TRAINING_CONFIG_NAME)
        self._write_splits()
        while not self._finished():
            epoch = self.state.epoch
            started = time.perf_counter()
            train_loss, lr = self._train_epoch(epoch)
            val = self._validate()
            seconds = time.perf_counter() - started
            self.state.epoch = epoch + 1
            self.state.wall_seconds += seconds
            row = {
                "epoch": epoch + 1,
                "train_loss": train_loss,
                **{f"val_{k}": val[k] for k in
                   ("loss", "dice", "iou", "f1", "precision", "recall")},
                "lr": lr,
                "epoch_seconds": seconds,
                "wall_seconds": self.state.wall_seconds,
            }
            self.state.history.append(row)
            self._update_stopping(val["dice"])
            self._save_model(self.out / LAST_DIR)
            self._write_logs()
            logger.info(
                "epoch %d/%d: train loss %.4f, val Dice %.4f (best %.4f at epoch %d), %.1f s",
                epoch + 1, cfg.epochs, train_loss, val["dice"], self.state.best_dice,
                self.state.best_epoch, seconds,
            )
            if callback is not None and callback(dict(row)):
                break

    def _update_stopping(self, dice: float) -> None:
        if dice > self.state.best_dice:
            self.state.best_dice = dice
            self.state.best_epoch = self.state.epoch
            self._save_model(self.out / BEST_DIR)
        if dice > self.state.stop_reference + self.config.min_delta:
            self.state.stop_reference = dice
            self.state.epochs_without_gain = 0
        else:
            self.state.epochs_without_gain += 1
            if self.state.epochs_without_gain >= self.config.patience:
                self.state.stopped_early = True
                logger.info(
                    "Early stopping: no validation Dice gain above %g in %d epochs.",
                    self.config.min_delta, self.config.patience,
                )

    def result(self) -> TrainingResult:
        best = FCN4FlareModel.from_pretrained(self.out / BEST_DIR, device=self.device)
        test_metrics = None
        if self.data.get("test") is not None and len(self.data["test"]):
            test_metrics = evaluate_model(
                best,
                self.data["test"],
                batch_size=self.config.eval_batch_size or self.config.batch_size,
                threshold=self.config.eval_threshold,
                num_workers=self.config.num_workers,
            )
            (self.out / TEST_METRICS_NAME).write_text(
                json.dumps({"best_epoch": self.state.best_epoch, **test_metrics}, indent=2)
                + "\n"
            )
        return TrainingResult(
            output_dir=self.out,
            best_dir=self.out / BEST_DIR,
            last_dir=self.out / LAST_DIR,
            best_epoch=self.state.best_epoch,
            best_val_dice=self.state.best_dice,
            epochs_completed=self.state.epoch,
            stopped_early=self.state.stopped_early,
            history=list(self.state.history),
            test_metrics=test_metrics,
            checksum=best.checksum(),
        )


def _progress_bar(total: int, epoch: int, config: TrainingConfig) -> Any:
    if not _show_progress(config):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=f"epoch {epoch}/{config.epochs}", leave=False, unit="step")


def train(
    config: TrainingConfig,
    *,
    callback: Callable[[dict[str, float]], bool | None] | None = None,
) -> TrainingResult:
    """Train an FCN4Flare model as ``config`` describes, and save it.

    The run seeds Python, NumPy and torch with ``config.seed``, builds the data
    (`build_datasets`) and the model (from scratch, or ``config.init_from``), and trains with
    AdamW on the Mask Dice loss. After every epoch it evaluates the validation set in eval
    mode (point-wise Dice, IoU, F1, precision, recall over all non-padded samples), saves the
    model with the best validation Dice so far to ``output_dir/best``, saves the complete
    state to ``output_dir/last`` and appends a row to ``training_log.csv`` and
    ``training_log.json``. Training stops after ``config.epochs`` epochs, or earlier when
    the validation Dice has not improved by more than ``min_delta`` for ``patience`` epochs.
    The best model is finally evaluated on the test split (``test_metrics.json``).

    With the same configuration, machine and torch version, two runs give bit-identical
    weights; a run resumed from ``output_dir/last`` (``resume=True``) gives the same
    weights as one that was never interrupted.

    Parameters
    ----------
    config : TrainingConfig
        All settings.
    callback : callable, optional
        Called with each epoch's log row after the epoch is saved; returning True stops the
        run (it can be resumed later).

    Returns
    -------
    TrainingResult

    Raises
    ------
    InputError
        Unusable settings or data, or an ``output_dir`` holding another run.
    CheckpointError
        ``resume=True`` with a saved state that does not fit the configuration.

    Examples
    --------
    >>> import tempfile
    >>> from fcn4flare.training import TrainingConfig, train
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     cfg = TrainingConfig(hidden_dim=4, depth=2, seq_len=128, batch_size=2,
    ...                          steps_per_epoch=2, epochs=2, val_examples=2, test_examples=0,
    ...                          output_dir=tmp, progress=False)
    ...     result = train(cfg)
    ...     len(result.history), sorted(p.name for p in result.best_dir.iterdir())
    (2, ['config.json', 'model.safetensors', 'training_config.json'])
    """
    if not isinstance(config, TrainingConfig):
        raise InputError(f"train: expected a TrainingConfig, got {type(config).__name__}.")
    with _torch_settings(config):
        run = _Run(config)
        run.run(callback)
        return run.result()


def _masked_bce(logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy over the real (unpadded) samples: a gradient for every sample,
    where the Mask Dice loss has none below its threshold."""
    logits = logits.squeeze(-1)
    weight = mask.to(logits.dtype) * (labels != -100).to(logits.dtype)
    targets = torch.where(labels == -100, torch.zeros_like(labels), labels).to(logits.dtype)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(
        logits, targets, weight=weight, reduction="sum"
    )
    return loss / weight.sum().clamp_min(1.0)
