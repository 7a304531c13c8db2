"""Accept the user's light curve: flux column, quality mask, checks, plain arrays.

`prepare_light_curve` accepts lightkurve ``LightCurve`` objects (Kepler, K2, TESS), astropy
`~astropy.timeseries.TimeSeries` and plain `~astropy.time.Time` / float arrays with a flux
array or `~astropy.units.Quantity`. It picks the flux column, applies the quality bitmask
(flagged samples become NaN, no row is dropped), validates times and units and reads the
target's meta data; everything after it works on plain float arrays
(`~fcn4flare.lightcurve.regular_grid` then places them on the cadence grid).
"""

from __future__ import annotations

import dataclasses
import sys
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
from astropy import units as u
from astropy.time import Time, TimeDelta

from .._arrays import float_array
from ..exceptions import FCN4FlareDeprecationWarning, FCN4FlareWarning, InputError
from .grid import (
    DEFAULT_MAX_GAP,
    GridMap,
    check_finite_times,
    check_times,
    median_cadence,
    regular_grid,
)

__all__ = [
    "PreparedLightCurve",
    "prepare_light_curve",
    "QUALITY_BITMASKS",
    "DEFAULT_MIN_SAMPLES",
]

#: Fewest usable (finite, unflagged) samples `prepare_light_curve` accepts by default: the
#: smallest flare event the published post-processing can keep has three samples.
DEFAULT_MIN_SAMPLES = 3

#: Valid string values of ``quality_bitmask`` (the lightkurve names).
QUALITY_BITMASKS = ("none", "default", "hard", "hardest")

_DAY_FORMATS = ("jd", "mjd", "bkjd", "btjd")
_LIGHTKURVE_TIME_FORMATS = ("bkjd", "btjd")

# Units whose values are proportional to brightness, so that dividing by the median is
# meaningful. Equivalence is tested without equivalencies (so Jy accepts mJy, not Hz).
_FLUX_UNITS = (
    u.dimensionless_unscaled,
    u.electron,
    u.electron / u.s,
    u.ct,
    u.ct / u.s,
    u.adu,
    u.adu / u.s,
    u.photon,
    u.photon / u.s,
    u.photon / u.s / u.m**2,
    u.Jy,
    u.W / u.m**2,
    u.W / u.m**3,
)

_TARGET_KEYS = ("LABEL", "OBJECT")
_TARGET_ID_KEYS = ("TARGETID", "KEPLERID", "TICID")


# --------------------------------------------------------------------------- dataclasses


@dataclasses.dataclass(frozen=True, eq=False)
class PreparedLightCurve:
    """A light curve checked and converted to the plain arrays the model pipeline needs.

    Built by `prepare_light_curve`; all arrays have one entry per sample of the input, in the
    input's order (nothing is dropped).

    Attributes
    ----------
    time : `~astropy.time.Time`
        The input times, unmodified.
    time_days : ndarray
        The times as floats in days (the input's own day-based format, e.g. BKJD, BTJD, MJD;
        JD for other formats).
    flux : ndarray
        The flux values, NaN where the input was non-finite, masked or quality-flagged.
    flux_unit : `~astropy.units.UnitBase`
        Unit of ``flux`` (dimensionless when the input had none).
    usable : ndarray of bool
        True where ``flux`` is finite: the samples the model sees.
    cadence : `~astropy.units.Quantity` or None
        Median cadence (minutes); None for a single sample.
    cadence_numbers : ndarray of int or None
        The mission's cadence numbers (``CADENCENO``) when present and strictly increasing.
    flux_err : ndarray or None
        Flux uncertainties (NaN where ``flux`` is NaN), when a column for them exists.
    meta : dict
        ``target``, ``target_id``, ``mission``, ``quarter``, ``campaign``, ``sector`` (None when
        unknown), ``flux_column`` (None for arrays) and ``quality_bitmask`` (the int applied,
        or None).

    Examples
    --------
    >>> import numpy as np
    >>> from fcn4flare.lightcurve import prepare_light_curve
    >>> lc = prepare_light_curve(np.arange(5) * 0.02, [1.0, 1.1, np.nan, 0.9, 1.0])
    >>> lc.usable
    array([ True,  True, False,  True,  True])
    >>> lc.cadence  # doctest: +FLOAT_CMP
    <Quantity 28.8 min>
    """

    time: Time
    time_days: np.ndarray
    flux: np.ndarray
    flux_unit: u.UnitBase
    usable: np.ndarray
    cadence: u.Quantity | None
    cadence_numbers: np.ndarray | None = None
    flux_err: np.ndarray | None = None
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.flux)

    def grid(self, max_gap: int | None = DEFAULT_MAX_GAP) -> GridMap:
        """Return the `GridMap` of this light curve (see `regular_grid`).

        Examples
        --------
        >>> from fcn4flare.lightcurve import prepare_light_curve
        >>> lc = prepare_light_curve([0.0, 1.0, 2.0, 4.0], [1.0, 1.0, 1.0, 1.0])
        >>> lc.grid().size
        5
        """
        return regular_grid(self.time_days, self.cadence_numbers, max_gap=max_gap)

    def model_input(
        self, scaling: str = "median", max_gap: int | None = DEFAULT_MAX_GAP
    ) -> tuple[np.ndarray, GridMap]:
        """Deprecated: use `fcn4flare.detection.FlareDetector`, or `fcn4flare.scaling.scale_flux` on
        ``grid.to_grid(flux)``.

        Returns the scaled flux on the regular grid, and the grid to map results back.

        Examples
        --------
        >>> import warnings
        >>> from fcn4flare.lightcurve import prepare_light_curve
        >>> lc = prepare_light_curve([0.0, 1.0, 2.0, 4.0], [2.0, 4.0, 2.0, 2.0])
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")
        ...     flux, grid = lc.model_input("median")
        >>> flux
        array([ 1.,  2.,  1., nan,  1.])
        """
        from ..scaling import scale_flux

        warnings.warn(
            "PreparedLightCurve.model_input is deprecated; use fcn4flare.FlareDetector, or "
            "fcn4flare.scaling.scale_flux(grid.to_grid(lc.flux), method).",
            FCN4FlareDeprecationWarning,
            stacklevel=2,
        )
        grid = self.grid(max_gap=max_gap)
        return scale_flux(grid.to_grid(self.flux), scaling), grid


# --------------------------------------------------------------------------- inputs


def prepare_light_curve(
    data: Any,
    flux: Any = None,
    *,
    flux_column: str | None = None,
    flux_err_column: str | None = None,
    quality_bitmask: str | int | None = "default",
    time_format: str | None = None,
    min_samples: int = DEFAULT_MIN_SAMPLES,
) -> PreparedLightCurve:
    """Check a light curve and convert it to the arrays the model pipeline needs.

    Nothing is dropped and the input is never modified: samples that are quality-flagged or
    have non-finite flux stay in place with NaN flux (``usable`` False), so results can be
    reported at every original sample.

    Parameters
    ----------
    data : LightCurve, `~astropy.timeseries.TimeSeries`, `~astropy.time.Time` or array-like
        A lightkurve light curve (``KeplerLightCurve``, ``TessLightCurve``, ...), a
        ``TimeSeries`` with a flux column, or sample times (then ``flux`` is required).
        Plain numbers are days (see ``time_format``); a `~astropy.units.Quantity` of time is
        converted to days.
    flux : array-like or `~astropy.units.Quantity`, optional
        Flux, one value per time; only when ``data`` holds times.
    flux_column : str, optional
        Column holding the flux. Default: ``pdcsap_flux`` when the table has it (a mission
        pipeline product, what the published model was trained on) unless the table's
        ``FLUX_ORIGIN`` meta names another existing column (lightkurve's ``select_flux`` was
        used); otherwise ``flux``.
    flux_err_column : str, optional
        Column holding flux uncertainties. Default: ``<flux_column>_err``, or ``flux_err``.
    quality_bitmask : {'none', 'default', 'hard', 'hardest'}, int or None
        Quality flags that blank a sample, as in lightkurve (Kepler/K2 or TESS definitions,
        by mission). Applied only to tables with a ``quality`` column; for tables whose
        mission is unknown only an int bitmask is applied. None or ``'none'``: no masking.
    time_format : str, optional
        Format of plain-number times (``'jd'``, ``'mjd'``, ``'bkjd'``, ``'btjd'``, ...).
        Default ``'jd'``; the values are kept as given either way.
    min_samples : int
        Fewest usable samples accepted.

    Returns
    -------
    PreparedLightCurve

    Raises
    ------
    InputError
        Empty input; lengths of time and flux that differ; times that are not finite, not
        sorted or duplicated; a flux unit that is not a brightness (see the docs); all flux
        NaN or masked; fewer than ``min_samples`` usable samples; an unknown column or
        bitmask.

    Examples
    --------
    >>> import numpy as np
    >>> import astropy.units as u
    >>> from fcn4flare.lightcurve import prepare_light_curve
    >>> time = 1000 + np.arange(6) / 720  # 2-min cadence, days
    >>> lc = prepare_light_curve(time, [10, 11, 10, np.inf, 12, 10] * u.electron / u.s,
    ...                          time_format="btjd")
    >>> lc.flux
    array([10., 11., 10., nan, 12., 10.])
    >>> lc.flux_unit, lc.time.format
    (Unit("electron / s"), 'btjd')
    >>> prepare_light_curve(time, np.ones(6) * u.m)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    fcn4flare.exceptions.InputError: prepare_light_curve: flux has unit 'm', which is not a ...
    """
    if _is_table(data):
        if flux is not None:
            raise InputError(
                "prepare_light_curve: data is a table, so flux must not be given separately; "
                "use flux_column to choose its column."
            )
        return _prepare_table(data, flux_column, flux_err_column, quality_bitmask, min_samples)
    if flux is None:
        raise InputError(
            "prepare_light_curve: flux is required when data holds times rather than a light "
            "curve or TimeSeries."
        )
    time = _as_time(data, time_format)
    flux_values, flux_unit = _flux_values(flux)
    return _assemble(
        time=time,
        flux=flux_values,
        flux_unit=flux_unit,
        flux_err=None,
        quality_ok=None,
        cadence_numbers=None,
        meta=_empty_meta(),
        min_samples=min_samples,
    )


def _is_table(data: Any) -> bool:
    if not (hasattr(data, "colnames") and hasattr(data, "meta")):
        return False
    if "time" not in data.colnames:
        raise InputError(
            f"prepare_light_curve: the table has no 'time' column (columns: "
            f"{', '.join(data.colnames)}); pass a LightCurve or TimeSeries, or time and flux."
        )
    return True


def _prepare_table(
    table: Any,
    flux_column: str | None,
    flux_err_column: str | None,
    quality_bitmask: str | int | None,
    min_samples: int,
) -> PreparedLightCurve:
    columns = {name.lower(): name for name in table.colnames}
    flux_column = flux_column or _default_flux_column(table, columns)
    if flux_column not in table.colnames:
        raise InputError(
            f"prepare_light_curve: no column {flux_column!r}; available: "
            f"{', '.join(table.colnames)}."
        )
    time = table["time"]
    if not isinstance(time, Time):
        time = _as_time(time, None)
    flux_values, flux_unit = _flux_values(table[flux_column])

    err_name = flux_err_column or _default_err_column(flux_column, columns)
    flux_err = None
    if err_name is not None:
        if err_name not in table.colnames:
            raise InputError(
                f"prepare_light_curve: no column {err_name!r}; available: "
                f"{', '.join(table.colnames)}."
            )
        flux_err = float_array(table[err_name], "flux_err", one_dimensional=False)

    meta = _read_meta(table)
    meta["flux_column"] = flux_column
    quality_ok, meta["quality_bitmask"] = _quality_mask(table, columns, meta, quality_bitmask)
    return _assemble(
        time=time,
        flux=flux_values,
        flux_unit=flux_unit,
        flux_err=flux_err,
        quality_ok=quality_ok,
        cadence_numbers=_cadence_numbers(table, columns),
        meta=meta,
        min_samples=min_samples,
    )


def _default_flux_column(table: Any, columns: Mapping[str, str]) -> str:
    # A lightkurve light curve's ``flux`` is the column its methods (flatten, normalize,
    # select_flux) update, and lightkurve.read sets it to PDCSAP for pipeline products.
    if _is_lightkurve(table) or "pdcsap_flux" not in table.colnames:
        return "flux"
    return "pdcsap_flux"


def _is_lightkurve(data: Any) -> bool:
    lightkurve = sys.modules.get("lightkurve")
    return lightkurve is not None and isinstance(data, lightkurve.LightCurve)


def _default_err_column(flux_column: str, columns: Mapping[str, str]) -> str | None:
    for name in (f"{flux_column}_err", "flux_err" if flux_column == "flux" else None):
        if name is not None and name.lower() in columns:
            return columns[name.lower()]
    return None


def _assemble(
    *,
    time: Time,
    flux: np.ndarray,
    flux_unit: u.UnitBase,
    flux_err: np.ndarray | None,
    quality_ok: np.ndarray | None,
    cadence_numbers: np.ndarray | None,
    meta: dict[str, Any],
    min_samples: int,
) -> PreparedLightCurve:
    if time.ndim != 1 or flux.ndim != 1:
        raise InputError(
            f"prepare_light_curve: time and flux must be one-dimensional, got shapes "
            f"{time.shape} and {flux.shape}."
        )
    n = len(flux)
    if len(time) != n:
        raise InputError(f"prepare_light_curve: time has {len(time)} values but flux has {n}.")
    if n == 0:
        raise InputError("prepare_light_curve: the light curve is empty (no samples).")
    time_days = _time_in_days(time)
    check_times(time_days, where="prepare_light_curve")

    finite = np.isfinite(flux)
    usable = finite if quality_ok is None else finite & quality_ok
    if not usable.any():
        flagged = 0 if quality_ok is None else int((~quality_ok & finite).sum())
        raise InputError(
            f"prepare_light_curve: no usable flux: {int((~finite).sum())} of {n} values are "
            f"NaN, infinite or masked and {flagged} more are quality-flagged."
        )
    if usable.sum() < min_samples:
        raise InputError(
            f"prepare_light_curve: only {int(usable.sum())} usable samples (finite flux, not "
            f"quality-flagged); at least {min_samples} are needed."
        )
    flux = np.where(usable, flux, np.nan)
    if flux_err is not None:
        flux_err = np.where(usable, flux_err, np.nan)
    if cadence_numbers is not None and not np.all(np.diff(cadence_numbers) > 0):
        warnings.warn(
            "prepare_light_curve: the cadence numbers do not increase strictly; the grid "
            "will be built from the times instead.",
            FCN4FlareWarning,
        )
        cadence_numbers = None
    return PreparedLightCurve(
        time=time,
        time_days=time_days,
        flux=flux,
        flux_unit=flux_unit,
        usable=usable,
        cadence=_median_cadence(time_days, cadence_numbers),
        cadence_numbers=cadence_numbers,
        flux_err=flux_err,
        meta=meta,
    )


def _median_cadence(t: np.ndarray, cadence_numbers: np.ndarray | None) -> u.Quantity | None:
    if len(t) < 2:
        return None
    steps = None if cadence_numbers is None else np.diff(cadence_numbers)
    return (median_cadence(t, steps) * u.day).to(u.min)


# --------------------------------------------------------------------------- conversions


def _as_time(values: Any, time_format: str | None) -> Time:
    if isinstance(values, Time):
        return values
    if isinstance(values, TimeDelta):
        values = values.to(u.day)
    if isinstance(values, u.Quantity):
        if not values.unit.is_equivalent(u.day):
            raise InputError(
                f"prepare_light_curve: times have unit {values.unit.to_string()!r}, which is "
                "not a time."
            )
        values = values.to_value(u.day)
    days = float_array(values, "time", one_dimensional=False)
    check_finite_times(days, "prepare_light_curve")
    time_format = time_format or "jd"
    if time_format in _LIGHTKURVE_TIME_FORMATS:
        import lightkurve  # noqa: F401  (registers the bkjd and btjd formats)
    try:
        return Time(days, format=time_format, scale="tdb")
    except ValueError as err:
        raise InputError(f"prepare_light_curve: cannot read the times: {err}") from None


def _time_in_days(time: Time) -> np.ndarray:
    days = time.value if time.format in _DAY_FORMATS else time.jd
    days = np.array(days, dtype=float)
    if getattr(time, "masked", False):
        days[np.asarray(time.mask)] = np.nan
    return days


def _flux_values(values: Any) -> tuple[np.ndarray, u.UnitBase]:
    unit = getattr(values, "unit", None)
    unit = u.dimensionless_unscaled if unit is None else u.Unit(unit)
    _check_flux_unit(unit)
    return float_array(values, "flux", one_dimensional=False), unit


def _check_flux_unit(unit: u.UnitBase) -> None:
    if isinstance(unit, u.FunctionUnitBase) or unit.is_equivalent(u.mag):
        raise InputError(
            f"prepare_light_curve: flux has unit {unit.to_string()!r}, a logarithmic unit; "
            "convert magnitudes to flux first."
        )
    if not any(unit.is_equivalent(ref) for ref in _FLUX_UNITS):
        raise InputError(
            f"prepare_light_curve: flux has unit {unit.to_string()!r}, which is not a "
            "brightness; accepted are dimensionless, electron(/s), ct(/s), adu(/s), "
            "photon(/s), spectral flux density (Jy, W/m3) and flux (W/m2) units."
        )



# --------------------------------------------------------------------------- table details


def _empty_meta() -> dict[str, Any]:
    keys = ("target", "target_id", "mission", "quarter", "campaign", "sector")
    meta: dict[str, Any] = dict.fromkeys(keys)
    meta.update(flux_column=None, quality_bitmask=None)
    return meta


def _read_meta(table: Any) -> dict[str, Any]:
    source = {str(k).upper(): v for k, v in table.meta.items()}
    meta = _empty_meta()
    meta["target"] = _first(source, _TARGET_KEYS)
    meta["target_id"] = _first(source, _TARGET_ID_KEYS)
    meta["mission"] = _mission(table, source)
    for key in ("quarter", "campaign", "sector"):
        meta[key] = source.get(key.upper())
    if meta["target"] is None and meta["target_id"] is not None:
        meta["target"] = str(meta["target_id"])
    return meta


def _first(source: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if source.get(key) not in (None, ""):
            return source[key]
    return None


def _mission(table: Any, source: Mapping[str, Any]) -> str | None:
    mission = source.get("MISSION") or source.get("TELESCOP")
    if mission:
        return str(mission)
    name = type(table).__name__
    if name.startswith("Tess"):
        return "TESS"
    if name.startswith("Kepler"):
        return "Kepler"
    return None


def _quality_mask(
    table: Any,
    columns: Mapping[str, str],
    meta: Mapping[str, Any],
    bitmask: str | int | None,
) -> tuple[np.ndarray | None, int | None]:
    if bitmask is not None and not isinstance(bitmask, (str, int, np.integer)):
        raise InputError(
            f"prepare_light_curve: quality_bitmask must be one of {QUALITY_BITMASKS}, an int "
            f"or None, got {bitmask!r}."
        )
    if isinstance(bitmask, str) and bitmask not in QUALITY_BITMASKS:
        raise InputError(
            f"prepare_light_curve: unknown quality_bitmask {bitmask!r}; valid: "
            f"{', '.join(QUALITY_BITMASKS)} or an int."
        )
    if bitmask is None or bitmask == "none" or "quality" not in columns:
        return None, None
    quality = float_array(table[columns["quality"]], "quality", one_dimensional=False)
    quality = np.nan_to_num(quality, nan=0.0).astype(np.int64)
    if isinstance(bitmask, str):
        flags = _quality_flags_class(meta.get("mission"))
        if flags is None:
            if np.any(quality != 0):
                warnings.warn(
                    f"prepare_light_curve: the mission is unknown, so quality_bitmask="
                    f"{bitmask!r} cannot be resolved and no quality flags were applied; pass "
                    "an int bitmask to use the quality column.",
                    FCN4FlareWarning,
                )
            return None, None
        bitmask = flags.OPTIONS[bitmask]
    bitmask = int(bitmask)
    return (quality & bitmask) == 0, bitmask


def _quality_flags_class(mission: str | None) -> Any:
    if mission is None:
        return None
    from lightkurve.utils import KeplerQualityFlags, TessQualityFlags

    mission = mission.strip().upper()
    if mission == "TESS":
        return TessQualityFlags
    if mission in ("KEPLER", "K2"):
        return KeplerQualityFlags
    return None


def _cadence_numbers(table: Any, columns: Mapping[str, str]) -> np.ndarray | None:
    if "cadenceno" not in columns:
        return None
    values = table[columns["cadenceno"]]
    if getattr(values, "mask", None) is not None and np.any(values.mask):
        return None
    numbers = np.asarray(getattr(values, "value", values))
    if not np.issubdtype(numbers.dtype, np.integer):
        return None
    return numbers.astype(np.int64)
