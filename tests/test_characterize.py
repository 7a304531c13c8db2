"""Tests of fcn4flare.catalog: quiescent level, amplitude, equivalent duration, energy."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.time import Time

from fcn4flare.catalog import flare_energy, measure_flares, quiescent_flux
from fcn4flare.exceptions import InputError

CADENCE_DAYS = 2.0 / 1440.0
CADENCE_S = 120.0


def regular_time(n: int) -> Time:
    return Time(2459000.0, np.arange(n) * CADENCE_DAYS, format="jd", scale="tdb")


# --- quiescent_flux ---------------------------------------------------------------------


def test_quiescent_flat_star_ignores_flagged_flare():
    flux = np.ones(200)
    flux[90:100] = 5.0
    level = quiescent_flux(flux, flux > 2, window=25)
    np.testing.assert_allclose(level, 1.0, rtol=0, atol=1e-12)


def test_quiescent_without_mask_is_biased_by_the_flare():
    flux = np.ones(200)
    flux[90:110] = 5.0
    assert quiescent_flux(flux, window=25)[100] == 5.0


def test_quiescent_interpolates_inside_a_flare_longer_than_the_window():
    flux = 1.0 + 1e-3 * np.arange(300)
    flux[100:200] += 3.0
    level = quiescent_flux(flux, flux > 2, window=5)
    expected = 1.0 + 1e-3 * np.arange(300)
    np.testing.assert_allclose(level, expected, atol=2e-3)
    assert np.all(np.isfinite(level))


def test_quiescent_ignores_nan_and_masked_values():
    flux = np.ma.masked_array(np.ones(100), mask=np.zeros(100, bool))
    flux[10] = 50.0
    flux.mask[10] = True
    flux[20] = np.nan
    level = quiescent_flux(flux, window=9)
    np.testing.assert_allclose(level, 1.0)


def test_quiescent_keeps_quantity_unit_and_does_not_mutate_input():
    flux = np.full(50, 200.0) * u.electron / u.s
    before = flux.copy()
    level = quiescent_flux(flux, window=7)
    assert level.unit == u.electron / u.s
    np.testing.assert_allclose(level.value, 200.0)
    assert np.all(flux == before)


def test_quiescent_follows_rotational_modulation():
    n = 2000
    phase = 2 * np.pi * np.arange(n) / 700.0
    star = 1.0 + 0.05 * np.sin(phase)
    level = quiescent_flux(star, window=25)
    interior = slice(25, -25)  # truncated windows at the ends follow the slope less closely
    assert np.max(np.abs(level - star)[interior]) < 2e-4
    assert np.max(np.abs(np.median(star) - star)) > 0.04


@pytest.mark.parametrize("window", [0, -3, 2.5, True, "25"])
def test_quiescent_rejects_bad_window(window):
    with pytest.raises(InputError, match="window"):
        quiescent_flux(np.ones(10), window=window)


def test_quiescent_rejects_mask_of_wrong_length():
    with pytest.raises(InputError, match="flare_mask"):
        quiescent_flux(np.ones(10), np.zeros(9, bool))


def test_quiescent_needs_some_usable_flux():
    with pytest.raises(InputError, match="no finite flux"):
        quiescent_flux(np.ones(10), np.ones(10, bool))
    with pytest.raises(InputError, match="no finite flux"):
        quiescent_flux(np.full(10, np.nan))


def test_quiescent_rejects_two_dimensional_flux():
    with pytest.raises(InputError, match="one-dimensional"):
        quiescent_flux(np.ones((3, 4)))


# --- measure_flares ---------------------------------------------------------------------


def test_boxcar_flare_on_flat_star():
    n, height, start, stop = 400, 0.25, 150, 159
    flux = np.ones(n)
    flux[start : stop + 1] += height
    props = measure_flares(regular_time(n), flux, [start], [stop])
    assert props["peak"].tolist() == [start]
    assert props["n_points"].tolist() == [stop - start + 1]
    assert props["amplitude"].unit == u.dimensionless_unscaled
    assert props["equivalent_duration"].unit == u.s
    np.testing.assert_allclose(props["amplitude"].value, [height], rtol=1e-6)
    expected_ed = height * (stop - start + 1) * CADENCE_S
    np.testing.assert_allclose(props["equivalent_duration"].to_value(u.s), [expected_ed], rtol=1e-6)


def test_triangle_flare_with_zero_ends_is_integrated_exactly():
    n, start, peak, stop, height = 300, 100, 104, 124, 0.8
    relative = np.zeros(n)
    relative[start : peak + 1] = np.linspace(0, height, peak - start + 1)
    relative[peak : stop + 1] = np.linspace(height, 0, stop - peak + 1)
    flux = 3.0 * (1.0 + relative)
    props = measure_flares(regular_time(n), flux, [start], [stop])
    assert props["peak"].tolist() == [peak]
    np.testing.assert_allclose(props["amplitude"].value, [height], rtol=1e-6)
    triangle_area = 0.5 * height * (stop - start) * CADENCE_S
    np.testing.assert_allclose(props["equivalent_duration"].value, [triangle_area], rtol=1e-6)


def test_half_cadence_is_added_at_each_end():
    n = 200
    relative = np.zeros(n)
    relative[50:53] = [0.6, 0.4, 0.2]
    flux = 1.0 + relative
    props = measure_flares(regular_time(n), flux, [50], [52])
    trapezoid = (0.5 * (0.6 + 0.4) + 0.5 * (0.4 + 0.2)) * CADENCE_S
    ends = 0.5 * CADENCE_S * (0.6 + 0.2)
    np.testing.assert_allclose(props["equivalent_duration"].value, [trapezoid + ends], rtol=1e-9)


def test_several_flares_in_one_call():
    flux = np.ones(500)
    flux[100:103] += 0.1
    flux[300:310] += 0.5
    props = measure_flares(regular_time(500), flux, [100, 300], [102, 309])
    np.testing.assert_allclose(props["amplitude"].value, [0.1, 0.5], rtol=1e-6)
    np.testing.assert_allclose(
        props["equivalent_duration"].value, [0.1 * 3 * CADENCE_S, 0.5 * 10 * CADENCE_S], rtol=1e-6
    )


def test_time_can_be_quantity_or_days():
    flux = np.ones(100)
    flux[40:45] += 0.2
    from_time = measure_flares(regular_time(100), flux, [40], [44])
    from_quantity = measure_flares(np.arange(100) * 2 * u.min, flux, [40], [44])
    from_days = measure_flares(np.arange(100) * CADENCE_DAYS, flux, [40], [44])
    for props in (from_quantity, from_days):
        np.testing.assert_allclose(
            props["equivalent_duration"].value, from_time["equivalent_duration"].value, rtol=1e-6
        )


def test_nan_inside_run_is_bridged_and_not_counted():
    flux = np.ones(200)
    flux[80:90] += 0.3
    flux[84] = np.nan
    props = measure_flares(regular_time(200), flux, [80], [89])
    assert props["n_points"].tolist() == [9]
    expected = 0.3 * 10 * CADENCE_S
    np.testing.assert_allclose(props["equivalent_duration"].value, [expected], rtol=1e-6)


def test_nan_at_the_peak_position_is_skipped_by_argmax():
    flux = np.ones(200)
    flux[80:85] = [1.2, np.nan, 1.3, 1.1, 1.05]
    props = measure_flares(regular_time(200), flux, [80], [84])
    assert props["peak"].tolist() == [82]
    np.testing.assert_allclose(props["amplitude"].value, [0.3], rtol=1e-6)


def test_all_nan_run_gives_nan_properties():
    flux = np.ones(100)
    flux[30:33] = np.nan
    props = measure_flares(regular_time(100), flux, [30], [32])
    assert props["n_points"].tolist() == [0]
    assert props["peak"].tolist() == [30]
    assert np.isnan(props["amplitude"].value[0])
    assert np.isnan(props["equivalent_duration"].value[0])


def test_masked_flux_samples_are_missing():
    flux = np.ma.masked_array(np.ones(100), mask=np.zeros(100, bool))
    flux[40:45] = 1.5
    flux.mask[42] = True
    props = measure_flares(regular_time(100), flux, [40], [44])
    assert props["n_points"].tolist() == [4]


def test_amplitude_is_relative_to_local_quiescence_of_a_rotating_star():
    n = 3000
    star = 1.0 + 0.05 * np.sin(2 * np.pi * np.arange(n) / 500.0)
    relative = np.zeros(n)
    relative[1125:1131] = [0.02, 0.015, 0.01, 0.006, 0.003, 0.001]
    flux = star * (1.0 + relative)
    props = measure_flares(regular_time(n), flux, [1125], [1130])
    np.testing.assert_allclose(props["amplitude"].value, [0.02], atol=5e-4)
    global_median = measure_flares(regular_time(n), flux, [1125], [1130], quiescent=np.median(star))
    assert abs(global_median["amplitude"].value[0] - 0.02) > 0.02


def test_given_quiescent_scalar_array_and_quantity():
    flux = np.full(100, 200.0)
    flux[50:52] = 300.0
    for quiescent in (200.0, np.full(100, 200.0)):
        props = measure_flares(regular_time(100), flux, [50], [51], quiescent=quiescent)
        np.testing.assert_allclose(props["amplitude"].value, [0.5])
    flux_q = flux * u.electron / u.s
    quiescent_q = np.full(100, 12000.0) * u.electron / u.min
    props = measure_flares(regular_time(100), flux_q, [50], [51], quiescent=quiescent_q)
    np.testing.assert_allclose(props["amplitude"].value, [0.5])
    with pytest.raises(InputError, match="quiescent"):
        measure_flares(regular_time(100), flux_q, [50], [51], quiescent=1 * u.m)
    with pytest.raises(InputError, match="quiescent"):
        measure_flares(regular_time(100), flux, [50], [51], quiescent=np.ones(99))


def test_window_as_time_is_converted_with_the_cadence():
    rng = np.random.default_rng(7)
    flux = 1.0 + 0.01 * rng.standard_normal(400)
    flux[200:205] += 0.2
    by_time = measure_flares(regular_time(400), flux, [200], [204], window=1 * u.hour)
    by_samples = measure_flares(regular_time(400), flux, [200], [204], window=31)
    other = measure_flares(regular_time(400), flux, [200], [204], window=5)
    assert by_time["amplitude"][0] == by_samples["amplitude"][0]
    assert by_time["amplitude"][0] != other["amplitude"][0]
    with pytest.raises(InputError, match="window"):
        measure_flares(regular_time(400), flux, [200], [204], window=1 * u.m)


def test_given_peaks_are_used():
    flux = np.ones(100)
    flux[40:44] = [1.1, 1.4, 1.2, 1.1]
    props = measure_flares(regular_time(100), flux, [40], [43], peaks=[42])
    assert props["peak"].tolist() == [42]
    np.testing.assert_allclose(props["amplitude"].value, [0.2])


def test_no_events_gives_empty_arrays_with_units():
    props = measure_flares(regular_time(10), np.ones(10), [], [])
    assert props["peak"].shape == (0,)
    assert props["n_points"].dtype == np.int64
    assert props["equivalent_duration"].unit == u.s
    assert props["amplitude"].unit == u.dimensionless_unscaled


def test_input_arrays_are_not_mutated():
    flux = np.ones(100)
    flux[40:44] = [1.1, np.nan, 1.2, 1.1]
    starts = np.array([40])
    before = flux.copy()
    measure_flares(regular_time(100), flux, starts, [43])
    np.testing.assert_array_equal(flux, before)
    assert starts.tolist() == [40]


@pytest.mark.parametrize(
    ("starts", "stops", "peaks", "match"),
    [
        ([10], [5], None, "before it starts"),
        ([10], [200], None, "outside the light curve"),
        ([-1], [3], None, "outside the light curve"),
        ([1.5], [3], None, "integer"),
        ([1, 2], [3], None, "starts"),
        ([10], [15], [20], "outside its run"),
        ([10], [15], [11, 12], "peaks"),
    ],
)
def test_bad_event_indices_raise_input_error(starts, stops, peaks, match):
    with pytest.raises(InputError, match=match):
        measure_flares(regular_time(100), np.ones(100), starts, stops, peaks=peaks)


def test_length_mismatch_and_bad_time_raise_input_error():
    with pytest.raises(InputError, match="samples"):
        measure_flares(regular_time(100), np.ones(99), [1], [2])
    with pytest.raises(InputError, match="units of time"):
        measure_flares(np.arange(100) * u.m, np.ones(100), [1], [2])
    with pytest.raises(InputError, match="cadence"):
        measure_flares(np.zeros(100), np.ones(100), [1], [2])


# --- flare_energy -----------------------------------------------------------------------


def test_flare_energy_is_ed_times_luminosity():
    energy = flare_energy([10.0, 100.0] * u.s, 2e31 * u.erg / u.s)
    assert energy.unit == u.erg
    np.testing.assert_allclose(energy.value, [2e32, 2e33])
    in_minutes = flare_energy(1 * u.min, 1e23 * u.W)
    np.testing.assert_allclose(in_minutes.to_value(u.erg), 60 * 1e30)
    plain = flare_energy(np.array([3.0]), 1e30)
    np.testing.assert_allclose(plain.to_value(u.erg), [3e30])


def test_flare_energy_rejects_wrong_units():
    with pytest.raises(InputError, match="equivalent_duration"):
        flare_energy(1 * u.m, 1e30 * u.erg / u.s)
    with pytest.raises(InputError, match="luminosity"):
        flare_energy(1 * u.s, 1e30 * u.erg)
