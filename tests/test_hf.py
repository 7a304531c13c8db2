"""Tests of fcn4flare.network.hf: transformers Auto classes and the "flare-detection" pipeline.

Offline: models are local directories written by the tests (conftest sets HF_HUB_OFFLINE).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

transformers = pytest.importorskip("transformers")

from conftest import make_random_model, make_threshold_model  # noqa: E402
from transformers import AutoConfig, AutoModel, pipeline  # noqa: E402

import fcn4flare.network.hf as hf  # noqa: E402
from fcn4flare.detection import detect_flares, detect_flares_original  # noqa: E402
from fcn4flare.network import FCN4FlareModel, mask_dice_loss  # noqa: E402


@pytest.fixture(scope="module")
def release_dir(tmp_path_factory):
    """A checkpoint laid out like the authors' Hub repository (remote-code config)."""
    folder = make_random_model(3).save_pretrained(tmp_path_factory.mktemp("release"))
    config = json.loads((folder / "config.json").read_text())
    config.pop("input_scaling")
    config["auto_map"] = {
        "AutoConfig": "configuration_fcn4flare.FCN4FlareConfig",
        "AutoModel": "modeling_fcn4flare.FCN4FlareModel",
    }
    config["torch_dtype"] = "float32"
    config["transformers_version"] = "4.46.0"
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def _flux_batch():
    rng = np.random.default_rng(0)
    flux = torch.tensor(1 + 0.01 * rng.standard_normal((2, 120, 1)), dtype=torch.float32)
    flux[0, 100:] = float("nan")  # padding, as the release's loader did
    flux[1, 7] = float("nan")
    mask = torch.ones(2, 120)
    mask[0, 100:] = 0
    return flux, mask


def test_auto_config_reads_our_checkpoints(random_model_dir):
    config = AutoConfig.from_pretrained(random_model_dir)
    assert isinstance(config, hf.FCN4FlareHFConfig)
    assert (config.hidden_dim, config.depth, config.dilation) == (8, 2, [1, 2])
    assert config.to_fcn4flare_config() == FCN4FlareModel.from_pretrained(random_model_dir).config


def test_auto_model_gives_the_same_logits(random_model_dir, random_model):
    model = AutoModel.from_pretrained(random_model_dir)
    assert isinstance(model, hf.FCN4FlareHFModel)
    assert not model.training
    assert set(model.state_dict()) == set(random_model.state_dict())
    flux, mask = _flux_batch()
    logits = model(flux, mask)  # the original README's call
    assert isinstance(logits, torch.Tensor) and logits.shape == (2, 120, 1)
    torch.testing.assert_close(logits, random_model(flux))
    predictions = (logits > 0.5).float()
    assert predictions.shape == logits.shape


def test_loss_and_return_types(random_model_dir):
    model = AutoModel.from_pretrained(random_model_dir)
    flux, mask = _flux_batch()
    labels = torch.zeros(2, 120)
    labels[1, 30:40] = 1
    output = model(flux, mask, labels=labels)
    assert isinstance(output, hf.FCN4FlareHFOutput)
    expected = mask_dice_loss(output.logits, labels, mask, model.config.maskdice_threshold)
    torch.testing.assert_close(output.loss, expected)
    assert isinstance(model(flux, mask, return_dict=True), hf.FCN4FlareHFOutput)
    assert model(flux, mask, return_dict=True).loss is None
    assert len(model(flux, mask, return_dict=False)) == 1
    loss, logits = model(flux, mask, labels=labels, return_dict=False)
    torch.testing.assert_close(loss, output.loss)


def test_release_layout_loads_without_remote_code(release_dir):
    model = AutoModel.from_pretrained(release_dir)
    assert isinstance(model, hf.FCN4FlareHFModel)
    assert model.config.input_scaling == "median"
    ours = FCN4FlareModel.from_pretrained(release_dir)
    assert model.to_fcn4flare().checksum() == ours.checksum()


def test_save_round_trip_both_ways(random_model_dir, random_model, tmp_path):
    model = AutoModel.from_pretrained(random_model_dir)
    model.save_pretrained(tmp_path / "hf")
    back = FCN4FlareModel.from_pretrained(tmp_path / "hf")
    assert back.checksum() == random_model.checksum()
    wrapped = hf.FCN4FlareHFModel.from_fcn4flare(random_model)
    assert wrapped.to_fcn4flare().checksum() == random_model.checksum()
    assert wrapped.to_fcn4flare() is not random_model  # a copy of the weights


def test_detection_threshold_survives_the_transformers_round_trip(tmp_path):
    model = make_random_model()
    model.config.detection_threshold = 0.7
    model.save_pretrained(tmp_path / "ours")
    assert AutoConfig.from_pretrained(tmp_path / "ours").detection_threshold == 0.7
    AutoModel.from_pretrained(tmp_path / "ours").save_pretrained(tmp_path / "hf")
    assert FCN4FlareModel.from_pretrained(tmp_path / "hf").config.detection_threshold == 0.7


def test_to_fcn4flare_shares_weights(random_model_dir):
    model = AutoModel.from_pretrained(random_model_dir)
    core = model.to_fcn4flare()
    assert core.encoder is model.encoder and core.seghead is model.seghead
    with torch.no_grad():
        model.seghead.projector.bias += 1.0
    assert torch.equal(core.seghead.projector.bias, model.seghead.projector.bias)


def test_detect_flares_accepts_the_transformers_model(kepler_lc, tmp_path):
    core = make_threshold_model()
    wrapped = hf.FCN4FlareHFModel.from_fcn4flare(core)
    ours = detect_flares(kepler_lc, model=core)
    theirs = detect_flares(kepler_lc, model=wrapped)
    np.testing.assert_array_equal(theirs["istart"], ours["istart"])
    assert theirs.meta["MODELSUM"] == ours.meta["MODELSUM"]


def test_pipeline_returns_events_per_file(kepler_file, tess_file, threshold_model_dir):
    detector = pipeline("flare-detection", model=str(threshold_model_dir))
    assert isinstance(detector, hf.FlareDetectionPipeline)
    paths = [str(kepler_file.path), str(tess_file.path)]
    results = detector(paths)
    expected = detect_flares_original(paths, model=threshold_model_dir)
    assert results == expected
    assert [e["start_idx"] for e in results[0]] == list(kepler_file.flare_rows)
    assert detector(paths[1]) == expected[1]
    assert detector([paths]) == [expected[0] + expected[1]]  # the release merged a batch
    assert detector(paths[0], threshold=0.999) == []


def test_registration_is_idempotent():
    hf.register()
    hf.register()
    from transformers.pipelines import PIPELINE_REGISTRY

    assert PIPELINE_REGISTRY.supported_tasks[hf.TASK]["impl"] is hf.FlareDetectionPipeline
    assert type(AutoConfig.for_model("fcn4flare")) is hf.FCN4FlareHFConfig
