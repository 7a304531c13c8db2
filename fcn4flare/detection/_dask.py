"""Catalogue runs on a Dask cluster (``dask.distributed``, the optional extra ``dask``).

The detector (its model included) goes to each worker once, in a worker plugin: the
scheduler keeps the plugin and gives it to every worker that joins, so a worker restarted
after a loss gets the model too. Each task is one group of files and returns their
outcomes; it writes nothing but the optional plots (each to a temporary name renamed into
place), so that the scheduler may run it again when its worker is lost. Results are taken
as they finish; `~fcn4flare.detection.batch.stream_groups` orders nothing, the caller does.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..exceptions import InputError
from .batch import _group_result, _Outcome, _process_group
from .detector import FlareDetector

try:
    from distributed.diagnostics.plugin import WorkerPlugin
except ImportError:  # the optional extra is not installed: `connect` says so
    WorkerPlugin = object

__all__ = ["DetectorPlugin", "connect", "stream_groups"]

#: Seconds to wait for a scheduler given by its address.
CONNECT_TIMEOUT = 30


class DetectorPlugin(WorkerPlugin):
    """Hold one `~fcn4flare.detection.FlareDetector` on every worker of a cluster.

    Parameters
    ----------
    detector : `~fcn4flare.detection.FlareDetector`
        Pickled once when the plugin is registered, unpickled once per worker.
    name : str
        The plugin's name on the workers (one per run).

    Examples
    --------
    >>> import torch
    >>> from fcn4flare import FCN4FlareConfig, FCN4FlareModel
    >>> from fcn4flare.detection import FlareDetector
    >>> from fcn4flare.detection._dask import DetectorPlugin
    >>> _ = torch.manual_seed(0)
    >>> model = FCN4FlareModel(FCN4FlareConfig(hidden_dim=8, depth=2, dilation=[1, 2]))
    >>> DetectorPlugin(FlareDetector(model), "fcn4flare-run").name
    'fcn4flare-run'
    """

    def __init__(self, detector: FlareDetector, name: str) -> None:
        self.detector = detector
        self.name = name

    def setup(self, worker: Any) -> None:
        """Nothing to do: the detector arrived with the plugin."""


def connect(client: Any) -> tuple[Any, bool]:
    """``(client, owned)`` for a `distributed.Client` or a scheduler address.

    ``owned`` is True when the client was made here (and is to be closed by the caller).

    Raises
    ------
    InputError
        ``dask.distributed`` is not installed, the scheduler cannot be reached, or
        ``client`` is neither.
    """
    if WorkerPlugin is object:
        raise InputError(
            "client= needs dask.distributed: pip install 'fcn4flare[dask]' "
            "(or 'dask[distributed]')."
        )
    from distributed import Client

    if isinstance(client, (str, os.PathLike)):
        address = os.fspath(client)
        try:
            return Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False), True
        except (OSError, TimeoutError, ValueError) as err:
            raise InputError(
                f"cannot reach the Dask scheduler at {address!r}: {type(err).__name__}: {err}"
            ) from None
    if not (hasattr(client, "submit") and hasattr(client, "unregister_worker_plugin")):
        raise InputError(
            f"client must be a distributed.Client or a scheduler address, got {client!r}."
        )
    return client, False


def stream_groups(
    client: Any,
    detector: FlareDetector,
    payloads: Sequence[Sequence[tuple[str, Path | None]]],
) -> Iterator[tuple[int, list[_Outcome]]]:
    """Search each group of files as one task; yield ``(group number, outcomes)``.

    A task lost with its worker is run again by the scheduler (up to its
    ``distributed.scheduler.allowed-failures``); one that fails for good comes back with
    each of its files failed.
    """
    from distributed import as_completed

    if not payloads:
        return
    name = f"fcn4flare-{secrets.token_hex(6)}"
    plugin = DetectorPlugin(detector, name)
    if hasattr(client, "register_plugin"):
        client.register_plugin(plugin, name=name)
    else:  # distributed < 2023.9
        client.register_worker_plugin(plugin, name=name)
    futures = {}
    try:
        for k, payload in enumerate(payloads):
            future = client.submit(_run_group, name, list(payload), key=f"{name}-group-{k}",
                                   pure=False)
            futures[future] = k
        for future in as_completed(list(futures)):
            k = futures.pop(future)
            outcomes = _group_result(future, payloads[k])
            future.release()
            yield k, outcomes
    finally:
        if futures:
            client.cancel(list(futures))
        try:
            client.unregister_worker_plugin(name)
        except Exception:  # the cluster may be gone; the plugin goes with it
            pass


def _run_group(name: str, payload: list[tuple[str, Path | None]]) -> list[_Outcome]:
    """One task, on a worker: the run's detector on a group of files."""
    from distributed import get_worker

    plugin = get_worker().plugins[name]
    return _process_group(plugin.detector, payload)
