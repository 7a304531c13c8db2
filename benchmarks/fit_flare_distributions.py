"""Fit the flare-parameter distributions used by ``fcn4flare.simulate``.

Reproduces every number hard-coded in ``fcn4flare/simulate/distributions.py`` (and the labelling
calibration quoted in ``fcn4flare/simulate/labels.py`` and ``docs/simulate.rst``) from the
published catalogues in ``../shared/data/catalogs`` (relative to the repository root):

* ``gj1243_master_flares.tbl`` (Davenport et al. 2014; Kepler short cadence, one M dwarf):
  for every classical flare (one template component) the intrinsic FWHM and amplitude of a
  Tovar Mendoza (2022) flare are solved so that the exposure-integrated model reproduces the
  catalogue's observed peak flux and its equivalent duration over the human-marked window.
  Then: log-normal fit of the FWHM, power-law (Clauset et al. 2009 MLE) fit of the amplitude,
  and the comparison of the human start/stop samples with the labelling rule.
* ``gunther2020_tess_flares.txt`` (Guenther et al. 2020; TESS 2-min): log-normal fit of the
  FWHM (their Davenport ``t_1/2`` times 0.913, the template's true FWHM) and power-law fit of
  the amplitude.
* ``fcn4flare_kepler_flare_param.txt`` + ``fcn4flare_kepler_flare_star_param.txt`` (Jia et al.
  2024; Kepler long cadence): energies -> equivalent durations with the stellar radius and
  Teff (10,000 K blackbody flare, Kepler band as a 420-900 nm top hat, as in Shibayama et al.
  2013 / Chang et al. 2017), then for a random subsample the FWHM for which a flare of that
  equivalent duration, observed with 29.4-min exposures and labelled by our rule, has the
  catalogue's duration; log-normal fits of the FWHM and equivalent duration, power law of the
  implied amplitude.

Run from the repository root::

    python benchmarks/fit_flare_distributions.py

It takes about a minute on one core and prints the fitted numbers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import optimize

from fcn4flare.simulate.labels import flare_label_region
from fcn4flare.simulate.templates import _component_flux, _geometry

CATALOGS = Path(__file__).resolve().parents[2] / "shared" / "data" / "catalogs"
KEPLER_SC_DAYS = 58.84876 / 86400
KEPLER_LC_DAYS = 1765.4623 / 86400
KEPLER_EXPOSURE_FRACTION = 0.9206  # 270 x 6.02 s integrations per 1765.5 s long cadence
PHASES = (np.arange(10) + 0.5) / 10 - 0.5  # peak time within the cadence, uniform

# Photometric noise assumed for the labelling calibration on GJ 1243 (not in the catalogue):
# Kepler short cadence is nearly Poisson-limited at 200 ppm/min for Kp = 11 (Gilliland et al.
# 2010); GJ 1243 (Kp ~ 12.4-12.7) gives 3-4.4e-4 per 1-min sample.
GJ1243_SIGMA = 3.5e-4
# Typical Kepler long-cadence noise of the FCN4Flare stars (Kp ~ 14).
KEPLER_LC_SIGMA = 1.5e-4
# Fraction of the integrated peak above which a threshold detector's event lasts.
CORE_FRACTION = 0.25


def lognormal_fit(values: np.ndarray) -> tuple[float, float]:
    """Median and dex width (standard deviation of log10) of positive values."""
    logs = np.log10(values[values > 0])
    return float(10 ** np.median(logs)), float(np.std(logs))


def powerlaw_fit(values: np.ndarray) -> tuple[float, float, int]:
    """Differential power-law index and lower cut by the Clauset et al. (2009) KS method."""
    x = np.sort(values[values > 0])
    best = (np.inf, np.nan, np.nan, 0)
    for xmin in np.quantile(x, np.linspace(0.0, 0.8, 81)):
        tail = x[x >= xmin]
        alpha = 1.0 + tail.size / np.sum(np.log(tail / xmin))
        model_cdf = 1.0 - (tail / xmin) ** (1.0 - alpha)
        empirical = np.arange(tail.size) / tail.size
        ks = np.max(np.abs(empirical - model_cdf))
        if ks < best[0]:
            best = (ks, alpha, xmin, tail.size)
    return float(best[1]), float(best[2]), int(best[3])


def observed_peak_and_ed(fwhm: float, lo: int, hi: int, cadence: float, exposure: float):
    """Phase-averaged peak sample and windowed ED (s) of a unit-amplitude integrated flare."""
    n = np.arange(lo, hi + 1) * cadence
    peaks, eds = [], []
    for phase in PHASES:
        f = _component_flux(n, phase * cadence, fwhm, 1.0, exposure, "mendoza2022")
        peaks.append(f.max())
        eds.append(f.sum() * cadence * 86400)
    return float(np.mean(peaks)), float(np.mean(eds))


def gj1243() -> dict:
    cat = np.loadtxt(CATALOGS / "gj1243_master_flares.tbl")
    t_start, t_stop, t_peak = cat[:, 2], cat[:, 3], cat[:, 4]
    peak_flux, ed, n_components = cat[:, 7], cat[:, 8], cat[:, 14]
    use = np.isfinite(peak_flux) & (peak_flux > 0) & (ed > 0) & (n_components == 1)
    exposure = KEPLER_EXPOSURE_FRACTION * KEPLER_SC_DAYS
    rows = []
    for i in np.flatnonzero(use):
        lo = int(round((t_start[i] - t_peak[i]) / KEPLER_SC_DAYS))
        hi = int(round((t_stop[i] - t_peak[i]) / KEPLER_SC_DAYS))
        target = ed[i] / peak_flux[i]

        def mismatch(log_fwhm: float, lo=lo, hi=hi, target=target) -> float:
            p, e = observed_peak_and_ed(10**log_fwhm, lo, hi, KEPLER_SC_DAYS, exposure)
            return e / p - target

        try:
            log_fwhm = optimize.brentq(mismatch, np.log10(0.02 / 1440), np.log10(600 / 1440),
                                       xtol=1e-4)
        except ValueError:  # ED/peak smaller than any resolved template allows
            continue
        fwhm = 10**log_fwhm
        p, _ = observed_peak_and_ed(fwhm, lo, hi, KEPLER_SC_DAYS, exposure)
        rows.append((fwhm, peak_flux[i] / p, lo, hi))
    rows = np.array(rows)
    fwhm_min = rows[:, 0] * 1440
    amp = rows[:, 1]
    out = {
        "n_classical": int(use.sum()),
        "n_solved": len(rows),
        "fwhm_lognormal_min": lognormal_fit(fwhm_min),
        "fwhm_percentiles_min": np.percentile(fwhm_min, [5, 50, 95]),
        "amplitude_lognormal": lognormal_fit(amp),
        "amplitude_powerlaw": powerlaw_fit(amp),
        "observed_peak_percentiles": np.percentile(peak_flux[use], [5, 50, 95]),
    }
    out["labels"] = label_calibration(rows, exposure)
    return out


def fraction_of_peak_rule(flux: np.ndarray, sigma: float):
    """The simpler alternative: floor = max(0.5 sigma, 0.01 peak), one sample of padding."""
    above = np.flatnonzero(flux > max(0.5 * sigma, 0.01 * flux.max()))
    return (max(int(above[0]) - 1, 0), int(above[-1])) if above.size else None


def label_calibration(rows: np.ndarray, exposure: float) -> dict:
    """Compare human start/stop samples with the first/last labelled sample of two rules."""
    n = np.arange(-60, 400)
    rules = {
        "adopted": lambda f: flare_label_region(f, GJ1243_SIGMA, visibility_snr=0.0),
        "max(0.5 sigma, 0.01 peak)": lambda f: fraction_of_peak_rule(f, GJ1243_SIGMA),
    }
    offsets = {name: ([], []) for name in rules}
    snr = []
    for fwhm, amp, lo, hi in rows:
        flux = _component_flux(n * KEPLER_SC_DAYS, 0.0, fwhm, amp, exposure, "mendoza2022")
        snr.append(np.sqrt(np.sum(flux**2)) / GJ1243_SIGMA)
        for name, rule in rules.items():
            region = rule(flux)
            if region is not None:
                offsets[name][0].append(n[region[0]] - lo)
                offsets[name][1].append(n[region[1]] - hi)
    out = {"snr_percentiles_1_5_50": np.percentile(snr, [1, 5, 50])}
    for name, (d_start, d_stop) in offsets.items():
        d_start, d_stop = np.array(d_start), np.array(d_stop)
        out[name] = (
            f"start offset median {np.median(d_start):+.0f} "
            f"(within 1 sample: {np.mean(np.abs(d_start) <= 1):.2f}); "
            f"stop offset quartiles {np.percentile(d_stop, [25, 50, 75])}, "
            f"mean {np.mean(d_stop):+.2f}, within 2 samples: {np.mean(np.abs(d_stop) <= 2):.2f}"
        )
    return out


def gunther2020() -> dict:
    lines = (CATALOGS / "gunther2020_tess_flares.txt").read_text().splitlines()
    last_rule = max(i for i, line in enumerate(lines) if line.startswith("-----"))
    data = [line for line in lines[last_rule + 1 :] if line.strip()]
    amp = np.array([float(line[50:58]) for line in data])
    t_half = np.array([float(line[75:82]) for line in data])
    fwhm_min = t_half * _geometry("davenport2014").width * 1440
    return {
        "n": len(data),
        "fwhm_lognormal_min": lognormal_fit(fwhm_min),
        "fwhm_percentiles_min": np.percentile(fwhm_min, [5, 50, 95]),
        "amplitude_lognormal": lognormal_fit(amp),
        "amplitude_powerlaw": powerlaw_fit(amp),
        "amplitude_percentiles": np.percentile(amp, [5, 50, 95]),
    }


def _read_fixed(path: Path, columns: dict) -> dict:
    rows = [
        line for line in path.read_text().splitlines()
        if line[:9].strip().isdigit()
    ]
    out = {}
    for name, (a, b) in columns.items():
        vals = []
        for line in rows:
            field = line[a:b].strip()
            vals.append(float(field) if field else np.nan)
        out[name] = np.array(vals)
    return out


def _band_integral(temperature: float, lo_nm: float = 420.0, hi_nm: float = 900.0) -> float:
    """Integral of the Planck function over a top-hat Kepler band (arbitrary units)."""
    lam = np.linspace(lo_nm, hi_nm, 481) * 1e-9
    planck = 1.0 / lam**5 / np.expm1(0.014387769 / (lam * temperature))
    return float(np.trapezoid(planck, lam))


def kepler_long_cadence(rng: np.random.Generator, n_sub: int = 600) -> dict:
    flares = _read_fixed(
        CATALOGS / "fcn4flare_kepler_flare_param.txt",
        {"kic": (0, 9), "duration": (33, 39), "log_energy": (40, 46)},
    )
    stars = _read_fixed(
        CATALOGS / "fcn4flare_kepler_flare_star_param.txt",
        {"kic": (0, 9), "teff": (13, 18), "radius": (32, 39)},
    )
    star_of = {int(k): i for i, k in enumerate(stars["kic"])}
    idx = np.array([star_of.get(int(k), -1) for k in flares["kic"]])
    teff = np.where(idx >= 0, stars["teff"][idx], np.nan)
    radius = np.where(idx >= 0, stars["radius"][idx], np.nan)
    ok = np.isfinite(teff) & np.isfinite(radius) & np.isfinite(flares["log_energy"])
    flare_temperature = 1.0e4
    sigma_sb, r_sun = 5.670374e-5, 6.957e10  # cgs
    band_ratio = np.array([_band_integral(t) for t in teff[ok]]) / _band_integral(
        flare_temperature
    )
    flare_luminosity_per_ed = (
        sigma_sb * flare_temperature**4 * np.pi * (radius[ok] * r_sun) ** 2 * band_ratio
    )
    ed = 10 ** flares["log_energy"][ok] / flare_luminosity_per_ed  # seconds
    dur_cad = np.rint(flares["duration"][ok] / KEPLER_LC_DAYS).astype(int)

    exposure = KEPLER_EXPOSURE_FRACTION * KEPLER_LC_DAYS
    norm = _geometry("mendoza2022")
    ed_per_amp_fwhm = norm.integral / norm.peak / norm.width * 86400  # s per (amp * day)
    n = np.arange(-30, 300)
    grid = np.linspace(np.log10(1 / 1440), np.log10(1.0), 31)

    def length(log_fwhm: float, amp: float, rule) -> float:
        lengths = []
        for phase in PHASES[::2]:
            flux = _component_flux(n * KEPLER_LC_DAYS, phase * KEPLER_LC_DAYS, 10**log_fwhm,
                                   amp, exposure, "mendoza2022")
            region = rule(flux)
            lengths.append(0 if region is None else region[1] - region[0])
        return float(np.mean(lengths))

    def invert(lengths: np.ndarray, target: float) -> float:
        """First grid FWHM (log10 days) whose labelled length reaches ``target`` cadences."""
        reach = np.flatnonzero(lengths >= target)
        if reach.size == 0:
            return float("nan")
        j = reach[0]
        if j == 0:
            return float(grid[0])
        f0, f1 = lengths[j - 1], lengths[j]
        frac = (target - f0) / (f1 - f0) if f1 > f0 else 1.0
        return float(grid[j - 1] + frac * (grid[j] - grid[j - 1]))

    def summary(log_fwhm: np.ndarray, ed_s: np.ndarray) -> dict:
        ok = np.isfinite(log_fwhm)
        fwhm_min = 10 ** log_fwhm[ok] * 1440
        amp = ed_s[ok] / (10 ** log_fwhm[ok] * ed_per_amp_fwhm)
        return {
            "n": int(ok.sum()),
            "fwhm_lognormal_min": lognormal_fit(fwhm_min),
            "fwhm_percentiles_min": np.percentile(fwhm_min, [5, 50, 95]),
            "amplitude_lognormal": lognormal_fit(amp),
            "amplitude_powerlaw": powerlaw_fit(amp),
        }

    # (a) the catalogue duration is our human-style label (needs the amplitude, hence the ED,
    # and an assumed noise level): solved on a random subsample.
    def human(flux):
        return flare_label_region(flux, KEPLER_LC_SIGMA, visibility_snr=0.0)

    pick = rng.choice(ed.size, size=min(n_sub, ed.size), replace=False)
    log_a = []
    for i in pick:
        lengths = np.array(
            [length(g, ed[i] / (10**g * ed_per_amp_fwhm), human) for g in grid]
        )
        log_a.append(invert(lengths, dur_cad[i]))

    # (b) the catalogue duration covers the bright core only: samples above a quarter of the
    # integrated peak (independent of amplitude, so one table serves every flare).
    def core(flux):
        above = np.flatnonzero(flux > CORE_FRACTION * flux.max())
        return (int(above[0]), int(above[-1])) if above.size else None

    core_lengths = np.array([length(g, 1.0, core) for g in grid])
    log_b = np.array([invert(core_lengths, d) for d in dur_cad])
    return {
        "n_with_energy": int(ok.sum()),
        "ed_lognormal_s": lognormal_fit(ed),
        "duration_percentiles_min": np.percentile(flares["duration"] * 1440, [5, 50, 95]),
        "duration_as_human_label": summary(np.array(log_a), ed[pick]),
        "duration_as_core": summary(log_b, ed),
    }


def main() -> None:
    if not CATALOGS.is_dir():
        raise SystemExit(f"catalogues not found at {CATALOGS}")
    np.set_printoptions(precision=4, suppress=False)
    print("== GJ 1243, Kepler short cadence (Davenport et al. 2014) ==")
    for key, value in gj1243().items():
        if isinstance(value, dict):
            print(f"  {key} (offsets in samples, ours minus human):")
            for sub, val in value.items():
                print(f"    {sub}: {val}")
        else:
            print(f"  {key}: {value}")
    print("== TESS 2-min (Guenther et al. 2020) ==")
    for key, value in gunther2020().items():
        print(f"  {key}: {value}")
    print("== Kepler long cadence (FCN4Flare catalogue, Jia et al. 2024) ==")
    lc = kepler_long_cadence(np.random.default_rng(2024))
    for key, value in lc.items():
        if isinstance(value, dict):
            print(f"  {key}:")
            for sub, val in value.items():
                print(f"    {sub}: {val}")
        else:
            print(f"  {key}: {value}")


if __name__ == "__main__":
    main()
