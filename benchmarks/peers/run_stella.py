"""Run stella 0.1.0 (Feinstein et al. 2020) on a directory of benchmark ``.npz`` light curves.

Peer baseline for the fcn4flare benchmark tables. It must run with the interpreter of the
isolated Python 3.7 environment made by ``benchmarks/peers/setup_peers.sh`` (stella 0.1.0 pins
TensorFlow 2.1.0), with the ten CNN models that ship in the stella 0.1.0 sdist on PyPI
(``final_models.zip``, unpacked by the setup script; ``pip install stella`` does not install
them)::

    /work/peers/stella-venv/bin/python benchmarks/peers/run_stella.py INDIR OUTDIR

For every ``INDIR/NAME.npz`` (arrays ``time`` [d], ``flux``, ``flux_err``, scalar
``cadence_minutes``; a ``labels`` array, if present, is never read) it writes ``OUTDIR/NAME.npz``
with ``score`` (median over the ten models of ``stella.ConvNN.predict``'s per-cadence flare
probability, as in stella's quick-start), ``prediction`` (``score >= 0.5``, the threshold of
Feinstein et al. 2020 and of ``stella.FitFlares.identify_flare_peaks``), NaN for both where
stella gave no answer (NaN flux, and the cadences within 100 samples of an edge or a gap that
stella itself skips), ``runtime_s`` and ``status``. stella was trained on TESS 2-min data only;
``in_domain`` records whether the file's cadence is 2 min. Details: ``benchmarks/peers/README.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is imported
os.environ.setdefault("TQDM_DISABLE", "1")  # stella prints a progress bar per model call
os.environ.setdefault("MPLBACKEND", "agg")  # stella imports pylab

import numpy as np  # noqa: E402

with warnings.catch_warnings():  # astropy/TensorFlow import-time deprecation chatter
    warnings.simplefilter("ignore")
    import stella  # noqa: E402
    from tensorflow import keras  # noqa: E402

__all__ = ["DEFAULT_MODEL_DIR", "THRESHOLD", "GAP_RULES", "FLOOR_FACTOR", "stella_ignored",
           "detect_flares", "run_directory", "main"]

DEFAULT_MODEL_DIR = Path(os.environ.get("STELLA_MODEL_DIR", "/work/peers/stella-models/run01"))
THRESHOLD = 0.5
TRAINED_CADENCE_MIN = 2.0
GAP_RULES = ("stella", "floored")
FLOOR_FACTOR = 1.5


def stella_ignored(time_d: np.ndarray, window: int = 200, floor_factor: float = 0.0) -> np.ndarray:
    """Cadences that ``stella.ConvNN.predict`` does not really predict on.

    Mirrors the ``identify_gaps`` helper inside stella 0.1.0's ``ConvNN.predict``: the first and
    last ``window / 2`` cadences, and ``window / 2`` cadences on each side of every time step
    ``>= median + 1.5 std`` of all steps. stella feeds an all-zero window to the network there,
    so its output at those cadences carries no information about the light curve.

    Parameters
    ----------
    time_d : numpy.ndarray
        Times of the finite-flux cadences, in the order passed to stella.
    window : int
        The network's input length (200 for the released models).
    floor_factor : float
        0 (default) is stella's rule. With ``--gap-rule floored`` the step threshold becomes
        ``max(median + 1.5 std, floor_factor * median)``, so that on a light curve without real
        gaps (std of the steps ~ 0) float rounding of equal steps is not taken for gaps.

    Returns
    -------
    numpy.ndarray
        Boolean mask, True where stella gives no answer.

    Examples
    --------
    >>> t = np.arange(1000) * 2 / 1440.0
    >>> t[500:] += 1.0
    >>> m = stella_ignored(t)
    >>> int(m.sum()), bool(m[398]), bool(m[399]), bool(m[598]), bool(m[599])
    (400, False, True, True, False)
    >>> int(stella_ignored(t[:450]).sum()) > 200, int(stella_ignored(t[:450], 200, 1.5).sum())
    (True, 200)
    """
    n_samples = time_d.size
    half = window // 2
    ignored = np.zeros(n_samples, dtype=bool)
    ignored[:half] = True
    ignored[max(n_samples - half, 0):] = True
    steps = np.diff(time_d)
    if steps.size:
        median = np.nanmedian(steps)
        threshold = max(median + 1.5 * np.nanstd(steps), floor_factor * median)
        for step in np.flatnonzero(np.abs(steps) >= threshold):
            ignored[max(step - half, 0):min(step + half, n_samples)] = True
    return ignored


def _stella_predictions(time_d, flux, flux_err, models):
    """Per-model probabilities from ``stella.ConvNN.predict`` itself, and the ignored mask."""
    with contextlib.redirect_stdout(io.StringIO()):  # "No stella.DataSet object passed in"
        cnn = stella.ConvNN(output_dir=".")
    per_model = []
    for model in models:
        cnn.predict(modelname=str(model), times=time_d, fluxes=flux, errs=flux_err)
        per_model.append(np.asarray(cnn.predictions[0], dtype=np.float64))
    window = int(cnn.model.input.shape[1])
    return per_model, stella_ignored(time_d, window)


def _window_predictions(time_d, flux, models):
    """The body of ``stella.ConvNN.predict`` (normalise by the median, centred 200-cadence
    windows), run only on the cadences that the floored gap rule keeps."""
    rel_flux = flux / np.nanmedian(flux)
    per_model = []
    ignored = None
    for model_path in models:
        model = keras.models.load_model(str(model_path))
        window = int(model.input.shape[1])
        if ignored is None:
            ignored = stella_ignored(time_d, window, FLOOR_FACTOR)
            centres = np.flatnonzero(~ignored)
            offsets = np.arange(window) - window // 2
        probability = np.full(time_d.size, np.nan)
        if centres.size:
            windows = rel_flux[centres[:, None] + offsets[None, :]][:, :, None]
            probability[centres] = model.predict(windows).ravel()
        per_model.append(probability)
    return per_model, ignored


def detect_flares(time_d: np.ndarray, flux: np.ndarray, flux_err: np.ndarray,
                  models: list[Path], gap_rule: str = "stella") -> tuple[np.ndarray, np.ndarray]:
    """Per-sample stella ensemble score and 0/1 prediction (NaN where stella gives no answer).

    Parameters
    ----------
    time_d, flux, flux_err : numpy.ndarray
        One light curve; NaN flux/time samples are answered with NaN.
    models : list of pathlib.Path
        The ``.h5`` models.
    gap_rule : {'stella', 'floored'}
        ``'stella'``: every model goes through ``stella.ConvNN.predict`` unchanged.
        ``'floored'``: the same normalisation, windows and models, with the gap threshold
        floored at ``FLOOR_FACTOR`` median steps (see :func:`stella_ignored`).

    Returns
    -------
    score, prediction : numpy.ndarray
        Median model probability per input sample, and ``score >= 0.5``.

    Examples
    --------
    >>> models = sorted(DEFAULT_MODEL_DIR.glob("*.h5"))
    >>> score, pred = detect_flares(t, f, e, models)  # doctest: +SKIP
    """
    if gap_rule not in GAP_RULES:
        raise ValueError(f"gap_rule must be one of {GAP_RULES}, got {gap_rule!r}")
    keep = np.flatnonzero(np.isfinite(time_d) & np.isfinite(flux))
    if keep.size == 0:
        raise ValueError("no sample has both a finite time and a finite flux")
    keep = keep[np.argsort(time_d[keep], kind="stable")]
    if gap_rule == "stella":
        per_model, ignored = _stella_predictions(time_d[keep], flux[keep], flux_err[keep],
                                                 models)
    else:
        per_model, ignored = _window_predictions(time_d[keep], flux[keep], models)
    keras.backend.clear_session()
    median = np.nanmedian(np.vstack(per_model), axis=0)
    median[ignored] = np.nan
    score = np.full(time_d.size, np.nan)
    score[keep] = median
    prediction = np.where(np.isnan(score), np.nan, (score >= THRESHOLD).astype(np.float64))
    return score, prediction


def _read_input(path: Path) -> dict:
    """Read only the protocol's input keys (never ``labels``)."""
    with np.load(path, allow_pickle=False) as data:
        missing = [key for key in ("time", "flux") if key not in data.files]
        if missing:
            raise KeyError(f"missing array(s) {missing} in {path.name}")
        time_d = np.asarray(data["time"], dtype=np.float64).ravel()
        flux = np.asarray(data["flux"], dtype=np.float64).ravel()
        if "flux_err" in data.files:
            flux_err = np.asarray(data["flux_err"], dtype=np.float64).ravel()
        else:
            flux_err = np.full(time_d.size, np.nan)
        cadence = float(data["cadence_minutes"]) if "cadence_minutes" in data.files else np.nan
    if not (time_d.size == flux.size == flux_err.size):
        raise ValueError(f"time, flux, flux_err lengths differ: "
                         f"{time_d.size}, {flux.size}, {flux_err.size}")
    return {"time": time_d, "flux": flux, "flux_err": flux_err, "cadence_minutes": cadence}


def _count_samples(path: Path) -> int:
    """Length of ``time`` (sizes the all-NaN answer of a failed file); 0 if unreadable."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return int(np.asarray(data["time"]).size)
    except Exception:
        return 0


def _process_file(path: Path, out_dir: Path, models: list[Path], gap_rule: str) -> str:
    """Run one file and always write its output; return the status string."""
    n_samples = _count_samples(path)
    score = prediction = None
    cadence = np.nan
    start = time.perf_counter()
    try:
        arrays = _read_input(path)
        cadence = arrays["cadence_minutes"]
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            score, prediction = detect_flares(arrays["time"], arrays["flux"],
                                              arrays["flux_err"], models, gap_rule)
        status = "ok"
    except Exception as exc:  # one bad file must not stop the others
        status = f"{type(exc).__name__}: {exc}"
    runtime_s = time.perf_counter() - start
    if score is None:
        score = prediction = np.full(n_samples, np.nan)
    in_domain = bool(abs(cadence - TRAINED_CADENCE_MIN) < 0.5)
    np.savez(
        out_dir / path.name,
        prediction=prediction,
        score=score,
        runtime_s=np.float64(runtime_s),
        status=np.str_(status),
        in_domain=np.bool_(in_domain),
        method=np.str_(f"stella {stella.__version__} {len(models)} models (median), "
                       f"prob >= {THRESHOLD}, gap_rule={gap_rule}"),
    )
    n_flagged = int(np.nansum(prediction))
    print(f"{path.name}: {status}, {n_flagged} flagged samples, {runtime_s:.2f} s, "
          f"in_domain={in_domain}", flush=True)
    return status


def run_directory(in_dir: Path, out_dir: Path, model_dir: Path = DEFAULT_MODEL_DIR,
                  gap_rule: str = "stella") -> dict:
    """Run the stella ensemble on every ``*.npz`` in ``in_dir``; return ``{name: status}``.

    Examples
    --------
    >>> statuses = run_directory(Path("in"), Path("out"))  # doctest: +SKIP
    """
    models = sorted(model_dir.glob("*.h5"))
    if not models:
        raise FileNotFoundError(f"no .h5 models in {model_dir} "
                                "(run benchmarks/peers/setup_peers.sh)")
    files = sorted(in_dir.glob("*.npz"))
    if not files:
        raise FileNotFoundError(f"no .npz files in {in_dir}")
    out_dir.mkdir(parents=True, exist_ok=True)
    return {path.name: _process_file(path, out_dir, models, gap_rule) for path in files}


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns 0 when every file was processed (status recorded).

    Examples
    --------
    >>> main(["INDIR", "OUTDIR"])  # doctest: +SKIP
    0
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("in_dir", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--models", type=Path, default=DEFAULT_MODEL_DIR,
                        help="directory of stella .h5 models (default: %(default)s)")
    parser.add_argument("--gap-rule", choices=GAP_RULES, default="stella",
                        help="'stella' (default): stella.ConvNN.predict unchanged; 'floored': "
                             "same models and windows, gap threshold floored at 1.5 median "
                             "steps")
    args = parser.parse_args(argv)
    statuses = run_directory(args.in_dir, args.out_dir, args.models, args.gap_rule)
    n_bad = sum(status != "ok" for status in statuses.values())
    print(f"{len(statuses) - n_bad}/{len(statuses)} files ok", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
