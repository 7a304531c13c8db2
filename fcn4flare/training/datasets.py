"""Torch data sets of fixed-length training examples: real light curves and simulated flares.

Every item is a tuple ``(flux, labels, sequence_mask)`` of float32 tensors of length
``seq_len``, padded as the published release padded: flux NaN, labels ``-100``, mask 0. The
flux is scaled with `fcn4flare.scaling.scale_flux` using the model's ``input_scaling``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from .._arrays import missing_samples
from ..exceptions import FCN4FlareWarning, InputError
from ..scaling import scale_flux
from .sources import PADDING_LABEL, LabelledLightCurve

__all__ = ["pad_example", "LightCurveWindows", "SimulatedFlareDataset", "TRAIN_STREAM",
           "VALIDATION_STREAM", "TEST_STREAM"]

#: Seed streams of `SimulatedFlareDataset`: the same seed gives unrelated examples in each.
TRAIN_STREAM, VALIDATION_STREAM, TEST_STREAM = 0, 1, 2

Example = tuple[torch.Tensor, torch.Tensor, torch.Tensor]

# Background windows drawn before giving up on one that is at least half finite.
_BACKGROUND_TRIES = 5
# Simulated light curves drawn for one item before a scaling error is raised.
_SIMULATION_TRIES = 5


def pad_example(flux: np.ndarray, labels: np.ndarray, seq_len: int) -> Example:
    """Pad (or cut) one example to ``seq_len`` samples, as the published release did.

    Padded samples get flux NaN, label ``-100`` and mask 0; samples labelled ``-100``
    inside the example (inserted cadences) also get mask 0.

    Parameters
    ----------
    flux : ndarray
        Scaled flux, NaN where missing: ``[n]``, or ``[n, channels]`` for models of several
        input channels.
    labels : ndarray
        0/1 labels, ``-100`` where the sample is not real.
    seq_len : int
        Length of the result.

    Returns
    -------
    tuple of torch.Tensor
        ``(flux, labels, sequence_mask)``, float32, each ``[seq_len]`` (flux
        ``[seq_len, channels]`` when given channels).

    Examples
    --------
    >>> import numpy as np
    >>> from fcn4flare.training import pad_example
    >>> flux, labels, mask = pad_example(np.array([1.0, 2.0]), np.array([0, 1]), 4)
    >>> flux.tolist(), labels.tolist(), mask.tolist()
    ([1.0, 2.0, nan, nan], [0.0, 1.0, -100.0, -100.0], [1.0, 1.0, 0.0, 0.0])
    """
    n = min(len(flux), seq_len)
    out_flux = np.full((seq_len, *np.shape(flux)[1:]), np.nan, dtype=np.float32)
    out_labels = np.full(seq_len, PADDING_LABEL, dtype=np.float32)
    out_flux[:n] = flux[:n]
    out_labels[:n] = labels[:n]
    mask = (out_labels != PADDING_LABEL).astype(np.float32)
    out_flux[mask == 0] = np.nan
    return torch.from_numpy(out_flux), torch.from_numpy(out_labels), torch.from_numpy(mask)


class LightCurveWindows(Dataset):
    """Labelled light curves as fixed-length examples.

    Each light curve is scaled as a whole, then cut into consecutive windows of ``seq_len``
    samples (the last one padded); a light curve no longer than ``seq_len`` is one example,
    exactly as the release padded it. Windows without a single finite flux value are left
    out, and so are light curves the scaling rejects (with one warning).

    Parameters
    ----------
    records : sequence of LabelledLightCurve
        The light curves.
    seq_len : int
        Samples per example.
    input_scaling : str
        The model's ``config.input_scaling``.

    Attributes
    ----------
    star_ids, files : list of str
        Star and file of each light curve kept.
    windows : list of (int, int)
        Light curve (index into ``files``) and first sample of each example.

    Examples
    --------
    >>> import numpy as np
    >>> from fcn4flare.training import LabelledLightCurve, LightCurveWindows
    >>> rng = np.random.default_rng(0)
    >>> lc = LabelledLightCurve(1 + 0.01 * rng.standard_normal(10), np.zeros(10), "1", "a")
    >>> data = LightCurveWindows([lc], seq_len=4, input_scaling="median")
    >>> len(data), data[2][2].tolist()
    (3, [1.0, 1.0, 0.0, 0.0])
    """

    def __init__(
        self, records: Sequence[LabelledLightCurve], seq_len: int, input_scaling: str
    ) -> None:
        self.seq_len = int(seq_len)
        self.input_scaling = input_scaling
        self._flux: list[np.ndarray] = []
        self._labels: list[np.ndarray] = []
        self.star_ids: list[str] = []
        self.files: list[str] = []
        self.windows: list[tuple[int, int]] = []
        rejected = []
        for record in records:
            try:
                flux = scale_flux(record.flux, input_scaling).astype(np.float32)
            except InputError as exc:
                rejected.append(f"{record.file}: {exc}")
                continue
            finite = ~missing_samples(flux)
            index = len(self._flux)
            self._flux.append(flux)
            self._labels.append(record.labels)
            self.star_ids.append(record.star_id)
            self.files.append(record.file)
            for start in range(0, len(flux), self.seq_len):
                if finite[start : start + self.seq_len].any():
                    self.windows.append((index, start))
        if rejected:
            warnings.warn(
                f"{len(rejected)} light curve(s) could not be scaled with {input_scaling!r} "
                f"and were left out; first: {rejected[0]}",
                FCN4FlareWarning,
            )

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index: int) -> Example:
        record, start = self.windows[index]
        stop = start + self.seq_len
        return pad_example(
            self._flux[record][start:stop], self._labels[record][start:stop], self.seq_len
        )


class SimulatedFlareDataset(Dataset):
    """Simulated light curves with injected flares, generated on the fly and reproducibly.

    Item ``i`` is drawn from a random generator seeded with ``(seed, stream, epoch, i)``, so
    the same settings give the same examples in any order and with any number of DataLoader
    workers; `set_epoch` moves to fresh examples for the next epoch. Each item picks a
    cadence from ``cadence_mix``, a length (``seq_len``, or uniform in
    ``[min_length, seq_len]``) and, with probability ``background_fraction``, a window of a
    real background light curve of that cadence, then calls
    `fcn4flare.simulate.simulate_training_example`.

    Parameters
    ----------
    size : int
        Number of items.
    seq_len : int
        Samples per example (shorter examples are padded).
    input_scaling : str
        The model's ``config.input_scaling``.
    cadence_mix : mapping, optional
        Cadence name (a key of ``fcn4flare.simulate.CADENCES``) -> relative weight; the
        simulator's training mix (``fcn4flare.simulate.draw_cadence``) when omitted.
    seed : int
        Base seed.
    stream : int
        Separates training (`TRAIN_STREAM`), validation and test examples of one seed.
    min_length : int, optional
        Shortest example; every example has ``seq_len`` samples when omitted.
    backgrounds : mapping, optional
        Cadence name -> list of relative-flux arrays (see `load_backgrounds`).
    background_fraction : float
        Probability of using a background when one of the drawn cadence exists.

    Examples
    --------
    >>> from fcn4flare.training import SimulatedFlareDataset
    >>> data = SimulatedFlareDataset(4, seq_len=256, input_scaling="median_noise", seed=1)
    >>> flux, labels, mask = data[0]
    >>> flux.shape, bool((data[0][0].nan_to_num() == flux.nan_to_num()).all())
    (torch.Size([256]), True)
    """

    def __init__(
        self,
        size: int,
        seq_len: int,
        input_scaling: str,
        *,
        cadence_mix: Mapping[str, float] | None = None,
        seed: int = 0,
        stream: int = TRAIN_STREAM,
        min_length: int | None = None,
        backgrounds: Mapping[str, Sequence[np.ndarray]] | None = None,
        background_fraction: float = 0.5,
    ) -> None:
        from ..simulate import CADENCES

        self.size = int(size)
        self.seq_len = int(seq_len)
        self.input_scaling = input_scaling
        self.seed = int(seed)
        self.stream = int(stream)
        self.epoch = 0
        self.min_length = self.seq_len if min_length is None else int(min_length)
        if not 1 <= self.min_length <= self.seq_len:
            raise InputError(
                f"SimulatedFlareDataset: min_length must be in [1, seq_len={self.seq_len}]."
            )
        self.use_simulator_mix = not cadence_mix
        mix = dict(cadence_mix) if cadence_mix else dict.fromkeys(CADENCES, 1.0)
        unknown = sorted(set(mix) - set(CADENCES))
        if unknown:
            raise InputError(
                f"SimulatedFlareDataset: unknown cadence(s) {unknown}; known: "
                f"{', '.join(CADENCES)}."
            )
        weights = np.array([float(w) for w in mix.values()])
        if weights.min() < 0 or weights.sum() <= 0:
            raise InputError("SimulatedFlareDataset: cadence weights must be >= 0, not all 0.")
        self.cadence_names = list(mix)
        self.cadence_minutes = [float(CADENCES[name]) for name in mix]
        self.cadence_weights = weights / weights.sum()
        self.backgrounds = {k: list(v) for k, v in (backgrounds or {}).items() if len(v)}
        self.background_fraction = float(background_fraction)

    def set_epoch(self, epoch: int) -> None:
        """Switch to the examples of another epoch (the training loop calls it)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.size

    def generator(self, index: int) -> np.random.Generator:
        """The random generator that item ``index`` of the current epoch is drawn from."""
        if not 0 <= index < self.size:
            raise IndexError(f"index {index} out of range for {self.size} examples")
        key = [self.seed, self.stream, self.epoch, int(index)]
        return np.random.default_rng(np.random.SeedSequence(key))

    def _cadence(self, rng: np.random.Generator) -> tuple[str, float]:
        if self.use_simulator_mix:
            from ..simulate import draw_cadence

            name, minutes = draw_cadence(rng)
            return name, float(minutes)
        choice = int(rng.choice(len(self.cadence_names), p=self.cadence_weights))
        return self.cadence_names[choice], self.cadence_minutes[choice]

    def _background(
        self, rng: np.random.Generator, cadence: str, length: int
    ) -> np.ndarray | None:
        pool = self.backgrounds.get(cadence)
        if not pool or rng.random() >= self.background_fraction:
            return None
        for _ in range(_BACKGROUND_TRIES):
            flux = pool[rng.integers(len(pool))]
            start = rng.integers(len(flux) - length + 1) if len(flux) > length else 0
            window = np.asarray(flux[start : start + length], dtype=np.float64).copy()
            if np.isfinite(window).mean() >= 0.5:
                return window
        return None

    def __getitem__(self, index: int) -> Example:
        from ..simulate import simulate_training_example

        rng = self.generator(index)
        for attempt in range(1, _SIMULATION_TRIES + 1):
            cadence, minutes = self._cadence(rng)
            length = int(rng.integers(self.min_length, self.seq_len + 1))
            background = self._background(rng, cadence, length)
            if background is not None:
                length = len(background)
            flux, labels = simulate_training_example(
                length, minutes, rng, background=background
            )
            try:
                return pad_example(scale_flux(flux, self.input_scaling), labels, self.seq_len)
            except InputError:
                # A rare draw the scaling cannot use (e.g. a non-positive median); draw again,
                # still a deterministic function of the item's seed.
                if attempt == _SIMULATION_TRIES:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover
