"""`FlareTable`: the flares found in light curves, one row per flare."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import astropy.units as u
import numpy as np
from astropy.io import registry as io_registry
from astropy.io.registry import UnifiedReadWriteMethod
from astropy.table import Column, QTable, vstack
from astropy.table.connect import TableWrite
from astropy.time import Time

from .._arrays import median_step
from ..exceptions import InputError
from .characterize import (
    DEFAULT_WINDOW,
    _elapsed_days,
    _float_values,
    _index_array,
    measure_flares,
)

__all__ = ["FlareTable"]

_DESCRIPTIONS = {
    "target": "Name of the observed star",
    "tstart": "Time of the first flagged sample",
    "tpeak": "Time of the flare peak",
    "tstop": "Time of the last flagged sample",
    "duration": "tstop - tstart",
    "amplitude": "Peak flux above quiescence, relative to quiescence",
    "equivalent_duration": "Integral of (flux - quiescent) / quiescent over the flare",
    "n_points": "Finite samples in the flare",
    "istart": "Index of the first flagged sample in the light curve",
    "ipeak": "Index of the peak sample in the light curve",
    "istop": "Index of the last flagged sample in the light curve (inclusive)",
    "score": "Mean model probability over the flare",
    "max_score": "Highest model probability in the flare",
}
_DISPLAY_FORMATS = {
    "duration": ".5f",
    "amplitude": ".4g",
    "equivalent_duration": ".4g",
    "score": ".3f",
    "max_score": ".3f",
}
_TARGET_KEYS = ("TARGET", "OBJECT", "LABEL", "TARGETID")
_TIME_COLUMNS = ("tstart", "tpeak", "tstop")
# Header keyword through which FITS files keep the light curve's time format.
_TIME_FORMAT_KEY = "TIMEFMT"


class _FlareTableWrite(TableWrite):
    """Write this table through `fcn4flare.catalog.writer.write_table`.

    Astropy's ``Table.write`` (same arguments: ``format``, ``overwrite``,
    ``serialize_meta``, ``serialize_method``, ...), except that

    - a file is written to a temporary name beside it and renamed into place once complete,
      so that an error or a kill never leaves a half-written file nor loses the previous one;
    - text formats (CSV, ``.txt``, HTML, ...) keep every digit: the display formats of the
      columns (e.g. 3 decimals for ``score``) are for printing and are not applied;
    - the format follows the suffix (`fcn4flare.catalog.writer.TABLE_SUFFIXES`, or any
      suffix astropy knows); an unknown one raises `~fcn4flare.exceptions.InputError`
      listing the supported suffixes.
    """

    def __call__(self, *args, **kwargs):
        if not args:
            return super().__call__(**kwargs)
        from .writer import write_table

        write_table(self._instance, *args, **kwargs)


class FlareTable(QTable):
    """Flares detected in one or more light curves, one row per flare.

    A `~astropy.table.QTable` whose columns are:

    - ``target`` (str): the star, from the ``TARGET`` meta value;
    - ``tstart``, ``tpeak``, ``tstop`` (`~astropy.time.Time`): times of the first flagged,
      the peak and the last flagged sample;
    - ``duration`` (Quantity, d): ``tstop - tstart``;
    - ``amplitude`` (Quantity, dimensionless): ``(f - q) / q`` at the peak;
    - ``equivalent_duration`` (Quantity, s): the integral of ``(f - q) / q`` over time;
    - ``n_points`` (int): finite samples in the flare;
    - ``istart``, ``ipeak``, ``istop`` (int): indices of the first flagged, the peak and
      the last flagged (inclusive) sample in the light curve;
    - ``score``, ``max_score`` (float): mean and highest model probability over the flare.

    ``q`` is the local quiescent flux (see `fcn4flare.catalog.measure_flares`). The
    time columns keep the format and scale of the light curve's time (e.g. ``btjd``,
    ``tdb``). ``duration`` is measured between the centres of the first and last flagged
    samples, as ``t_end - t_start`` in the published pipeline; a one-sample flare has
    duration 0.

    The ``meta`` dictionary uses upper-case keys of at most eight characters so that it
    survives a FITS header unchanged: ``TARGET``, ``MISSION``, ``QUARTER``/``CAMPAIGN``/
    ``SECTOR``, ``CADENCE`` (minutes, a float), ``MODEL``, ``MODELVER``, ``MODELSUM``
    (checksum of the weights), ``THRESH`` (probability threshold) and ``FCN4FVER`` (the
    fcn4flare version that made the table).

    Build one with `~fcn4flare.catalog.FlareTable.from_events`; read one with
    ``FlareTable.read``; ``write`` writes atomically (a temporary file renamed into place)
    and keeps every digit in text formats such as CSV. Tables from several stars are combined with
    `~fcn4flare.catalog.FlareTable.stack`, or with `astropy.table.vstack`, which also returns a
    `FlareTable` (pass ``metadata_conflicts="silent"`` to silence warnings about the
    per-star meta values).

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.time import Time
    >>> from fcn4flare.catalog import FlareTable
    >>> time = Time(2459000.0 + np.arange(300) * 2 / 1440, format="jd", scale="tdb")
    >>> flux = np.ones(300)
    >>> flux[100:106] = [1.5, 1.3, 1.2, 1.1, 1.05, 1.02]
    >>> flares = FlareTable.from_events(time, flux, [100], None, [105], [0.9], [0.99],
    ...                                 meta={"TARGET": "demo star"})
    >>> flares["amplitude"]  # doctest: +FLOAT_CMP
    <Quantity [0.5]>
    >>> flares["equivalent_duration"]  # doctest: +FLOAT_CMP
    <Quantity [140.4] s>
    >>> flares.to_event_dicts()[0]["end_idx"]
    105
    """

    write = UnifiedReadWriteMethod(_FlareTableWrite)

    @classmethod
    def from_events(
        cls,
        time: Time,
        flux: Any,
        starts: Any,
        peaks: Any,
        stops: Any,
        score: Any = None,
        max_score: Any = None,
        *,
        quiescent: Any = None,
        window: int | u.Quantity = DEFAULT_WINDOW,
        meta: Mapping[str, Any] | None = None,
    ) -> FlareTable:
        """Build a table from event index ranges in a light curve.

        Amplitudes and equivalent durations are measured with
        `fcn4flare.catalog.measure_flares`. With no events the result is an empty
        table with every column, unit and time format in place, so that it can be written
        and stacked like any other.

        Parameters
        ----------
        time : `~astropy.time.Time`
            Times of the light curve's samples; its format and scale are kept.
        flux : array-like or `~astropy.units.Quantity`
            Flux of the samples (normalised or not), NaN or masked where missing.
        starts, stops : array-like of int
            First and last (inclusive) sample index of each flare.
        peaks : array-like of int or None
            Peak sample index of each flare; None: the argmax of the flux in each run.
        score, max_score : array-like of float, optional
            Mean and highest model probability of each flare; NaN when not given.
        quiescent : float, array-like or `~astropy.units.Quantity`, optional
            Quiescent flux; default: a running median of the flux with flares masked.
        window : int or `~astropy.units.Quantity`, optional
            Window of that running median, in samples or as a time.
        meta : mapping, optional
            Table metadata; keys are upper-cased. The target name is taken from
            ``TARGET``, else ``OBJECT``, ``LABEL`` or ``TARGETID``. ``CADENCE`` (minutes)
            is measured from ``time`` unless given; ``FCN4FVER`` is always set.

        Returns
        -------
        table : `FlareTable`
            One row per event, in the order given.

        Raises
        ------
        InputError
            If ``time`` is not a `~astropy.time.Time`, the arrays disagree in length, or an
            index is outside the light curve.

        Examples
        --------
        A light curve without flares gives a well-formed empty table:

        >>> import numpy as np
        >>> from astropy.time import Time
        >>> from fcn4flare.catalog import FlareTable
        >>> time = Time(1000.0 + np.arange(50) / 48, format="mjd", scale="utc")
        >>> empty = FlareTable.from_events(time, np.ones(50), [], None, [])
        >>> len(empty), empty["tstart"].format, empty["equivalent_duration"].unit
        (0, 'mjd', Unit("s"))
        """
        if not isinstance(time, Time):
            raise InputError(
                "time must be an astropy Time, e.g. Time(values, format='btjd', scale='tdb'); "
                f"got {type(time).__name__}"
            )
        days = _elapsed_days(time)
        if _float_values(flux, "flux").size != days.size:
            raise InputError(f"flux has {np.size(flux)} samples but time has {days.size}")
        properties = measure_flares(
            days, flux, starts, stops, peaks=peaks, quiescent=quiescent, window=window
        )
        starts = _index_array(starts, "starts", days.size)
        stops = _index_array(stops, "stops", days.size)
        peaks = properties["peak"]
        table_meta = _table_meta(meta, days)

        table = cls(meta=table_meta)
        table["target"] = np.array([table_meta["TARGET"]] * starts.size, dtype=str)
        table["tstart"] = time[starts]
        table["tpeak"] = time[peaks]
        table["tstop"] = time[stops]
        table["duration"] = (days[stops] - days[starts]) * u.d
        table["amplitude"] = properties["amplitude"]
        table["equivalent_duration"] = properties["equivalent_duration"]
        table["n_points"] = properties["n_points"]
        table["istart"] = starts
        table["ipeak"] = peaks
        table["istop"] = stops
        table["score"] = _per_event_floats(score, "score", starts.size)
        table["max_score"] = _per_event_floats(max_score, "max_score", starts.size)
        table._describe_columns()
        return table

    def characterize(self, lc: Any, **kwargs: Any) -> FlareTable:
        """A copy with uncertainties, shape, template-fit and energy columns.

        ``characterize_flares(self, lc, **kwargs)``; see
        `fcn4flare.catalog.characterize_flares` for the columns and options (``fit``,
        ``template``, ``luminosity``, ``teff``, ``radius``, ``mission``, ...).

        Examples
        --------
        >>> import numpy as np
        >>> import lightkurve as lk
        >>> from fcn4flare.catalog import FlareTable
        >>> flux = 1 + 1e-3 * np.random.default_rng(0).standard_normal(300)
        >>> flux[100:106] += [0.5, 0.3, 0.2, 0.1, 0.05, 0.02]
        >>> lc = lk.LightCurve(time=2459000 + np.arange(300) / 720, flux=flux)
        >>> table = FlareTable.from_events(lc.time, lc.flux, [100], None, [105])
        >>> "fwhm" in table.characterize(lc, fit=False).colnames
        True
        """
        from .characterize import characterize_flares

        return characterize_flares(self, lc, **kwargs)

    @classmethod
    def stack(cls, tables: Iterable[FlareTable]) -> FlareTable:
        """Stack tables of several light curves into one catalogue.

        Like `astropy.table.vstack` with ``metadata_conflicts="silent"``, but the meta of
        the result holds only the entries on which all tables agree (e.g. the model and
        threshold), so that no star's ``TARGET`` is mistaken for the catalogue's. The
        ``target`` column keeps who is who. Time columns take the format of the first table.

        Parameters
        ----------
        tables : iterable of `FlareTable`
            Tables to stack; empty tables are allowed.

        Returns
        -------
        table : `FlareTable`

        Raises
        ------
        InputError
            If no table is given.

        Examples
        --------
        >>> import numpy as np
        >>> from astropy.time import Time
        >>> from fcn4flare.catalog import FlareTable
        >>> time = Time(2459000.0 + np.arange(100) / 720, format="jd", scale="tdb")
        >>> flux = np.ones(100)
        >>> flux[50:53] = [1.4, 1.2, 1.1]
        >>> a = FlareTable.from_events(time, flux, [50], None, [52], meta={"TARGET": "A"})
        >>> b = FlareTable.from_events(time, flux, [], None, [], meta={"TARGET": "B"})
        >>> both = FlareTable.stack([a, b, a])
        >>> both["target"].tolist(), "TARGET" in both.meta
        (['A', 'A'], False)
        """
        tables = list(tables)
        if not tables:
            raise InputError("stack needs at least one table")
        stacked = vstack(tables, join_type="outer", metadata_conflicts="silent")
        stacked = stacked if isinstance(stacked, cls) else cls(stacked)
        stacked.meta = _common_meta([table.meta for table in tables])
        return stacked

    def to_event_dicts(self) -> list[dict[str, Any]]:
        """The flares as dictionaries in the original FCN4Flare release's format.

        Returns
        -------
        events : list of dict
            One dict per row with keys ``start_idx``, ``peak_idx``, ``end_idx`` (int),
            ``start_time``, ``peak_time``, ``end_time`` (float, in the time columns'
            format, e.g. BKJD; JD when that format is not numeric), ``duration`` (float,
            days) and ``confidence`` (float, the mean probability ``score``).

        Examples
        --------
        >>> import numpy as np
        >>> from astropy.time import Time
        >>> from fcn4flare.catalog import FlareTable
        >>> time = Time(100.0 + np.arange(60) / 48, format="mjd", scale="tdb")
        >>> flux = np.ones(60)
        >>> flux[20:24] = [1.6, 1.3, 1.2, 1.1]
        >>> table = FlareTable.from_events(time, flux, [20], [20], [23], [0.8], [0.95])
        >>> event = table.to_event_dicts()[0]
        >>> event["start_idx"], event["end_idx"], event["confidence"]
        (20, 23, 0.8)
        >>> round(event["duration"] * 48, 6)
        3.0
        """
        start = _time_floats(self["tstart"])
        peak = _time_floats(self["tpeak"])
        stop = _time_floats(self["tstop"])
        duration = self["duration"].to_value(u.d)
        return [
            {
                "start_idx": int(self["istart"][k]),
                "peak_idx": int(self["ipeak"][k]),
                "end_idx": int(self["istop"][k]),
                "start_time": float(start[k]),
                "peak_time": float(peak[k]),
                "end_time": float(stop[k]),
                "duration": float(duration[k]),
                "confidence": float(self["score"][k]),
            }
            for k in range(len(self))
        ]

    def to_pandas(
        self, index: str | None = None, use_nullable_int: bool = True, *, time: str = "value"
    ):
        """Convert to a `pandas.DataFrame`.

        Quantity columns become plain floats in their unit (days, seconds, ...).

        Parameters
        ----------
        index : str, optional
            Column to use as the DataFrame index.
        use_nullable_int : bool, optional
            Passed to `astropy.table.Table.to_pandas`.
        time : {"value", "datetime"}, optional
            ``"value"`` (default): time columns become floats in their own format (e.g.
            BTJD days; JD for non-numeric formats), which is also recorded in
            ``DataFrame.attrs["time_format"]`` and ``attrs["time_scale"]``.
            ``"datetime"``: astropy's conversion to ``datetime64``.

        Returns
        -------
        dataframe : `pandas.DataFrame`

        Examples
        --------
        >>> import numpy as np
        >>> from astropy.time import Time
        >>> from fcn4flare.catalog import FlareTable
        >>> time = Time(1000.0 + np.arange(60) / 48, format="mjd", scale="tdb")
        >>> flux = np.ones(60)
        >>> flux[20:23] = [1.5, 1.2, 1.1]
        >>> df = FlareTable.from_events(time, flux, [20], None, [22]).to_pandas()
        >>> round(float(df["tpeak"].iloc[0]), 6), df.attrs["time_format"]
        (1000.416667, 'mjd')
        """
        if time not in ("value", "datetime"):
            raise InputError(f"time must be 'value' or 'datetime', got {time!r}")
        if time == "datetime":
            return super().to_pandas(index=index, use_nullable_int=use_nullable_int)
        plain = QTable(self, copy=False)
        time_columns = [name for name in plain.colnames if isinstance(plain[name], Time)]
        formats = {name: _time_float_format(plain[name]) for name in time_columns}
        scales = {name: plain[name].scale for name in time_columns}
        for name in time_columns:
            plain[name] = Column(_time_floats(plain[name]), name=name)
        dataframe = plain.to_pandas(index=index, use_nullable_int=use_nullable_int)
        if time_columns:
            dataframe.attrs["time_format"] = formats[time_columns[0]]
            dataframe.attrs["time_scale"] = scales[time_columns[0]]
        return dataframe

    def plot(self, lc: Any = None, ax: Any = None, *, shade_kwargs: dict | None = None, **kwargs):
        """Plot the flares.

        With a light curve, plot its flux against time and shade each flare from
        ``tstart`` to ``tstop``; without one, plot amplitude against peak time.

        Parameters
        ----------
        lc : `~lightkurve.LightCurve` or `~astropy.timeseries.TimeSeries`, optional
            Light curve with a ``time`` (`~astropy.time.Time`) and a ``flux`` column.
        ax : `~matplotlib.axes.Axes`, optional
            Axes to draw on; default: a new figure.
        shade_kwargs : dict, optional
            Passed to `~matplotlib.axes.Axes.axvspan` for the flare shading.
        **kwargs
            Passed to `~matplotlib.axes.Axes.plot` for the light curve or the amplitudes.

        Returns
        -------
        ax : `~matplotlib.axes.Axes`

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import numpy as np
        >>> from astropy.time import Time
        >>> from fcn4flare.catalog import FlareTable
        >>> time = Time(1000.0 + np.arange(60) / 48, format="mjd", scale="tdb")
        >>> flux = np.ones(60)
        >>> flux[20:23] = [1.5, 1.2, 1.1]
        >>> ax = FlareTable.from_events(time, flux, [20], None, [22]).plot()
        >>> ax.get_ylabel()
        'Amplitude (relative flux)'
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots()
        if lc is None:
            return self._plot_amplitudes(ax, **kwargs)
        return self._plot_light_curve(lc, ax, shade_kwargs or {}, **kwargs)

    def _plot_amplitudes(self, ax: Any, **kwargs) -> Any:
        style = {"marker": "o", "linestyle": "none"}
        style.update(kwargs)
        ax.plot(_time_floats(self["tpeak"]), self["amplitude"].to_value(u.one), **style)
        ax.set_xlabel(f"Peak time [{_time_float_format(self['tpeak']).upper()}]")
        ax.set_ylabel("Amplitude (relative flux)")
        return ax

    def _plot_light_curve(self, lc: Any, ax: Any, shade_kwargs: dict, **kwargs) -> Any:
        lc_time = getattr(lc, "time", None)
        if not isinstance(lc_time, Time):
            raise InputError("lc must have a 'time' attribute holding an astropy Time")
        flux = lc.flux if hasattr(lc, "flux") else lc["flux"]
        style = {"color": "k", "linewidth": 0.6}
        style.update(kwargs)
        ax.plot(_time_floats(lc_time), _float_values(flux, "flux"), **style)
        shade = {"color": "C1", "alpha": 0.4, "zorder": 0}
        shade.update(shade_kwargs)
        starts = _time_floats(_like(self["tstart"], lc_time))
        stops = _time_floats(_like(self["tstop"], lc_time))
        for k, (start, stop) in enumerate(zip(starts, stops, strict=True)):
            label = "flare" if k == 0 else None
            ax.axvspan(start, stop, label=label, **shade)
        ax.set_xlabel(f"Time [{_time_float_format(lc_time).upper()}]")
        unit = getattr(flux, "unit", None)
        ax.set_ylabel(f"Flux [{unit}]" if unit not in (None, u.one) else "Flux")
        return ax

    def _describe_columns(self) -> None:
        for name, description in _DESCRIPTIONS.items():
            if name in self.colnames:
                self[name].info.description = description
        for name, display in _DISPLAY_FORMATS.items():
            if name in self.colnames:
                self[name].info.format = display


def _table_meta(meta: Mapping[str, Any] | None, days: np.ndarray) -> dict[str, Any]:
    from .. import __version__

    given = {str(key).upper(): value for key, value in (meta or {}).items()}
    table_meta: dict[str, Any] = {"TARGET": _target_name(given)}
    table_meta.update(given)
    table_meta["TARGET"] = _target_name(given)
    if "CADENCE" in given:
        table_meta["CADENCE"] = _minutes(given["CADENCE"])
    else:
        cadence = median_step(days)
        if np.isfinite(cadence):
            table_meta["CADENCE"] = float(f"{cadence * 1440.0:.9g}")
    table_meta["FCN4FVER"] = __version__
    return table_meta


def _target_name(meta: Mapping[str, Any]) -> str:
    for key in _TARGET_KEYS:
        value = meta.get(key)
        if value is not None and str(value).strip():
            return str(value).strip()
    return ""


def _minutes(cadence: Any) -> float:
    if isinstance(cadence, u.Quantity):
        try:
            return float(cadence.to_value(u.min))
        except u.UnitConversionError as err:
            raise InputError(f"CADENCE must be a time, got {cadence}") from err
    return float(cadence)


def _common_meta(metas: list[Mapping[str, Any]]) -> dict[str, Any]:
    common = dict(metas[0])
    for meta in metas[1:]:
        for key in list(common):
            if key not in meta or not _same_value(common[key], meta[key]):
                del common[key]
    return common


def _same_value(a: Any, b: Any) -> bool:
    try:
        return bool(np.all(a == b))
    except (TypeError, ValueError, u.UnitsError):
        return False


def _per_event_floats(values: Any, name: str, n_events: int) -> np.ndarray:
    if values is None:
        return np.full(n_events, np.nan)
    array = _float_values(values, name)
    if array.size != n_events:
        raise InputError(f"{name} has {array.size} values for {n_events} events")
    return array


def _time_float_format(time: Time) -> str:
    return time.format if _is_numeric_format(time) else "jd"


def _time_floats(time: Time) -> np.ndarray:
    """Times as floats in their own format, or JD when that format is not numeric."""
    if _is_numeric_format(time):
        return np.asarray(time.value, dtype=float)
    return np.asarray(time.jd, dtype=float)


def _is_numeric_format(time: Time) -> bool:
    return np.asarray(time.value).dtype.kind in "fiu"


def _like(time: Time, reference: Time) -> Time:
    """``time`` in the scale and format of ``reference``."""
    converted = time.copy()
    if converted.scale != reference.scale:
        converted = getattr(converted, reference.scale)
    converted.format = reference.format
    return converted


def _with_light_curve_time_formats(read: Any, *args, **kwargs) -> QTable:
    """Call ``read``; if a time format is unknown, register lightkurve's and try again.

    Tables of Kepler/K2/TESS light curves use lightkurve's ``bkjd``/``btjd`` formats,
    which exist only once lightkurve has been imported.
    """
    try:
        return read(*args, **kwargs)
    except ValueError as err:
        if "allowed formats" not in str(err) or "btjd" in Time.FORMATS:
            raise
        import lightkurve  # noqa: F401  (defining its Time formats registers them)

        if args and hasattr(args[0], "seek"):
            args[0].seek(0)
        return read(*args, **kwargs)


def _read_ecsv(*args, format: str = "ascii.ecsv", **kwargs) -> QTable:
    reader = io_registry.get_reader(format, QTable)
    return _with_light_curve_time_formats(reader, *args, **kwargs)


def _read_fits(*args, astropy_native: bool = True, **kwargs) -> QTable:
    """Astropy's FITS reader, with Time columns restored to the format they were written in."""
    reader = io_registry.get_reader("fits", QTable)
    table = reader(*args, astropy_native=astropy_native, **kwargs)
    time_format = table.meta.pop(_TIME_FORMAT_KEY, None)
    if time_format is not None and time_format not in Time.FORMATS:
        import lightkurve  # noqa: F401  (registers the bkjd/btjd Time formats)
    if time_format in Time.FORMATS:
        for name in table.colnames:
            if isinstance(table[name], Time):
                table[name].format = time_format
    return table


def _write_fits(table: FlareTable, *args, **kwargs) -> None:
    """Astropy's FITS writer, recording the time columns' format in the header."""
    out = QTable(table, copy=False)
    out.meta = dict(table.meta)
    if "tstart" in out.colnames and isinstance(out["tstart"], Time):
        out.meta[_TIME_FORMAT_KEY] = out["tstart"].format
    io_registry.get_writer("fits", QTable)(out, *args, **kwargs)


def _register_io() -> None:
    for ecsv_format in ("ascii.ecsv", "ecsv"):
        def reader(*args, _format=ecsv_format, **kwargs):
            return _read_ecsv(*args, format=_format, **kwargs)

        io_registry.register_reader(ecsv_format, FlareTable, reader, force=True)
    io_registry.register_reader("fits", FlareTable, _read_fits, force=True)
    io_registry.register_writer("fits", FlareTable, _write_fits, force=True)


_register_io()
