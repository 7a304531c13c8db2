"""Chunked, batched inference gives the probabilities of one pass over each light curve."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from fcn4flare import FCN4FlareConfig, FCN4FlareModel, InputError
from fcn4flare.network import predict_probability

SMALL = dict(hidden_dim=8, depth=4, dilation=[1, 2, 4, 8])  # context 31 samples


def _flux(n, seed, gaps=True):
    rng = np.random.default_rng(seed)
    flux = 1.0 + 0.05 * rng.standard_normal(n)
    flux[rng.integers(0, n, n // 5)] += rng.exponential(0.3, n // 5)  # flare-like spikes
    if gaps and n > 10:
        flux[rng.random(n) < 0.05] = np.nan
        start = rng.integers(0, n - n // 10)
        flux[start : start + n // 10] = np.nan
    return flux


def _calibrated(config, seed=0):
    """A random model whose logits are O(1) on `_flux` input, so probabilities do not saturate."""
    torch.manual_seed(seed)
    model = FCN4FlareModel(config).eval()
    x = torch.as_tensor(_flux(2000, 99), dtype=torch.float32)[None, :, None]
    with torch.no_grad():
        logits = model(x)[..., 0]
        finite = logits[~torch.isnan(x[..., 0])]
        model.seghead.projector.weight /= finite.std()
        model.seghead.projector.bias -= finite.mean() / finite.std()
    return model


def _single_pass(model, flux):
    x = torch.as_tensor(flux, dtype=torch.float32)[None, :, None]
    with torch.no_grad():
        probability = torch.sigmoid(model(x)[0, :, 0].double()).numpy()
    probability[np.isnan(flux)] = np.nan
    return probability


@pytest.fixture(scope="module")
def small_model():
    return _calibrated(FCN4FlareConfig(**SMALL))


@pytest.mark.parametrize("n", [1, 40, 100, 101, 163, 1000, 5003])
@pytest.mark.parametrize("chunk_size", [100, 257])
def test_chunked_equals_single_pass(small_model, n, chunk_size):
    flux = _flux(n, seed=n)
    (probability,) = predict_probability(small_model, flux, chunk_size=chunk_size, batch_size=3)
    expected = _single_pass(small_model, flux)
    assert probability.dtype == np.float64 and probability.shape == (n,)
    np.testing.assert_array_equal(np.isnan(probability), np.isnan(flux))
    np.testing.assert_allclose(probability, expected, atol=1e-5, rtol=0, equal_nan=True)
    if n > 100:  # the comparison means something: probabilities are spread out
        assert np.nanstd(expected) > 0.05


def test_chunks_without_enough_context_would_differ(small_model):
    # Guards the test above: cutting at a window edge without context changes the result.
    flux = _flux(400, seed=5, gaps=False)
    halves = np.concatenate(predict_probability(small_model, [flux[:200], flux[200:]]))
    assert np.abs(halves - _single_pass(small_model, flux)).max() > 1e-3


def test_published_dimensions():
    model = _calibrated(FCN4FlareConfig(), seed=1)
    assert model.config.context == 263
    flux = _flux(1200, seed=3)
    (chunked,) = predict_probability(model, flux, chunk_size=800)
    expected = _single_pass(model, flux)
    np.testing.assert_allclose(chunked, expected, atol=1e-5, rtol=0, equal_nan=True)
    assert np.nanstd(expected) > 0.05


def test_batching_curves_of_different_lengths_equals_one_by_one(small_model):
    fluxes = [_flux(n, seed=n) for n in (50, 1000, 73, 50, 333, 2000)]
    together = predict_probability(small_model, fluxes, chunk_size=200, batch_size=4)
    for flux, probability in zip(fluxes, together, strict=True):
        (alone,) = predict_probability(small_model, flux, chunk_size=200, batch_size=1)
        np.testing.assert_allclose(probability, alone, atol=1e-5, rtol=0, equal_nan=True)
        np.testing.assert_allclose(
            probability, _single_pass(small_model, flux), atol=1e-5, rtol=0, equal_nan=True
        )


class _Recorder(nn.Module):
    """Wraps a model and records the shape of every input."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.config = model.config
        self.shapes = []

    def forward(self, x, sequence_mask=None):
        self.shapes.append(tuple(x.shape))
        return self.model(x, sequence_mask)


def test_memory_is_bounded_by_chunk_and_batch_size(small_model):
    recorder = _Recorder(small_model)
    fluxes = [_flux(n, seed=n) for n in (3000, 150, 2000)]
    results = predict_probability(recorder, fluxes, chunk_size=128, batch_size=5)
    assert max(shape[1] for shape in recorder.shapes) <= 128
    assert max(shape[0] for shape in recorder.shapes) <= 5
    assert [len(r) for r in results] == [3000, 150, 2000]


def test_nan_in_nan_out(small_model):
    flux = np.full(300, np.nan)
    (probability,) = predict_probability(small_model, flux, chunk_size=100)
    assert np.isnan(probability).all()
    flux = _flux(300, seed=1)
    (probability,) = predict_probability(small_model, flux, chunk_size=100)
    np.testing.assert_array_equal(np.isnan(probability), np.isnan(flux))


def test_empty_curve(small_model):
    empty, other = predict_probability(small_model, [np.array([]), np.ones(10)])
    assert empty.shape == (0,) and other.shape == (10,)


@pytest.mark.parametrize("training", [True, False])
def test_training_flag_is_restored_and_running_stats_untouched(small_model, training):
    model = small_model.train(training)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    flux = _flux(500, seed=7)
    (probability,) = predict_probability(model, flux, chunk_size=100)
    assert model.training is training
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key
    model.eval()
    np.testing.assert_allclose(probability, _single_pass(model, flux), atol=1e-5, equal_nan=True)


class _Failing(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x, sequence_mask=None):
        raise RuntimeError("boom")


def test_training_flag_is_restored_after_an_error():
    model = _Failing(FCN4FlareConfig(**SMALL)).train()
    with pytest.raises(RuntimeError, match="boom"):
        predict_probability(model, np.ones(10))
    assert model.training


def test_input_forms(small_model):
    rows = np.stack([_flux(120, seed=1), _flux(120, seed=2)])
    from_array = predict_probability(small_model, rows, chunk_size=100)
    from_list = predict_probability(small_model, list(rows), chunk_size=100)
    from_floats = predict_probability(small_model, rows[0].tolist(), chunk_size=100)
    from_tensor = predict_probability(small_model, torch.as_tensor(rows), chunk_size=100)
    assert len(from_array) == 2 and len(from_floats) == 1
    for a, b in zip(from_array, from_list, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(from_floats[0], from_array[0])
    np.testing.assert_array_equal(from_tensor[1], from_array[1])


def test_explicit_device(small_model):
    flux = _flux(100, seed=4)
    (default,) = predict_probability(small_model, flux)
    (cpu,) = predict_probability(small_model, flux, device="cpu")
    np.testing.assert_array_equal(default, cpu)


@pytest.mark.parametrize(
    ("fluxes", "kwargs", "message"),
    [
        (np.ones(10), dict(chunk_size=62), "must exceed twice the model's context"),
        (np.ones(10), dict(batch_size=0), "batch_size must be positive"),
        (np.array([1.0, np.inf, 1.0]), {}, "infinite"),
        (np.ones((2, 2, 2)), {}, r"got shape \(2, 2, 2\)"),
        ([np.ones((2, 2))], {}, "one-dimensional"),
        ("flux", {}, "1-D array or a list"),
        ([["a", "b"]], {}, "not numeric"),
    ],
)
def test_bad_input(small_model, fluxes, kwargs, message):
    with pytest.raises(InputError, match=message):
        predict_probability(small_model, fluxes, **kwargs)


def test_long_gaps_are_shortened_before_the_network_with_the_same_probabilities():
    from fcn4flare.network import FCN4FlareConfig, FCN4FlareModel, predict_probability

    torch.manual_seed(3)
    model = FCN4FlareModel(FCN4FlareConfig(hidden_dim=8, depth=2, dilation=[1, 2]))
    context = model.config.context
    rng = np.random.default_rng(0)
    clumps = [rng.standard_normal(40) for _ in range(4)]
    gap = np.full(5000, np.nan)
    sparse = np.concatenate([clumps[0], gap, clumps[1], gap, clumps[2], gap, clumps[3]])
    near = np.concatenate([clumps[0], gap[:context], clumps[1], gap[:context + 3], clumps[2],
                           gap[:context + 1], clumps[3]])
    seen = []
    forward = model.forward

    def counting(x, *args, **kwargs):
        seen.append(x.shape[0] * x.shape[1])
        return forward(x, *args, **kwargs)

    model.forward = counting
    (p_sparse,) = predict_probability(model, sparse)
    assert sum(seen) <= 4 * 40 + 3 * context  # the network never saw the 15,000 NaNs
    (p_near,) = predict_probability(model, near)
    np.testing.assert_allclose(p_sparse[np.isfinite(sparse)], p_near[np.isfinite(near)],
                               rtol=1e-6)
    assert np.isnan(p_sparse[~np.isfinite(sparse)]).all()
