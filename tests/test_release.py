"""Releasing a trained run into the package (`fcn4flare.training.release`) and the training
record of the input scaling that loading checks."""

from __future__ import annotations

import json
import warnings

import pytest
import torch

from fcn4flare.cli import main
from fcn4flare.exceptions import CheckpointError, FCN4FlareWarning, InputError
from fcn4flare.network import (
    DEFAULT_MODEL,
    FCN4FlareConfig,
    FCN4FlareModel,
    available_models,
    load_model,
    model_path,
)
from fcn4flare.training import LOG_COLUMNS, TrainingConfig
from fcn4flare.training.release import release_model

SCALING = "median_noise_asinh"


def _tiny_model(scaling: str = SCALING, trained: str | None = SCALING) -> FCN4FlareModel:
    torch.manual_seed(0)
    training = {"recipe": "default", "source": "simulated", "seq_len": 128, "epoch": 2}
    if trained is not None:
        training["input_scaling"] = trained
    config = FCN4FlareConfig(hidden_dim=8, depth=2, dilation=[1, 2], input_scaling=scaling,
                             extra={"training": training})
    return FCN4FlareModel(config).eval()


def _make_run(path, model: FCN4FlareModel | None = None, scaling: str = SCALING):
    """A finished run's files in the layout `fcn4flare.training.train` writes."""
    model = model if model is not None else _tiny_model()
    model.save_pretrained(path / "best")
    cfg = TrainingConfig(hidden_dim=8, depth=2, dilation=[1, 2], input_scaling=scaling,
                         seq_len=128, epochs=2, steps_per_epoch=3, threads=2,
                         output_dir=str(path))
    cfg.to_json(path / "training_config.json")
    cfg.to_json(path / "best" / "training_config.json")
    log = [dict.fromkeys(LOG_COLUMNS, 0.5) | {"epoch": e, "val_dice": 0.1 * e,
                                              "wall_seconds": 120.0 * e} for e in (1, 2)]
    (path / "training_log.json").write_text(json.dumps(log))
    return path


def _write_config(directory, **changes):
    config = json.loads((directory / "config.json").read_text())
    for key, value in changes.items():
        if key == "trained":
            config["training"]["input_scaling"] = value
        else:
            config[key] = value
    (directory / "config.json").write_text(json.dumps(config))


def test_release_loads_keeps_the_trained_scaling_and_has_a_card(tmp_path):
    run = _make_run(tmp_path / "run")
    path = release_model(run, "tiny", data_dir=tmp_path / "data")
    assert path == tmp_path / "data" / "tiny"
    assert sorted(p.name for p in path.iterdir()) == [
        "README.md", "config.json", "model.safetensors", "training_config.json",
        "training_log.json",
    ]
    assert [p.name for p in (tmp_path / "data").iterdir()] == ["tiny"]  # no temporary left
    with warnings.catch_warnings():
        warnings.simplefilter("error", FCN4FlareWarning)
        model = load_model(path)
    assert model.config.input_scaling == SCALING
    assert model.config.trained_input_scaling == SCALING
    assert model.checksum() == FCN4FlareModel.from_pretrained(run / "best").checksum()
    card = (path / "README.md").read_text()
    assert card.startswith("# tiny\n")
    assert f"Input scaling `{SCALING}`, the one it was trained with" in card
    assert model.checksum() in card
    assert "seed 2024" in card and "Best epoch 2 of 2" in card
    assert "Training time 4 min on device `auto` with 2 threads" in card
    assert "## Evaluation" not in card


def test_release_takes_tables_and_threshold_from_the_evaluation(tmp_path):
    run = _make_run(tmp_path / "run")
    evaluation = tmp_path / "eval"
    evaluation.mkdir()
    (evaluation / "summary.md").write_text("| data | Dice |\n|---|---|\n| injections | 0.7 |\n")
    (evaluation / "gj1243_replay.txt").write_text("GJ 1243 replay: 6107 catalogue flares\n")
    (evaluation / "limitations.md").write_text("- Measured: small flares are missed.\n")
    (evaluation / "results.json").write_text(json.dumps(
        {"recommended_rules": {"rules": "default", "threshold": 0.65, "merge_gap": 3,
                               "min_points": 3}}))
    path = release_model(run, "tiny", eval_dir=evaluation, data_dir=tmp_path / "data")
    card = (path / "README.md").read_text()
    assert "## Evaluation\n\n| data | Dice |" in card
    assert "```\nGJ 1243 replay: 6107 catalogue flares\n```" in card
    assert "--model tiny" in card
    assert "- Measured: small flares are missed." in card.split("## Limitations")[1]
    assert load_model(path).config.detection_threshold == 0.65
    assert "Detection threshold 0.65" in card and "post-processing sweep" in card
    again = release_model(run, "tiny2", eval_dir=evaluation, data_dir=tmp_path / "data",
                          threshold=0.8)
    assert load_model(again).config.detection_threshold == 0.8


def test_release_refuses_to_overwrite_unless_asked(tmp_path):
    data = tmp_path / "data"
    first = release_model(_make_run(tmp_path / "a"), "tiny", data_dir=data)
    before = (first / "model.safetensors").read_bytes()
    other = _tiny_model()
    with torch.no_grad():
        other.seghead.projector.bias.add_(1.0)
    run_b = _make_run(tmp_path / "b", other)
    with pytest.raises(InputError, match="already holds a model.*overwrite=True"):
        release_model(run_b, "tiny", data_dir=data)
    assert (first / "model.safetensors").read_bytes() == before
    release_model(run_b, "tiny", data_dir=data, overwrite=True)
    assert (first / "model.safetensors").read_bytes() != before
    assert FCN4FlareModel.from_pretrained(first).checksum() == other.checksum()
    assert [p.name for p in data.iterdir()] == ["tiny"]


def test_release_keeps_the_scaling_a_hand_edited_config_departs_from(tmp_path):
    run = _make_run(tmp_path / "run")
    _write_config(run / "best", input_scaling="rotation_trend_noise_asinh")
    with pytest.warns(FCN4FlareWarning), pytest.raises(
            CheckpointError, match="'rotation_trend_noise_asinh' but the run trained with "
                                   f"'{SCALING}'.*train or fine-tune"):
        release_model(run, "tiny", data_dir=tmp_path / "data")
    assert not (tmp_path / "data" / "tiny").exists()


def test_release_records_the_scaling_of_a_run_without_the_record(tmp_path):
    run = _make_run(tmp_path / "run", _tiny_model(trained=None))
    path = release_model(run, "tiny", data_dir=tmp_path / "data")
    saved = json.loads((path / "config.json").read_text())
    assert saved["training"]["input_scaling"] == SCALING == saved["input_scaling"]
    assert saved["training"]["epoch"] == 2


@pytest.mark.parametrize("problem", ["no run", "no best", "no log", "bad name", "no eval",
                                     "empty eval"])
def test_release_errors_are_clear(tmp_path, problem):
    run = _make_run(tmp_path / "run")
    kwargs = {"data_dir": tmp_path / "data"}
    name = "tiny"
    expected = {
        "no run": (InputError, "no training run at"),
        "no best": (CheckpointError, "holds no best/config.json"),
        "no log": (CheckpointError, "cannot read the training log"),
        "bad name": (InputError, "invalid model name"),
        "no eval": (InputError, "no evaluation directory"),
        "empty eval": (InputError, "holds none of the evaluation files"),
    }[problem]
    if problem == "no run":
        run = tmp_path / "missing"
    elif problem == "no best":
        for item in (run / "best").iterdir():
            item.unlink()
        (run / "best").rmdir()
    elif problem == "no log":
        (run / "training_log.json").unlink()
    elif problem == "bad name":
        name = "../escape"
    elif problem == "no eval":
        kwargs["eval_dir"] = tmp_path / "nowhere"
    else:
        (tmp_path / "eval").mkdir()
        kwargs["eval_dir"] = tmp_path / "eval"
    with pytest.raises(expected[0], match=expected[1]):
        release_model(run, name, **kwargs)
    assert not (tmp_path / "data" / "tiny").exists()
    assert not (tmp_path / "escape").exists()


def test_a_config_not_at_its_trained_scaling_warns_once_per_load(tmp_path):
    directory = _tiny_model().save_pretrained(tmp_path / "model")
    _write_config(directory, trained="median")
    with pytest.warns(FCN4FlareWarning) as record:
        load_model(directory)
        load_model(directory)  # cached: no second warning
    messages = [str(w.message) for w in record if issubclass(w.category, FCN4FlareWarning)]
    assert len(messages) == 1
    assert f"input_scaling is '{SCALING}' but the model was trained with 'median'" in messages[0]
    assert str(directory / "config.json") in messages[0]
    with pytest.warns(FCN4FlareWarning, match="trained with 'median'"):
        FCN4FlareConfig.from_dict({"input_scaling": "median_noise",
                                   "training": {"input_scaling": "median"}})
    with warnings.catch_warnings():
        warnings.simplefilter("error", FCN4FlareWarning)
        FCN4FlareConfig.from_dict({"input_scaling": "median",
                                   "training": {"input_scaling": "median"}})
        FCN4FlareConfig.from_dict({"input_scaling": "median", "training": {"epoch": 3}})


def test_the_shipped_default_records_its_training_scaling():
    if DEFAULT_MODEL not in available_models():
        pytest.skip("no shipped default model in this installation")
    config = json.loads((model_path() / "config.json").read_text())
    trained = config["training"]["input_scaling"]
    assert trained in ("median_noise_asinh", config["input_scaling"])
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always", FCN4FlareWarning)
        FCN4FlareModel.from_pretrained(model_path())
    warned = [w for w in record if issubclass(w.category, FCN4FlareWarning)]
    assert len(warned) == (trained != config["input_scaling"])
    if warned:
        assert trained in str(warned[0].message)
        assert config["input_scaling"] in str(warned[0].message)


def test_cli_release(tmp_path, capsys):
    run = _make_run(tmp_path / "run")
    data = tmp_path / "data"
    assert main(["release", str(run), "--name", "tiny", "--data-dir", str(data)]) == 0
    assert capsys.readouterr().out.strip() == str(data / "tiny")
    assert load_model(data / "tiny").config.input_scaling == SCALING
    assert main(["release", str(run), "--name", "tiny", "--data-dir", str(data)]) == 1
    assert "pass overwrite=True (--overwrite)" in capsys.readouterr().err
    assert main(["release", str(run), "--name", "tiny", "--data-dir", str(data),
                 "--overwrite", "--threshold", "0.6"]) == 0
    assert FCN4FlareModel.from_pretrained(data / "tiny").config.detection_threshold == 0.6
