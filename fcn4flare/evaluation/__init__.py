"""The evaluation protocol of FCN4Flare models: the numbers that decide and document them.

``fcn4flare evaluate`` (or `run_evaluation`) scores a checkpoint on held-out simulated light
curves, on flares injected into real Kepler, K2 and TESS light curves and on those light
curves as they are, sweeps the post-processing rules and, optionally, runs the peer detectors
AltaiPony and stella on the same data. fcn4flare is run through
`~fcn4flare.detection.FlareDetector`, as users run it. The protocol is described in
``docs/benchmarks.rst``.

The modules, one job each:

* `~fcn4flare.evaluation.cases`: the light curves (simulated sets, real files, injections);
* `~fcn4flare.evaluation.methods`: the detectors and their `~fcn4flare.evaluation.methods.Answer`
  per sample (fcn4flare, and the peers through their runners in ``benchmarks/peers``);
* `~fcn4flare.evaluation.scoring`: point-wise and event-level scores, recalls, targets;
* `~fcn4flare.evaluation.report`: tables as text, CSV, JSON and reStructuredText;
* `~fcn4flare.evaluation.plots`: vetting figures;
* ``fcn4flare.evaluation.protocol``: the sections, `Settings` (`FULL`, `QUICK`) and the entry
  points;
* `~fcn4flare.evaluation.replay`: the GJ 1243 replay (human-labelled flares on a synthetic
  Kepler short-cadence star), ``python -m fcn4flare.evaluation.replay``.

Examples
--------
>>> from fcn4flare.evaluation import QUICK, run_evaluation
>>> evaluation = run_evaluation("fcn4flare-default", settings=QUICK,
...                             out="runs/eval-quick")  # doctest: +SKIP
>>> [table.name for table in evaluation.tables]  # doctest: +SKIP
['simulated_test', 'injection', ...]
"""

from __future__ import annotations

from .protocol import (
    DEFAULT_DATA,
    DEFAULT_OUT,
    FULL,
    QUICK,
    REPOSITORY,
    Evaluation,
    Settings,
    build_parser,
    main,
    run_evaluation,
    select_peers,
    write_outputs,
)

__all__ = [
    "Settings",
    "FULL",
    "QUICK",
    "Evaluation",
    "REPOSITORY",
    "DEFAULT_DATA",
    "DEFAULT_OUT",
    "build_parser",
    "select_peers",
    "run_evaluation",
    "write_outputs",
    "main",
]
