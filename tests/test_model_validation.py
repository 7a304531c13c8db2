"""Checkpoint validation: every loading path refuses bad directories, configs and weights.

Each defective checkpoint is loaded three ways, ``FCN4FlareModel.from_pretrained(path)``,
``fcn4flare.network.load_model(path)`` and ``fcn4flare.detect_flares(..., model=path)``, and
each must raise a `~fcn4flare.CheckpointError` naming the file and the field or tensor.
"""

from __future__ import annotations

import json
import os
import pathlib
import re

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

import fcn4flare
from fcn4flare import CheckpointError, FCN4FlareConfig, FCN4FlareModel
from fcn4flare.network import load_model, model_path


def tiny_model(seed: int = 0, **kwargs) -> FCN4FlareModel:
    torch.manual_seed(seed)
    return FCN4FlareModel(FCN4FlareConfig(hidden_dim=8, depth=2, dilation=[1, 2], **kwargs))


def _from_pretrained(path):
    return FCN4FlareModel.from_pretrained(path)


def _load_model(path):
    return load_model(path)


def _detect_flares(path):
    time = np.arange(300) * 0.02
    return fcn4flare.detect_flares(time, flux=np.ones(300), model=path)


LOADERS = pytest.mark.parametrize(
    "load", [_from_pretrained, _load_model, _detect_flares],
    ids=["from_pretrained", "load_model", "detect_flares"],
)


def raises_naming(*parts: str | os.PathLike):
    """pytest.raises(CheckpointError) whose message holds every part, in order."""
    return pytest.raises(
        CheckpointError, match="(?s)" + ".*".join(re.escape(os.fspath(p)) for p in parts)
    )


# --------------------------------------------------------------------------- 1: directories
@LOADERS
def test_directory_without_config_names_directory_and_file(tmp_path, load):
    model_dir = tiny_model().save_pretrained(tmp_path / "model")
    (model_dir / "config.json").unlink()
    with raises_naming(model_dir, "no config.json") as info:
        load(model_dir)
    assert type(info.value) is CheckpointError


@LOADERS
def test_directory_without_anything_names_what_is_missing(tmp_path, load):
    (tmp_path / "empty").mkdir()
    with raises_naming(tmp_path / "empty", "neither model.safetensors nor pytorch_model.bin"):
        load(tmp_path / "empty")


@LOADERS
def test_directory_without_weights(tmp_path, load):
    model_dir = tiny_model().save_pretrained(tmp_path / "model")
    (model_dir / "model.safetensors").unlink()
    with raises_naming(model_dir, "neither model.safetensors"):
        load(model_dir)


# --------------------------------------------------------------------------- 2: configuration
CONFIG_CASES = {
    "hidden_dim float": ("hidden_dim", 64.5, "hidden_dim must be an integer >= 1, got 64.5"),
    "hidden_dim bool": ("hidden_dim", True, "hidden_dim must be an integer >= 1, got True (a "
                        "bool)"),
    "hidden_dim str": ("hidden_dim", "8", "hidden_dim must be an integer >= 1, got '8' (a str)"),
    "hidden_dim zero": ("hidden_dim", 0, "hidden_dim must be an integer >= 1, got 0"),
    "input_dim null": ("input_dim", None, "input_dim must be an integer >= 1, got None"),
    "output_dim negative": ("output_dim", -1, "output_dim must be an integer >= 1, got -1"),
    "negative dilation": ("dilation", [-1, 2], "dilation[0] must be an integer >= 1, got -1"),
    "zero dilation": ("dilation", [1, 0], "dilation[1] must be an integer >= 1, got 0"),
    "float dilation": ("dilation", [1.5, 2], "dilation[0] must be an integer >= 1, got 1.5"),
    "bool dilation": ("dilation", [True, 2], "dilation[0] must be an integer >= 1, got True"),
    "string dilation": ("dilation", "12", "dilation must be a list of integers"),
    "depth mismatch": ("depth", 3, "depth=3 but 2 dilations given"),
    "depth float": ("depth", 2.0, "depth must be an integer >= 1, got 2.0 (a float)"),
    "kernel zero": ("kernel_size", 0, "kernel_size must be an integer >= 1, got 0"),
    "kernel even": ("kernel_size", 2, "kernel_size must be odd, got 2"),
    "dropout one": ("dropout_rate", 1.0, "dropout_rate must be in [0, 1), got 1.0"),
    "dropout negative": ("dropout_rate", -0.1, "dropout_rate must be in [0, 1), got -0.1"),
    "threshold one": ("detection_threshold", 1.0, "detection_threshold must be in [0, 1)"),
    "threshold str": ("detection_threshold", "0.5", "detection_threshold must be in [0, 1), "
                      "got '0.5' (a str)"),
    "maskdice bool": ("maskdice_threshold", False, "maskdice_threshold must be in [0, 1), "
                      "got False (a bool)"),
    "unknown scaling": ("input_scaling", "zscore", "unknown input_scaling 'zscore'"),
    "scaling not str": ("input_scaling", ["median"], "unknown input_scaling ['median']"),
}


def write_with_config(directory: pathlib.Path, **changes) -> pathlib.Path:
    model_dir = tiny_model().save_pretrained(directory)
    cfg = json.loads((model_dir / "config.json").read_text())
    cfg.update(changes)
    (model_dir / "config.json").write_text(json.dumps(cfg))
    return model_dir


@LOADERS
@pytest.mark.parametrize(("field", "value", "message"), CONFIG_CASES.values(),
                         ids=CONFIG_CASES.keys())
def test_invalid_config_names_file_and_field(tmp_path, load, field, value, message):
    model_dir = write_with_config(tmp_path / "model", **{field: value})
    with raises_naming(model_dir / "config.json", message):
        load(model_dir)


@pytest.mark.parametrize(("field", "value", "message"), CONFIG_CASES.values(),
                         ids=CONFIG_CASES.keys())
def test_invalid_config_in_python(field, value, message):
    values = {"hidden_dim": 8, "depth": 2, "dilation": [1, 2], field: value}
    with raises_naming("FCN4FlareConfig: ", message):
        FCN4FlareConfig(**values)
    with raises_naming("somewhere.json: ", message):
        FCN4FlareConfig.from_dict(values, source="somewhere.json")


def test_config_edited_after_construction_is_checked_before_building():
    config = FCN4FlareConfig(hidden_dim=8, depth=2, dilation=[1, 2])
    config.dilation = [1, -2]
    with raises_naming("dilation[1] must be an integer >= 1, got -2"):
        FCN4FlareModel(config)
    with raises_naming("dilation[1]"):
        config.validate()


def test_numpy_numbers_are_accepted_and_made_plain():
    config = FCN4FlareConfig(hidden_dim=np.int64(8), depth=2, dilation=np.array([1, 2]),
                             dropout_rate=np.float32(0.25), detection_threshold=0)
    assert config == FCN4FlareConfig(hidden_dim=8, depth=2, dilation=[1, 2],
                                     dropout_rate=0.25, detection_threshold=0.0)
    json.dumps(config.to_dict())
    assert type(config.hidden_dim) is int and type(config.detection_threshold) is float


def test_lightning_hyper_parameters_are_validated(tmp_path):
    state = {"model." + k: v for k, v in tiny_model().state_dict().items()}
    ckpt = {"state_dict": state,
            "hyper_parameters": {"input_dim": 2, "hidden_dim": 8.0, "dilation": [1, 2]}}
    torch.save(ckpt, tmp_path / "run.ckpt")
    with raises_naming(tmp_path / "run.ckpt", "hidden_dim must be an integer >= 1, got 8.0"):
        FCN4FlareModel.from_pretrained(tmp_path / "run.ckpt")


def test_shipped_model_still_loads():
    model = FCN4FlareModel.from_pretrained(model_path())
    assert "training" in model.config.extra
    assert "model_type" not in model.config.extra and "architectures" not in model.config.extra
    assert load_model().checksum() == model.checksum()


def test_unknown_keys_are_kept_in_extra(tmp_path):
    model_dir = write_with_config(tmp_path / "model", torch_dtype="float32", note={"a": 1})
    model = FCN4FlareModel.from_pretrained(model_dir)
    assert model.config.extra == {"torch_dtype": "float32", "note": {"a": 1}}


# --------------------------------------------------------------------------- 3: weights
def _set_nan(state):
    state["encoder.mapping.weight"][0, 0, 0] = float("nan")
    return "tensor 'encoder.mapping.weight' holds 1 NaN or infinite values"


def _set_inf(state):
    state["seghead.projector.bias"][0] = float("inf")
    return "tensor 'seghead.projector.bias' holds 1 NaN or infinite values"


def _set_neg_inf_in_buffer(state):
    state["seghead.conv.batchnorm.running_var"][:] = -float("inf")
    return "tensor 'seghead.conv.batchnorm.running_var' holds 8 NaN or infinite values"


def _drop_tensor(state):
    del state["seghead.projector.bias"]
    return "missing 1 (e.g. ['seghead.projector.bias'])"


def _add_tensor(state):
    state["encoder.extra.weight"] = torch.zeros(3)
    return "unexpected 1 (e.g. ['encoder.extra.weight'])"


def _reshape_tensor(state):
    state["encoder.mapping.weight"] = torch.zeros(8, 3, 1)
    return "encoder.mapping.weight: file (8, 3, 1) vs model (8, 2, 1)"


WEIGHT_CASES = {
    "nan": _set_nan,
    "inf": _set_inf,
    "-inf buffer": _set_neg_inf_in_buffer,
    "missing": _drop_tensor,
    "unexpected": _add_tensor,
    "wrong shape": _reshape_tensor,
}


@LOADERS
@pytest.mark.parametrize("fmt", ["safetensors", "bin"])
@pytest.mark.parametrize("corrupt", WEIGHT_CASES.values(), ids=WEIGHT_CASES.keys())
def test_bad_weights_name_file_and_tensor(tmp_path, load, fmt, corrupt):
    model_dir = tiny_model().save_pretrained(tmp_path / "model")
    state = load_file(str(model_dir / "model.safetensors"))
    message = corrupt(state)
    if fmt == "safetensors":
        weights = model_dir / "model.safetensors"
        save_file(state, str(weights))
    else:
        (model_dir / "model.safetensors").unlink()
        weights = model_dir / "pytorch_model.bin"
        torch.save(state, weights)
    with raises_naming(weights, message):
        load(model_dir)


@LOADERS
def test_weights_that_are_not_tensors(tmp_path, load):
    model_dir = tiny_model().save_pretrained(tmp_path / "model")
    state = dict(load_file(str(model_dir / "model.safetensors")))
    (model_dir / "model.safetensors").unlink()
    state["seghead.projector.bias"] = [0.0]
    torch.save(state, model_dir / "pytorch_model.bin")
    with raises_naming(model_dir / "pytorch_model.bin", "'seghead.projector.bias' is a list"):
        load(model_dir)


# --------------------------------------------------------------------------- 5: JSON, pickles
@LOADERS
@pytest.mark.parametrize("name", ["config.json", "settings.JSON"])
def test_json_file_asks_for_the_directory(tmp_path, load, name):
    model_dir = tiny_model().save_pretrained(tmp_path / "model")
    target = model_dir / name
    if not target.exists():
        target.write_text("{}")
    with raises_naming(target, "is a JSON file", "pass the model's directory", model_dir) as info:
        load(target)
    assert "trust_pickle" not in str(info.value)


@LOADERS
def test_file_that_is_not_pytorch_is_not_told_to_trust_pickle(tmp_path, load):
    model_dir = tiny_model().save_pretrained(tmp_path / "model")
    (model_dir / "notes.txt").write_text("not weights")
    with raises_naming(model_dir / "notes.txt", "not a PyTorch weights file") as info:
        load(model_dir / "notes.txt")
    assert "trust_pickle" not in str(info.value)


class _Evil:
    def __init__(self, marker: pathlib.Path):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


@LOADERS
@pytest.mark.parametrize("layout", ["directory .bin", ".pt file", "Lightning .ckpt"])
def test_pickles_never_run_without_trust_pickle(tmp_path, load, layout):
    model_dir = tiny_model().save_pretrained(tmp_path / "model")
    state = dict(load_file(str(model_dir / "model.safetensors")))
    marker = tmp_path / "pickled-code-ran"
    if layout == "directory .bin":
        (model_dir / "model.safetensors").unlink()
        target = weights = model_dir / "pytorch_model.bin"
        torch.save({**state, "payload": _Evil(marker)}, weights)
    elif layout == ".pt file":
        target = weights = model_dir / "weights.pt"
        torch.save({**state, "payload": _Evil(marker)}, weights)
    else:
        target = weights = tmp_path / "run.ckpt"
        torch.save({"state_dict": state, "hyper_parameters": {"payload": _Evil(marker)}},
                   weights)
    with raises_naming(weights, "trust_pickle=True"):
        load(target)
    assert not marker.exists()


# --------------------------------------------------------------------------- 4: the cache
def _replace_keeping_stat(path: pathlib.Path, write) -> None:
    before = path.stat()
    write(path)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


def test_replaced_weights_are_read_again(tmp_path):
    old, new = tiny_model(seed=1), tiny_model(seed=2)
    assert old.checksum() != new.checksum()
    model_dir = old.save_pretrained(tmp_path / "model")
    first = load_model(model_dir)
    assert first.checksum() == old.checksum()
    assert load_model(model_dir) is first  # unchanged files: served from the cache

    state = {k: v.contiguous() for k, v in new.state_dict().items()}
    _replace_keeping_stat(model_dir / "model.safetensors",
                          lambda p: save_file(state, str(p), metadata={"format": "pt"}))
    second = load_model(model_dir)
    assert second is not first
    assert second.checksum() == new.checksum() != first.checksum()
    time = np.arange(300) * 0.02
    table = fcn4flare.detect_flares(time, flux=np.ones(300), model=model_dir)
    assert table.meta["MODELSUM"] == new.checksum()


def test_replaced_config_is_read_again(tmp_path):
    model_dir = tiny_model(detection_threshold=0.5).save_pretrained(tmp_path / "model")
    assert load_model(model_dir).config.detection_threshold == 0.5
    cfg = model_dir / "config.json"
    _replace_keeping_stat(cfg, lambda p: p.write_text(
        p.read_text().replace('"detection_threshold": 0.5', '"detection_threshold": 0.6')))
    assert load_model(model_dir).config.detection_threshold == 0.6


def test_replaced_weights_file_given_directly_is_read_again(tmp_path):
    old, new = tiny_model(seed=3), tiny_model(seed=4)
    weights = old.save_pretrained(tmp_path / "model") / "model.safetensors"
    assert load_model(weights).checksum() == old.checksum()
    state = {k: v.contiguous() for k, v in new.state_dict().items()}
    _replace_keeping_stat(weights, lambda p: save_file(state, str(p), metadata={"format": "pt"}))
    assert load_model(weights).checksum() == new.checksum()
