"""The FCN4Flare network against an independent NumPy transcription of the spec."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from fcn4flare import CheckpointError, FCN4FlareConfig, FCN4FlareModel
from fcn4flare.network import mask_dice_loss

SMALL = dict(hidden_dim=6, depth=3, dilation=[1, 2, 4])


# --------------------------------------------------------------------------- reference
def _np_conv1d(x, weight, bias, dilation, padding):
    """x [C_in, T], weight [C_out, C_in, K]; zero padding on both sides."""
    c_out, _, k = weight.shape
    t = x.shape[1]
    xp = np.pad(x, ((0, 0), (padding, padding)))
    t_out = t + 2 * padding - dilation * (k - 1)
    out = np.tile(bias[:, None], (1, t_out))
    for j in range(k):
        out += weight[:, :, j] @ xp[:, j * dilation : j * dilation + t_out]
    return out


def _np_gelu(x):
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def _np_conv_unit(x, state, prefix, dilation, kernel_size):
    rf = (kernel_size - 1) * dilation + 1
    out = _np_conv1d(
        x, state[f"{prefix}.conv.weight"], state[f"{prefix}.conv.bias"], dilation, rf // 2
    )
    if rf % 2 == 0:
        out = out[:, :-1]
    mean = state[f"{prefix}.batchnorm.running_mean"][:, None]
    var = state[f"{prefix}.batchnorm.running_var"][:, None]
    gamma = state[f"{prefix}.batchnorm.weight"][:, None]
    beta = state[f"{prefix}.batchnorm.bias"][:, None]
    return _np_gelu((out - mean) / np.sqrt(var + 1e-5) * gamma + beta)


def reference_forward(flux, state, config):
    """Spec's forward pass for one sequence: flux [T] with NaN -> logits [T]."""
    mask = np.isnan(flux).astype(float)
    x = np.stack([np.nan_to_num(flux, nan=0.0), mask])
    x = _np_conv1d(x, state["encoder.mapping.weight"], state["encoder.mapping.bias"], 1, 0)
    for i, d in enumerate(config.dilation):
        prefix = f"encoder.backbone.net.{i}"
        y = _np_conv_unit(x, state, f"{prefix}.conv1", d, config.kernel_size)
        x = _np_conv_unit(y, state, f"{prefix}.conv2", d, config.kernel_size) + x
    x = _np_conv_unit(x, state, "seghead.conv", 1, 3)
    out = _np_conv1d(x, state["seghead.projector.weight"], state["seghead.projector.bias"], 1, 0)
    return out[0]


def randomised_model(config, seed=0):
    """A model whose every parameter and BatchNorm statistic is random (not the init)."""
    torch.manual_seed(seed)
    model = FCN4FlareModel(config)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith("running_var"):
                tensor.copy_(torch.rand_like(tensor) + 0.5)
            elif tensor.is_floating_point():
                tensor.copy_(torch.randn_like(tensor) * 0.3)
    return model.eval()


def spec_state_keys(depth):
    keys = ["encoder.mapping.weight", "encoder.mapping.bias"]
    bn = ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    units = [f"encoder.backbone.net.{i}.conv{j}" for i in range(depth) for j in (1, 2)]
    for unit in units + ["seghead.conv"]:
        keys += [f"{unit}.conv.weight", f"{unit}.conv.bias"]
        keys += [f"{unit}.batchnorm.{b}" for b in bn]
    return set(keys + ["seghead.projector.weight", "seghead.projector.bias"])


# --------------------------------------------------------------------------- tests
def test_published_defaults():
    cfg = FCN4FlareConfig()
    assert cfg.to_dict()["dilation"] == [1, 1, 1, 2, 2, 4, 8, 16, 32, 64]
    assert (cfg.hidden_dim, cfg.depth, cfg.kernel_size, cfg.input_dim) == (128, 10, 3, 1)
    assert cfg.receptive_field == 527
    assert cfg.context == 263


def test_state_dict_keys_and_shapes_match_spec():
    model = FCN4FlareModel()
    state = model.state_dict()
    assert set(state) == spec_state_keys(10)
    assert state["encoder.mapping.weight"].shape == (128, 2, 1)
    assert state["encoder.backbone.net.9.conv2.conv.weight"].shape == (128, 128, 3)
    assert state["seghead.projector.weight"].shape == (1, 128, 1)


@pytest.mark.parametrize("seed", [0, 1])
def test_forward_matches_numpy_reference(seed):
    config = FCN4FlareConfig(**SMALL)
    model = randomised_model(config, seed)
    rng = np.random.default_rng(seed)
    flux = 1 + 0.01 * rng.standard_normal((2, 97))
    flux[0, 10:14] = np.nan
    flux[1, [0, 50, 96]] = np.nan
    with torch.no_grad():
        logits = model(torch.tensor(flux, dtype=torch.float64).unsqueeze(-1).float())
    state = {k: v.double().numpy() for k, v in model.state_dict().items()}
    for b in range(2):
        expected = reference_forward(flux[b], state, config)
        np.testing.assert_allclose(logits[b, :, 0].numpy(), expected, atol=1e-5, rtol=1e-5)


def test_conv_unit_even_receptive_field_drops_last_sample():
    # Configurations only allow odd kernels (an even one makes `context` inexact), but the
    # spec's conv unit handles an even receptive field by dropping the last sample.
    from fcn4flare.network.model import _SamePadConv

    torch.manual_seed(0)
    unit = _SamePadConv(2, 3, kernel_size=2, dilation=1).eval()
    with torch.no_grad():
        unit.batchnorm.running_mean.copy_(torch.randn(3) * 0.1)
        unit.batchnorm.running_var.copy_(torch.rand(3) + 0.5)
        x = torch.randn(1, 2, 20)
        out = unit(x)
    state = {f"u.{k}": v.double().numpy() for k, v in unit.state_dict().items()}
    assert unit.drop_last and out.shape == (1, 3, 20)
    expected = _np_conv_unit(x[0].double().numpy(), state, "u", 1, 2)
    np.testing.assert_allclose(out[0].numpy(), expected, atol=1e-5)


def test_nan_mask_is_an_input_channel():
    model = randomised_model(FCN4FlareConfig(**SMALL))
    a = torch.ones(1, 30, 1)
    b = a.clone()
    b[0, 15] = float("nan")
    with torch.no_grad():
        assert not torch.allclose(model(a), model(b))
        assert torch.isfinite(model(b)).all()


def test_eval_is_deterministic_and_batch_independent():
    model = randomised_model(FCN4FlareConfig(**SMALL))
    x = torch.randn(3, 40, 1)
    with torch.no_grad():
        together = model(x)
        again = model(x)
        alone = model(x[1:2])
    assert torch.equal(together, again)
    torch.testing.assert_close(together[1:2], alone, atol=1e-6, rtol=1e-6)


def test_loss_matches_spec_formula():
    torch.manual_seed(3)
    logits = torch.randn(2, 50, 1) * 3
    labels = (torch.rand(2, 50) > 0.7).float()
    mask = torch.ones(2, 50)
    mask[1, 40:] = 0
    labels[1, 40:] = -100
    p = torch.sigmoid(logits).squeeze(-1).double()
    y = torch.where(labels == -100, 0.0, labels).double() * mask
    p = p * mask
    p = p * (p > 0.5)
    dice = (2 * (p * y).sum(1) + 1e-8) / (p.sum(1) + y.sum(1) + 2e-8)
    expected = 1 - dice.mean()
    got = mask_dice_loss(logits.double(), labels.double(), mask.double())
    torch.testing.assert_close(got, expected)


def test_forward_with_labels_returns_loss_and_gradients():
    model = FCN4FlareModel(FCN4FlareConfig(**SMALL)).train()
    x = torch.randn(2, 32, 1)
    labels = torch.zeros(2, 32)
    labels[:, 10:15] = 1
    out = model(x, torch.ones(2, 32), labels=labels)
    assert out.logits.shape == (2, 32, 1)
    out.loss.backward()
    assert model.encoder.mapping.weight.grad is not None


def test_save_load_round_trip_is_bit_identical(tmp_path):
    model = randomised_model(FCN4FlareConfig(**SMALL, input_scaling="median_noise"))
    model.save_pretrained(tmp_path)
    loaded = FCN4FlareModel.from_pretrained(tmp_path)
    assert loaded.config == model.config
    for key, value in model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key]), key
    assert loaded.checksum() == model.checksum()
    x = torch.randn(1, 64, 1)
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))


def published_config_json(**overrides):
    cfg = {
        "architectures": ["FCN4FlareModel"],
        "model_type": "fcn4flare",
        "input_dim": 1,
        "hidden_dim": 128,
        "output_dim": 1,
        "depth": 10,
        "dilation": [1, 1, 1, 2, 2, 4, 8, 16, 32, 64],
        "kernel_size": 3,
        "maskdice_threshold": 0.5,
        "dropout_rate": 0.1,
        "torch_dtype": "float32",
        "transformers_version": "4.46.3",
    }
    cfg.update(overrides)
    return cfg


def write_published_checkpoint(directory, fmt="safetensors", seed=5):
    """A checkpoint as the authors' release lays it out, written independently of our saver."""
    cfg = FCN4FlareConfig(**{k: v for k, v in SMALL.items()})
    state = randomised_model(cfg, seed).state_dict()
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "config.json", "w") as fh:
        json.dump(published_config_json(**SMALL), fh)
    if fmt == "safetensors":
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in state.items()}, directory / "model.safetensors")
    else:
        torch.save(dict(state), directory / "pytorch_model.bin")
    return state


@pytest.mark.parametrize("fmt", ["safetensors", "bin"])
def test_published_layout_loads_with_identical_logits(tmp_path, fmt):
    state = write_published_checkpoint(tmp_path, fmt)
    model = FCN4FlareModel.from_pretrained(tmp_path)
    assert model.config.input_scaling == "median"
    assert model.config.extra["transformers_version"] == "4.46.3"
    reference = FCN4FlareModel(FCN4FlareConfig(**SMALL))
    reference.load_state_dict(state, strict=True)
    reference.eval()
    x = torch.randn(2, 80, 1)
    x[0, 5] = float("nan")
    with torch.no_grad():
        assert torch.equal(model(x), reference(x))


def test_full_size_published_checkpoint_loads_strict(tmp_path):
    torch.manual_seed(0)
    state = FCN4FlareModel().state_dict()
    from safetensors.torch import save_file

    save_file(dict(state), tmp_path / "model.safetensors")
    (tmp_path / "config.json").write_text(json.dumps(published_config_json()))
    model = FCN4FlareModel.from_pretrained(tmp_path)
    assert model.checksum() == FCN4FlareModel.from_pretrained(tmp_path).checksum()
    assert sum(p.numel() for p in model.parameters()) > 900_000


def test_lightning_checkpoint_loads(tmp_path):
    cfg = FCN4FlareConfig(**SMALL)
    state = randomised_model(cfg, 7).state_dict()
    lightning_state = {
        "model." + k.replace("encoder.backbone.", "encoder.backone."): v for k, v in state.items()
    }
    ckpt = {
        "state_dict": lightning_state,
        "hyper_parameters": {"input_dim": 2, "hidden_dim": 6, "depth": 3, "dilation": [1, 2, 4]},
        "epoch": 3,
    }
    torch.save(ckpt, tmp_path / "fcn4flare.ckpt")
    model = FCN4FlareModel.from_pretrained(tmp_path / "fcn4flare.ckpt")
    assert model.config.input_dim == 1
    for key, value in state.items():
        assert torch.equal(model.state_dict()[key], value)


def test_missing_path_and_files_are_named(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        FCN4FlareModel.from_pretrained(tmp_path / "nope")
    with pytest.raises(CheckpointError, match="neither model.safetensors"):
        FCN4FlareModel.from_pretrained(tmp_path)
    write_published_checkpoint(tmp_path)
    (tmp_path / "config.json").unlink()
    with pytest.raises(CheckpointError, match="no config.json"):
        FCN4FlareModel.from_pretrained(tmp_path)


def test_wrong_model_type_is_refused(tmp_path):
    write_published_checkpoint(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps(published_config_json(model_type="bert")))
    with pytest.raises(CheckpointError, match="not an FCN4Flare checkpoint"):
        FCN4FlareModel.from_pretrained(tmp_path)


def test_wrong_shapes_are_named(tmp_path):
    write_published_checkpoint(tmp_path)
    cfg = published_config_json(**{**SMALL, "hidden_dim": 8})
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match=r"shapes do not match.*model\.safetensors|file \("):
        FCN4FlareModel.from_pretrained(tmp_path)


def test_wrong_names_are_named(tmp_path):
    write_published_checkpoint(tmp_path)
    cfg = published_config_json(**{"hidden_dim": 6, "depth": 2, "dilation": [1, 2]})
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match=r"unexpected 14 .*net\.2\.conv1"):
        FCN4FlareModel.from_pretrained(tmp_path)


class _Evil:
    def __reduce__(self):
        return (print, ("pickled code ran",))


def test_pickle_code_is_not_executed_by_default(tmp_path, capsys):
    write_published_checkpoint(tmp_path, "bin")
    state = torch.load(tmp_path / "pytorch_model.bin", weights_only=True)
    state["payload"] = _Evil()
    torch.save(state, tmp_path / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match="trust_pickle=True"):
        FCN4FlareModel.from_pretrained(tmp_path)
    assert "pickled code ran" not in capsys.readouterr().out


def test_config_validation():
    with pytest.raises(CheckpointError, match="depth=3 but 2 dilations"):
        FCN4FlareConfig(depth=3, dilation=[1, 2])
    with pytest.raises(CheckpointError, match="unknown input_scaling"):
        FCN4FlareConfig(input_scaling="zscore")


def test_detection_threshold_belongs_to_the_model(tmp_path):
    assert FCN4FlareConfig.from_dict({"model_type": "fcn4flare"}).detection_threshold == 0.5
    model = FCN4FlareModel(FCN4FlareConfig(hidden_dim=8, depth=2, dilation=[1, 2],
                                           detection_threshold=0.7))
    saved = json.loads((model.save_pretrained(tmp_path) / "config.json").read_text())
    assert saved["detection_threshold"] == 0.7
    assert FCN4FlareModel.from_pretrained(tmp_path).config.detection_threshold == 0.7
    for bad in (1.0, -0.1, "high", None, float("nan")):
        with pytest.raises(CheckpointError, match="detection_threshold must be in"):
            FCN4FlareConfig(detection_threshold=bad)
