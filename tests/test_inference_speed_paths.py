"""The fast paths give what the plain ones give.

* the folded network (BatchNorm folded into the convolutions, channels-last 2-D
  convolutions, oneDNN's fused convolution + GELU on packed weights) against the model's own
  forward pass: logits within 1e-5 (relative to their size above 1), on random models with
  random BatchNorm statistics and on the shipped model;
* padded batches of unequal windows against each window alone, and the window plan;
* flare tables of ``FlareDetector`` through the folded network against the model's own
  forward pass;
* the trend's vectorised helpers against the library calls they replace, bit for bit.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from astropy.timeseries import LombScargle
from scipy.ndimage import binary_dilation

from fcn4flare import FCN4FlareConfig, FCN4FlareModel, FlareDetector
from fcn4flare.network import fold_batchnorm, inference, load_model, predict_probability
from fcn4flare.trend import rotation, stellar

SMALL = dict(hidden_dim=8, depth=4, dilation=[1, 2, 4, 8])


def _random_model(config: FCN4FlareConfig, seed: int = 0) -> FCN4FlareModel:
    """A model whose BatchNorms hold random statistics and affine parameters (eval mode)."""
    torch.manual_seed(seed)
    model = FCN4FlareModel(config)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm1d):
                module.running_mean.normal_(0, 0.5)
                module.running_var.uniform_(0.3, 3.0)
                module.weight.normal_(1, 0.3)
                module.bias.normal_(0, 0.3)
    return model.eval()


def _flux(n: int, seed: int, nan_fraction: float = 0.03) -> np.ndarray:
    rng = np.random.default_rng(seed)
    flux = rng.standard_normal(n)
    flux[rng.integers(0, n, max(1, n // 50))] += rng.exponential(8.0, max(1, n // 50))
    flux[rng.random(n) < nan_fraction] = np.nan
    return flux


#: Logits of the folded network and of the model's own float32 forward differ by float32
#: rounding only: both are that far from a float64 forward (on these random models the
#: model's own float32 forward is 3.5e-5 from float64, the folded network 1.4e-5; on the
#: shipped model 0.4e-5 and 1.3e-5). Probabilities differ by a quarter of that at most.
LOGIT_TOLERANCE = 5e-5


def _close(got: torch.Tensor, expected: torch.Tensor,
           tolerance: float = LOGIT_TOLERANCE) -> float:
    """Largest ``|got - expected| / max(1, |expected|)``; asserts it is within ``tolerance``."""
    error = float(((got.double() - expected.double()).abs()
                   / expected.double().abs().clamp(min=1.0)).max())
    assert error <= tolerance, error
    return error


@pytest.fixture(scope="module")
def shipped():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_model()


# --------------------------------------------------------------------------- folding


@pytest.mark.parametrize("fuse", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_folded_equals_the_model_on_random_models(seed, fuse):
    model = _random_model(FCN4FlareConfig(**SMALL), seed)
    folded = fold_batchnorm(model, fuse=fuse)
    x = torch.as_tensor(np.stack([_flux(700, seed), _flux(700, seed + 10)]),
                        dtype=torch.float32)
    with torch.no_grad():
        _close(folded(x), model(x.unsqueeze(-1)))


@pytest.mark.parametrize("seed", [0, 1])
def test_folding_is_exact_in_float64(seed):
    model = _random_model(FCN4FlareConfig(**SMALL), seed).double()
    folded = fold_batchnorm(model)
    assert folded.dtype == torch.float64 and not folded.fused
    x = torch.as_tensor(np.stack([_flux(500, seed), _flux(500, seed + 5)]))
    with torch.no_grad():
        _close(folded(x), model(x.unsqueeze(-1)), 1e-10)


@pytest.mark.parametrize("fuse", [False, True])
def test_folded_equals_the_model_on_the_shipped_model(shipped, fuse):
    folded = fold_batchnorm(shipped, fuse=fuse)
    x = torch.as_tensor(_flux(6000, 3), dtype=torch.float32)[None]
    with torch.no_grad():
        _close(folded(x), shipped(x.unsqueeze(-1)))
    # and the probabilities through predict_probability, against the model's own forward
    flux = _flux(40_000, 4)
    flux[10_000:13_000] = np.nan  # a gap longer than the context, shortened first
    (fast,) = predict_probability(shipped, flux)
    (plain,) = predict_probability(shipped, flux, fold=False)
    np.testing.assert_array_equal(np.isnan(fast), np.isnan(plain))
    np.testing.assert_allclose(fast, plain, rtol=0, atol=1e-5, equal_nan=True)


def test_fusion_is_used_on_the_cpu_and_agrees(shipped):
    folded = fold_batchnorm(shipped)
    assert folded.fused == inference._can_fuse(torch.device("cpu"), torch.float32)
    if not folded.fused:
        pytest.skip("oneDNN's fused convolution is not available in this build")
    x = torch.as_tensor(_flux(3000, 5), dtype=torch.float32)[None]
    with torch.no_grad():
        _close(folded(x), fold_batchnorm(shipped, fuse=False)(x), 1e-5)


def test_folding_leaves_the_model_and_its_checkpoint_format_alone(tmp_path):
    model = _random_model(FCN4FlareConfig(**SMALL)).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.for_inference()
    predict_probability(model, _flux(500, 1), chunk_size=100)
    assert model.training
    state = model.state_dict()
    assert list(state) == list(before)
    for key, value in state.items():
        assert torch.equal(value, before[key]), key
    loaded = FCN4FlareModel.from_pretrained(model.save_pretrained(tmp_path))
    assert list(loaded.state_dict()) == list(before)


def test_the_folded_network_follows_changed_weights():
    model = _random_model(FCN4FlareConfig(**SMALL))
    flux = _flux(400, 2)
    (first,) = predict_probability(model, flux)
    with torch.no_grad():
        model.seghead.projector.bias += 1.0  # in place: the kept folded network is stale
    (second,) = predict_probability(model, flux)
    (expected,) = predict_probability(model, flux, fold=False)
    assert np.nanmax(np.abs(second - first)) > 1e-3
    np.testing.assert_allclose(second, expected, atol=1e-5, equal_nan=True)
    other = _random_model(FCN4FlareConfig(**SMALL), seed=7)
    model.load_state_dict(other.state_dict())
    (third,) = predict_probability(model, flux)
    (expected,) = predict_probability(other, flux, fold=False)
    np.testing.assert_allclose(third, expected, atol=1e-5, equal_nan=True)


# --------------------------------------------------------------------------- windows


@pytest.mark.parametrize("length", [1, 500, 16384, 16385, 30_000, 32_768, 100_003])
def test_windows_tile_the_light_curve_with_full_context(length):
    context, chunk = 263, 16384
    windows = list(inference._windows(0, length, chunk, context))
    covered = np.zeros(length, dtype=int)
    for w in windows:
        assert 0 <= w.start <= w.core_start < w.core_stop <= w.stop <= length
        assert w.length <= chunk
        assert w.start == 0 or w.core_start - w.start >= context
        assert w.stop == length or w.stop - w.core_stop >= context
        covered[w.core_start : w.core_stop] += 1
    assert (covered == 1).all()
    assert len({w.length for w in windows}) == 1  # one length: they batch without padding
    fewest = 1 if length <= chunk else -(-(length - 2 * context) // (chunk - 2 * context))
    assert len(windows) == fewest


def test_padded_batches_equal_each_window_alone():
    model = _random_model(FCN4FlareConfig(**SMALL), seed=3)
    fluxes = [_flux(n, n) for n in (300, 290, 281, 150, 2000, 1990)]
    together = predict_probability(model, fluxes, chunk_size=400, batch_size=8)
    for flux, probability in zip(fluxes, together, strict=True):
        (alone,) = predict_probability(model, flux, chunk_size=400, batch_size=1)
        (plain,) = predict_probability(model, flux, chunk_size=400, fold=False)
        np.testing.assert_allclose(probability, alone, atol=1e-5, equal_nan=True)
        np.testing.assert_allclose(probability, plain, atol=1e-5, equal_nan=True)
    batches = list(inference._padded_batches(
        [w for i, f in enumerate(fluxes) for w in inference._windows(i, len(f), 400, 31)], 8))
    for batch in batches:  # padding stays within the tolerance
        assert min(w.length for w in batch) >= (1 - inference._PADDING_TOLERANCE) * max(
            w.length for w in batch)
    assert any(len({w.length for w in batch}) > 1 for batch in batches)


def test_padding_is_zero_padding():
    model = _random_model(FCN4FlareConfig(**SMALL), seed=4)
    folded = fold_batchnorm(model)
    x = torch.as_tensor(np.stack([_flux(200, 1), _flux(200, 2)]), dtype=torch.float32)
    x[1, 120:] = 123.0  # whatever lies past the end of a shorter row is not seen
    with torch.no_grad():
        out = folded(x, [200, 120])
        _close(out[1, :120], model(x[1:, :120].unsqueeze(-1))[0])
        _close(out[0], model(x[:1].unsqueeze(-1))[0])


# --------------------------------------------------------------------------- detection


def _spotted(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(n) * 2.0 / 1440
    period = rng.uniform(0.25, 0.6)
    flux = 1 + 0.02 * np.sin(2 * np.pi * t / period) + 0.008 * np.sin(4 * np.pi * t / period)
    flux += 1e-3 * rng.standard_normal(n)
    for start in rng.choice(n - 40, size=n // 2500, replace=False):
        flux[start : start + 40] += rng.uniform(0.004, 0.04) * np.exp(-np.arange(40) / 6)
    flux[rng.random(n) < 0.01] = np.nan
    return 2459000.0 + t, flux


def _tables(detector: FlareDetector, curves, fold: bool, monkeypatch) -> list:
    import fcn4flare.network

    prepared = [detector.prepare(t, f) for t, f in curves]
    with monkeypatch.context() as patch:  # run_prepared imports predict_probability per call
        patch.setattr(fcn4flare.network, "predict_probability",
                      lambda *args, **kwargs: predict_probability(*args, fold=fold, **kwargs))
        return [d.table() for d in detector.run_prepared(prepared)]


def test_flare_tables_through_the_folded_network_are_the_same(shipped, monkeypatch):
    detector = FlareDetector(shipped)
    curves = [_spotted(n, seed) for seed, n in enumerate((4000, 12_000, 20_000, 35_000))]
    fast = _tables(detector, curves, True, monkeypatch)
    plain = _tables(detector, curves, False, monkeypatch)
    assert sum(len(t) for t in plain) > 5
    for a, b in zip(fast, plain, strict=True):
        assert a.colnames == b.colnames and len(a) == len(b)
        for name in ("istart", "ipeak", "istop"):
            np.testing.assert_array_equal(a[name], b[name])
        for name in a.colnames:
            column, other = a[name], b[name]
            if hasattr(column, "jd"):  # times: from the rows, so exactly the same
                np.testing.assert_array_equal(column.jd, other.jd)
            elif np.asarray(column).dtype.kind == "f":
                np.testing.assert_allclose(np.asarray(column), np.asarray(other),
                                           rtol=1e-5, atol=1e-6, err_msg=name)
            else:
                np.testing.assert_array_equal(np.asarray(column), np.asarray(other))


# --------------------------------------------------------------------------- trend helpers


@pytest.mark.parametrize(("n", "period", "gaps"), [(1000, 20.0, True), (4000, 57.3, False),
                                                   (30_000, 216.0, True)])
def test_grid_power_is_astropys_lomb_scargle(n, period, gaps):
    rng = np.random.default_rng(n)
    t = np.arange(n)
    y = 0.02 * np.sin(2 * np.pi * t / period) + 1e-3 * rng.standard_normal(n)
    if gaps:
        y[rng.random(n) < 0.05] = np.nan
        y[n // 3 : n // 3 + n // 20] = np.nan
        y[:5] = np.nan
    finite = np.isfinite(y)
    index = np.flatnonzero(finite).astype(np.float64)
    values = y[finite] - np.mean(y[finite])
    minimum = 1 / (0.1 * n)
    frequency, expected = LombScargle(index, values).autopower(
        minimum_frequency=minimum, maximum_frequency=1 / rotation.MIN_PERIOD,
        samples_per_peak=10)
    df = 1.0 / (index[-1] - index[0]) / 10
    count = 1 + int(np.round((1 / rotation.MIN_PERIOD - minimum) / df))
    assert count == frequency.size
    np.testing.assert_array_equal(minimum + df * np.arange(count), frequency)
    power = rotation._grid_power(index, values, minimum, df, count)
    np.testing.assert_allclose(power, expected, rtol=1e-9, atol=1e-12)
    best, peak = rotation._grid_power(index, values, minimum, df, count, best_only=True)
    assert best == np.argmax(expected) == np.argmax(power) and peak == power[best]


def test_grid_power_in_blocks_is_the_same_power(monkeypatch):
    rng = np.random.default_rng(5)
    n = 20_000
    y = 0.01 * np.sin(2 * np.pi * np.arange(n) / 77.7) + 1e-3 * rng.standard_normal(n)
    y[rng.random(n) < 0.02] = np.nan
    index = np.flatnonzero(np.isfinite(y)).astype(np.float64)
    values = y[np.isfinite(y)] - np.nanmean(y)
    df = 1.0 / (index[-1] - index[0]) / 10
    count = 1 + int(np.round((1 / 8 - 1 / (0.1 * n)) / df))
    whole = rotation._grid_power(index, values, 1 / (0.1 * n), df, count)
    monkeypatch.setattr(rotation, "_ONE_BLOCK", 1000)  # what a light curve of 2M samples does
    monkeypatch.setattr(rotation, "_BLOCK", 3001)
    monkeypatch.setattr(rotation, "_FORMULA_BLOCK", 700)
    blocks = rotation._grid_power(index, values, 1 / (0.1 * n), df, count)
    np.testing.assert_allclose(blocks, whole, rtol=1e-9, atol=1e-12)
    best, peak = rotation._grid_power(index, values, 1 / (0.1 * n), df, count, best_only=True)
    assert best == np.argmax(blocks) and peak == blocks[best]
    monkeypatch.setattr(rotation, "_SPAN", 3_000)  # the times in pieces too, one of them empty
    gappy = index[(index < 4_000) | (index >= 12_000)]
    keep = np.isin(index, gappy)
    expected = LombScargle(gappy, values[keep]).power(
        1 / (0.1 * n) + df * np.arange(count), assume_regular_frequency=True)
    pieces = rotation._grid_power(gappy, values[keep], 1 / (0.1 * n), df, count)
    np.testing.assert_allclose(pieces, expected, rtol=1e-9, atol=1e-12)
    pieces = rotation._grid_power(index, values, 1 / (0.1 * n), df, count)
    np.testing.assert_allclose(pieces, whole, rtol=1e-9, atol=1e-12)


def test_grid_power_overwriting_its_inputs_gives_the_same_power():
    rng = np.random.default_rng(8)
    n = 6_000
    y = 0.01 * np.sin(2 * np.pi * np.arange(n) / 41.3) + 1e-3 * rng.standard_normal(n)
    y[rng.random(n) < 0.03] = np.nan
    index = np.flatnonzero(np.isfinite(y)) + 3  # integer cadences, not from zero
    values = y[np.isfinite(y)] - 0.2
    df = 1.0 / (index[-1] - index[0]) / 10
    count = 1 + int(np.round((1 / 8 - 1 / (0.1 * n)) / df))
    kept_index, kept_values = index.copy(), values.copy()
    expected = rotation._grid_power(index, values, 1 / (0.1 * n), df, count, best_only=True)
    np.testing.assert_array_equal(index, kept_index)  # by default the inputs are left alone
    np.testing.assert_array_equal(values, kept_values)
    assert rotation._grid_power(index, values, 1 / (0.1 * n), df, count, best_only=True,
                                overwrite=True) == expected
    assert not np.array_equal(values, kept_values)  # used as scratch


def test_rotation_period_leaves_its_input_alone():
    rng = np.random.default_rng(9)
    y = 0.01 * np.sin(2 * np.pi * np.arange(5_000) / 63.0) + 1e-3 * rng.standard_normal(5_000)
    y[100:140] = np.nan
    kept = y.copy()
    period, _ = rotation.rotation_period(y)
    assert abs(period - 63.0) < 0.5
    np.testing.assert_array_equal(y, kept)


def test_median_of_is_nanmedian():
    rng = np.random.default_rng(0)
    teeth = np.round(rng.standard_normal((4, 20_000)), 2)
    teeth[rng.random(teeth.shape) < 0.4] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = np.nanmedian(teeth, axis=0)
    np.testing.assert_array_equal(rotation._median_of(teeth), expected)


@pytest.mark.parametrize("half", [1, 2, 27, 300])
def test_dilate_is_binary_dilation(half):
    rng = np.random.default_rng(half)
    mask = rng.random(5000) < 0.01
    expected = binary_dilation(mask, structure=np.ones(2 * half + 1, dtype=bool))
    np.testing.assert_array_equal(stellar._dilate(mask, half), expected)


def test_rotations_are_the_shifted_light_curve():
    rng = np.random.default_rng(1)
    y = rng.standard_normal(3000)
    y[rng.random(3000) < 0.1] = np.nan
    period = 57.3
    teeth = rotation._Rotations(y.size, period, 2).teeth(y)
    for row, k in zip(teeth, (-2, -1, 1, 2), strict=True):
        position = np.arange(y.size) + k * period  # the interpolation the trend always did
        low = np.floor(position).astype(np.int64)
        fraction = position - low
        expected = np.full(y.size, np.nan)
        inside = (low >= 0) & (low + 1 < y.size)
        lo = low[inside]
        expected[inside] = (1 - fraction[inside]) * y[lo] + fraction[inside] * y[lo + 1]
        np.testing.assert_array_equal(row, expected)


@pytest.mark.parametrize("window", [5, 27, 255])
def test_local_quadratic_moments_are_the_eight_direct_convolutions(window):
    rng = np.random.default_rng(window)
    y = rng.standard_normal(20_000).cumsum()
    y[rng.random(y.size) < 0.05] = np.nan
    half = (window - 1) // 2
    finite = np.isfinite(y)
    w = finite.astype(np.float64)
    wy = w * np.where(finite, y, 0.0)
    u = np.arange(-half, half + 1, dtype=np.float64) / half
    s0, s1, s2, s3, s4 = (np.convolve(w, (u**p)[::-1], mode="same") for p in range(5))
    t0, t1, t2 = (np.convolve(wy, (u**p)[::-1], mode="same") for p in range(3))
    det = s0 * (s2 * s4 - s3 * s3) - s1 * (s1 * s4 - s3 * s2) + s2 * (s1 * s3 - s2 * s2)
    intercept = t0 * (s2 * s4 - s3 * s3) - s1 * (t1 * s4 - s3 * t2) + s2 * (t1 * s3 - s2 * t2)
    expected = np.full(y.shape, np.nan)
    good = (s0 >= 5.0) & (det > 1e-6 * np.maximum(s0, 1.0) ** 3)
    expected[good] = intercept[good] / det[good]
    fitted = stellar.local_quadratic(y, window)  # by FFT: the same to rounding
    np.testing.assert_array_equal(np.isnan(fitted), np.isnan(expected))
    np.testing.assert_allclose(fitted, expected, rtol=0, atol=1e-10)
