"""The models that ship inside the package, found offline with `importlib.resources`."""

from __future__ import annotations

import functools
import hashlib
import os
from importlib import resources
from pathlib import Path

import torch

from ..exceptions import CheckpointError
from .model import CONFIG_NAME, FCN4FlareModel, _locate_checkpoint

__all__ = [
    "DEFAULT_MODEL",
    "available_models",
    "model_path",
    "models_dir",
    "load_model",
    "model_card",
]

DEFAULT_MODEL = "fcn4flare-default"
MODEL_CARD_NAME = "README.md"


def models_dir() -> Path:
    """The folder of the models that ship inside the package (``fcn4flare/data``).

    Examples
    --------
    >>> from fcn4flare.network import models_dir
    >>> models_dir().name
    'data'
    """
    return Path(str(resources.files("fcn4flare") / "data"))


def available_models() -> list[str]:
    """Names of the models shipped with this installation.

    Examples
    --------
    >>> from fcn4flare.network import available_models, DEFAULT_MODEL
    >>> DEFAULT_MODEL in available_models()
    True
    """
    data = models_dir()
    if not data.is_dir():
        return []
    return sorted(p.name for p in data.iterdir() if (p / CONFIG_NAME).is_file())


def model_path(name: str | None = None) -> Path:
    """Directory of a shipped model (the default one when ``name`` is None).

    Raises
    ------
    CheckpointError
        If no shipped model has that name.

    Examples
    --------
    >>> from fcn4flare.network import model_path
    >>> (model_path() / "config.json").is_file()
    True
    """
    name = DEFAULT_MODEL if name is None else name
    path = models_dir() / name
    if not (path / CONFIG_NAME).is_file():
        shipped = ", ".join(available_models()) or "none"
        raise CheckpointError(
            f"No shipped model named {name!r} in {models_dir()} (shipped: {shipped}). "
            "Pass model= a directory holding config.json and model.safetensors."
        )
    return path


@functools.lru_cache(maxsize=8)
def _load_cached(path: str, digest: str, device: str) -> FCN4FlareModel:
    # ``digest`` (the files' content) is part of the key only: a changed file is a new key.
    return FCN4FlareModel.from_pretrained(path, device=device)


def _content_digest(files: list[Path]) -> str:
    """SHA-256 of the names and bytes of a model's files (those that exist).

    The cache key of `load_model`: replacing the weights or the configuration, even with the
    same size and modification time, gives another key. Hashing the shipped model's files
    (about 1 MB) takes about a millisecond.
    """
    digest = hashlib.sha256()
    for file in files:
        if not file.is_file():
            continue
        digest.update(f"{file.name}\0{file.stat().st_size}\0".encode())
        try:
            with open(file, "rb") as fh:
                while chunk := fh.read(1 << 20):
                    digest.update(chunk)
        except OSError as exc:
            raise CheckpointError(f"{file}: cannot read the model file: {exc}") from exc
    return digest.hexdigest()


def load_model(
    model: FCN4FlareModel | str | os.PathLike | None = None,
    *,
    device: str | torch.device | None = None,
) -> FCN4FlareModel:
    """Return a ready model: the default, a shipped one by name, a path, or a model as is.

    Models read from disk are cached per process, keyed on the content of their files, so
    repeated calls (one per light curve in a loop) load the weights once, and a file replaced
    on disk is read again.

    Parameters
    ----------
    model : FCN4FlareModel, str, path-like or None
        None for the default shipped model; the name of a shipped model; a checkpoint
        directory or file (see `~fcn4flare.network.FCN4FlareModel.from_pretrained`); or a
        model, returned as is.
    device : str or torch.device, optional
        Device for a model read from disk; CPU by default.

    Raises
    ------
    CheckpointError
        No such shipped model or path, a directory without ``config.json`` or weights, a
        JSON file instead of a model directory, or an invalid configuration or weights (the
        message names the file and the field or tensor).

    Examples
    --------
    >>> from fcn4flare.network import load_model
    >>> load_model() is load_model()
    True
    """
    if isinstance(model, FCN4FlareModel):
        return model
    if model is None:
        path = model_path()
    else:
        candidate = Path(model)
        path = candidate if candidate.exists() else model_path(str(model))
    path = path.resolve()
    weights, cfg_file = _locate_checkpoint(path)
    device = str(torch.device(device)) if device is not None else "cpu"
    return _load_cached(str(path), _content_digest([cfg_file, weights]), device)


def model_card(name: str | None = None) -> str:
    """The model card (Markdown) of a shipped model.

    Examples
    --------
    >>> from fcn4flare.network import model_card
    >>> model_card().startswith("#")
    True
    """
    card = model_path(name) / MODEL_CARD_NAME
    if not card.is_file():
        raise CheckpointError(f"{card}: the model card is missing.")
    return card.read_text()
