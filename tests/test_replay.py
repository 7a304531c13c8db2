"""`fcn4flare.evaluation.replay` helpers that need no catalogue."""

import numpy as np

from fcn4flare.evaluation.cases import Curve
from fcn4flare.evaluation.methods import Answer
from fcn4flare.evaluation.replay import split_fraction


def _curve(t):
    return Curve(name="c", group="g", time=t, flux=np.ones(t.size), flux_err=np.ones(t.size),
                 cadence_minutes=1.0, labels=np.zeros(t.size, dtype=bool))


def test_split_fraction_counts_flares_in_several_events():
    t = np.arange(100.0)
    catalogue = {"start": np.array([10.0, 40.0, 70.0, 90.0]),
                 "stop": np.array([20.0, 50.0, 75.0, 95.0])}
    # flare 1 in one event, flare 2 split in two, flare 3 in one, flare 4 missed
    events = (np.array([12, 41, 47, 71]), np.array([18, 44, 52, 73]))
    answer = Answer(flagged=np.zeros(100, bool), score=None, answered=np.ones(100, bool),
                    events=events)
    fraction, n_split = split_fraction(catalogue, [_curve(t)], [answer])
    assert n_split == 1 and fraction == 1 / 3


def test_split_fraction_without_found_flares_is_nan():
    t = np.arange(10.0)
    answer = Answer(flagged=np.zeros(10, bool), score=None, answered=np.ones(10, bool),
                    events=(np.zeros(0, int), np.zeros(0, int)))
    fraction, n_split = split_fraction({"start": np.array([2.0]), "stop": np.array([3.0])},
                                       [_curve(t)], [answer])
    assert np.isnan(fraction) and n_split == 0
