"""Train/validation/test splits of real light curves: by star, or the published per-file one."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..exceptions import InputError

__all__ = ["split_by_star", "split_by_file", "SPLIT_NAMES"]

#: Names of the three splits, in the order the functions here return them.
SPLIT_NAMES = ("train", "validation", "test")


def _check_fractions(val_fraction: float, test_fraction: float) -> None:
    if not (0 < val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise InputError(
            f"split fractions must satisfy 0 < val_fraction, 0 <= test_fraction and "
            f"val_fraction + test_fraction < 1; got {val_fraction}, {test_fraction}."
        )


def split_by_star(
    star_ids: Sequence[str],
    val_fraction: float = 0.05,
    test_fraction: float = 0.15,
    seed: int = 2024,
) -> dict[str, np.ndarray]:
    """Assign light curves to train/validation/test so that no star is in two splits.

    The distinct star identifiers are sorted, shuffled with ``seed`` and divided by count:
    ``round(test_fraction * n_stars)`` stars (at least one when ``test_fraction > 0``) go to
    the test split, ``round(val_fraction * n_stars)`` (at least one) to validation, the rest
    to training. Every light curve follows its star.

    Parameters
    ----------
    star_ids : sequence of str
        Star identifier of each light curve.
    val_fraction, test_fraction : float
        Fractions of the stars in the validation and test splits.
    seed : int
        Seed of the shuffle; the same ids and seed give the same split.

    Returns
    -------
    dict
        ``{'train': idx, 'validation': idx, 'test': idx}``, sorted indices into ``star_ids``.

    Raises
    ------
    InputError
        Too few stars for a non-empty train, validation and (if asked) test split.

    Examples
    --------
    >>> from fcn4flare.training import split_by_star
    >>> ids = ["a", "a", "b", "c", "c", "d", "e", "f", "g", "h"]
    >>> parts = split_by_star(ids, val_fraction=0.2, test_fraction=0.2, seed=0)
    >>> sorted(len(v) for v in parts.values())
    [2, 3, 5]
    >>> {ids[i] for i in parts["train"]} & {ids[i] for i in parts["test"]}
    set()
    """
    _check_fractions(val_fraction, test_fraction)
    ids = np.asarray([str(s) for s in star_ids])
    stars = np.unique(ids)
    n_stars = len(stars)
    n_test = max(1, round(test_fraction * n_stars)) if test_fraction > 0 else 0
    n_val = max(1, round(val_fraction * n_stars))
    if n_stars - n_test - n_val < 1:
        raise InputError(
            f"split_by_star: {n_stars} distinct star(s) cannot fill a train, validation"
            + (" and test" if n_test else "")
            + " split; add light curves of more stars or use split='file'."
        )
    shuffled = stars[np.random.default_rng(seed).permutation(n_stars)]
    test_stars = shuffled[:n_test]
    val_stars = shuffled[n_test : n_test + n_val]
    return {
        "train": np.flatnonzero(~np.isin(ids, np.concatenate([test_stars, val_stars]))),
        "validation": np.flatnonzero(np.isin(ids, val_stars)),
        "test": np.flatnonzero(np.isin(ids, test_stars)),
    }


def _sklearn_train_test_split(n: int, test_size: float, random_state: int):
    """Indices (train, test) exactly as ``sklearn.model_selection.train_test_split``."""
    n_test = math.ceil(test_size * n)
    n_train = math.floor((1.0 - test_size) * n)
    permutation = np.random.RandomState(random_state).permutation(n)
    return permutation[n_test : n_test + n_train], permutation[:n_test]


def split_by_file(
    files: Sequence[str],
    val_fraction: float = 0.05,
    test_fraction: float = 0.15,
    random_state: int = 42,
) -> dict[str, np.ndarray]:
    """The per-file split of the published data set, reproduced without scikit-learn.

    The release took the distinct file names in order of first appearance and called
    ``train_test_split(files, test_size=test_fraction, random_state=42)``, then split the
    remainder again with ``test_size=val_fraction / (1 - test_fraction)`` and the same
    ``random_state``. This function makes the same two draws, so the same file list gives the
    same three splits. Light curves of one star usually land in several splits.

    Parameters
    ----------
    files : sequence of str
        File name of each light curve; light curves sharing a name stay together.
    val_fraction, test_fraction : float
        Fractions of the files in the validation and test splits.
    random_state : int
        Seed of both draws (42 in the release).

    Returns
    -------
    dict
        ``{'train': idx, 'validation': idx, 'test': idx}``, sorted indices into ``files``.

    Examples
    --------
    >>> from fcn4flare.training import split_by_file
    >>> files = [f"kplr{i:09d}-2009_llc.fits" for i in range(20)]
    >>> parts = split_by_file(files)
    >>> [len(parts[k]) for k in ("train", "validation", "test")]
    [16, 1, 3]
    """
    _check_fractions(val_fraction, test_fraction)
    names = [str(f) for f in files]
    unique = list(dict.fromkeys(names))
    if test_fraction > 0:
        rest, test = _sklearn_train_test_split(len(unique), test_fraction, random_state)
    else:
        rest, test = np.arange(len(unique)), np.array([], dtype=int)
    train, val = _sklearn_train_test_split(
        len(rest), val_fraction / (1.0 - test_fraction), random_state
    )
    if len(train) == 0 or len(val) == 0:
        raise InputError(
            f"split_by_file: {len(unique)} distinct file(s) cannot fill a train and a "
            "validation split."
        )
    position = {name: i for i, name in enumerate(unique)}
    order = np.array([position[name] for name in names], dtype=int)
    groups = {
        "train": np.asarray(rest)[train],
        "validation": np.asarray(rest)[val],
        "test": np.asarray(test),
    }
    return {key: np.flatnonzero(np.isin(order, value)) for key, value in groups.items()}
