"""Run AltaiPony's flare finder on a directory of benchmark ``.npz`` light curves.

Peer baseline for the fcn4flare benchmark tables. It must run with the interpreter of the
isolated environment made by ``benchmarks/peers/setup_peers.sh`` (AltaiPony 2.1.2 needs
``numpy < 2.4``, which the project environment does not have)::

    /work/peers/altaipony-venv/bin/python benchmarks/peers/run_altaipony.py INDIR OUTDIR

For every ``INDIR/NAME.npz`` (arrays ``time`` [d], ``flux``, ``flux_err``, scalar
``cadence_minutes``; a ``labels`` array, if present, is never read) it writes ``OUTDIR/NAME.npz``
with ``prediction`` (1.0 inside a flare found by AltaiPony, 0.0 elsewhere, NaN where AltaiPony
gave no answer), ``score`` (equal to ``prediction``: AltaiPony has no per-sample score),
``runtime_s`` and ``status`` (``'ok'`` or the error), plus the flare table mapped to input
indices. What is run, exactly, is documented in ``benchmarks/peers/README.md``.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import logging
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

with warnings.catch_warnings():  # lightkurve warns that its optional PRF module is missing
    warnings.simplefilter("ignore")
    from altaipony.customdetrend import custom_detrending, estimate_detrended_noise
    from altaipony.flarelc import FlareLightCurve

__all__ = ["AltaiPonyResult", "detect_flares", "run_directory", "main"]

DETREND_MODES = ("savgol", "custom")
ALTAIPONY_VERSION = importlib.metadata.version("altaipony")


@dataclass
class AltaiPonyResult:
    """Per-sample answer of AltaiPony for one light curve.

    Attributes
    ----------
    prediction : numpy.ndarray
        1.0 inside a flare, 0.0 where searched and quiet, NaN where AltaiPony gave no answer.
    flare_istart, flare_istop : numpy.ndarray
        First and last (inclusive) input-sample index of every flare in AltaiPony's table.
    noise_source : str
        ``'flux_err'`` (the given uncertainties) or ``'estimate_detrended_noise'``.

    Examples
    --------
    >>> import numpy as np
    >>> r = AltaiPonyResult(np.zeros(3), np.array([], int), np.array([], int), "flux_err")
    >>> r.n_flares
    0
    """

    prediction: np.ndarray
    flare_istart: np.ndarray
    flare_istop: np.ndarray
    noise_source: str

    @property
    def n_flares(self) -> int:
        """Number of flares in AltaiPony's table."""
        return int(self.flare_istart.size)


def _errors_usable(flux_err: np.ndarray) -> bool:
    """True when every uncertainty is finite and positive (AltaiPony's N1/N2 divide by it)."""
    return bool(flux_err.size) and bool(np.all(np.isfinite(flux_err) & (flux_err > 0)))


def detect_flares(
    time_d: np.ndarray, flux: np.ndarray, flux_err: np.ndarray, detrend_mode: str = "savgol"
) -> AltaiPonyResult:
    """Detrend with AltaiPony and run ``FlareLightCurve.find_flares()`` with its defaults.

    Parameters
    ----------
    time_d : numpy.ndarray
        Sample times in days (AltaiPony's gap finder assumes days).
    flux : numpy.ndarray
        Flux, relative or raw; NaN samples are dropped and answered with NaN.
    flux_err : numpy.ndarray
        Flux uncertainties. When any is missing or non-positive where the flux is finite, all are
        replaced after detrending by AltaiPony's ``estimate_detrended_noise`` (defaults).
    detrend_mode : {'savgol', 'custom'}
        ``'savgol'``: ``flc.detrend("savgol")`` (AltaiPony's documented choice for Kepler and
        TESS); ``'custom'``: ``flc.detrend("custom", func=custom_detrending)``.

    Returns
    -------
    AltaiPonyResult

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> t = np.arange(3000) * 2 / 1440
    >>> f = 1 + rng.normal(0, 1e-3, t.size)
    >>> f[1000:1010] += 0.05 * np.exp(-np.arange(10) / 3)
    >>> r = detect_flares(t, f, np.full(t.size, 1e-3))
    >>> r.n_flares, r.flare_istart, r.flare_istop
    (1, array([1000]), array([1009]))
    >>> int(np.nansum(r.prediction)), int(np.isnan(r.prediction).sum())
    (10, 0)
    """
    if detrend_mode not in DETREND_MODES:
        raise ValueError(f"detrend_mode must be one of {DETREND_MODES}, got {detrend_mode!r}")
    keep = np.flatnonzero(np.isfinite(time_d) & np.isfinite(flux))
    if keep.size == 0:
        raise ValueError("no sample has both a finite time and a finite flux")
    keep = keep[np.argsort(time_d[keep], kind="stable")]
    use_given_errors = _errors_usable(flux_err[keep])
    # The detrenders do not weight by flux_err; a placeholder only keeps the custom detrender's
    # "has uncertainties" check happy until estimate_detrended_noise replaces it.
    err_in = flux_err[keep] if use_given_errors else np.ones(keep.size)

    with warnings.catch_warnings():  # pandas/numpy deprecation chatter from AltaiPony
        warnings.simplefilter("ignore")
        flc = FlareLightCurve(time=time_d[keep], flux=flux[keep], flux_err=err_in)
        flc["cadenceno"] = keep  # carries the input index through AltaiPony's row removals
        if detrend_mode == "savgol":
            flcd = flc.detrend("savgol")
        else:
            flcd = flc.detrend("custom", func=custom_detrending)
        if not use_given_errors:
            flcd = estimate_detrended_noise(flcd)
        flcd = flcd.find_flares()
    return _to_samples(flcd, time_d.size, "flux_err" if use_given_errors else
                       "estimate_detrended_noise")


def _to_samples(flcd, n_samples: int, noise_source: str) -> AltaiPonyResult:
    """Map AltaiPony's flare table (row indices, ``istop`` inclusive) to input samples."""
    cadence = np.asarray(flcd.cadenceno.value if hasattr(flcd.cadenceno, "value")
                         else flcd.cadenceno, dtype=np.int64)
    prediction = np.full(n_samples, np.nan)
    for left, right in flcd.gaps:  # only these row ranges were searched
        prediction[cadence[left:right]] = 0.0
    table = flcd.flares
    istart = np.asarray(table["istart"], dtype=np.int64)
    istop = np.asarray(table["istop"], dtype=np.int64)
    for first, last in zip(istart, istop, strict=True):
        prediction[cadence[first:last + 1]] = 1.0
    return AltaiPonyResult(prediction, cadence[istart], cadence[istop], noise_source)


def _read_input(path: Path) -> dict[str, np.ndarray | float]:
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


def _process_file(path: Path, out_dir: Path, detrend_mode: str) -> str:
    """Run one file and always write its output; return the status string."""
    n_samples = _count_samples(path)
    result = None
    start = time.perf_counter()
    try:
        arrays = _read_input(path)
        start = time.perf_counter()
        result = detect_flares(arrays["time"], arrays["flux"], arrays["flux_err"], detrend_mode)
        status = "ok"
    except Exception as exc:  # one bad file must not stop the others
        status = f"{type(exc).__name__}: {exc}"
    runtime_s = time.perf_counter() - start
    if result is None:
        result = AltaiPonyResult(np.full(n_samples, np.nan), np.array([], np.int64),
                                 np.array([], np.int64), "")
    np.savez(
        out_dir / path.name,
        prediction=result.prediction,
        score=result.prediction.copy(),
        runtime_s=np.float64(runtime_s),
        status=np.str_(status),
        n_flares=np.int64(result.n_flares),
        flare_istart=result.flare_istart,
        flare_istop=result.flare_istop,
        noise_source=np.str_(result.noise_source),
        method=np.str_(f"altaipony {ALTAIPONY_VERSION} detrend={detrend_mode} "
                       "find_flares(N1=3,N2=2,N3=3,minsep=3)"),
    )
    print(f"{path.name}: {status}, {result.n_flares} flare(s), {runtime_s:.2f} s, "
          f"noise={result.noise_source or '-'}", flush=True)
    return status


def run_directory(in_dir: Path, out_dir: Path, detrend_mode: str = "savgol") -> dict[str, str]:
    """Run AltaiPony on every ``*.npz`` in ``in_dir``; return ``{file name: status}``.

    Examples
    --------
    >>> statuses = run_directory(Path("in"), Path("out"))  # doctest: +SKIP
    """
    files = sorted(in_dir.glob("*.npz"))
    if not files:
        raise FileNotFoundError(f"no .npz files in {in_dir}")
    out_dir.mkdir(parents=True, exist_ok=True)
    logging.getLogger("altaipony").setLevel(logging.WARNING)  # per-segment INFO lines
    return {path.name: _process_file(path, out_dir, detrend_mode) for path in files}


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
    parser.add_argument("--detrend", choices=DETREND_MODES, default="savgol",
                        help="AltaiPony detrender (default: savgol, AltaiPony's documented "
                             "choice for Kepler and TESS light curves)")
    args = parser.parse_args(argv)
    statuses = run_directory(args.in_dir, args.out_dir, args.detrend)
    n_bad = sum(status != "ok" for status in statuses.values())
    print(f"{len(statuses) - n_bad}/{len(statuses)} files ok", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
