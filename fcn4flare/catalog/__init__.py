"""The flare catalogue: `FlareTable` and the measurements on it. Units and times are put back
on the pipeline's plain arrays here, once.

`fcn4flare.catalog.writer` is the one writer of the package: every file it writes (catalogues,
plots) goes to a temporary name and is renamed into place once complete.

`fit_flare` and `FlareFit` (``fcn4flare.catalog.fit``, with SciPy's optimisers) load on first
use: a detection without vetting never needs them.
"""

from .._lazy import lazy_names
from . import writer  # noqa: F401
from .characterize import *  # noqa: F401,F403
from .characterize import __all__ as _characterize_all
from .energy import *  # noqa: F401,F403
from .energy import __all__ as _energy_all
from .ffd import *  # noqa: F401,F403
from .ffd import __all__ as _ffd_all
from .table import *  # noqa: F401,F403
from .table import __all__ as _table_all

_fit_all = ["FlareFit", "fit_flare"]  # fcn4flare.catalog.fit.__all__ (tested)

__all__ = [*_table_all, *_characterize_all, *_energy_all, *_ffd_all, *_fit_all]

__getattr__, __dir__ = lazy_names(__name__, dict.fromkeys(_fit_all, f"{__name__}.fit"))
