"""Train FCN4Flare models: data sets, splits, the training loop and its configuration.

* `TrainingConfig` holds every setting (``TrainingConfig.recipe('published')`` is the paper's
  Kepler recipe) and `train` runs it, writing the best model, a resumable state and logs.
* `SimulatedFlareDataset` generates training examples on the fly; `read_published_dataset`
  and `read_fits_directory` read labelled real light curves, which `LightCurveWindows` turns
  into fixed-length examples.
* `split_by_star` and `split_by_file` divide real light curves into train/validation/test.
* `release_model` ships a trained run into the package with its model card.
"""

from __future__ import annotations

from .config import *  # noqa: F401,F403
from .config import __all__ as _config_all
from .datasets import *  # noqa: F401,F403
from .datasets import __all__ as _datasets_all
from .loop import *  # noqa: F401,F403
from .loop import __all__ as _loop_all
from .release import *  # noqa: F401,F403
from .release import __all__ as _release_all
from .sources import *  # noqa: F401,F403
from .sources import __all__ as _sources_all
from .splits import *  # noqa: F401,F403
from .splits import __all__ as _splits_all

__all__ = [*_config_all, *_datasets_all, *_loop_all, *_release_all, *_sources_all,
           *_splits_all]
