"""Sphinx configuration of the ii-jax documentation (``make docs`` builds it into ``docs/_build/html``).

Sources are MyST Markdown; the API reference, the results pages and the notebooks are generated at build time by
``docs/_ext/iijax_docs.py`` from the package's public names, ``docs/study/report.json``, the benchmark records in
``docs/benchmarks/`` and ``notebooks/``.
"""
import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # document this checkout's ii_jax, whatever an installed copy says
sys.path.insert(0, str(DOCS / "_ext"))
# Executed pages and notebooks run in kernels that inherit this environment: this checkout first, the notebooks at
# their small size (figures are drawn inline by the kernel, so MPLBACKEND must not force Agg there).
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
os.environ["II_JAX_NB_SMALL"] = "1"
os.environ.pop("MPLBACKEND", None)

import ii_jax  # noqa: E402

project = "ii-jax"
author = "the ii-jax authors"
copyright = "the ii-jax authors"  # noqa: A001
release = version = ii_jax.__version__

extensions = [
    "myst_nb",                 # MyST Markdown, executed pages and notebooks
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",     # the Google-style docstrings
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "sphinx_copybutton",
    "sphinx-mathjax-offline",  # MathJax served with the site: the pages render without a network
    "iijax_docs",              # API pages, results and performance pages, notebooks (docs/_ext)
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "_generated", "study", "benchmarks", "jupyter_execute", "**.ipynb_checkpoints",
                    "README.md"]
templates_path = []
root_doc = "index"

# MyST
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
# Notebooks and executed pages run at build time (the notebooks are committed without outputs).
nb_execution_mode = "force"
nb_execution_timeout = 600
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True
nb_output_stderr = "remove"    # library warnings printed by a cell (tqdm's notebook check) are not content

# autodoc: the Google docstrings as written, signatures without type noise, members in source order.
autodoc_member_order = "bysource"
autodoc_typehints = "none"
autodoc_preserve_defaults = True
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_ivar = True       # Attributes: as a field list (NamedTuple fields are not separate objects)
napoleon_use_rtype = False
napoleon_custom_sections = [("References", "notes_style")]

html_theme = "furo"
html_title = f"ii-jax {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_theme_options = {"navigation_with_keys": True}
html_show_sourcelink = False
