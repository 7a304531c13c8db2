"""The flare catalogue: `FlareTable` and the measurements on it. Units and times are put back
on the pipeline's plain arrays here, once.

`fcn4flare.catalog.writer` is the one writer of the package: every file it writes (catalogues,
plots) goes to a temporary name and is renamed into place once complete.
"""

from . import writer  # noqa: F401
from .characterize import *  # noqa: F401,F403
from .characterize import __all__ as _characterize_all
from .energy import *  # noqa: F401,F403
from .energy import __all__ as _energy_all
from .ffd import *  # noqa: F401,F403
from .ffd import __all__ as _ffd_all
from .fit import *  # noqa: F401,F403
from .fit import __all__ as _fit_all
from .table import *  # noqa: F401,F403
from .table import __all__ as _table_all

__all__ = [*_table_all, *_characterize_all, *_energy_all, *_ffd_all, *_fit_all]
