"""``lc.flares``: flare detection as an attribute of every lightkurve light curve.

Importing fcn4flare registers `FlareAccessor` under the name ``flares`` on
`lightkurve.LightCurve` (and so on ``KeplerLightCurve``, ``TessLightCurve`` and the results
of ``normalize``, ``flatten``, ``remove_nans`` ...)::

    lc.flares.detect()     # FlareTable
    lc.flares.predict()    # probability per sample
    lc.flares.plot()       # light curve with flares shaded, probability underneath

The accessor holds no logic of its own: ``lc.flares.detect(**kw)`` is
``FlareDetector(**kw).run(lc).table()`` (`fcn4flare.detection.FlareDetector`, imported on first use,
so that registering the accessor imports neither PyTorch nor the network). It caches
nothing but itself (one accessor per light curve object); the model is cached by
`fcn4flare.network.load_model`.

A subclass that defines its own ``flares`` (AltaiPony's ``FlareLightCurve`` keeps a table of
flares there) keeps it: the registered attribute is a non-data descriptor, which an
attribute of the subclass or of the instance hides. For such objects call
`fcn4flare.detect_flares` directly.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

from ..exceptions import FCN4FlareError, FCN4FlareWarning

__all__ = ["FlareAccessor", "register_accessor", "ACCESSOR_NAME"]

#: Attribute name under which `FlareAccessor` is registered on lightkurve light curves.
ACCESSOR_NAME = "flares"

class FlareAccessor:
    """Flare detection for one light curve, reached as ``lc.flares``.

    Parameters
    ----------
    lc : `~lightkurve.LightCurve`
        The light curve; it is never modified.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> import lightkurve as lk
    >>> import fcn4flare  # registers lc.flares (import fcn4flare does it too)
    >>> from fcn4flare import FCN4FlareConfig, FCN4FlareModel
    >>> _ = torch.manual_seed(0)
    >>> model = FCN4FlareModel(FCN4FlareConfig(hidden_dim=8, depth=2, dilation=[1, 2]))
    >>> lc = lk.LightCurve(time=2459000 + np.arange(300) / 720, flux=np.ones(300))
    >>> type(lc.flares).__name__
    'FlareAccessor'
    >>> table = lc.flares.detect(model=model)
    >>> type(table).__name__, table.meta["THRESH"]
    ('FlareTable', 0.5)
    """

    def __init__(self, lc: Any):
        self._lc = lc

    def __repr__(self) -> str:
        return f"<FlareAccessor of a {type(self._lc).__name__} with {len(self._lc)} samples>"

    def detect(self, threshold: float | None = None, model: Any = None, *,
               characterize: bool | Mapping[str, Any] = False, **kwargs: Any) -> Any:
        """Find the flares of this light curve.

        Parameters
        ----------
        threshold : float or None
            Probability a sample must exceed to be part of a flare; None: the model's own
            (``model.config.detection_threshold``).
        model : `~fcn4flare.network.FCN4FlareModel`, str, path-like or None
            The network; None for the default shipped model.
        characterize : bool or dict
            Add uncertainties, shape, template-fit and (given ``luminosity`` or ``teff`` and
            ``radius`` in a dict) energy columns: a dict holds the options of
            `fcn4flare.catalog.characterize_flares`.
        **kwargs
            ``rules``, ``flux_column``, ``quality_bitmask``, ``chunk_size``, ``batch_size``,
            ``device``, ``vetting``: see `fcn4flare.detect_flares`.

        Returns
        -------
        `~fcn4flare.catalog.FlareTable`
            One row per flare; ``istart``, ``ipeak``, ``istop`` are rows of this light curve.

        Examples
        --------
        >>> import numpy as np
        >>> import torch
        >>> import lightkurve as lk
        >>> import fcn4flare
        >>> from fcn4flare import FCN4FlareConfig, FCN4FlareModel
        >>> _ = torch.manual_seed(0)
        >>> model = FCN4FlareModel(FCN4FlareConfig(hidden_dim=8, depth=2, dilation=[1, 2]))
        >>> lc = lk.LightCurve(time=2459000 + np.arange(300) / 720, flux=np.ones(300))
        >>> flares = lc.flares.detect(model=model, rules="published")
        >>> flares.meta["RULES"]
        'published'
        """
        from .detector import detect_flares

        table = detect_flares(self._lc, model=model, threshold=threshold, **kwargs)
        if characterize is False:
            return table
        options = {} if characterize is True else dict(characterize)
        options.setdefault("quality_bitmask", kwargs.get("quality_bitmask", "default"))
        return table.characterize(self._lc, **options)

    def predict(self, model: Any = None, **kwargs: Any) -> Any:
        """Flare probability of each sample of this light curve.

        Parameters
        ----------
        model : `~fcn4flare.network.FCN4FlareModel`, str, path-like or None
            The network; None for the default shipped model.
        **kwargs
            ``flux_column``, ``quality_bitmask``, ``chunk_size``, ``batch_size``, ``device``:
            see `fcn4flare.predict_flare_probability`.

        Returns
        -------
        `~astropy.units.Quantity`
            Dimensionless, one value per row, NaN where the flux was not usable.

        Examples
        --------
        >>> import numpy as np
        >>> import torch
        >>> import lightkurve as lk
        >>> import fcn4flare
        >>> from fcn4flare import FCN4FlareConfig, FCN4FlareModel
        >>> _ = torch.manual_seed(0)
        >>> model = FCN4FlareModel(FCN4FlareConfig(hidden_dim=8, depth=2, dilation=[1, 2]))
        >>> flux = np.ones(300)
        >>> flux[7] = np.nan
        >>> lc = lk.LightCurve(time=2459000 + np.arange(300) / 720, flux=flux)
        >>> probability = lc.flares.predict(model=model)
        >>> probability.shape, bool(np.isnan(probability[7]))
        ((300,), True)
        """
        from .detector import predict_flare_probability

        return predict_flare_probability(self._lc, model=model, **kwargs)

    def injection_recovery(self, **kwargs: Any) -> Any:
        """Inject synthetic flares into copies of this light curve and find them again.

        Parameters
        ----------
        **kwargs
            ``amplitude``, ``fwhm``, ``n_flares``, ``n_realisations``, ``template``,
            ``seed``, ``detector``, ``n_jobs``, ``progress`` and the detector options
            (``model``, ``threshold``, ``rules``, ...): see
            `fcn4flare.detection.injection_recovery`.

        Returns
        -------
        `~fcn4flare.detection.InjectionRecovery`
            One row per injected flare, the recovery map and the ED ratio.

        Examples
        --------
        >>> import numpy as np
        >>> import astropy.units as u
        >>> import lightkurve as lk
        >>> import torch
        >>> import fcn4flare
        >>> from fcn4flare import FCN4FlareConfig, FCN4FlareModel
        >>> _ = torch.manual_seed(0)
        >>> model = FCN4FlareModel(FCN4FlareConfig(hidden_dim=8, depth=2, dilation=[1, 2]))
        >>> flux = 1 + 1e-3 * np.random.default_rng(0).standard_normal(2000)
        >>> lc = lk.LightCurve(time=2459000 + np.arange(2000) / 720, flux=flux)
        >>> result = lc.flares.injection_recovery(fwhm=(5 * u.min, 20 * u.min), n_flares=2,
        ...                                       n_realisations=2, model=model)
        >>> len(result.table)
        4
        """
        from .recovery import injection_recovery

        return injection_recovery(self._lc, **kwargs)

    def plot(
        self,
        ax: Any = None,
        model: Any = None,
        threshold: float | None = None,
        *,
        rules: Any = None,
        flux_column: str | None = None,
        quality_bitmask: str | int | None = "default",
        device: Any = None,
        **kwargs: Any,
    ) -> Any:
        """Plot the light curve with its flares shaded and the probability underneath.

        The model runs once; the flux drawn is the flux the model saw (quality-flagged
        samples left out).

        Parameters
        ----------
        ax : `~matplotlib.axes.Axes`, optional
            Axes for the light curve; default: a new figure. The probability panel is added
            below it, in the same figure, sharing its time axis.
        model : `~fcn4flare.network.FCN4FlareModel`, str, path-like or None
            The network; None for the default shipped model.
        threshold : float or None
            Probability a sample must exceed to be part of a flare (None: the model's own);
            drawn as a dashed line.
        rules, flux_column, quality_bitmask, device
            See `fcn4flare.detect_flares`.
        **kwargs
            Passed to `~matplotlib.axes.Axes.plot` for the light curve.

        Returns
        -------
        `~matplotlib.axes.Axes`
            The light-curve axes. The probability panel is the axes created after it,
            ``ax.figure.axes[-1]``.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import numpy as np
        >>> import torch
        >>> import lightkurve as lk
        >>> import fcn4flare
        >>> from fcn4flare import FCN4FlareConfig, FCN4FlareModel
        >>> _ = torch.manual_seed(0)
        >>> model = FCN4FlareModel(FCN4FlareConfig(hidden_dim=8, depth=2, dilation=[1, 2]))
        >>> lc = lk.LightCurve(time=2459000 + np.arange(300) / 720, flux=np.ones(300))
        >>> ax = lc.flares.plot(model=model)
        >>> ax.figure.axes[-1].get_ylabel()
        'Flare probability'
        """
        from .detector import FlareDetector

        detector = FlareDetector(model, rules=rules, threshold=threshold, device=device,
                                 flux_column=flux_column, quality_bitmask=quality_bitmask)
        return detector.run(self._lc).plot(ax=ax, **kwargs)


def register_accessor(
    cls: type | None = None, name: str = ACCESSOR_NAME, accessor: type = FlareAccessor
) -> None:
    """Make ``obj.<name>`` return ``accessor(obj)`` for every instance of ``cls``.

    Registration happens once, on ``import fcn4flare``, for `lightkurve.LightCurve`;
    calling it again is harmless. A warning is given when ``cls`` already has an attribute
    of that name that is not ours; it is replaced.

    Parameters
    ----------
    cls : type, optional
        The class; default `lightkurve.LightCurve`.
    name : str
        Attribute name.
    accessor : type
        Class built from the object on first access.

    Examples
    --------
    >>> from fcn4flare.detection.accessor import register_accessor
    >>> class Star:
    ...     pass
    >>> class Hello:
    ...     def __init__(self, obj):
    ...         self.obj = obj
    >>> register_accessor(Star, "hello", Hello)
    >>> star = Star()
    >>> star.hello.obj is star, star.hello is star.hello
    (True, True)
    """
    if cls is None:
        from lightkurve import LightCurve as cls
    existing = cls.__dict__.get(name, getattr(cls, name, None))
    if existing is not None and not isinstance(existing, _CachedAccessor):
        warnings.warn(
            f"registering the fcn4flare accessor {name!r} on {cls.__name__} replaces an "
            f"existing attribute of that name ({existing!r}).",
            FCN4FlareWarning,
            stacklevel=2,
        )
    setattr(cls, name, _CachedAccessor(name, accessor))


class _CachedAccessor:
    """Non-data descriptor: builds the accessor on first access and stores it on the object.

    It defines no ``__set__``, so an attribute of the same name set on an instance (as
    AltaiPony's ``FlareLightCurve.__init__`` did) or defined by a subclass hides it.
    """

    def __init__(self, name: str, accessor: type):
        self._name = name
        self._accessor = accessor

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self._accessor
        try:
            built = self._accessor(obj)
        except AttributeError as err:
            # lightkurve's __getattr__ would turn this into "no attribute flares".
            raise FCN4FlareError(
                f"cannot build {type(obj).__name__}.{self._name}: {err}"
            ) from err
        # Stored past the class's __setattr__ (lightkurve warns on new attributes); copies
        # of the light curve do not carry it, so each object gets its own accessor.
        obj.__dict__[self._name] = built
        return built
