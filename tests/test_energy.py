"""Flare energies (`fcn4flare.catalog.energy`): response functions, band luminosities of
blackbody stars and the ED x L energies with their uncertainties."""

from __future__ import annotations

import astropy.constants as const
import astropy.units as u
import numpy as np
import pytest
from astropy.modeling.physical_models import BlackBody

from fcn4flare.catalog import (
    DEFAULT_FLARE_TEMPERATURE,
    band_luminosity,
    flare_energies,
    flare_energy,
    mission_of,
    response_function,
)
from fcn4flare.exceptions import InputError

B_LAMBDA = u.erg / (u.s * u.cm**2 * u.nm * u.sr)


def _independent_band_luminosity(teff: float, radius_rsun: float, mission: str) -> float:
    """4 pi R^2 * pi * ∫ B_λ S dλ computed another way (erg/s): astropy's BlackBody times
    the linearly interpolated response, by 6-point Gauss-Legendre quadrature on each
    interval of the response grid (where the integrand is smooth)."""
    wavelength, response = response_function(mission)
    grid = wavelength.to_value(u.nm)
    nodes, weights = np.polynomial.legendre.leggauss(6)
    a, b = grid[:-1, None], grid[1:, None]
    lam = 0.5 * (b - a) * nodes + 0.5 * (a + b)
    blackbody = BlackBody(temperature=teff * u.K, scale=1.0 * B_LAMBDA)
    integrand = blackbody(lam * u.nm).to_value(B_LAMBDA) * np.interp(lam, grid, response)
    integral = np.sum(0.5 * (b - a) * weights * integrand)  # erg/s/cm^2/sr
    radius_cm = radius_rsun * const.R_sun.cgs.value
    return 4 * np.pi * radius_cm**2 * np.pi * integral


# -- response functions ------------------------------------------------------------------------

@pytest.mark.parametrize("mission, low, high, peak", [
    ("kepler", (410, 430), (880, 910), 589.0),
    ("tess", (570, 590), (1040, 1062), 722.0),
])
def test_response_function_is_normalised_and_in_band(mission, low, high, peak):
    wavelength, response = response_function(mission)
    assert wavelength.unit == u.nm
    assert wavelength.shape == response.shape and response.size > 200
    assert np.all(np.isfinite(wavelength)) and np.all(np.isfinite(response))
    assert np.all(np.diff(wavelength.value) > 0)
    assert np.all(response >= 0)
    assert response.max() == 1.0
    assert wavelength[response.argmax()].value == peak
    # band edges where the response exceeds 10 % of the peak
    inside = wavelength[response > 0.1].to_value(u.nm)
    assert low[0] <= inside.min() <= low[1]
    assert high[0] <= inside.max() <= high[1]


def test_response_function_missions_and_copies():
    kepler_w, kepler_r = response_function("Kepler")
    k2_w, k2_r = response_function("K2")
    np.testing.assert_array_equal(kepler_w, k2_w)
    np.testing.assert_array_equal(kepler_r, k2_r)
    kepler_r[:] = 0  # the caller gets a copy; the cached curve is untouched
    assert response_function("kepler")[1].max() == 1.0
    assert response_function({"TELESCOP": "TESS"})[0].min() == 532 * u.nm


def test_mission_of_light_curve():
    import lightkurve as lk

    lc = lk.LightCurve(time=np.arange(3.0), flux=np.ones(3), meta={"MISSION": "K2",
                                                                   "TELESCOP": "Kepler"})
    assert mission_of(lc) == "k2"
    assert mission_of({"telescop": " TESS "}) == "tess"
    assert (band_luminosity(5772, 1, lc) == band_luminosity(5772, 1, "kepler"))
    with pytest.raises(InputError, match="no MISSION or TELESCOP"):
        mission_of({"OBJECT": "x"})
    with pytest.raises(InputError, match="unknown mission 'Gaia'.*'kepler', 'k2', 'tess'"):
        mission_of({"MISSION": "Gaia"})
    with pytest.raises(InputError, match="cannot read a mission"):
        mission_of(42)


# -- band luminosities -------------------------------------------------------------------------

def test_sun_in_kepler_band_matches_independent_integral():
    sun = band_luminosity(5772 * u.K, 1 * u.R_sun, "kepler")
    assert sun.unit == u.erg / u.s and sun.isscalar
    expected = _independent_band_luminosity(5772.0, 1.0, "kepler")
    assert sun.value == pytest.approx(expected, rel=1e-4)
    # 4 pi R^2 sigma T^4 for the nominal Sun is L_sun; the peak-normalised Kepler band
    # takes 39.1 % of it
    bolometric = 4 * np.pi * const.R_sun**2 * const.sigma_sb * (5772 * u.K) ** 4
    assert (bolometric / const.L_sun).to_value(u.one) == pytest.approx(1.0, rel=1e-3)
    fraction = (sun / const.L_sun).to_value(u.one)
    assert fraction == pytest.approx(0.391, abs=0.001)
    assert 0.3 < fraction < 0.5


def test_m_dwarf_in_tess_band_matches_independent_integral():
    dwarf = band_luminosity(3000, 0.3, "tess")  # plain numbers: K and R_sun
    assert dwarf.value == pytest.approx(_independent_band_luminosity(3000.0, 0.3, "tess"),
                                        rel=1e-4)
    assert dwarf.to_value(u.erg / u.s) == pytest.approx(5.590e30, rel=1e-3)


def test_tess_band_favours_cool_stars():
    def tess_over_kepler(teff):
        return (band_luminosity(teff, 1, "tess") / band_luminosity(teff, 1, "kepler")).value

    sun, dwarf = tess_over_kepler(5772), tess_over_kepler(3000)
    assert sun == pytest.approx(0.870, abs=0.002)
    assert dwarf == pytest.approx(1.569, abs=0.003)
    assert dwarf > 1.5 * sun


def test_band_luminosity_broadcasts_scales_and_converts_units():
    values = band_luminosity([3000, 4000, 5772] * u.K, 1 * u.R_sun, "tess")
    assert values.shape == (3,) and np.all(np.diff(values.value) > 0)
    np.testing.assert_allclose(band_luminosity(5772, 2, "tess"),
                               4 * band_luminosity(5772, 1, "tess"), rtol=1e-12)
    np.testing.assert_allclose(band_luminosity(5772 * u.K, const.R_sun.to(u.km), "tess"),
                               band_luminosity(5772, 1, "tess"), rtol=1e-12)
    grid = band_luminosity([[3000], [6000]], [0.5, 1.0, np.nan], "kepler")
    assert grid.shape == (2, 3) and np.isnan(grid[:, 2]).all()
    assert band_luminosity(10 * u.K, 1, "kepler").value == 0.0  # Planck underflow, no NaN


# -- flare energies ----------------------------------------------------------------------------

def test_energy_is_ed_times_luminosity():
    energy, error = flare_energies(100 * u.s, luminosity=1e30 * u.erg / u.s)
    assert energy.unit == u.erg and energy.isscalar
    assert energy.value == pytest.approx(1e32)
    assert error.value == 0.0
    energies, _ = flare_energies([1.0, 100.0] * u.min, luminosity=1e30)
    np.testing.assert_allclose(energies.value, [6e31, 6e33])
    np.testing.assert_allclose(energies, flare_energy([1.0, 100.0] * u.min, 1e30))
    star, _ = flare_energies(100, teff=3000, radius=0.3, mission="tess")
    assert star.value == pytest.approx(100 * band_luminosity(3000, 0.3, "tess").value)


def test_error_from_luminosity_error_is_quadrature_sum():
    _, error = flare_energies([100.0, 200.0], luminosity=[1e30, 2e30],
                              equivalent_duration_err=10.0, luminosity_err=[1e29, 0.0])
    np.testing.assert_allclose(error.value, [np.hypot(1e31, 1e31), 2e31])


def test_temperature_derivative_matches_finite_difference():
    _, error = flare_energies(1.0, teff=3000, radius=0.3, mission="tess", teff_err=1.0)
    step = 0.01
    slope = (band_luminosity(3000 + step, 0.3, "tess")
             - band_luminosity(3000 - step, 0.3, "tess")).value / (2 * step)
    assert error.value == pytest.approx(slope, rel=1e-6)


def test_error_propagation_matches_monte_carlo():
    rng = np.random.default_rng(20240611)
    n = 20000
    teff, teff_err = 3300.0, 60.0
    radius, radius_err = 0.35, 0.02
    ed, ed_err = 250.0, 20.0
    energy, error = flare_energies(ed * u.s, teff=teff * u.K, radius=radius * u.R_sun,
                                   mission="tess", teff_err=teff_err * u.K,
                                   radius_err=radius_err * u.R_sun,
                                   equivalent_duration_err=ed_err * u.s)
    draws = (rng.normal(ed, ed_err, n)
             * band_luminosity(rng.normal(teff, teff_err, n), rng.normal(radius, radius_err, n),
                               "tess").value)
    assert np.mean(draws) == pytest.approx(energy.value, rel=0.02)
    assert np.std(draws) == pytest.approx(error.value, rel=0.1)


def test_bolometric_energy_with_flare_temperature():
    band, _ = flare_energies(100.0, teff=3000, radius=0.3, mission="tess")
    bolometric, _ = flare_energies(100.0, teff=3000, radius=0.3, mission="tess",
                                   flare_temperature=DEFAULT_FLARE_TEMPERATURE)
    # Shibayama et al. (2013): E = ED sigma T_fl^4 pi R^2 ∫S B(T*) / ∫S B(T_fl), computed
    # independently from the band luminosities of the star and of a star at T_fl
    ratio = (band_luminosity(3000, 1, "tess") / band_luminosity(9000, 1, "tess")).value
    area = np.pi * (0.3 * const.R_sun.cgs.value) ** 2
    expected = 100.0 * const.sigma_sb.cgs.value * 9000.0**4 * area * ratio
    assert bolometric.value == pytest.approx(expected, rel=1e-10)
    assert bolometric.value == pytest.approx(6.575e32, rel=1e-3)
    assert bolometric > band
    # a flare at the star's own temperature: a face-on patch against the projected disc,
    # E = ED * L_bol / 4 whatever the band
    same, _ = flare_energies(100.0, teff=5772, radius=1, mission="kepler",
                             flare_temperature=5772)
    assert same.value == pytest.approx(100.0 * const.L_sun.cgs.value / 4, rel=1e-3)
    # the same from a given band luminosity
    from_luminosity, _ = flare_energies(100.0, luminosity=band_luminosity(3000, 0.3, "tess"),
                                        mission="tess", flare_temperature=9000 * u.K)
    assert from_luminosity.value == pytest.approx(bolometric.value, rel=1e-12)


@pytest.mark.parametrize("kwargs, message", [
    ({}, r"needs either luminosity, or teff, radius and mission \(missing: teff, radius, "
         r"mission\)"),
    ({"teff": 3000, "radius": 0.3}, r"missing: mission"),
    ({"teff": 3000, "radius": 0.3, "mission": "gaia"},
     r"unknown mission 'gaia' \(mission\); valid missions: 'kepler', 'k2', 'tess'"),
    ({"luminosity": 1e30, "teff": 3000}, "not both"),
    ({"luminosity": 1e30, "teff_err": 50}, "teff_err and radius_err need teff and radius"),
    ({"teff": 3000, "radius": 0.3, "mission": "tess", "luminosity_err": 1e29},
     "luminosity_err needs luminosity"),
    ({"teff": -3000, "radius": 0.3, "mission": "tess"}, "teff must be positive"),
    ({"teff": 3000, "radius": [0.3, 0.0], "mission": "tess"}, "radius must be positive"),
    ({"teff": np.inf, "radius": 0.3, "mission": "tess"}, "teff must be positive and finite"),
    ({"luminosity": -1e30}, "luminosity must be positive"),
    ({"teff": 3000 * u.m, "radius": 0.3, "mission": "tess"},
     "teff must be convertible to K, got unit m"),
    ({"teff": 3000, "radius": 0.3 * u.s, "mission": "tess"}, "radius must be convertible"),
    ({"luminosity": 1e30 * u.W / u.m**2}, "luminosity must be convertible to erg / s"),
    ({"luminosity": 1e30, "luminosity_err": -1.0}, "luminosity_err must be non-negative"),
    ({"luminosity": 1e30, "equivalent_duration_err": -1.0},
     "equivalent_duration_err must be non-negative"),
    ({"teff": 3000, "radius": 0.3, "mission": "tess", "teff_err": -5 * u.K},
     "teff_err must be non-negative"),
    ({"luminosity": 1e30, "flare_temperature": 9000}, "flare_temperature needs mission"),
    ({"luminosity": 1e30, "mission": "tess", "flare_temperature": 0},
     "flare_temperature must be positive"),
    ({"luminosity": [1e30, 2e30, 3e30]}, "input shapes do not broadcast"),
    ({"luminosity": "bright"}, "luminosity must be numeric"),
])
def test_bad_inputs_raise_input_error(kwargs, message):
    with pytest.raises(InputError, match=message):
        flare_energies([100.0, 200.0], **kwargs)


def test_bad_inputs_of_band_luminosity_and_response_function():
    with pytest.raises(InputError, match="unknown mission 'hubble'"):
        response_function("hubble")
    with pytest.raises(InputError, match="mission is required"):
        band_luminosity(3000, 0.3, None)
    with pytest.raises(InputError, match="teff must be positive"):
        band_luminosity(0 * u.K, 0.3, "kepler")
    with pytest.raises(InputError, match="equivalent_duration must be convertible to s"):
        flare_energies(100 * u.erg, luminosity=1e30)
