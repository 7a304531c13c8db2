"""Tests of fcn4flare.catalog.FlareTable: construction, I/O, stacking, pandas, plots."""

from __future__ import annotations

import warnings
from pathlib import Path

import astropy.units as u
import matplotlib
import numpy as np
import pytest
from astropy.table import QTable, vstack
from astropy.time import Time

import fcn4flare
from fcn4flare.catalog import FlareTable
from fcn4flare.exceptions import InputError

matplotlib.use("Agg")

DATA = Path(__file__).parents[2] / "shared" / "data" / "lightcurves"
TESS_FILE = DATA / "tess2018206045859-s0001-0000000358108509-0120-s_lc.fits"

CADENCE_DAYS = 2.0 / 1440.0
CADENCE_S = 120.0
COLUMNS = [
    "target", "tstart", "tpeak", "tstop", "duration", "amplitude", "equivalent_duration",
    "n_points", "istart", "ipeak", "istop", "score", "max_score",
]  # fmt: skip
UNITS = {"duration": u.d, "amplitude": u.dimensionless_unscaled, "equivalent_duration": u.s}
META = {
    "object": "KIC 1234",
    "MISSION": "Kepler",
    "QUARTER": 7,
    "MODEL": "fcn4flare-kepler",
    "MODELVER": "1.0",
    "MODELSUM": "0" * 64,
    "THRESH": 0.5,
}


def light_curve(n: int = 600) -> tuple[Time, np.ndarray]:
    """A flat star with a boxcar flare (100-109) and a triangle flare (300-310)."""
    time = Time(59000.0, np.arange(n) * CADENCE_DAYS, format="mjd", scale="tdb")
    flux = np.full(n, 50.0)
    flux[100:110] *= 1.2
    relative = np.concatenate([np.linspace(0, 0.6, 4), np.linspace(0.6, 0, 8)[1:]])
    flux[300:311] *= 1 + relative
    return time, flux


def flares(meta=META) -> FlareTable:
    time, flux = light_curve()
    return FlareTable.from_events(
        time, flux, [100, 300], None, [109, 310], [0.8, 0.7], [0.9, 0.95], meta=meta
    )


def empty_flares(meta=META) -> FlareTable:
    time, flux = light_curve()
    return FlareTable.from_events(time, flux, [], None, [], [], [], meta=meta)


def test_columns_units_and_types():
    table = flares()
    assert isinstance(table, FlareTable)
    assert table.colnames == COLUMNS
    for name, unit in UNITS.items():
        assert isinstance(table[name], u.Quantity) and table[name].unit == unit
    for name in ("tstart", "tpeak", "tstop"):
        assert isinstance(table[name], Time)
        assert (table[name].format, table[name].scale) == ("mjd", "tdb")
    for name in ("n_points", "istart", "ipeak", "istop"):
        assert table[name].dtype == np.int64
    assert table["target"].tolist() == ["KIC 1234", "KIC 1234"]


def test_values_of_boxcar_and_triangle_flares():
    table = flares()
    time, _ = light_curve()
    assert table["istart"].tolist() == [100, 300]
    assert table["ipeak"].tolist() == [100, 303]
    assert table["istop"].tolist() == [109, 310]
    assert table["n_points"].tolist() == [10, 11]
    np.testing.assert_allclose(table["amplitude"].value, [0.2, 0.6], rtol=1e-6)
    boxcar_ed = 0.2 * 10 * CADENCE_S
    triangle_ed = 0.5 * 0.6 * 10 * CADENCE_S
    np.testing.assert_allclose(
        table["equivalent_duration"].value, [boxcar_ed, triangle_ed], rtol=1e-6
    )
    np.testing.assert_allclose(table["duration"].to_value(u.d), [9, 10] * np.array(CADENCE_DAYS))
    assert np.all(table["tpeak"] == time[[100, 303]])
    np.testing.assert_allclose(table["score"], [0.8, 0.7])
    np.testing.assert_allclose(table["max_score"], [0.9, 0.95])


def test_given_peaks_and_missing_scores():
    time, flux = light_curve()
    table = FlareTable.from_events(time, flux, [300], [305], [310])
    assert table["ipeak"].tolist() == [305]
    np.testing.assert_allclose(table["amplitude"].value, [0.6 * 5 / 7], rtol=1e-6)
    assert np.isnan(table["score"][0]) and np.isnan(table["max_score"][0])


def test_meta_keys_target_cadence_and_version():
    table = flares()
    assert table.meta["TARGET"] == "KIC 1234"
    assert table.meta["OBJECT"] == "KIC 1234"
    assert table.meta["QUARTER"] == 7 and table.meta["THRESH"] == 0.5
    assert table.meta["FCN4FVER"] == fcn4flare.__version__
    assert table.meta["CADENCE"] == pytest.approx(2.0, rel=1e-9)
    given = flares(meta={"target": "x", "cadence": 0.5 * u.h})
    assert given.meta["TARGET"] == "x" and given.meta["CADENCE"] == pytest.approx(30.0)
    assert flares(meta=None).meta["TARGET"] == ""


def test_input_is_not_mutated():
    time, flux = light_curve()
    before = flux.copy()
    meta = dict(META)
    FlareTable.from_events(time, flux, [100], None, [109], meta=meta)
    np.testing.assert_array_equal(flux, before)
    assert meta == META


def test_bad_input_raises_input_error():
    time, flux = light_curve()
    with pytest.raises(InputError, match="astropy Time"):
        FlareTable.from_events(time.value, flux, [100], None, [109])
    with pytest.raises(InputError, match="samples"):
        FlareTable.from_events(time, flux[:-1], [100], None, [109])
    with pytest.raises(InputError, match="score"):
        FlareTable.from_events(time, flux, [100], None, [109], [0.1, 0.2])
    with pytest.raises(InputError, match="outside"):
        FlareTable.from_events(time, flux, [100], None, [1000])


def test_empty_table_is_well_formed():
    empty = empty_flares()
    full = flares()
    assert len(empty) == 0
    assert isinstance(empty, FlareTable)
    assert empty.colnames == COLUMNS
    for name in COLUMNS:
        assert type(empty[name]) is type(full[name])
        if name != "target" and not isinstance(full[name], Time):
            assert empty[name].dtype == full[name].dtype
        assert getattr(empty[name], "unit", None) == getattr(full[name], "unit", None)
    assert (empty["tstart"].format, empty["tstart"].scale) == ("mjd", "tdb")
    assert empty.meta["TARGET"] == "KIC 1234"
    assert empty.to_event_dicts() == []


def test_empty_light_curve_gives_empty_table():
    time = Time(np.zeros(0), format="mjd", scale="utc")
    empty = FlareTable.from_events(time, np.zeros(0), [], None, [])
    assert len(empty) == 0 and empty.colnames == COLUMNS


@pytest.mark.parametrize("make", [flares, empty_flares])
def test_ecsv_round_trip(tmp_path, make):
    table = make()
    path = tmp_path / "flares.ecsv"
    table.write(path)
    back = FlareTable.read(path)
    assert isinstance(back, FlareTable)
    assert back.colnames == COLUMNS
    assert back.meta == table.meta
    for name, unit in UNITS.items():
        assert back[name].unit == unit
    for name in ("tstart", "tpeak", "tstop"):
        assert (back[name].format, back[name].scale) == ("mjd", "tdb")
        np.testing.assert_allclose((back[name] - table[name]).to_value(u.s), 0, atol=1e-6)
    for name in ("amplitude", "equivalent_duration", "duration"):
        np.testing.assert_array_equal(back[name].value, table[name].value)
    assert back["istop"].tolist() == table["istop"].tolist()


@pytest.mark.parametrize("make", [flares, empty_flares])
def test_fits_round_trip(tmp_path, make):
    table = make()
    path = tmp_path / "flares.fits"
    table.write(path)
    back = FlareTable.read(path)
    assert isinstance(back, FlareTable)
    assert back.colnames == COLUMNS
    assert back.meta == table.meta
    for name in ("tstart", "tpeak", "tstop"):
        assert (back[name].format, back[name].scale) == ("mjd", "tdb")
        np.testing.assert_allclose((back[name] - table[name]).to_value(u.s), 0, atol=1e-6)
    for name, unit in UNITS.items():
        assert back[name].unit == unit
        np.testing.assert_array_equal(back[name].value, table[name].value)
    assert back["target"].tolist() == table["target"].tolist()


def test_fits_numeric_columns_readable_by_plain_qtable(tmp_path):
    table = flares()
    path = tmp_path / "flares.fits"
    table.write(path)
    plain = QTable.read(path)
    assert type(plain) is QTable
    np.testing.assert_array_equal(plain["equivalent_duration"], table["equivalent_duration"])
    np.testing.assert_array_equal(plain["ipeak"], table["ipeak"])
    assert plain.meta["TIMEFMT"] == "mjd"
    assert "TIMEFMT" not in table.meta


def test_vstack_keeps_class_units_and_targets():
    other = dict(META, object="KIC 99")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # astropy warns about the differing TARGET meta
        stacked = vstack([empty_flares(), flares(), flares(meta=other)])
    assert isinstance(stacked, FlareTable)
    assert len(stacked) == 4
    for name, unit in UNITS.items():
        assert stacked[name].unit == unit
    assert isinstance(stacked["tstart"], Time)
    assert stacked["target"].tolist() == ["KIC 1234"] * 2 + ["KIC 99"] * 2


def test_stack_keeps_only_shared_meta():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stacked = FlareTable.stack([flares(), empty_flares(dict(META, object="B"))])
    assert isinstance(stacked, FlareTable)
    assert "TARGET" not in stacked.meta and "OBJECT" not in stacked.meta
    assert stacked.meta["THRESH"] == 0.5 and stacked.meta["MODEL"] == "fcn4flare-kepler"
    assert stacked["target"].tolist() == ["KIC 1234"] * 2
    with pytest.raises(InputError, match="at least one"):
        FlareTable.stack([])


def test_slicing_keeps_class_and_repr_names_it():
    table = flares()
    assert isinstance(table[1:], FlareTable)
    assert repr(table).startswith("<FlareTable length=2>")
    assert "KIC 1234" in str(table)


def test_to_pandas_with_float_times():
    pytest.importorskip("pandas")
    table = flares()
    dataframe = table.to_pandas()
    assert list(dataframe.columns) == COLUMNS
    np.testing.assert_array_equal(dataframe["tpeak"].to_numpy(), table["tpeak"].mjd)
    np.testing.assert_array_equal(
        dataframe["equivalent_duration"].to_numpy(), table["equivalent_duration"].value
    )
    assert dataframe.attrs == {"time_format": "mjd", "time_scale": "tdb"}
    assert isinstance(table["tpeak"], Time)  # the table itself is untouched


def test_to_pandas_with_datetimes_and_when_empty():
    pytest.importorskip("pandas")
    dataframe = flares().to_pandas(time="datetime")
    assert np.issubdtype(dataframe["tstart"].dtype, np.datetime64)
    assert len(empty_flares().to_pandas()) == 0
    with pytest.raises(InputError, match="time"):
        flares().to_pandas(time="iso")


def test_to_event_dicts_matches_release_format():
    table = flares()
    events = table.to_event_dicts()
    assert len(events) == 2
    keys = {
        "start_idx", "peak_idx", "end_idx", "start_time", "peak_time", "end_time",
        "duration", "confidence",
    }  # fmt: skip
    for event, row in zip(events, table, strict=True):
        assert set(event) == keys
        assert (event["start_idx"], event["peak_idx"], event["end_idx"]) == (
            row["istart"], row["ipeak"], row["istop"]
        )
        assert all(type(event[k]) is int for k in ("start_idx", "peak_idx", "end_idx"))
        assert all(type(event[k]) is float for k in keys - {"start_idx", "peak_idx", "end_idx"})
        assert event["start_time"] == row["tstart"].mjd
        assert event["end_time"] == row["tstop"].mjd
        assert event["duration"] == pytest.approx(event["end_time"] - event["start_time"])
        assert event["confidence"] == row["score"]


def test_to_event_dicts_uses_jd_for_string_time_formats():
    time, flux = light_curve()
    time = time.copy()
    time.format = "isot"
    event = FlareTable.from_events(time, flux, [100], None, [109]).to_event_dicts()[0]
    assert event["start_time"] == time[100].jd


def test_plot_amplitudes_returns_axes():
    import matplotlib.pyplot as plt

    table = flares()
    ax = table.plot(color="r")
    assert isinstance(ax, matplotlib.axes.Axes)
    (line,) = ax.get_lines()
    np.testing.assert_array_equal(line.get_xdata(), table["tpeak"].mjd)
    np.testing.assert_allclose(line.get_ydata(), [0.2, 0.6])
    assert line.get_color() == "r"
    plt.close(ax.figure)


def test_plot_with_light_curve_shades_each_flare():
    import matplotlib.pyplot as plt
    from astropy.timeseries import TimeSeries

    time, flux = light_curve()
    lc = TimeSeries(time=time, data={"flux": flux * u.electron / u.s})
    table = flares()
    fig, ax = plt.subplots()
    assert table.plot(lc, ax=ax, shade_kwargs={"color": "b"}) is ax
    (line,) = ax.get_lines()
    assert line.get_xdata().size == len(time)
    spans = ax.patches
    assert len(spans) == len(table)
    for span, row in zip(spans, table, strict=True):
        x0, x1 = span.get_x(), span.get_x() + span.get_width()
        assert (x0, x1) == pytest.approx((row["tstart"].mjd, row["tstop"].mjd))
    assert "electron" in ax.get_ylabel()
    plt.close(fig)
    with pytest.raises(InputError, match="time"):
        table.plot(np.ones(3))


@pytest.mark.skipif(not TESS_FILE.exists(), reason="shared data not available")
def test_real_tess_light_curve_round_trips_btjd(tmp_path):
    lk = pytest.importorskip("lightkurve")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lc = lk.read(TESS_FILE)
    meta = {key: lc.meta.get(key) for key in ("OBJECT", "MISSION", "SECTOR")}
    table = FlareTable.from_events(
        lc.time, lc.flux, [1000, 5000], None, [1005, 5004], [0.6, 0.7], [0.8, 0.9], meta=meta
    )
    assert table.meta["TARGET"] == "TIC 358108509"
    assert table.meta["CADENCE"] == pytest.approx(2.0, rel=1e-4)
    assert table["tstart"].format == "btjd"
    for suffix in ("ecsv", "fits"):
        path = tmp_path / f"flares.{suffix}"
        table.write(path)
        back = FlareTable.read(path)
        assert (back["tstart"].format, back["tstart"].scale) == ("btjd", "tdb")
        np.testing.assert_allclose(back["tstart"].value, table["tstart"].value, rtol=0, atol=1e-9)
        assert back.meta == table.meta
