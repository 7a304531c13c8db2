# Sphinx configuration for fcn4flare. Builds offline: no intersphinx fetches.
import datetime
import os
import sys

from sphinx_astropy.conf.v2 import *  # noqa: F401,F403
from sphinx_astropy.conf.v2 import exclude_patterns, extensions  # noqa: F401

sys.path.insert(0, os.path.abspath(".."))
import fcn4flare  # noqa: E402

project = "fcn4flare"
author = "fcn4flare developers"
copyright = f"2024-{datetime.date.today().year}, {author}"
version = fcn4flare.__version__.split("+")[0]
release = fcn4flare.__version__

# No network at build time: external references are not resolved.
intersphinx_mapping = {}
extensions = [e for e in extensions if e != "sphinx.ext.intersphinx"]
extensions += ["sphinx.ext.mathjax"]

exclude_patterns = list(exclude_patterns) + ["_build", "api/*.inc"]
html_theme_options = {
    "github_url": "https://github.com/NAOC-LAMOST/fcn4flare",
    "use_edit_page_button": False,
}
html_title = f"fcn4flare {version}"
html_static_path = ["_static"]
plot_html_show_source_link = False
plot_formats = [("png", 100)]
automodapi_toctreedirnm = "api"
automodsumm_inherited_members = False
numpydoc_show_class_members = False

nitpicky = True
# Names from other packages cannot be resolved offline; everything of ours must resolve.
nitpick_ignore_regex = [
    (r"py:.*", r"(numpy|np|astropy|torch|lightkurve|matplotlib|pandas|scipy|pyarrow|"
               r"transformers|tqdm|collections|typing|os|pathlib|dataclasses|datetime|"
               r"argparse|enum|abc|io|importlib)(\..*)?"),
    (r"py:.*", r"(PreTrained\w+|Base\w+Processor|ProcessorMixin|Pipeline|input_|dict\[str)"),
    (r"py:.*", r"(ndarray|array[-_ ]like|Quantity|Time|TimeSeries|QTable|Table|LightCurve|"
               r"Axes|Figure|Tensor|Module|Generator|Path|PathLike|DataFrame|Dataset|"
               r"IterableDataset|DataLoader|Mapping|Sequence|Iterable|Iterator|Callable|Any|"
               r"optional|callable|default.*|int|float|str|bool|dict|list|tuple|None|"
               r"path-like|file-like|mapping|sequence|iterable|array|arrays|object|bytes|"
               r"function|generator|type|\w+ of \w+|.*\[.*\]|.*\{.*|.*\}.*|.*'.*|.*\".*)"),
]
