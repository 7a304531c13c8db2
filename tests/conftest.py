"""Shared fixtures: tiny models saved to disk, synthetic Kepler/TESS FITS files, real data.

Two tiny models (``hidden_dim=8``, ``depth=2``) are used:

- ``random_model``: seeded random weights, for shapes, NaN handling and round trips;
- ``threshold_model``: hand-set weights whose probability exceeds 0.5 exactly where
  ``flux / median - 1 > THRESHOLD_MODEL_LEVEL`` (each sample on its own), so that detection
  results are known in advance.

The FITS files imitate the archive's Kepler and TESS light-curve files closely enough for
``lightkurve.read``; they hold flares of known position, rows with NaN times (which
lightkurve drops), NaN flux and quality-flagged rows.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

# Every test is offline: transformers and huggingface_hub must never reach the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from astropy.io import fits  # noqa: E402

from fcn4flare.network import FCN4FlareConfig, FCN4FlareModel  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

#: Relative flux above which `threshold_model` gives a probability above 0.5.
THRESHOLD_MODEL_LEVEL = 0.01145

#: Relative flux of the injected flares, sample by sample from the peak; the first five
#: samples are above THRESHOLD_MODEL_LEVEL, the sixth is not.
FLARE_PROFILE = np.array([0.2, 0.1, 0.05, 0.03, 0.02, 0.005])
FLARE_FLAGGED = 5

KEPLER_CADENCE_DAYS = 29.4244 / 1440
TESS_CADENCE_DAYS = 2.0 / 1440


def tiny_config(**kwargs) -> FCN4FlareConfig:
    """The configuration of the test models."""
    return FCN4FlareConfig(hidden_dim=8, depth=2, dilation=[1, 2], **kwargs)


def make_random_model(seed: int = 0) -> FCN4FlareModel:
    torch.manual_seed(seed)
    return FCN4FlareModel(tiny_config()).eval()


def make_threshold_model(gain: float = 100.0) -> FCN4FlareModel:
    """A model with logit ``GELU(gain * (x - 1)) - 1`` for scaled flux ``x``, per sample.

    The backbone's convolutions are zero, so its residual blocks pass their input through;
    the mapping puts ``gain * (x - 1)`` in channel 0, the head's convolution applies GELU to
    that channel alone and the projector subtracts 1.
    """
    model = FCN4FlareModel(tiny_config())
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.zero_()
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm1d):
                module.weight.fill_(1.0)
        model.encoder.mapping.weight[0, 0, 0] = gain
        model.encoder.mapping.bias[0] = -gain
        model.seghead.conv.conv.weight[0, 0, 1] = 1.0
        model.seghead.projector.weight[0, 0, 0] = 1.0
        model.seghead.projector.bias[0] = -1.0
    return model.eval()


@pytest.fixture(scope="session")
def random_model() -> FCN4FlareModel:
    return make_random_model()


@pytest.fixture(scope="session")
def random_model_dir(tmp_path_factory) -> Path:
    return make_random_model().save_pretrained(tmp_path_factory.mktemp("random_model"))


@pytest.fixture(scope="session")
def threshold_model() -> FCN4FlareModel:
    return make_threshold_model()


@pytest.fixture(scope="session")
def threshold_model_dir(tmp_path_factory) -> Path:
    return make_threshold_model().save_pretrained(tmp_path_factory.mktemp("threshold_model"))


# --------------------------------------------------------------------------- light curves


def flare_flux(n: int, flare_rows, *, level: float = 1e4, noise: float = 1e-3, seed: int = 0):
    """Flat flux with white noise and `FLARE_PROFILE` flares starting at ``flare_rows``."""
    rng = np.random.default_rng(seed)
    relative = noise * rng.standard_normal(n)
    for row in flare_rows:
        relative[row : row + len(FLARE_PROFILE)] += FLARE_PROFILE
    return level * (1.0 + relative)


@dataclasses.dataclass(frozen=True)
class SyntheticFile:
    """A FITS light curve written by the tests, with what it holds."""

    path: Path
    mission: str
    flare_rows: tuple[int, ...]  # FITS rows where flares start (and peak)
    nan_time_rows: tuple[int, ...]
    nan_flux_rows: tuple[int, ...]
    flagged_rows: tuple[int, ...]  # quality flags in lightkurve's default bitmask
    time: np.ndarray  # the TIME column, NaN included
    cadenceno: np.ndarray

    def flare_cadences(self) -> np.ndarray:
        return self.cadenceno[list(self.flare_rows)]


def _light_curve_columns(time, cadenceno, flux, quality, quality_name):
    flux_err = np.full_like(flux, 10.0)
    return [
        fits.Column(name="TIME", format="D", unit="d", array=time),
        fits.Column(name="TIMECORR", format="E", unit="d", array=np.zeros_like(time)),
        fits.Column(name="CADENCENO", format="J", array=cadenceno),
        fits.Column(name="SAP_FLUX", format="E", unit="e-/s", array=flux),
        fits.Column(name="SAP_FLUX_ERR", format="E", unit="e-/s", array=flux_err),
        fits.Column(name="PDCSAP_FLUX", format="E", unit="e-/s", array=flux),
        fits.Column(name="PDCSAP_FLUX_ERR", format="E", unit="e-/s", array=flux_err),
        fits.Column(name=quality_name, format="J", array=quality),
    ]


def write_light_curve_fits(
    path: Path,
    mission: str,
    *,
    n: int,
    flare_rows,
    nan_time_rows=(),
    nan_flux_rows=(),
    flagged_rows=(),
    seed: int = 0,
) -> SyntheticFile:
    """Write a Kepler- or TESS-like light-curve FITS file readable by ``lightkurve.read``."""
    kepler = mission == "Kepler"
    cadence = KEPLER_CADENCE_DAYS if kepler else TESS_CADENCE_DAYS
    start = 352.4 if kepler else 1325.3
    cadenceno = np.arange(n, dtype=np.int32) + (1000 if kepler else 70000)
    time = start + np.arange(n) * cadence
    time[list(nan_time_rows)] = np.nan
    flux = flare_flux(n, flare_rows, seed=seed).astype(np.float32)
    flux[list(nan_flux_rows) + list(nan_time_rows)] = np.nan  # archive files: no time, no flux
    quality = np.zeros(n, dtype=np.int32)
    quality[list(flagged_rows)] = 1  # "Attitude tweak": in the default bitmask of both

    primary = fits.PrimaryHDU()
    header = primary.header
    header["ORIGIN"] = "NASA/Ames"
    header["TELESCOP"] = mission
    if kepler:
        header["CREATOR"] = "FluxExporter2PipelineModule"
        header["OBJECT"] = "KIC 1234567"
        header["KEPLERID"] = 1234567
        header["QUARTER"] = 5
    else:
        header["CREATOR"] = "LightCurveExporterPipelineModule"
        header["OBJECT"] = "TIC 7654321"
        header["TICID"] = 7654321
        header["SECTOR"] = 1
    columns = _light_curve_columns(
        time, cadenceno, flux, quality, "SAP_QUALITY" if kepler else "QUALITY"
    )
    table = fits.BinTableHDU.from_columns(columns)
    table.header["EXTNAME"] = "LIGHTCURVE"
    table.header["BJDREFI"] = 2454833 if kepler else 2457000
    table.header["BJDREFF"] = 0.0
    table.header["TIMESYS"] = "TDB"
    table.header["TIMEUNIT"] = "d"
    fits.HDUList([primary, table]).writeto(path, overwrite=True)
    return SyntheticFile(
        path=Path(path),
        mission=mission,
        flare_rows=tuple(flare_rows),
        nan_time_rows=tuple(nan_time_rows),
        nan_flux_rows=tuple(nan_flux_rows),
        flagged_rows=tuple(flagged_rows),
        time=time,
        cadenceno=cadenceno,
    )


@pytest.fixture(scope="session")
def kepler_file(tmp_path_factory) -> SyntheticFile:
    """600 long-cadence rows; flares at rows 100, 250, 450."""
    return write_light_curve_fits(
        tmp_path_factory.mktemp("kepler") / "kplr001234567-2010009091648_llc.fits",
        "Kepler",
        n=600,
        flare_rows=(100, 250, 450),
        nan_time_rows=(50, 51, 52),
        nan_flux_rows=(300, 301, 302, 303),
        flagged_rows=(400,),
    )


@pytest.fixture(scope="session")
def tess_file(tmp_path_factory) -> SyntheticFile:
    """900 two-minute rows; flares at rows 200, 500, 700."""
    return write_light_curve_fits(
        tmp_path_factory.mktemp("tess") / "tess2018206045859-s0001-0000000007654321-0120-s_lc.fits",
        "TESS",
        n=900,
        flare_rows=(200, 500, 700),
        nan_time_rows=(10, 11),
        nan_flux_rows=(600, 601),
        flagged_rows=(650,),
        seed=1,
    )


@pytest.fixture()
def kepler_lc(kepler_file):
    """A fresh ``KeplerLightCurve`` read from `kepler_file` (default quality bitmask)."""
    import lightkurve as lk

    return lk.read(kepler_file.path)


@pytest.fixture()
def tess_lc(tess_file):
    import lightkurve as lk

    return lk.read(tess_file.path)


@pytest.fixture(scope="session")
def shared_lightcurves() -> Path:
    """The real mission light curves of ../shared/data/lightcurves; skips when absent."""
    folder = SHARED_DATA / "lightcurves"
    if not folder.is_dir() or not any(folder.glob("*.fits")):
        pytest.skip(f"real light curves not available at {folder}")
    return folder
