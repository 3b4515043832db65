"""Sphinx configuration of the minuet_sk documentation.

Build with ``make docs`` (``sphinx-build -W --keep-going -b html docs docs/_build/html``).
The build is offline: intersphinx has no inventories to fetch, MathJax is only a script tag
in the pages, and no example is executed (code in the pages is shown, not run).
"""

import os
import sys

# The package is installed (editable) by `make docs`; this also finds it from a checkout.
sys.path.insert(0, os.path.abspath(".."))

import minuet_sk

project = "minuet_sk"
author = "minuet_sk developers"
copyright = "2026, minuet_sk developers"
version = release = minuet_sk.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
]

# Offline build: no inventories are fetched. Cross-references to numpy, scikit-learn,
# astropy... render as plain code rather than links.
intersphinx_mapping = {}
intersphinx_disabled_reftypes = ["*"]

templates_path = ["_templates"]
exclude_patterns = ["_build"]
source_suffix = {".rst": "restructuredtext"}
root_doc = "index"

# API reference: one page per public name, generated from the docstrings.
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"members": True}
autodoc_typehints = "none"
autoclass_content = "class"

# numpydoc renders Parameters/Returns/Attributes; the class template documents the methods.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# The docstrings' examples are doctests run by pytest (`--doctest-modules`), not here.
pygments_style = "sphinx"
default_role = "literal"

html_theme = "pydata_sphinx_theme"
html_title = f"minuet_sk {release}"
html_static_path = ["_static"]
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": [],
}
html_sidebars = {"index": [], "getting_started": []}
html_show_sourcelink = False


def _skip_foreign_members(app, what, name, obj, skip, options):
    """Document a class's own methods and those it inherits from minuet_sk (e.g. the
    encoders' ``fit``, ``save``, ``load``), not the ones every scikit-learn estimator gets
    (``get_params``, ``set_output``, the metadata-routing ``set_{method}_request``...), whose
    docstrings point into scikit-learn's own guide."""
    defined = getattr(obj, "fget", obj)  # a property's module is that of its getter
    module = getattr(defined, "__module__", None) or ""
    if module.split(".")[0] in {"sklearn", "skorch", "torch", "builtins"}:
        return True
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_foreign_members)
