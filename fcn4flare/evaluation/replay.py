"""Replay the human-labelled GJ 1243 flares on a synthetic Kepler short-cadence star and score
detectors against the human start/stop times.

The Davenport et al. (2014) catalogue (``../shared/data/catalogs/gj1243_master_flares.tbl``)
lists 6,107 flares that people marked by eye in 11 months of Kepler short-cadence photometry
of GJ 1243, each from its first rising sample to its return to quiescence. The light curve
itself is not available here, so this benchmark rebuilds one:

* Time: the 58.85-s Kepler short-cadence grid over the catalogue's span, cut into segments
  where the catalogue has no flare for more than 1.5 days (the data gaps);
* star: GJ 1243's spot modulation (period 0.5926 d, semi-amplitude 1 %, amplitude and phase
  wandering over 10 rotations) and white noise of 3.5e-4 per sample (the noise assumed in the
  label calibration, ``benchmarks/fit_flare_distributions.py``);
* flares: every catalogue flare at its peak time with its peak flux, Davenport (2014) shape,
  FWHM chosen so that the template's equivalent duration equals the catalogue's, integrated
  over the 58.85-s exposure;
* labels: 1 between each flare's catalogue start and stop time: the people's labels (the 13
  flares with a peak flux <= 0 in the catalogue are labelled but not rendered).

It is a proxy for a real labelled Kepler short-cadence light curve: flare times, sizes and
the human labels are real; the flare shapes and the star are modelled. No real labelled light
curve is read, and nothing here is used in training.

Run::

    python -m fcn4flare.evaluation.replay --model fcn4flare-default [--model DIR ...] \
        [--peers [altaipony,stella]] [--days DAYS] [--catalogue FILE]

It prints the ceiling of the comparison (flagging every sample where the noiseless flare flux
exceeds the noise, scored against the people's start and stop times); point-wise precision,
recall, F1, IoU and AP and event recall/precision for every model (raw probability > 0.5, and
the default post-processing at the model's own threshold) and, with ``--peers``, AltaiPony and
stella (see ``benchmarks/peers/README.md``); last, each model's event recall in bins of
catalogue peak flux over the white noise. stella needs about 5 minutes per 30 days of data
here; ``--days`` restricts the replay to the first days of the catalogue.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..detection.rules import DetectionRules
from ..network import load_model
from ..simulate import flare_equivalent_duration, flare_model
from ..simulate.backgrounds import smooth_walk
from .cases import Curve
from .methods import (
    DEFAULT_PEER_ENVS,
    DEFAULT_PEER_RUNNERS,
    Answer,
    model_rules,
    peer_available,
    peers,
    run_model,
    run_peer,
)
from .scoring import score_answers

__all__ = ["CATALOGUE", "PEAK_BINS", "read_catalogue", "replay_curves", "recall_by_peak",
           "main"]

#: The Davenport et al. (2014) catalogue: ``../shared/data/catalogs`` next to the repository.
CATALOGUE = (Path(__file__).resolve().parents[3] / "shared" / "data" / "catalogs"
             / "gj1243_master_flares.tbl")
CADENCE_DAYS = 58.85 / 86400.0
ROTATION_PERIOD = 0.5926
SPOT_AMPLITUDE = 0.01
NOISE_SIGMA = 3.5e-4
SEGMENT_GAP_DAYS = 1.5
SEED = 1243


def read_catalogue(path: Path) -> dict[str, np.ndarray]:
    """Start, stop and peak time [d], peak flux and equivalent duration [s] of every flare.

    Parameters
    ----------
    path : path-like
        The catalogue (``gj1243_master_flares.tbl``).

    Returns
    -------
    dict of str to ndarray
        ``start``, ``stop``, ``peak_time``, ``rise``, ``peak_flux`` and ``ed``.
    """
    table = np.loadtxt(path)
    return {"start": table[:, 2], "stop": table[:, 3], "peak_time": table[:, 4],
            "rise": table[:, 5], "peak_flux": table[:, 7], "ed": table[:, 8]}


#: Bins of catalogue peak flux over the white noise for `recall_by_peak`.
PEAK_BINS = ((0, 4), (4, 6), (6, 10), (10, 20), (20, 50), (50, np.inf))


def replay_curves(catalogue: dict[str, np.ndarray], seed: int = SEED
                  ) -> tuple[list[Curve], list[np.ndarray]]:
    """The synthetic GJ 1243 light curve, one curve per data segment, labelled by people.

    Also the noiseless flare flux of each segment.

    Parameters
    ----------
    catalogue : dict of str to ndarray
        From `read_catalogue` (possibly cut to fewer flares).
    seed : int
        Seed of the star and the noise.

    Returns
    -------
    curves : list of `~fcn4flare.evaluation.cases.Curve`
    flare_fluxes : list of ndarray
        The noiseless flare flux of each curve.
    """
    rng = np.random.default_rng(seed)
    order = np.argsort(catalogue["start"])
    cat = {key: value[order] for key, value in catalogue.items()}
    fwhm = _fwhm_from_ed(cat["peak_flux"], cat["ed"], cat["rise"])
    breaks = np.flatnonzero(np.diff(cat["start"]) > SEGMENT_GAP_DAYS)
    bounds = np.split(np.arange(cat["start"].size), breaks + 1)
    curves, flare_fluxes = [], []
    for k, members in enumerate(bounds):
        t0 = cat["start"][members[0]] - 0.2
        t1 = cat["stop"][members].max() + 0.2
        t = t0 + np.arange(int(np.ceil((t1 - t0) / CADENCE_DAYS))) * CADENCE_DAYS
        phase = rng.uniform(0, 2 * np.pi) + 0.5 * smooth_walk(t, 10 * ROTATION_PERIOD, rng)
        envelope = np.clip(1 + 0.3 * smooth_walk(t, 10 * ROTATION_PERIOD, rng), 0.2, None)
        star = 1.0 + SPOT_AMPLITUDE * envelope * np.sin(2 * np.pi * t / ROTATION_PERIOD + phase)
        shown = members[cat["peak_flux"][members] > 0]
        flares = flare_model(t, cat["peak_time"][shown], fwhm[shown],
                             cat["peak_flux"][shown], template="davenport2014",
                             exposure_time=CADENCE_DAYS)
        flux = star + flares + NOISE_SIGMA * rng.standard_normal(t.size)
        labels = np.zeros(t.size, dtype=bool)
        for i in members:
            labels[(t >= cat["start"][i]) & (t <= cat["stop"][i])] = True
        curves.append(Curve(name=f"gj1243_segment{k:02d}", group="GJ 1243 replay", time=t,
                            flux=flux, flux_err=np.full(t.size, NOISE_SIGMA),
                            cadence_minutes=CADENCE_DAYS * 1440.0, labels=labels))
        flare_fluxes.append(flares)
    return curves, flare_fluxes


def recall_by_peak(catalogue: dict[str, np.ndarray], curves: Sequence[Curve],
                   flagged: Sequence[np.ndarray]) -> list[tuple[str, int, float]]:
    """Event recall of the catalogue flares (any flagged sample between their start and stop
    times) in bins of peak flux / white noise.

    Parameters
    ----------
    catalogue : dict of str to ndarray
        From `read_catalogue`.
    curves : sequence of `~fcn4flare.evaluation.cases.Curve`
        From `replay_curves`.
    flagged : sequence of ndarray of bool
        A detector's flagged samples, one array per curve.

    Returns
    -------
    list of (str, int, float)
        Bin name, number of flares and their event recall (`PEAK_BINS`).
    """
    t = np.concatenate([c.time for c in curves])
    order = np.argsort(t)
    t = t[order]
    cumulative = np.concatenate([[0], np.cumsum(np.concatenate(flagged)[order])])
    first = np.searchsorted(t, catalogue["start"], side="left")
    last = np.searchsorted(t, catalogue["stop"], side="right")
    found = cumulative[last] > cumulative[first]
    ratio = catalogue["peak_flux"] / NOISE_SIGMA
    out = []
    for lo, hi in PEAK_BINS:
        chosen = (ratio >= lo) & (ratio < hi)
        out.append((f"{lo:g}-{hi:g}", int(chosen.sum()),
                    float(found[chosen].mean()) if chosen.any() else float("nan")))
    return out


def split_fraction(catalogue: dict[str, np.ndarray], curves: Sequence[Curve],
                   answers: Sequence[Answer]) -> tuple[float, int]:
    """Fraction of the found catalogue flares that more than one detected event overlaps.

    Parameters
    ----------
    catalogue : dict of str to ndarray
        From `read_catalogue`.
    curves : sequence of `~fcn4flare.evaluation.cases.Curve`
        From `replay_curves`.
    answers : sequence of `~fcn4flare.evaluation.methods.Answer`
        A detector's answers with their ``events`` (row ranges), one per curve.

    Returns
    -------
    fraction : float
        Split flares over found flares (NaN when none is found).
    n_split : int
        Flares overlapped by two or more events.
    """
    starts = np.concatenate([c.time[a.events[0]] for c, a in zip(curves, answers, strict=True)])
    stops = np.concatenate([c.time[a.events[1]] for c, a in zip(curves, answers, strict=True)])
    order = np.argsort(starts)
    starts, stops = starts[order], stops[order]
    # events overlapping [start, stop]: those starting before stop minus those ending before
    # start (events do not overlap one another, so stops are sorted too)
    overlapping = (np.searchsorted(starts, catalogue["stop"], side="right")
                   - np.searchsorted(np.sort(stops), catalogue["start"], side="left"))
    found = overlapping >= 1
    n_split = int(np.count_nonzero(overlapping >= 2))
    return (n_split / int(found.sum()) if found.any() else float("nan")), n_split


def _recall_line(name: str, bins: list[tuple[str, int, float]]) -> str:
    return f"{name:<34} " + "  ".join(f"{b}: {r:.2f} ({n})" for b, n, r in bins)


def _fwhm_from_ed(peak_flux: np.ndarray, ed_seconds: np.ndarray,
                  rise_days: np.ndarray) -> np.ndarray:
    """FWHM [d] that gives the Davenport template the catalogue's equivalent duration; the
    rise time (about one FWHM for that template) where the catalogue's ED or peak is not
    positive (210 of 6,107 flares)."""
    unit_ed = flare_equivalent_duration(1.0, 1.0, template="davenport2014").to_value("s")
    with np.errstate(divide="ignore", invalid="ignore"):
        fwhm = ed_seconds / (peak_flux * unit_ed)
    fwhm = np.where((ed_seconds > 0) & (peak_flux > 0), fwhm, rise_days)
    return np.clip(fwhm, 0.25 * CADENCE_DAYS, None)


def _row(name: str, scores: dict) -> str:
    return (f"{name:<34} {scores['precision']:6.3f} {scores['recall']:6.3f} "
            f"{scores['f1']:6.3f} {scores['iou']:6.3f} {scores['average_precision']:6.3f} "
            f"{scores['event_recall']:6.3f} {scores['event_precision']:6.3f} "
            f"{scores['n_true_events']:6d}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the GJ 1243 replay and print its tables.

    Parameters
    ----------
    argv : sequence of str, optional
        Command-line arguments (see the module docs); ``sys.argv[1:]`` when omitted.

    Returns
    -------
    int
        0, also when the catalogue is absent (then nothing is done).
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", required=True,
                        help="checkpoint directory or shipped model name (repeatable)")
    parser.add_argument("--peers", nargs="?", const="altaipony,stella", default="",
                        help="also run these peers (comma-separated; default both)")
    parser.add_argument("--catalogue", type=Path, default=CATALOGUE)
    parser.add_argument("--days", type=float, default=None,
                        help="only the first DAYS of data (quick look)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--vetting", action="store_true",
                        help="run the detector with the template-fit vetting stage")
    parser.add_argument("--rules", type=json.loads, default=None, metavar="JSON",
                        help='rule overrides as JSON, e.g. \'{"low_threshold": 0.4}\'')
    parser.add_argument("--peer-envs", type=Path, default=DEFAULT_PEER_ENVS,
                        help="the peers' virtual environments")
    parser.add_argument("--peer-runners", type=Path, default=DEFAULT_PEER_RUNNERS,
                        help="the peers' runner scripts (benchmarks/peers)")
    args = parser.parse_args(argv)
    if not args.catalogue.is_file():
        print(f"GJ 1243 catalogue not found at {args.catalogue}; nothing to do (use "
              "--catalogue FILE).")
        return 0
    import torch

    torch.set_num_threads(args.threads)
    catalogue = read_catalogue(args.catalogue)
    if args.days is not None:
        keep = catalogue["start"] < catalogue["start"].min() + args.days
        catalogue = {key: value[keep] for key, value in catalogue.items()}
    curves, flare_fluxes = replay_curves(catalogue)
    n_points = sum(c.time.size for c in curves)
    days = sum(c.span_days for c in curves)
    labelled = sum(int(c.labels.sum()) for c in curves) / n_points
    print(f"GJ 1243 replay: {len(catalogue['start'])} catalogue flares, {len(curves)} segments, "
          f"{days:.1f} d, {n_points} samples, {100 * labelled:.1f} % labelled (seed {SEED})")
    print(f"{'method':<34} {'P':>6} {'R':>6} {'F1':>6} {'IoU':>6} {'AP':>6} "
          f"{'ev R':>6} {'ev P':>6} {'flares':>6}")
    oracle = [Answer(flagged=f > NOISE_SIGMA, score=None, answered=np.ones(f.size, bool))
              for f in flare_fluxes]
    print(_row("ceiling: true flare flux > noise", score_answers(curves, oracle)))
    recalls, splits = [], []
    for spec in args.model:
        model = load_model(spec)
        rules = model_rules(model)
        if args.rules:
            rules = DetectionRules.resolve(args.rules, threshold=rules.threshold)
        start = time.perf_counter()
        runs = run_model(model, curves, rules=rules, vetting=args.vetting or None)
        elapsed = time.perf_counter() - start
        label = "/".join(Path(spec).parts[-2:]) if Path(spec).exists() else spec
        raw = score_answers(curves, [r.raw_answer(0.5) for r in runs])
        print(_row(f"{label} p>0.5", raw))
        answers = [r.events_answer(rules) for r in runs]
        ruled = score_answers(curves, answers)
        ruled["average_precision"] = raw["average_precision"]
        print(_row(f"{label} default rules", ruled) + f"   ({elapsed:.1f} s)")
        recalls.append(_recall_line(f"{label} default rules",
                                    recall_by_peak(catalogue, curves,
                                                   [a.flagged for a in answers])))
        fraction, n_split = split_fraction(catalogue, curves, answers)
        splits.append(f"{label + ' default rules':<34} {100 * fraction:.2f} % "
                      f"({n_split} flares in more than one row)")
    registry = peers(args.peer_envs, args.peer_runners)
    for key in filter(None, args.peers.split(",")):
        if key not in registry:
            parser.error(f"unknown peer {key!r}; the peers are {', '.join(registry)}")
        peer = registry[key]
        if not peer_available(peer):
            print(f"{peer.label}: not installed (benchmarks/peers/setup_peers.sh)")
            continue
        start = time.perf_counter()
        answers = run_peer(peer, curves)
        elapsed = time.perf_counter() - start
        print(_row(peer.label, score_answers(curves, answers)) + f"   ({elapsed:.1f} s)")
    print("AP for the default rules is the probability's AP (the rules only cut events).")
    print("\nEvent recall by catalogue peak / white noise (number of flares):")
    print("\n".join(recalls))
    print("\nCatalogue flares found as more than one event:")
    print("\n".join(splits))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
