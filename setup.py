"""The optional compiled scanner (spendtui/core/_scan.c); everything else is in pyproject.toml.

``optional=True``: where it cannot be built (no compiler, no Python headers) the install
still succeeds and spendtui/core/skim.py uses its Python path, which does the same searches.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("spendtui.core._scan", ["spendtui/core/_scan.c"], optional=True,
                             extra_compile_args=["-O2"])])
