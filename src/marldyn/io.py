"""Results on disk: xarray Datasets as netCDF (h5netcdf), written atomically."""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

import xarray as xr

from .errors import ConfigError

_UMASK_LOCK = threading.Lock()  # reading the umask sets it for a moment; threads must not interleave that


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
        with _UMASK_LOCK:
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


def write_netcdf(dataset: xr.Dataset, path: str | Path) -> None:
    """Write ``dataset`` to ``path`` as netCDF-4 through xarray's h5netcdf store (not atomic).

    The file is the one ``dataset.to_netcdf(path, engine="h5netcdf")`` writes (byte for byte), but for
    in-memory data this does not import dask.distributed, which ``to_netcdf`` and the store's default write
    lock do to ask for the active dask scheduler (about 0.25 s of a command's start-up). The store gets
    xarray's HDF5 lock, the lock ``to_netcdf`` uses without a dask scheduler. Datasets holding dask arrays
    go through ``to_netcdf``, which computes them.
    """
    from xarray.backends.locks import HDF5_LOCK

    if any(variable.chunks is not None for variable in dataset.variables.values()):
        dataset.to_netcdf(path, engine="h5netcdf")
        return
    store = xr.backends.H5NetCDFStore.open(path, mode="w", lock=HDF5_LOCK)
    try:
        dataset.dump_to_store(store)  # numpy data are written as they are stored
    finally:
        store.close()


def write_dataset(dataset: xr.Dataset, path: str | Path, overwrite: bool = False) -> Path:
    """Write ``dataset`` to ``path`` as netCDF-4 (h5netcdf engine), atomically (:func:`atomic_write`).

    Parameters
    ----------
    dataset : xarray.Dataset
        E.g. the result of :func:`marldyn.simulate` or :func:`marldyn.predict` (the config, version and seed
        in its attributes are written with it).
    path : str or pathlib.Path
        The file to write, in an existing directory (conventionally ``.nc``).
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ConfigError
        If ``path`` exists and ``overwrite`` is false, or its directory does not exist.

    Examples
    --------
    >>> import marldyn
    >>> config = {"graph": {"kind": "lattice", "n": 9}, "run": {"steps": 100, "runs": 2, "record_every": 50}}
    >>> result = marldyn.simulate(config)
    >>> marldyn.write_dataset(result, "simulation.nc").name
    'simulation.nc'
    >>> marldyn.write_dataset(result, "simulation.nc")
    Traceback (most recent call last):
    ...
    marldyn.errors.ConfigError: output simulation.nc exists; choose another name or pass --overwrite
    >>> marldyn.read_dataset(marldyn.write_dataset(result, "simulation.nc", overwrite=True)).identical(result)
    True
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise ConfigError(f"output {path} exists; choose another name or pass --overwrite")
    return atomic_write(path, lambda temporary: write_netcdf(dataset, temporary))


def read_dataset(path: str | Path) -> xr.Dataset:
    """Load a dataset written by marldyn fully into memory (the file is closed on return).

    Parameters
    ----------
    path : str or pathlib.Path
        A netCDF file, as :func:`write_dataset` (or ``marldyn simulate``, ``marldyn theory``) writes it.

    Returns
    -------
    xarray.Dataset
        The variables, coordinates and attributes as written.

    Raises
    ------
    ConfigError
        If the file does not exist or is not readable as netCDF.

    Examples
    --------
    >>> import marldyn
    >>> config = {"graph": {"kind": "lattice", "n": 9}, "run": {"steps": 100, "runs": 2, "record_every": 50}}
    >>> _ = marldyn.write_dataset(marldyn.simulate(config), "run.nc")
    >>> result = marldyn.read_dataset("run.nc")
    >>> dict(result.sizes), result.attrs["method"], result.attrs["graph"]
    ({'run': 2, 'time': 3, 'state': 2, 'action': 2}, 'simulation', 'lattice3x3')
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"no such result file: {path}")
    try:
        with xr.open_dataset(path, engine="h5netcdf") as dataset:
            return dataset.load()
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not a readable netCDF result ({exc})") from None
