"""Build step: the wheel carries the compiled catalogs, the templates and the migrations.

Everything else about the package is in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class build_py_with_data(build_py):  # noqa: N801 (setuptools command naming)
    """Compile consult/translations/*/LC_MESSAGES/*.po into .mo files in the build, and
    copy templates/ and migrations/ into the package (consult/templates,
    consult/migrations), where an installed application finds them."""

    def run(self) -> None:
        super().run()
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        package = Path(self.build_lib) / "consult"
        for po in sorted((ROOT / "consult" / "translations").glob("*/LC_MESSAGES/*.po")):
            target = package / po.relative_to(ROOT / "consult").with_suffix(".mo")
            target.parent.mkdir(parents=True, exist_ok=True)
            with po.open("rb") as source:
                catalog = read_po(source, locale=po.parent.parent.name)
            with target.open("wb") as out:
                write_mo(out, catalog)
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        for folder in ("templates", "migrations"):
            shutil.copytree(ROOT / folder, package / folder, dirs_exist_ok=True, ignore=ignore)


setup(cmdclass={"build_py": build_py_with_data})
