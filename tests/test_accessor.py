"""Tests of the ``lc.flares`` accessor (fcn4flare.detection.accessor)."""

from __future__ import annotations

import warnings

import lightkurve as lk
import matplotlib
import numpy as np
import pytest
from conftest import FLARE_FLAGGED

import fcn4flare.detection.accessor
from fcn4flare.catalog import FlareTable
from fcn4flare.detection import detect_flares, predict_flare_probability
from fcn4flare.detection.accessor import ACCESSOR_NAME, FlareAccessor, register_accessor
from fcn4flare.exceptions import FCN4FlareError, FCN4FlareWarning

matplotlib.use("Agg")


def _simple_lc(n=200):
    return lk.LightCurve(time=2459000 + np.arange(n) / 720, flux=np.ones(n))


def test_accessor_is_built_once_per_object(kepler_lc):
    accessor = kepler_lc.flares
    assert isinstance(accessor, FlareAccessor)
    assert kepler_lc.flares is accessor
    assert accessor._lc is kepler_lc
    copied = kepler_lc.copy()
    assert copied.flares is not accessor and copied.flares._lc is copied
    assert lk.LightCurve.flares is FlareAccessor
    assert ACCESSOR_NAME == "flares"
    assert "FlareAccessor" in repr(accessor)


def test_accessing_it_does_not_warn(kepler_lc):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kepler_lc.flares  # noqa: B018


@pytest.mark.parametrize("fixture", ["kepler_lc", "tess_lc"])
def test_detect_on_mission_light_curves(request, fixture, threshold_model):
    lc = request.getfixturevalue(fixture)
    file = request.getfixturevalue(fixture.replace("_lc", "_file"))
    flares = lc.flares.detect(model=threshold_model)
    assert isinstance(flares, FlareTable)
    expected = np.searchsorted(np.asarray(lc.cadenceno), file.flare_cadences())
    np.testing.assert_array_equal(flares["istart"], expected)
    np.testing.assert_array_equal(flares["istop"], expected + FLARE_FLAGGED - 1)


@pytest.mark.parametrize(
    "derive",
    [
        lambda lc: lc.remove_nans(),
        lambda lc: lc.normalize(),
        lambda lc: lc.flatten(window_length=101),
        lambda lc: lc[5:],
    ],
    ids=["remove_nans", "normalize", "flatten", "slice"],
)
def test_detect_on_derived_light_curves(kepler_file, kepler_lc, threshold_model, derive):
    derived = derive(kepler_lc)
    flares = derived.flares.detect(model=threshold_model)
    expected = np.searchsorted(np.asarray(derived.cadenceno), kepler_file.flare_cadences())
    np.testing.assert_array_equal(flares["istart"], expected)
    assert derived.flares._lc is derived


def test_detect_and_predict_pass_their_options(kepler_lc, threshold_model, random_model):
    table = kepler_lc.flares.detect(0.7, threshold_model, rules="published")
    direct = detect_flares(kepler_lc, model=threshold_model, threshold=0.7, rules="published")
    np.testing.assert_array_equal(table["istart"], direct["istart"])
    assert table.meta["THRESH"] == 0.7 and table.meta["RULES"] == "published"
    probability = kepler_lc.flares.predict(random_model, quality_bitmask="none")
    expected = predict_flare_probability(kepler_lc, model=random_model, quality_bitmask="none")
    np.testing.assert_array_equal(probability.value, expected.value)


def test_attribute_error_while_building_is_not_swallowed(monkeypatch):
    def broken(self, lc):
        raise AttributeError("'Thing' object has no attribute 'wobble'")

    monkeypatch.setattr(FlareAccessor, "__init__", broken)
    for cls in (lk.LightCurve, lk.KeplerLightCurve, lk.TessLightCurve):
        lc = cls(time=2459000 + np.arange(10) / 720, flux=np.ones(10))
        with pytest.raises(FCN4FlareError, match="wobble"):
            lc.flares  # noqa: B018


def test_registration_warns_when_the_name_is_taken():
    class Star:
        flares = "something else"

    with pytest.warns(FCN4FlareWarning, match="replaces an existing attribute"):
        register_accessor(Star)
    assert isinstance(Star.__dict__["flares"], fcn4flare.detection.accessor._CachedAccessor)
    assert Star.flares is FlareAccessor
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        register_accessor()  # ours already: silent
        register_accessor(Star)  # now ours too: silent


def test_registration_on_another_class():
    class Box:
        pass

    class Echo:
        def __init__(self, obj):
            self.obj = obj

    register_accessor(Box, "echo", Echo)
    box = Box()
    assert box.echo.obj is box and box.echo is box.echo
    assert Box.echo is Echo


class _PonyLike(lk.LightCurve):
    """Stand-in for AltaiPony's older FlareLightCurve: sets ``self.flares`` in __init__."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # lightkurve warns on new attributes
            self.flares = ["altaipony's own flare table"]


class _PonyProperty(lk.LightCurve):
    """Stand-in for AltaiPony's newer FlareLightCurve: a ``flares`` property."""

    @property
    def flares(self):
        return self.meta.setdefault("pony_flares", ["altaipony's own flare table"])


@pytest.mark.parametrize("cls", [_PonyLike, _PonyProperty])
def test_altaipony_keeps_its_flares_attribute(cls, threshold_model):
    from conftest import flare_flux

    lc = cls(time=2459000 + np.arange(200) / 720, flux=flare_flux(200, [80]))
    assert lc.flares == ["altaipony's own flare table"]
    assert lc.normalize().flares == ["altaipony's own flare table"]
    flares = detect_flares(lc, model=threshold_model)
    assert list(flares["istart"]) == [80]
    assert lc.flares == ["altaipony's own flare table"]


def test_plot_returns_light_curve_axes_and_adds_probability_panel(kepler_lc, threshold_model):
    import matplotlib.pyplot as plt

    ax = kepler_lc.flares.plot(model=threshold_model, threshold=0.6)
    try:
        figure = ax.figure
        assert len(figure.axes) == 2
        panel = figure.axes[-1]
        assert panel.get_ylabel() == "Flare probability"
        assert panel.get_xlabel().startswith("Time [BKJD]")
        assert len(ax.patches) == 3  # one shaded span per flare
        threshold_line = panel.get_lines()[-1]
        assert np.allclose(threshold_line.get_ydata(), 0.6)
        probability_line = panel.get_lines()[0]
        assert probability_line.get_xydata().shape == (len(kepler_lc), 2)
        assert "KIC 1234567" in ax.get_title()
    finally:
        plt.close("all")


def test_plot_on_given_axes(threshold_model):
    import matplotlib.pyplot as plt

    figure, given = plt.subplots()
    try:
        ax = _simple_lc().flares.plot(ax=given, model=threshold_model, color="C2")
        assert ax is given
        assert len(figure.axes) == 2
        assert len(ax.patches) == 0
    finally:
        plt.close(figure)


def test_module_registers_on_import():
    cached = fcn4flare.detection.accessor._CachedAccessor
    assert isinstance(lk.LightCurve.__dict__["flares"], cached)
    assert not hasattr(fcn4flare.detection.accessor._CachedAccessor, "__set__")
