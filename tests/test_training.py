"""Training: data sources, splits, the loop's reproducibility, resuming, early stopping, logs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from fcn4flare import FCN4FlareModel, FCN4FlareWarning, InputError
from fcn4flare import simulate as simulate_module
from fcn4flare.training import (
    LOG_COLUMNS,
    LabelledLightCurve,
    LightCurveWindows,
    SimulatedFlareDataset,
    TrainingConfig,
    build_datasets,
    evaluate_model,
    pad_example,
    read_events_csv,
    read_fits_directory,
    read_fits_light_curve,
    read_published_dataset,
    split_by_file,
    split_by_star,
    train,
)

DATA = Path(__file__).parents[2] / "shared" / "data" / "lightcurves"

TINY = dict(
    hidden_dim=8,
    depth=3,
    dilation=[1, 2, 4],
    seq_len=256,
    batch_size=8,
    steps_per_epoch=4,
    epochs=3,
    val_examples=8,
    test_examples=0,
    lr=3e-3,
    patience=10,
    threads=1,
    progress=False,
)


def _easy_example(n_points, cadence_minutes, rng, *, background=None):
    """Strong, well-separated flares on white noise: a task a tiny model learns in steps."""
    base = np.ones(n_points) if background is None else np.asarray(background, float).copy()
    flux = base + 0.002 * rng.standard_normal(n_points)
    labels = np.zeros(n_points, np.float32)
    for peak in rng.choice(np.arange(10, n_points - 40), size=3, replace=False):
        decay = np.arange(30)
        flux[peak : peak + 30] += rng.uniform(0.05, 0.2) * np.exp(-decay / 4.0)
        labels[peak : peak + 12] = 1
    flux[rng.random(n_points) < 0.02] = np.nan
    return flux, labels


@pytest.fixture
def easy_simulator(monkeypatch):
    monkeypatch.setattr(simulate_module, "simulate_training_example", _easy_example)


def _config(tmp_path, name="run", **changes):
    return TrainingConfig(**{**TINY, "output_dir": str(tmp_path / name), **changes})


# --------------------------------------------------------------------------- examples


def test_pad_example_pads_like_the_release():
    flux, labels, mask = pad_example(np.array([1.0, np.nan, 2.0]), np.array([0, 1, -100]), 5)
    assert flux.dtype == labels.dtype == mask.dtype == torch.float32
    assert mask.tolist() == [1, 1, 0, 0, 0]
    assert labels.tolist() == [0, 1, -100, -100, -100]
    assert torch.isnan(flux[1:]).all() and flux[0] == 1.0
    long_flux, _, long_mask = pad_example(np.ones(8), np.zeros(8), 5)
    assert len(long_flux) == 5 and long_mask.sum() == 5


def test_simulated_examples_are_reproducible_in_any_order_and_with_workers():
    kwargs = dict(seq_len=256, input_scaling="median_noise", seed=11)
    data = SimulatedFlareDataset(6, **kwargs)
    backwards = [SimulatedFlareDataset(6, **kwargs)[i] for i in reversed(range(6))][::-1]
    forwards = [data[i] for i in range(6)]
    for a, b in zip(forwards, backwards, strict=True):
        for x, y in zip(a, b, strict=True):
            assert torch.equal(x.nan_to_num(7.0), y.nan_to_num(7.0))
    loaded = next(iter(torch.utils.data.DataLoader(data, batch_size=6, num_workers=2)))
    expected = torch.stack([f[0] for f in forwards])
    assert torch.equal(loaded[0].nan_to_num(7.0), expected.nan_to_num(7.0))
    assert all(f[0].shape == (256,) for f in forwards)
    assert any(f[1].sum() > 0 for f in forwards), "no flare in six simulated examples"


def test_simulated_epochs_and_streams_give_new_examples():
    data = SimulatedFlareDataset(2, seq_len=128, input_scaling="median", seed=3)
    first = data[0][0].nan_to_num(0.0)
    data.set_epoch(1)
    assert not torch.equal(first, data[0][0].nan_to_num(0.0))
    other = SimulatedFlareDataset(2, seq_len=128, input_scaling="median", seed=3, stream=1)
    assert not torch.equal(first, other[0][0].nan_to_num(0.0))


def test_simulated_cadence_mix_and_length(monkeypatch):
    seen = []

    def record(n_points, cadence_minutes, rng, *, background=None):
        seen.append((n_points, cadence_minutes, background is not None))
        return _easy_example(n_points, cadence_minutes, rng, background=background)

    monkeypatch.setattr(simulate_module, "simulate_training_example", record)
    name, minutes = next(iter(simulate_module.CADENCES.items()))
    background = {name: [1 + 0.001 * np.random.default_rng(0).standard_normal(1000)]}
    data = SimulatedFlareDataset(
        20, seq_len=128, input_scaling="median", cadence_mix={name: 1.0}, min_length=64,
        backgrounds=background, background_fraction=1.0,
    )
    masks = [data[i][2] for i in range(20)]
    assert {c for _, c, _ in seen} == {minutes}
    assert all(b for *_, b in seen)
    assert min(n for n, *_ in seen) >= 64 and len({n for n, *_ in seen}) > 1
    assert [int(m.sum()) for m in masks] == [n for n, *_ in seen]
    with pytest.raises(InputError, match="unknown cadence"):
        SimulatedFlareDataset(2, seq_len=128, input_scaling="median", cadence_mix={"nope": 1})


def test_windows_cut_long_light_curves_and_scale_whole():
    rng = np.random.default_rng(1)
    flux = 50 * (1 + 0.01 * rng.standard_normal(600))
    labels = np.zeros(600, np.int8)
    labels[300:305] = 1
    record = LabelledLightCurve(flux, labels, star_id="1", file="a")
    data = LightCurveWindows([record], seq_len=256, input_scaling="median")
    assert len(data) == 3
    assert [int(data[i][2].sum()) for i in range(3)] == [256, 256, 88]
    whole = flux / np.median(flux)
    np.testing.assert_allclose(data[1][0].numpy(), whole[256:512], rtol=1e-6)
    assert data[1][1][300 - 256 : 305 - 256].tolist() == [1.0] * 5


# --------------------------------------------------------------------------- splits


def test_split_by_star_keeps_each_star_in_one_split():
    rng = np.random.default_rng(0)
    stars = [str(s) for s in rng.integers(0, 40, size=300)]
    parts = split_by_star(stars, 0.05, 0.15, seed=5)
    sets = {k: {stars[i] for i in v} for k, v in parts.items()}
    assert not (sets["train"] & sets["validation"] or sets["train"] & sets["test"]
                or sets["validation"] & sets["test"])
    assert sum(len(v) for v in parts.values()) == 300
    n_stars = len(set(stars))
    assert len(sets["test"]) == round(0.15 * n_stars) and len(sets["validation"]) == 2
    assert all(np.array_equal(parts[k], split_by_star(stars, 0.05, 0.15, seed=5)[k])
               for k in parts)
    assert not np.array_equal(parts["test"], split_by_star(stars, 0.05, 0.15, seed=6)["test"])
    with pytest.raises(InputError, match="distinct star"):
        split_by_star(["a", "a", "b"], 0.3, 0.3)


@pytest.mark.parametrize("n_files", [20, 57, 400])
def test_split_by_file_reproduces_the_release_split(n_files):
    sklearn = pytest.importorskip("sklearn.model_selection")
    files = [f"kplr{i:09d}-q{i % 7}_llc.fits" for i in range(n_files)]
    rest, test = sklearn.train_test_split(np.array(files), test_size=0.15, random_state=42)
    train_files, val = sklearn.train_test_split(rest, test_size=0.05 / 0.85, random_state=42)
    parts = split_by_file(files + files[:5])  # repeated names stay with their file
    names = files + files[:5]
    assert {names[i] for i in parts["test"]} == set(test)
    assert {names[i] for i in parts["validation"]} == set(val)
    assert {names[i] for i in parts["train"]} == set(train_files)


# --------------------------------------------------------------------------- published layout


def _write_published(directory: Path, n_stars=12, quarters=3, *, split_files=False, seed=0):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    rng = np.random.default_rng(seed)
    rows = []
    for star in range(n_stars):
        for quarter in range(quarters):
            n = int(rng.integers(200, 700))
            flux = (1 + 0.001 * rng.standard_normal(n)).astype(np.float32)
            label = np.zeros(n, bool)
            label[50:60] = True
            flux[50:60] += 0.05
            kic = f"{1000 + star:09d}"
            rows.append({
                "flux_norm": flux.tolist(),
                "label": label.tolist(),
                "metadata": {"kic_id": kic, "quarter": str(quarter),
                             "file_name": f"kplr{kic}-q{quarter}_llc.fits",
                             "flux_median": 100.0},
            })
    directory.mkdir(parents=True, exist_ok=True)
    if split_files:
        chunks = {"train": rows[:-6], "validation": rows[-6:-3], "test": rows[-3:]}
        for name, chunk in chunks.items():
            path = directory / f"{name}-00000-of-00001.parquet"
            pq.write_table(pa.Table.from_pylist(chunk), path)
    else:
        pq.write_table(pa.Table.from_pylist(rows[: len(rows) // 2]), directory / "part-0.parquet")
        pq.write_table(pa.Table.from_pylist(rows[len(rows) // 2 :]), directory / "part-1.parquet")
    return rows


def test_published_layout_loads_and_splits_by_star(tmp_path):
    rows = _write_published(tmp_path / "kepler_flare")
    records = read_published_dataset(tmp_path / "kepler_flare")
    assert len(records) == len(rows)
    assert records[0].star_id == "1000" and records[0].split is None
    np.testing.assert_array_equal(records[0].labels, np.asarray(rows[0]["label"], np.int8))
    np.testing.assert_allclose(records[0].flux, rows[0]["flux_norm"], rtol=1e-7)

    cfg = TrainingConfig(source="dataset", dataset=str(tmp_path / "kepler_flare"),
                         seq_len=256, input_scaling="median", val_fraction=0.2,
                         test_fraction=0.2)
    data = build_datasets(cfg)
    stars = {name: set(dataset.star_ids) for name, dataset in data.items()}
    assert stars["train"] and stars["validation"] and stars["test"]
    assert not (stars["train"] & stars["validation"] or stars["train"] & stars["test"]
                or stars["validation"] & stars["test"])
    n_windows = sum(len(d) for d in data.values())
    assert n_windows == sum(-(-len(r["label"]) // 256) for r in rows)


def test_published_layout_own_split_files_and_file_split(tmp_path):
    _write_published(tmp_path / "hf", n_stars=5, split_files=True)
    records = read_published_dataset(tmp_path / "hf")
    assert [sum(r.split == s for r in records) for s in ("train", "validation", "test")] == [
        9, 3, 3]
    cfg = TrainingConfig(source="dataset", dataset=str(tmp_path / "hf"), split="file",
                         seq_len=1000, input_scaling="median")
    data = build_datasets(cfg)
    assert [len(data[s]) for s in ("train", "validation", "test")] == [9, 3, 3]


def test_published_layout_arrow_stream_and_star_from_file_name(tmp_path):
    pa = pytest.importorskip("pyarrow")
    table = pa.table({
        "flux_norm": [[1.0, 1.2, 1.0], [1.0, 1.0]],
        "label": [[0, 1, 0], [0, -100]],
        "metadata": [{"file_name": "kplr000012345-2009_llc.fits"},
                     {"file_name": "tess2018206045859-s0001-0000000358108509-0120-s_lc.fits"}],
    })
    path = tmp_path / "train" / "data-00000-of-00001.arrow"
    path.parent.mkdir()
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    records = read_published_dataset(tmp_path)
    assert [r.star_id for r in records] == ["12345", "358108509"]
    assert records[0].split == "train"
    assert np.isnan(records[1].flux[1]) and records[1].labels[1] == -100


def test_published_layout_errors_name_the_problem(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    pq.write_table(pa.table({"flux_norm": [[1.0, 2.0]], "label": [[0, 1]],
                             "metadata": [{"quarter": "1"}]}), tmp_path / "a.parquet")
    with pytest.raises(InputError, match="which star"):
        read_published_dataset(tmp_path / "a.parquet")
    pq.write_table(pa.table({"flux_norm": [[1.0, 2.0]], "label": [[0]]}), tmp_path / "b.parquet")
    with pytest.raises(InputError, match="has 2 values but label has 1"):
        read_published_dataset(tmp_path / "b.parquet")
    with pytest.raises(InputError, match="does not exist"):
        read_published_dataset(tmp_path / "missing")


# --------------------------------------------------------------------------- FITS + events


def _write_kepler_lc(path: Path, kepler_id: int, time, flux, quality):
    from astropy.io import fits

    primary = fits.PrimaryHDU()
    primary.header.update({
        "TELESCOP": "Kepler", "MISSION": "Kepler", "INSTRUME": "Kepler Photometer",
        "OBJECT": f"KIC {kepler_id}", "KEPLERID": kepler_id, "QUARTER": 3,
        "CREATOR": "FluxExporter2PipelineModule", "ORIGIN": "NASA/Ames",
    })
    n = len(time)
    columns = [
        fits.Column(name="TIME", format="D", unit="BJD - 2454833", array=time),
        fits.Column(name="SAP_FLUX", format="E", unit="e-/s", array=flux),
        fits.Column(name="SAP_FLUX_ERR", format="E", unit="e-/s", array=np.full(n, 0.1)),
        fits.Column(name="PDCSAP_FLUX", format="E", unit="e-/s", array=flux),
        fits.Column(name="PDCSAP_FLUX_ERR", format="E", unit="e-/s", array=np.full(n, 0.1)),
        fits.Column(name="SAP_QUALITY", format="J", array=quality),
        fits.Column(name="CADENCENO", format="J", array=np.arange(n) + 1000),
    ]
    table = fits.BinTableHDU.from_columns(columns, name="LIGHTCURVE")
    table.header.update({"TIMEREF": "SOLARSYSTEM", "TIMESYS": "TDB", "BJDREFI": 2454833,
                         "BJDREFF": 0.0, "TIMEUNIT": "d", "TELAPSE": float(time[-1] - time[0])})
    fits.HDUList([primary, table]).writeto(path)


@pytest.fixture
def fits_dir(tmp_path):
    directory = tmp_path / "lcs"
    (directory / "sub").mkdir(parents=True)
    rng = np.random.default_rng(2)
    cadence = 29.4 / 1440
    for i, kepler_id in enumerate((1111, 2222, 3333, 4444)):
        time = 300.0 + i + np.arange(400) * cadence
        flux = 1000 * (1 + 0.001 * rng.standard_normal(400))
        quality = np.zeros(400, np.int32)
        quality[10] = 1  # attitude tweak: in the default bitmask
        folder = directory / "sub" if i % 2 else directory
        _write_kepler_lc(folder / f"kplr{kepler_id:09d}-2010_llc.fits", kepler_id, time, flux,
                         quality)
    t0 = 300.0 + 100 * cadence
    events = tmp_path / "events.csv"
    events.write_text(
        "file,start,end,energy\n"
        f"kplr000003333-2010_llc.fits,{t0 + 2:.4f},{t0 + 2 + 4 * cadence:.4f},1e33\n"
        f"kplr000001111-2010_llc.fits,{t0:.4f},{t0 + 3 * cadence:.4f},1e33\n"
        f"kplr000001111-2010_llc.fits,{t0 + 1:.4f},{t0 + 1:.4f},1e33\n"
    )
    return directory, events


def test_fits_directory_with_events_csv(fits_dir):
    directory, events = fits_dir
    import lightkurve

    first = directory / "kplr000001111-2010_llc.fits"
    assert len(lightkurve.read(str(first), quality_bitmask="none").flux) == 400
    assert list(read_events_csv(events)) == ["kplr000003333-2010_llc.fits",
                                             "kplr000001111-2010_llc.fits"]
    records = read_fits_directory(directory, events)
    assert [r.file for r in records] == [
        "kplr000003333-2010_llc.fits", "kplr000001111-2010_llc.fits",
        "kplr000002222-2010_llc.fits", "kplr000004444-2010_llc.fits"]
    assert [r.star_id for r in records] == ["3333", "1111", "2222", "4444"]
    by_star = {r.star_id: r for r in records}
    assert np.flatnonzero(by_star["1111"].labels).tolist() == [100, 101, 102, 103]
    assert np.flatnonzero(by_star["3333"].labels).tolist() == [100, 101, 102, 103, 104]
    assert by_star["2222"].labels.sum() == 0
    assert np.isnan(by_star["1111"].flux[10]) and np.isfinite(by_star["1111"].flux[11])
    assert by_star["1111"].cadence_minutes == pytest.approx(29.4)


def test_fits_source_trains(fits_dir, tmp_path):
    directory, events = fits_dir
    cfg = _config(tmp_path, source="fits", fits_dir=str(directory), events=str(events),
                  val_fraction=0.25, test_fraction=0.25, epochs=1, steps_per_epoch=None,
                  batch_size=2, seq_len=128, input_scaling="median")
    result = train(cfg)
    assert result.epochs_completed == 1 and result.test_metrics["n_samples"] == 400
    splits = json.loads((tmp_path / "run" / "splits.json").read_text())
    assert sorted(sum(splits.values(), [])) == sorted(p.name for p in directory.rglob("*.fits"))


@pytest.mark.skipif(not (DATA / "kplr010002792-2009259160929_llc.fits").exists(),
                    reason="shared real data not available")
def test_real_kepler_file_is_labelled_on_its_grid():
    path = DATA / "kplr010002792-2009259160929_llc.fits"
    import lightkurve

    lc = lightkurve.read(str(path), quality_bitmask="none")
    t = lc.time.value
    start, end = round(float(t[100]), 4), round(float(t[104]), 4)
    record = read_fits_light_curve(path, [(start, end)])
    assert record.star_id == "10002792"
    assert (record.labels == 1).sum() == 5
    assert len(record) >= len(lc)


# --------------------------------------------------------------------------- the loop


def test_training_improves_on_an_easy_task(tmp_path, easy_simulator):
    config = _config(tmp_path, epochs=4, steps_per_epoch=6, lr=1e-2, test_examples=8)
    torch.manual_seed(config.seed)
    untrained = FCN4FlareModel(config.model_config())
    before = evaluate_model(untrained, build_datasets(config)["validation"])
    result = train(config)
    losses = [row["train_loss"] for row in result.history]
    dice = [row["val_dice"] for row in result.history]
    assert losses[-1] < losses[0]
    assert result.history[-1]["val_loss"] < before["loss"] - 0.3
    assert result.best_val_dice > before["dice"] + 0.3 and result.best_val_dice == max(dice)
    assert result.test_metrics["dice"] > 0.7


def test_pipeline_runs_on_the_real_simulator(tmp_path):
    result = train(_config(tmp_path, epochs=1, steps_per_epoch=2, input_scaling="median",
                           min_length=128))
    row = result.history[0]
    assert np.isfinite(row["train_loss"]) and 0 <= row["val_dice"] <= 1


def test_same_seed_gives_bit_identical_weights(tmp_path, easy_simulator):
    a = train(_config(tmp_path, "a"))
    b = train(_config(tmp_path, "b", num_workers=2))
    c = train(_config(tmp_path, "c", seed=1))
    assert a.checksum == b.checksum
    assert a.checksum != c.checksum
    assert [r["train_loss"] for r in a.history] == [r["train_loss"] for r in b.history]


def test_resume_continues_to_the_uninterrupted_result(tmp_path, easy_simulator):
    reference = train(_config(tmp_path, "ref", epochs=4, lr_schedule="cosine"))

    class Interrupted(Exception):
        pass

    def crash_after_two(row):
        if row["epoch"] == 2:
            raise Interrupted

    with pytest.raises(Interrupted):
        train(_config(tmp_path, "cut", epochs=4, lr_schedule="cosine"),
              callback=crash_after_two)
    resumed = train(_config(tmp_path, "cut", epochs=4, lr_schedule="cosine", resume=True))
    assert resumed.checksum == reference.checksum
    assert resumed.epochs_completed == 4
    keys = ("epoch", "train_loss", "val_dice", "lr")
    assert [[r[k] for k in keys] for r in resumed.history] == [
        [r[k] for k in keys] for r in reference.history]
    last = FCN4FlareModel.from_pretrained(tmp_path / "cut" / "last")
    assert last.checksum() == FCN4FlareModel.from_pretrained(tmp_path / "ref" / "last").checksum()


def test_early_stopping_and_logs(tmp_path, easy_simulator):
    result = train(_config(tmp_path, epochs=10, patience=2, min_delta=1.0))
    assert result.stopped_early and result.epochs_completed == 3
    with open(tmp_path / "run" / "training_log.csv") as fh:
        rows = list(csv.DictReader(fh))
    logged = json.loads((tmp_path / "run" / "training_log.json").read_text())
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3] == [r["epoch"] for r in logged]
    assert tuple(rows[0]) == LOG_COLUMNS and tuple(logged[0]) == LOG_COLUMNS
    assert float(rows[1]["wall_seconds"]) >= float(rows[0]["wall_seconds"]) > 0
    again = train(_config(tmp_path, epochs=10, patience=2, min_delta=1.0, resume=True))
    assert again.epochs_completed == 3 and again.checksum == result.checksum


def test_saved_model_and_configuration(tmp_path, easy_simulator):
    result = train(_config(tmp_path, epochs=2, input_scaling="median_noise"))
    saved = json.loads((result.best_dir / "config.json").read_text())
    assert saved["input_scaling"] == "median_noise"
    assert saved["training"]["epoch"] == result.best_epoch
    assert saved["training"]["input_scaling"] == "median_noise"  # the record loading checks
    config = TrainingConfig.from_json(result.best_dir / "training_config.json")
    assert config == TrainingConfig.from_json(tmp_path / "run" / "training_config.json")
    assert config.hidden_dim == 8 and config.output_dir == str(tmp_path / "run")
    model = result.load_best()
    assert model.config.input_scaling == "median_noise" and model.checksum() == result.checksum


def test_output_dir_holding_a_run_is_protected(tmp_path, easy_simulator):
    train(_config(tmp_path, epochs=1))
    with pytest.raises(InputError, match="already holds a training run"):
        train(_config(tmp_path, epochs=1))
    again = train(_config(tmp_path, epochs=1, overwrite=True))
    assert again.epochs_completed == 1


def test_fine_tuning_starts_from_a_checkpoint(tmp_path, easy_simulator):
    first = train(_config(tmp_path, "first", epochs=1, input_scaling="median"))
    with pytest.warns(FCN4FlareWarning, match="expects input scaling 'median'.*'median_noise' "
                                              "is not used"):
        tuned = train(_config(tmp_path, "tuned", epochs=1, init_from=str(first.best_dir),
                              hidden_dim=16, input_scaling="median_noise"))
    model = tuned.load_best()
    assert model.config.hidden_dim == 8 and model.config.input_scaling == "median"
    recorded = json.loads((tuned.best_dir / "training_config.json").read_text())
    assert recorded["input_scaling"] == "median"  # what the run really used
    assert model.config.trained_input_scaling == "median"  # not the first run's record


def test_fine_tuning_to_more_input_channels_widens_the_checkpoint(tmp_path, easy_simulator):
    scaling = "rotation_adaptive_and_flux_asinh"
    first = train(_config(tmp_path, "first", epochs=1,
                          input_scaling="rotation_adaptive_trend_noise_asinh"))
    tuned = train(_config(tmp_path, "tuned", epochs=1, init_from=str(first.best_dir),
                          input_scaling=scaling))
    model = tuned.load_best()
    assert model.config.input_dim == 2 and model.config.input_scaling == scaling
    assert model.config.trained_input_scaling == scaling
    # the second channel was learnt from zero
    assert float(model.encoder.mapping.weight.detach()[:, 1].abs().max()) > 0


def test_resume_with_another_architecture_is_refused(tmp_path, easy_simulator):
    from fcn4flare import CheckpointError

    train(_config(tmp_path, epochs=1))
    with pytest.raises(CheckpointError, match="does not match"):
        train(_config(tmp_path, epochs=2, hidden_dim=16, resume=True))


# --------------------------------------------------------------------------- configuration


def test_published_recipe_and_validation():
    cfg = TrainingConfig.from_recipe("published", dataset="kepler_flare")
    assert (cfg.input_scaling, cfg.hidden_dim, cfg.lr, cfg.batch_size, cfg.epochs,
            cfg.patience, cfg.min_delta, cfg.seed, cfg.seq_len, cfg.split) == (
        "median", 128, 3e-5, 192, 50, 5, 0.005, 2024, 5000, "file")
    assert cfg.model_config().dilation == [1, 1, 1, 2, 2, 4, 8, 16, 32, 64]
    assert TrainingConfig.from_recipe("published", fits_dir="d", events="e").source == "fits"
    with pytest.raises(InputError, match="needs dataset"):
        TrainingConfig.from_recipe("published")
    with pytest.raises(InputError, match="Unknown recipe"):
        TrainingConfig.from_recipe("nope")
    with pytest.raises(InputError, match="lr_schedule"):
        TrainingConfig(lr_schedule="exp")
    with pytest.raises(InputError, match="unknown settings"):
        TrainingConfig.from_dict({"learning_rate": 1})
    with pytest.raises(InputError, match="invalid model settings"):
        TrainingConfig(depth=3, dilation=[1, 2])
