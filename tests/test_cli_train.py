"""The ``fcn4flare train`` command."""

from __future__ import annotations

import json
from importlib.metadata import entry_points

import numpy as np
import pytest

from fcn4flare import cli
from fcn4flare import simulate as simulate_module
from fcn4flare.training import TrainingConfig

TINY_ARGS = [
    "--hidden-dim", "4", "--depth", "2", "--dilation", "1", "2", "--seq-len", "128",
    "--batch-size", "4", "--steps-per-epoch", "2", "--val-examples", "4",
    "--test-examples", "4", "--threads", "1", "--no-progress",
]


def _quick_example(n_points, cadence_minutes, rng, *, background=None):
    flux = 1 + 0.002 * rng.standard_normal(n_points)
    labels = np.zeros(n_points, np.float32)
    flux[40:50] += 0.1
    labels[40:50] = 1
    return flux, labels


@pytest.fixture
def quick_simulator(monkeypatch):
    monkeypatch.setattr(simulate_module, "simulate_training_example", _quick_example)


def test_train_end_to_end(tmp_path, capsys, quick_simulator):
    out = tmp_path / "run"
    status = cli.main(["train", "--simulated", *TINY_ARGS, "--epochs", "2", "--output",
                       str(out), "--cadence-mix", "kepler_long=1", "--lr", "0.01"])
    assert status == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["epochs"] == 2 and summary["best_model"] == str(out / "best")
    assert 0 <= summary["test"]["dice"] <= 1
    config = TrainingConfig.from_json(out / "best" / "training_config.json")
    assert (config.lr, config.epochs, config.dilation, config.cadence_mix) == (
        0.01, 2, [1, 2], {"kepler_long": 1.0})
    assert (out / "last" / "training_state.pt").exists()
    assert len(json.loads((out / "training_log.json").read_text())) == 2

    # resuming a finished run trains nothing more; asking for more epochs continues it
    assert cli.main(["train", *TINY_ARGS, "--epochs", "3", "--output", str(out),
                     "--cadence-mix", "kepler_long=1", "--lr", "0.01", "--resume"]) == 0
    assert json.loads(capsys.readouterr().out)["epochs"] == 3


def test_existing_run_is_an_error_with_exit_status_1(tmp_path, capsys, quick_simulator):
    args = ["train", *TINY_ARGS, "--epochs", "1", "--output", str(tmp_path)]
    assert cli.main(args) == 0
    capsys.readouterr()
    assert cli.main(args) == 1
    assert "already holds a training run" in capsys.readouterr().err


def test_published_recipe_end_to_end_on_a_tiny_published_layout(tmp_path, capsys):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    rng = np.random.default_rng(0)
    data = tmp_path / "kepler_flare" / "data"
    data.mkdir(parents=True)
    expected = {}
    for split, n_rows in (("train", 6), ("validation", 2), ("test", 2)):
        rows = []
        for i in range(n_rows):
            kic = f"{len(expected) * 10 + i:09d}"
            flux = 1 + 0.001 * rng.standard_normal(300)
            label = np.zeros(300, bool)
            flux[100:110] += 0.05
            label[100:110] = True
            name = f"kplr{kic}-2009_llc.fits"
            rows.append({"flux_norm": flux.tolist(), "label": label.tolist(),
                         "metadata": {"kic_id": kic, "quarter": "1", "file_name": name,
                                      "flux_median": 1.0}})
            expected.setdefault(split, []).append(name)
        pq.write_table(pa.Table.from_pylist(rows), data / f"{split}-00000-of-00001.parquet")
    out = tmp_path / "run"
    status = cli.main([
        "train", "--dataset", str(tmp_path / "kepler_flare"), "--recipe", "published",
        "--hidden-dim", "4", "--depth", "1", "--dilation", "1", "--batch-size", "4",
        "--epochs", "1", "--threads", "1", "--output", str(out),
    ])
    assert status == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["test"]["n_samples"] == 600
    splits = json.loads((out / "splits.json").read_text())
    assert splits == {k: sorted(v) for k, v in expected.items()}
    config = TrainingConfig.from_json(out / "training_config.json")
    assert (config.recipe, config.lr, config.seq_len, config.input_scaling) == (
        "published", 3e-5, 5000, "median")
    saved = json.loads((out / "best" / "config.json").read_text())
    assert saved["input_scaling"] == "median" and saved["training"]["recipe"] == "published"


def test_recipe_and_options_combine(tmp_path):
    parser = cli.build_parser()
    args = parser.parse_args(["train", "--dataset", str(tmp_path), "--recipe", "published",
                              "--lr", "1e-4", "--grad-clip", "none"])
    config = cli._train_config(args)
    assert (config.source, config.dataset, config.recipe) == ("dataset", str(tmp_path),
                                                              "published")
    assert (config.lr, config.grad_clip, config.batch_size, config.input_scaling) == (
        1e-4, None, 192, "median")
    default = cli._train_config(parser.parse_args(["train"]))
    assert default == TrainingConfig.from_recipe("default")
    assert (default.hidden_dim, default.seq_len, default.epochs) == (64, 2048, 32)
    assert default.cadence_mix["kepler_short"] == 0.26


def test_config_file_is_a_starting_point(tmp_path):
    path = TrainingConfig(lr=0.02, seq_len=512).to_json(tmp_path / "cfg.json")
    args = cli.build_parser().parse_args(["train", "--config", str(path), "--seq-len", "256"])
    config = cli._train_config(args)
    assert (config.lr, config.seq_len) == (0.02, 256)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--recipe", "published"], "add --dataset PATH"),
        (["train", "--fits-dir", "x"], "--fits-dir needs --events"),
        (["train", "--events", "x.csv"], "--events needs --fits-dir"),
        (["train", "--lr", "-1"], "lr must be positive"),
    ],
)
def test_bad_settings_are_reported(argv, message, capsys):
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("fcn4flare train: error:") and message in err


def test_usage_errors(capsys):
    assert cli.main([]) == 2
    with pytest.raises(SystemExit) as exc:
        cli.main(["train", "--cadence-mix", "kepler_long"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit):
        cli.main(["train", "--dataset", "a", "--fits-dir", "b"])
    assert "not allowed with argument" in capsys.readouterr().err


def test_cadence_mix_forms():
    assert cli._weights("kepler_long=1, tess_2min=2") == {"kepler_long": 1.0, "tess_2min": 2.0}
    assert cli._weights('{"tess_20s": 3}') == {"tess_20s": 3.0}
    assert cli._weights("none") is None


def test_subcommands_are_registered_in_one_place():
    assert cli._add_train in cli.COMMANDS
    subparsers = next(a for a in cli.build_parser()._actions if a.dest == "command")
    assert "train" in subparsers.choices


def test_console_script_is_declared():
    scripts = entry_points(group="console_scripts", name="fcn4flare")
    assert [s.value for s in scripts] == ["fcn4flare.cli:main"]


def test_help_shows_the_default_recipe_values(capsys):
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "samples per training sequence [2048]" in text
    assert "kepler_short=0.26" in text.replace(" ", "")
