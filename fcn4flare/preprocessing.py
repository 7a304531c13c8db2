"""Deprecated module path: use `fcn4flare.lightcurve`, `fcn4flare.scaling` and
`fcn4flare.trend`.

Every name still resolves here, with a `~fcn4flare.exceptions.FCN4FlareDeprecationWarning`.
"""

from ._deprecation import moved_module

_LIGHTCURVE = ("PreparedLightCurve", "GridMap", "prepare_light_curve", "regular_grid",
               "QUALITY_BITMASKS", "DEFAULT_MIN_SAMPLES", "DEFAULT_MAX_GAP", "MAX_GRID_SIZE")
_SCALING = ("scale_flux", "SCALING_METHODS", "ASINH_SOFTENING")

__getattr__, __dir__ = moved_module(
    __name__,
    {
        **dict.fromkeys(_LIGHTCURVE, "fcn4flare.lightcurve"),
        **dict.fromkeys(_SCALING, "fcn4flare.scaling"),
        "robust_noise": "fcn4flare.trend",
    },
)
