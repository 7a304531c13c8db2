"""Models of several input channels: the scaling that makes them, the network, inference,
training examples, detection, and widening a one-channel model to start from."""

import numpy as np
import pytest
import torch

from fcn4flare import FCN4FlareConfig, FCN4FlareModel, FlareDetector
from fcn4flare.exceptions import CheckpointError, InputError
from fcn4flare.network import predict_probability, widen_input
from fcn4flare.scaling import scale_flux, scaling_channels
from fcn4flare.training import SimulatedFlareDataset, TrainingConfig, pad_example
from fcn4flare.trend import estimate_trend

TWO = "rotation_adaptive_and_flux_asinh"


def _small(input_dim=1, scaling="rotation_adaptive_trend_noise_asinh", seed=0):
    torch.manual_seed(seed)
    config = FCN4FlareConfig(hidden_dim=8, depth=3, dilation=[1, 2, 4], input_dim=input_dim,
                             input_scaling=scaling)
    return FCN4FlareModel(config).eval()


def _spotted(n=3000, seed=1):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    flux = 1 + 0.02 * np.sin(2 * np.pi * t / 310) + 1e-3 * rng.standard_normal(n)
    flux[1200:1260] = np.nan
    flux[2000:2030] += 0.03 * np.exp(-np.arange(30) / 6)
    return flux


def test_two_channel_scaling_is_the_residual_beside_the_normalised_flux():
    flux = _spotted()
    trend = estimate_trend(flux, "rotation_adaptive")
    x = scale_flux(flux, TWO, trend)
    assert x.shape == (flux.size, 2)
    np.testing.assert_array_equal(
        x[:, 0], scale_flux(flux, "rotation_adaptive_trend_noise_asinh", trend))
    np.testing.assert_array_equal(x[:, 1], scale_flux(flux, "median_noise_asinh", trend))
    assert np.isnan(x[1200:1260]).all() and np.isfinite(x[:1200]).all()
    assert scaling_channels(TWO) == 2 and scaling_channels("median") == 1


def test_config_input_dim_must_match_the_scaling():
    with pytest.raises(CheckpointError, match="gives 2 input channel"):
        FCN4FlareConfig(input_scaling=TWO)
    assert FCN4FlareConfig(input_scaling=TWO, input_dim=2).input_dim == 2
    assert TrainingConfig(input_scaling=TWO).model_config().input_dim == 2
    assert TrainingConfig().model_config().input_dim == 1


def test_a_nan_in_any_channel_makes_the_sample_missing():
    model = _small(2, TWO)
    x = torch.randn(1, 60, 2)
    y = x.clone()
    y[0, 20, 1] = float("nan")
    z = x.clone()
    z[0, 20, :] = float("nan")
    with torch.no_grad():
        torch.testing.assert_close(model(y), model(z))
        assert not torch.allclose(model(x), model(z))


def test_widened_model_computes_what_the_original_does():
    model = _small()
    wide = widen_input(model, TWO)
    assert wide.config.input_dim == 2 and wide.config.input_scaling == TWO
    assert "training" not in wide.config.extra
    x = torch.randn(2, 80, 2) * 3
    with torch.no_grad():
        torch.testing.assert_close(wide(x), model(x[..., :1]))
        x[..., 1] = 100.0  # whatever the new channel holds
        torch.testing.assert_close(wide(x), model(x[..., :1]))
    assert model.config.input_dim == 1  # the original is untouched
    state = torch.random.get_rng_state()
    widen_input(model, TWO)
    assert torch.equal(torch.random.get_rng_state(), state)  # training runs stay repeatable
    with pytest.raises(CheckpointError, match="fewer than the model's 2"):
        widen_input(wide, "median")


def test_predict_probability_with_two_channels():
    model = _small(2, TWO, seed=3)
    rng = np.random.default_rng(2)
    a = rng.standard_normal((500, 2))
    a[100:140] = np.nan
    a[300, 1] = np.nan
    b = rng.standard_normal((230, 2))
    folded = predict_probability(model, [a, b], chunk_size=64)
    plain = predict_probability(model, [a, b], chunk_size=64, fold=False)
    with torch.no_grad():
        whole = torch.sigmoid(model(torch.tensor(a[None], dtype=torch.float32)))[0, :, 0]
    for f, p in zip(folded, plain, strict=True):
        np.testing.assert_allclose(f, p, atol=2e-6, equal_nan=True)
    seen = np.isfinite(a).all(axis=1)
    np.testing.assert_allclose(folded[0][seen], whole.numpy()[seen], atol=2e-6)
    assert np.isnan(folded[0][100:140]).all() and np.isnan(folded[0][300])
    assert folded[1].shape == (230,)
    # one light curve given as a single (samples, 2) array
    np.testing.assert_allclose(predict_probability(model, a, chunk_size=64)[0], folded[0],
                               equal_nan=True)


def test_predict_probability_names_a_wrong_channel_count():
    with pytest.raises(InputError, match=r"takes 2 input channels.*\(samples, 2\)"):
        predict_probability(_small(2, TWO), [np.ones(100)])
    with pytest.raises(InputError, match="one-dimensional"):
        predict_probability(_small(), [np.ones((100, 2))])


def test_training_examples_have_the_channels():
    flux, labels, mask = pad_example(np.ones((5, 2)), np.array([0, 1, 1, 0, 0]), 8)
    assert flux.shape == (8, 2) and torch.isnan(flux[5:]).all() and mask.tolist()[5:] == [0] * 3
    data = SimulatedFlareDataset(4, seq_len=512, seed=5, input_scaling=TWO)
    flux, labels, mask = data[0]
    assert flux.shape == (512, 2) and labels.shape == (512,)
    assert torch.equal(torch.isnan(flux[:, 0]), torch.isnan(flux[:, 1]))


def test_detection_with_a_two_channel_model():
    model = _small(2, TWO, seed=4)
    flux = _spotted()
    time = 2459000.0 + np.arange(flux.size) / 720
    detection = FlareDetector(model, threshold=0.5).run(time, flux=flux)
    assert detection.model_input.shape == (flux.size, 2)
    np.testing.assert_array_equal(detection.residual_input, detection.model_input[:, 0])
    assert detection.probability.shape == (flux.size,)
    table = detection.table()
    assert len(table) == len(detection.events)
