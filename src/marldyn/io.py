"""Results on disk: xarray Datasets as netCDF (h5netcdf), written atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import xarray as xr

from .errors import ConfigError


def atomic_write(path: str | Path, write) -> Path:
    """Call ``write(temporary_path)`` on a temporary file next to ``path``, then rename it onto ``path``.

    The temporary file is in the target directory (so the rename is atomic), is flushed to disk before the
    rename, gets the usual permissions (``0666 & ~umask``), and is removed if anything fails: a partial file
    never carries the final name.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise ConfigError(f"output directory {directory} does not exist")
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=directory)
    os.close(handle)
    try:
        write(temporary)
        with open(temporary, "rb+") as stream:
            os.fsync(stream.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write UTF-8 text atomically (:func:`atomic_write`)."""
    return atomic_write(path, lambda temporary: Path(temporary).write_text(text, encoding="utf-8"))


def write_dataset(dataset: xr.Dataset, path: str | Path, overwrite: bool = False) -> Path:
    """Write ``dataset`` to ``path`` as netCDF-4 (h5netcdf engine), atomically (:func:`atomic_write`).

    Raises
    ------
    ConfigError
        If ``path`` exists and ``overwrite`` is false, or its directory does not exist.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise ConfigError(f"output {path} exists; choose another name or pass --overwrite")
    return atomic_write(path, lambda temporary: dataset.to_netcdf(temporary, engine="h5netcdf"))


def read_dataset(path: str | Path) -> xr.Dataset:
    """Load a dataset written by marldyn fully into memory (the file is closed on return)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"no such result file: {path}")
    try:
        with xr.open_dataset(path, engine="h5netcdf") as dataset:
            return dataset.load()
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not a readable netCDF result ({exc})") from None
