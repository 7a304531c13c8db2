"""`FlareDetector`: the one pipeline from a light curve to its flares, and its `Detection`.

Data flow one way, each step in its own module::

    light curve --lightcurve.prepare_light_curve--> PreparedLightCurve (rows, NaN where unusable)
        --lightcurve.GridMap--> flux on the regular cadence grid (NaN in gaps)
        --trend.estimate_trend--> StarTrend (once per light curve)
        --scaling.scale_flux--> the model's input, as its config says
        --network.predict_probability--> probability on the grid
        --DetectionRules--> events on the grid --catalog.FlareTable--> one row per flare

Detection, batch runs, the CLI and the evaluation all go through `FlareDetector`. It keeps
no state between light curves, so one detector may serve several threads. Nothing here
changes the light curve it is given.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from astropy import units as u

from .._arrays import fill_by_interpolation
from ..exceptions import InputError
from ..lightcurve import DEFAULT_MAX_GAP, GridMap, PreparedLightCurve, prepare_light_curve
from ..scaling import scale_flux, trend_method
from ..trend import StarTrend, estimate_trend
from .rules import DetectionRules, Events
from .vetting import DEFAULT_VETTING, VettingResult, VettingRules

__all__ = ["FlareDetector", "Detection", "detect_flares", "predict_flare_probability"]



class Detection:
    """What `~fcn4flare.detection.FlareDetector.run` found in one light curve.

    A results object in the style of astropy's ``BoxLeastSquaresResults``: the per-sample
    `probability`, the `events`, the `table` of flares and a `plot`. Everything is computed
    from the probability on the cadence grid and the star's `trend`, which the detector
    computed once.

    Attributes
    ----------
    prepared : `~fcn4flare.lightcurve.PreparedLightCurve`
        The light curve as the pipeline read it (rows, NaN where unusable).
    grid : `~fcn4flare.lightcurve.GridMap`
        Where its rows sit on the cadence grid.
    model_input : ndarray
        The network's input on the grid (``(n, channels)`` for models of several input
        channels; the first is the residual the rules read).
    network_probability : ndarray
        The network's probability on the grid, before vetting.
    rules : `~fcn4flare.detection.DetectionRules`
        The rules (with the threshold) that made `events`.
    meta : dict
        The model's name and checksum, for the table.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from fcn4flare import FCN4FlareConfig, FCN4FlareModel, FlareDetector
    >>> _ = torch.manual_seed(0)
    >>> model = FCN4FlareModel(FCN4FlareConfig(hidden_dim=8, depth=2, dilation=[1, 2]))
    >>> time = 2459000.0 + np.arange(300) / 720
    >>> flux = 1 + 1e-3 * np.random.default_rng(1).standard_normal(300)
    >>> detection = FlareDetector(model, threshold=0.5).run(time, flux=flux)
    >>> detection.probability.shape, detection.trend.branch
    ((300,), 'stellar')
    >>> type(detection.table()).__name__
    'FlareTable'
    """

    def __init__(
        self,
        prepared: PreparedLightCurve,
        grid: GridMap,
        model_input: np.ndarray,
        grid_probability: np.ndarray,
        rules: DetectionRules,
        *,
        trend: StarTrend | None = None,
        trend_kind: str = "rotation",
        meta: Mapping[str, Any] | None = None,
        label: str = "",
        vetting: VettingRules | None = None,
    ) -> None:
        self.prepared = prepared
        self.grid = grid
        self.model_input = model_input
        self.network_probability = grid_probability
        self.rules = rules
        self.vetting = vetting
        self.meta = dict(meta or {})
        self.label = label
        self._trend = trend
        self._trend_kind = trend_kind

    def __repr__(self) -> str:
        return (f"<Detection of {len(self.prepared)} samples: {len(self.events)} flare(s) at "
                f"threshold {self.rules.threshold}>")

    # ------------------------------------------------------------------ results

    @functools.cached_property
    def trend(self) -> StarTrend:
        """The star's `~fcn4flare.trend.StarTrend` on the grid (the one the model saw)."""
        if self._trend is not None:
            return self._trend
        with _labelled(self.label):
            return estimate_trend(self.grid.to_grid(self.prepared.flux), self._trend_kind)

    @property
    def grid_flux(self) -> np.ndarray:
        """The model's input on the grid (an alias of ``model_input``)."""
        return self.model_input

    @property
    def probability(self) -> u.Quantity:
        """Flare probability at each input row (dimensionless), NaN where not usable."""
        return self.grid.from_grid(self.grid_probability) * u.dimensionless_unscaled

    @functools.cached_property
    def candidates(self) -> Events:
        """Events on the grid by ``rules`` from the network's probability, before vetting."""
        return self.rules.apply(self.network_probability, self.residual_input)

    @property
    def residual_input(self) -> np.ndarray:
        """The first channel of the model's input: what the rules find peaks and extents in."""
        x = self.model_input
        return x if x.ndim == 1 else x[:, 0]

    @functools.cached_property
    def vetted(self) -> VettingResult | None:
        """The template-fit verdict on each candidate (None without vetting)."""
        if self.vetting is None:
            return None
        from .vetting import vet_events

        candidates = self.candidates
        days = np.arange(self.grid.size) * self.grid.cadence_days
        flux = self.grid.to_grid(self.prepared.flux)
        flux_err = None
        if self.prepared.flux_err is not None:
            flux_err = self.grid.to_grid(self.prepared.flux_err)
            if not np.any(np.isfinite(flux_err) & (flux_err > 0)):
                flux_err = None
            else:
                flux_err = np.where(flux_err > 0, flux_err, np.nan)
        with _labelled(self.label):
            return vet_events(days, flux, candidates.start, candidates.stop, self.vetting,
                              flux_err=flux_err)

    @functools.cached_property
    def grid_probability(self) -> np.ndarray:
        """Probability on the grid: the network's, times each candidate's vetting weight."""
        vetted = self.vetted
        if vetted is None:
            return self.network_probability
        factor = np.ones(self.network_probability.size)
        for start, stop, w in zip(self.candidates.start, self.candidates.stop, vetted.weight,
                                  strict=True):
            factor[start : stop + 1] = w
        return self.network_probability * factor

    @functools.cached_property
    def events(self) -> Events:
        """Events on the grid (runs are contiguous in time), by ``rules`` and the vetting."""
        candidates = self.candidates
        vetted = self.vetted
        if vetted is None:
            return candidates
        keep = vetted.keep
        return Events(
            start=candidates.start[keep], peak=candidates.peak[keep],
            stop=candidates.stop[keep], score=(candidates.score * vetted.weight)[keep],
            max_score=(candidates.max_score * vetted.weight)[keep],
        )

    def quiescent_flux(self) -> np.ndarray:
        """The star's trend at the input rows, in the flux's units (gaps interpolated)."""
        return fill_by_interpolation(self.grid.from_grid(self.trend.quiescent_flux()))

    def table(self) -> Any:
        """The flares as a `~fcn4flare.catalog.FlareTable`, one row per event.

        ``istart``, ``ipeak`` and ``istop`` are rows of the light curve given; amplitudes
        and equivalent durations are measured against the star's `trend` (for stars on
        the running-median branch, against the flare-masked running median of
        `~fcn4flare.catalog.measure_flares`).

        Examples
        --------
        >>> from fcn4flare import FlareDetector
        >>> from fcn4flare.simulate import example_light_curve
        >>> lc = example_light_curve()
        >>> flares = FlareDetector().run(lc).table()
        >>> type(flares).__name__, flares["tpeak"].format, flares["equivalent_duration"].unit
        ('FlareTable', 'bkjd', Unit("s"))
        >>> bool(all(lc.time[flares["ipeak"]] == flares["tpeak"]))
        True
        """
        from ..catalog import FlareTable

        events = self.events
        # Flagged samples have a probability, hence flux, hence are input rows; the sides of
        # rows_of keep every index inside its run should that ever not hold.
        starts, stops, peaks = self.grid.rows_of(events.start, events.stop, events.peak)
        lc = self.prepared
        meta = _light_curve_meta(lc)
        meta.update(self.meta)
        meta["THRESH"] = float(self.rules.threshold)
        meta["RULES"] = self.rules.name
        quiescent = None
        if starts.size and self.trend.branch != "running_median":
            # A running median long enough for the model's input is not flare-masked and
            # lags fast spots: measured against it, injected flares came back worse (Kepler
            # Q2 amplitude ratio IQR 0.66-1.34 against 0.74-1.14) than against the table's
            # own flare-masked running median, which such stars therefore keep.
            quiescent = self.quiescent_flux()
        with _labelled(self.label):
            table = FlareTable.from_events(
                lc.time, lc.flux, starts, peaks, stops, events.score, events.max_score,
                meta=meta, quiescent=quiescent,
            )
        if self.vetted is not None:
            _add_fit_columns(table, self, [f for f, k in zip(self.vetted.fits,
                                                             self.vetted.keep, strict=True) if k])
        return table

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """The light curve the model saw with its flares shaded, the probability below.

        Parameters
        ----------
        ax : `~matplotlib.axes.Axes`, optional
            Axes for the light curve; default: a new figure.
        **kwargs
            Passed to `~matplotlib.axes.Axes.plot` for the light curve.

        Returns
        -------
        `~matplotlib.axes.Axes`
            The light-curve axes; the probability panel is ``ax.figure.axes[-1]``.
        """
        from .plotting import plot_detection

        return plot_detection(self, self.table(), ax=ax, **kwargs)


class FlareDetector:
    """Finds flares: a model, the rules that turn its probabilities into events, and options.

    ``FlareDetector(...).run(lc)`` is the whole pipeline (see the module docs);
    ``lc.flares.detect(**kw)`` is ``FlareDetector(**kw).run(lc).table()``. The model is
    loaded once, when the detector is made; `run` keeps nothing between calls, so one
    detector can serve several light curves and threads.

    Parameters
    ----------
    model : `~fcn4flare.network.FCN4FlareModel`, str, path-like or None
        None for the default shipped model, a shipped model's name, a checkpoint directory
        or file, or a model object (used as is; the transformers wrapper too).
    rules : {'default', 'published'}, dict, `~fcn4flare.detection.DetectionRules` or None
        How runs of high probability become events; a dict overrides single rules of the
        defaults (see `~fcn4flare.detection.DetectionRules.resolve`).
    threshold : float or None
        Probability a sample must exceed, in [0, 1); None: the model's own
        ``config.detection_threshold``.
    device : str or `torch.device`, optional
        Device for a model read from disk (CPU by default). A model object runs where it
        lives; a different ``device`` is an error.
    flux_column : str, optional
        Column to use; default ``flux`` for lightkurve objects, else the choice of
        `~fcn4flare.lightcurve.prepare_light_curve`.
    quality_bitmask : {'none', 'default', 'hard', 'hardest'}, int or None
        Quality flags whose samples are ignored (NaN to the model; rows are kept).
    chunk_size, batch_size : int, optional
        Window length and windows per forward pass (default
        `~fcn4flare.network.DEFAULT_CHUNK_SIZE` and `~fcn4flare.network.DEFAULT_BATCH_SIZE`);
        they change memory use, not results.
    vetting : bool or `~fcn4flare.detection.vetting.VettingRules`, optional
        Fit a flare template against a smooth background to every candidate and fold the
        verdict into scores and probabilities (`fcn4flare.detection.vetting`); True uses
        `~fcn4flare.detection.vetting.DEFAULT_VETTING`. Off by default.

    Raises
    ------
    InputError
        Unknown rules, a bad threshold or option, or a model object of the wrong type.
    CheckpointError
        The model cannot be found or read.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from fcn4flare import FCN4FlareConfig, FCN4FlareModel, FlareDetector
    >>> _ = torch.manual_seed(0)
    >>> model = FCN4FlareModel(FCN4FlareConfig(hidden_dim=8, depth=2, dilation=[1, 2]))
    >>> detector = FlareDetector(model, rules="published", threshold=0.5)
    >>> detector.rules.name, detector.rules.threshold
    ('published', 0.5)
    >>> time = 2459000.0 + np.arange(200) / 720
    >>> flux = 1 + 0.001 * np.random.default_rng(1).standard_normal(200)
    >>> detector.run(time, flux=flux).table().meta["RULES"]
    'published'
    """

    def __init__(
        self,
        model: Any = None,
        rules: Any = "default",
        threshold: float | None = None,
        device: Any = None,
        *,
        flux_column: str | None = None,
        quality_bitmask: str | int | None = "default",
        chunk_size: int | None = None,
        batch_size: int | None = None,
        vetting: bool | VettingRules | None = None,
    ) -> None:
        from ..network.inference import DEFAULT_BATCH_SIZE, DEFAULT_CHUNK_SIZE

        rules = DetectionRules.resolve(rules, threshold)
        self.vetting = _vetting_rules(vetting)
        chunk_size = DEFAULT_CHUNK_SIZE if chunk_size is None else chunk_size
        batch_size = DEFAULT_BATCH_SIZE if batch_size is None else batch_size
        self.chunk_size = _positive_int("chunk_size", chunk_size)
        self.batch_size = _positive_int("batch_size", batch_size)
        if flux_column is not None and not isinstance(flux_column, str):
            raise InputError(f"flux_column must be a column name, got {flux_column!r}.")
        self.flux_column = flux_column
        self.quality_bitmask = quality_bitmask
        self.model = _resolve_model(model, device)
        if rules.threshold is None:
            rules = rules.with_threshold(float(self.model.config.detection_threshold))
        self.rules = rules
        self.model_name = _model_label(model)

    def __repr__(self) -> str:
        return (f"FlareDetector(model={self.model_name!r}, rules={self.rules.name!r}, "
                f"threshold={self.rules.threshold})")

    @property
    def input_scaling(self) -> str:
        """The model's input scaling (``config.input_scaling``), as it was trained."""
        return str(self.model.config.input_scaling)

    def run(self, data: Any, flux: Any = None) -> Detection | list[Detection]:
        """Run the pipeline on one light curve or a list of them.

        Parameters
        ----------
        data : LightCurve, `~astropy.timeseries.TimeSeries`, list of them, or times
            A lightkurve light curve (any mission), a ``TimeSeries`` with a flux column, a
            list or tuple of those or a ``LightCurveCollection`` (run through the network
            together, in batches), or sample times when ``flux`` is given.
        flux : array-like or `~astropy.units.Quantity`, optional
            Flux, one value per time; only when ``data`` holds times.

        Returns
        -------
        `~fcn4flare.detection.Detection` or list of `~fcn4flare.detection.Detection`
            A list when ``data`` is a list.

        Raises
        ------
        InputError
            Unusable data; for a list the message names which light curve.

        Examples
        --------
        >>> from fcn4flare import FlareDetector
        >>> from fcn4flare.simulate import example_light_curve
        >>> lc = example_light_curve()
        >>> detector = FlareDetector()
        >>> detection = detector.run(lc)
        >>> len(detection.events) >= 4, detection.probability.shape == lc.flux.shape
        (True, True)
        >>> both = detector.run([lc, lc[:2000]])  # one network pass for the two
        >>> [len(d.prepared) for d in both] == [len(lc), 2000]
        True
        """
        items, many = _as_items(data, flux)
        labels = [f"light curve {i}" if many else "" for i in range(len(items))]
        prepared = [self.prepare(d, f, label=label) for (d, f), label in zip(items, labels,
                                                                             strict=True)]
        detections = self.run_prepared(prepared, labels=labels)
        return detections if many else detections[0]

    def prepare(self, data: Any, flux: Any = None, *, label: str = "") -> PreparedLightCurve:
        """Read one light curve with this detector's column and quality options."""
        with _labelled(label):
            return prepare_light_curve(
                data, flux, flux_column=self.flux_column, quality_bitmask=self.quality_bitmask
            )

    def run_prepared(
        self, prepared: Sequence[PreparedLightCurve], *, labels: Sequence[str] | None = None
    ) -> list[Detection]:
        """Run the pipeline from prepared light curves on (what `run` does after reading).

        Parameters
        ----------
        prepared : sequence of `~fcn4flare.lightcurve.PreparedLightCurve`
            The light curves.
        labels : sequence of str, optional
            Names for error messages, one per light curve.
        """
        from ..network import predict_probability

        labels = list(labels) if labels is not None else [""] * len(prepared)
        kind = trend_method(self.input_scaling)
        inputs = self._model_inputs(prepared, labels)
        # One call for all the light curves: the network runs window by window over all of
        # them, with the BatchNorm folded (see predict_probability).
        probabilities = predict_probability(
            self.model, [x for _, x, _ in inputs], chunk_size=self.chunk_size,
            batch_size=self.batch_size,
        )
        meta = {"MODEL": self.model_name, "MODELSUM": self.model.checksum()}
        return [
            Detection(lc, grid, x, p, self.rules, trend=trend, trend_kind=kind, meta=meta,
                      label=label, vetting=self.vetting)
            for lc, (grid, x, trend), p, label in zip(prepared, inputs, probabilities, labels,
                                                      strict=True)
        ]


    def _model_inputs(self, prepared: Sequence[PreparedLightCurve],
                      labels: Sequence[str] | None = None
                      ) -> list[tuple[GridMap, np.ndarray, StarTrend | None]]:
        """(grid, the network's input, the star's trend) of each prepared light curve."""
        labels = list(labels) if labels is not None else [""] * len(prepared)
        scaling = self.input_scaling
        kind = trend_method(scaling)
        needs_trend = _scaling_needs_trend(scaling)
        max_gap = max(DEFAULT_MAX_GAP, int(self.model.config.context))
        inputs = []
        for lc, label in zip(prepared, labels, strict=True):
            with _labelled(label):
                grid = lc.grid(max_gap=max_gap)
                grid_flux = grid.to_grid(lc.flux)
                trend = estimate_trend(grid_flux, kind) if needs_trend else None
                inputs.append((grid, scale_flux(grid_flux, scaling, trend), trend))
        return inputs


# --------------------------------------------------------------------------- functions


def _add_fit_columns(table: Any, detection: Detection, fits: list) -> None:
    """The vetting fit of each row: peak time, amplitude, FWHM, ED, errors and delta BIC."""
    from astropy.time import Time

    n = len(fits)
    names = ("amplitude", "amplitude_err", "fwhm", "fwhm_err", "equivalent_duration",
             "equivalent_duration_err")
    units = {"fwhm": u.min, "fwhm_err": u.min, "equivalent_duration": u.s,
             "equivalent_duration_err": u.s}
    values = {name: np.full(n, np.nan) for name in (*names, "tpeak", "delta_bic")}
    for k, fit in enumerate(fits):
        if fit is None:
            continue
        values["delta_bic"][k] = fit.delta_bic
        if not fit.success:
            continue
        values["tpeak"][k] = fit.tpeak.to_value(u.day)
        for name in names:
            values[name][k] = getattr(fit, name).to_value(units.get(name, u.one))
    grid = detection.grid
    time = detection.prepared.time
    jd = np.interp(values["tpeak"] / grid.cadence_days, grid.index, time.jd)
    tpeak = Time(np.where(np.isfinite(jd), jd, time.jd[0]), format="jd", scale=time.scale)
    tpeak.format = time.format
    table["fit_tpeak"] = tpeak
    for name in names:
        table[f"fit_{name}"] = values[name] * units.get(name, u.dimensionless_unscaled)
    table["delta_bic"] = values["delta_bic"]
    for name in ("fit_tpeak", *(f"fit_{n}" for n in names)):
        table[name].info.description = f"Template fit of the vetting: {name[4:]}"
    table["delta_bic"].info.description = (
        "BIC of the background alone minus BIC of template + background (> 0 favours a flare)"
    )


def _vetting_rules(vetting: Any) -> VettingRules | None:
    if vetting is None or vetting is False:
        return None
    if vetting is True:
        return DEFAULT_VETTING
    if isinstance(vetting, VettingRules):
        return vetting
    raise InputError(
        f"vetting must be True, False, None or a VettingRules, got {type(vetting).__name__}."
    )


def predict_flare_probability(
    data: Any,
    *,
    flux: Any = None,
    model: Any = None,
    flux_column: str | None = None,
    quality_bitmask: str | int | None = "default",
    chunk_size: int | None = None,
    batch_size: int | None = None,
    device: Any = None,
) -> u.Quantity | list[u.Quantity]:
    """Flare probability of every sample of a light curve (or of several).

    ``FlareDetector(model, ...).run(data).probability``.

    Parameters
    ----------
    data : LightCurve, `~astropy.timeseries.TimeSeries`, list of them, or times
        See `~fcn4flare.detection.FlareDetector.run`.
    flux : array-like or `~astropy.units.Quantity`, optional
        Flux, one value per time; only when ``data`` holds times.
    model, flux_column, quality_bitmask, chunk_size, batch_size, device
        See `~fcn4flare.detection.FlareDetector`.

    Returns
    -------
    `~astropy.units.Quantity` or list of `~astropy.units.Quantity`
        Dimensionless probabilities, one per input row, NaN where there was no usable flux
        (quality-flagged, NaN or masked). A list when ``data`` is a list.

    Raises
    ------
    InputError
        Unusable data (the message names the light curve and the problem).
    CheckpointError
        The model cannot be found or read.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from fcn4flare import FCN4FlareConfig, FCN4FlareModel
    >>> from fcn4flare.detection import predict_flare_probability
    >>> _ = torch.manual_seed(0)
    >>> model = FCN4FlareModel(FCN4FlareConfig(hidden_dim=8, depth=2, dilation=[1, 2]))
    >>> time = 2459000.0 + np.arange(200) / 720  # JD, 2-min cadence
    >>> flux = 1 + 0.001 * np.random.default_rng(1).standard_normal(200)
    >>> flux[20] = np.nan
    >>> probability = predict_flare_probability(time, flux=flux, model=model)
    >>> probability.shape, probability.unit, bool(np.isnan(probability[20]))
    ((200,), Unit(dimensionless), True)
    """
    detector = FlareDetector(
        model, device=device, flux_column=flux_column, quality_bitmask=quality_bitmask,
        chunk_size=chunk_size, batch_size=batch_size,
    )
    result = detector.run(data, flux)
    if isinstance(result, list):
        return [d.probability for d in result]
    return result.probability


def detect_flares(
    data: Any,
    *,
    flux: Any = None,
    model: Any = None,
    threshold: float | None = None,
    rules: Any = None,
    flux_column: str | None = None,
    quality_bitmask: str | int | None = "default",
    chunk_size: int | None = None,
    batch_size: int | None = None,
    device: Any = None,
    vetting: Any = None,
) -> Any:
    """Find the flares in a light curve (or in several) and return them as a table.

    ``FlareDetector(model, rules, threshold, ...).run(data).table()``: the network gives a
    probability per sample; samples above ``threshold`` form runs on the light curve's
    regular cadence grid (so a run never bridges a data gap), the ``rules`` keep the
    flare-like runs, and each kept run becomes a row of a `~fcn4flare.catalog.FlareTable`
    whose indices (``istart``, ``ipeak``, ``istop``) are rows of the light curve given.

    Parameters
    ----------
    data : LightCurve, `~astropy.timeseries.TimeSeries`, list of them, or times
        See `~fcn4flare.detection.FlareDetector.run`.
    flux : array-like or `~astropy.units.Quantity`, optional
        Flux, one value per time; only when ``data`` holds times.
    model : `~fcn4flare.network.FCN4FlareModel`, str, path-like or None
        See `~fcn4flare.detection.FlareDetector`.
    threshold : float or None
        Probability a sample must exceed to be part of a flare, in [0, 1). None: the model's
        own ``config.detection_threshold``.
    rules : {None, 'default', 'published'}, dict or `~fcn4flare.detection.DetectionRules`
        None or ``'default'``: the rules chosen by the evaluation of the shipped model.
        ``'published'``: the rules of the published FCN4Flare pipeline (at least 3 samples,
        a decay longer than the rise, consistent flux levels either side). A dict overrides
        single rules of the defaults, e.g. ``{"min_points": 3}``.
    flux_column, quality_bitmask, chunk_size, batch_size, device, vetting
        See `~fcn4flare.detection.FlareDetector`.

    Returns
    -------
    `~fcn4flare.catalog.FlareTable` or list of `~fcn4flare.catalog.FlareTable`
        One row per flare. Its ``meta`` records ``TARGET``, ``MISSION``, ``QUARTER`` /
        ``CAMPAIGN`` / ``SECTOR`` (when known), ``CADENCE`` (minutes), ``FLUXCOL``,
        ``QUALMASK``, ``MODEL``, ``MODELSUM`` (checksum of the weights), ``THRESH``,
        ``RULES`` and ``FCN4FVER``. A list when ``data`` is a list.

    Raises
    ------
    InputError
        Unusable data, an invalid threshold or unknown rules.
    CheckpointError
        The model cannot be found or read.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from fcn4flare import FCN4FlareConfig, FCN4FlareModel
    >>> from fcn4flare.detection import detect_flares
    >>> _ = torch.manual_seed(0)
    >>> model = FCN4FlareModel(FCN4FlareConfig(hidden_dim=8, depth=2, dilation=[1, 2]))
    >>> time = 2459000.0 + np.arange(200) / 720
    >>> flux = 1 + 0.001 * np.random.default_rng(1).standard_normal(200)
    >>> flares = detect_flares(time, flux=flux, model=model, threshold=0.5)
    >>> flares.meta["THRESH"], flares.meta["MODEL"], len(flares.meta["MODELSUM"])
    (0.5, 'FCN4FlareModel (in memory)', 64)
    >>> flares.colnames[:4]
    ['target', 'tstart', 'tpeak', 'tstop']
    """
    detector = FlareDetector(
        model, rules=rules, threshold=threshold, device=device, flux_column=flux_column,
        quality_bitmask=quality_bitmask, chunk_size=chunk_size, batch_size=batch_size,
        vetting=vetting,
    )
    result = detector.run(data, flux)
    if isinstance(result, list):
        return [d.table() for d in result]
    return result.table()


# --------------------------------------------------------------------------- helpers


def _scaling_needs_trend(method: str) -> bool:
    from ..scaling import SCALING_METHODS

    scaling = SCALING_METHODS.get(method)
    return scaling is None or scaling.needs_noise or scaling.trend is not None


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InputError(f"{name} must be a positive whole number, got {value!r}.")
    return int(value)


def _as_items(data: Any, flux: Any) -> tuple[list[tuple[Any, Any]], bool]:
    """``[(data, flux), ...]`` and whether the caller gave a list."""
    if flux is not None:
        return [(data, flux)], False
    if _is_collection(data):  # lightkurve's LightCurveCollection: a list of light curves
        data = list(data)
    if isinstance(data, (str, os.PathLike)):
        raise InputError(
            f"got the path {os.fspath(data)!r}: read the file first (lightkurve.read(path)), "
            "or use fcn4flare.detect_flares_in_files for files."
        )
    if isinstance(data, (list, tuple)):
        for i, item in enumerate(data):
            if not (hasattr(item, "colnames") and hasattr(item, "meta")):
                raise InputError(
                    f"light curve {i} of the list is a {type(item).__name__}, not a light "
                    "curve or TimeSeries; for plain arrays call with times and flux=."
                )
        return [(item, None) for item in data], True
    return [(data, None)], False


def _is_collection(data: Any) -> bool:
    import sys

    lightkurve = sys.modules.get("lightkurve")
    return lightkurve is not None and isinstance(data, lightkurve.collections.Collection)


def _resolve_model(model: Any, device: Any) -> Any:
    import torch

    from ..network import FCN4FlareModel, load_model

    if hasattr(model, "to_fcn4flare"):  # the transformers wrapper of fcn4flare.network.hf
        model = model.to_fcn4flare()
    if isinstance(model, torch.nn.Module) and not isinstance(model, FCN4FlareModel):
        raise InputError(
            f"model must be an FCN4FlareModel, a shipped model's name or a checkpoint path; "
            f"got a {type(model).__name__}."
        )
    if isinstance(model, FCN4FlareModel) and device is not None:
        if torch.device(device) != _device_of(model):
            raise InputError(
                f"the model lives on {_device_of(model)}, not on {torch.device(device)}; move "
                "it with model.to(device) or leave device unset."
            )
    return load_model(model, device=device)


def _device_of(model: Any) -> Any:
    import torch

    device = model.device
    if device.type != "cpu" and device.index is None:
        return torch.device(device.type, 0)
    return device


def _light_curve_meta(lc: PreparedLightCurve) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for key in ("target", "mission", "quarter", "campaign", "sector"):
        value = lc.meta.get(key)
        if value is not None and value != "":
            meta[key.upper()] = value
    if lc.cadence is not None and np.isfinite(lc.cadence.value):
        meta["CADENCE"] = lc.cadence
    if lc.meta.get("flux_column") is not None:
        meta["FLUXCOL"] = lc.meta["flux_column"]
    if lc.meta.get("quality_bitmask") is not None:
        meta["QUALMASK"] = int(lc.meta["quality_bitmask"])
    return meta


def _model_label(spec: Any) -> str:
    from ..network.pretrained import DEFAULT_MODEL

    if spec is None:
        return DEFAULT_MODEL
    if isinstance(spec, (str, os.PathLike)):
        return os.fspath(spec)
    return f"{type(spec).__name__} (in memory)"


class _labelled:
    """Prefix the message of an `InputError` raised inside with which light curve it is."""

    def __init__(self, label: str):
        self.label = label

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, error: Any, traceback: Any) -> bool:
        if self.label and isinstance(error, InputError):
            raise InputError(f"{self.label}: {error}") from error
        return False
