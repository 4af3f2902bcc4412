"""Sphinx configuration for asynckit's documentation."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asynckit  # noqa: E402

project = "asynckit"
author = "asynckit contributors"
copyright = "asynckit contributors"  # noqa: A001 - Sphinx's name
release = version = asynckit.__version__

extensions = ["sphinx.ext.autodoc"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": False}
exclude_patterns = ["_build"]
html_theme = "alabaster"
