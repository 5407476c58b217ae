"""Result files: atomic writes, overwrite protection, clean failure, reading back with attributes."""

from __future__ import annotations

import subprocess
import sys
import tomllib

import numpy as np
import pytest
import xarray as xr

import marldyn
from marldyn import io as marldyn_io
from marldyn.errors import ConfigError
from marldyn.io import read_dataset, write_dataset, write_netcdf

TINY = {
    "graph": {"kind": "lattice", "n": 9},
    "init": {"q": [[0.5, 0.0], [0.0, 0.5]], "q_noise": 0.1},
    "learning": {"alpha": 0.05},
    "run": {"steps": 20, "runs": 2, "seed": 7, "record_every": 10},
}


@pytest.fixture(scope="module")
def dataset():
    return marldyn.simulate(TINY)


@pytest.fixture(scope="module")
def other_dataset():
    return marldyn.simulate({**TINY, "run": {**TINY["run"], "seed": 8}})


def files_in(folder):
    return sorted(p.name for p in folder.iterdir())


def test_round_trip_keeps_data_and_attributes(tmp_path, dataset):
    path = write_dataset(dataset, tmp_path / "result.nc")
    assert path == tmp_path / "result.nc"
    loaded = read_dataset(path)
    xr.testing.assert_identical(loaded, dataset)
    assert loaded.attrs["config"] == dataset.attrs["config"]
    assert loaded.attrs["marldyn_version"] == marldyn.__version__
    assert loaded.attrs["seed"] == 7
    assert marldyn.parse_config(tomllib.loads(loaded.attrs["config"])) == marldyn.parse_config(TINY)
    assert loaded["time"].attrs["units"] == "steps"


def test_read_dataset_returns_data_in_memory(tmp_path, dataset):
    path = write_dataset(dataset, str(tmp_path / "result.nc"))
    loaded = read_dataset(str(path))
    path.unlink()  # the data no longer need the file
    np.testing.assert_array_equal(loaded["policy"].values, dataset["policy"].values)


def test_no_temporary_file_is_left_behind(tmp_path, dataset):
    write_dataset(dataset, tmp_path / "result.nc")
    assert files_in(tmp_path) == ["result.nc"]


def test_refuses_to_overwrite(tmp_path, dataset):
    path = tmp_path / "result.nc"
    path.write_bytes(b"precious")
    with pytest.raises(ConfigError, match=r"result\.nc exists; choose another name or pass --overwrite"):
        write_dataset(dataset, path)
    assert path.read_bytes() == b"precious"
    assert files_in(tmp_path) == ["result.nc"]


def test_overwrite_replaces(tmp_path, dataset, other_dataset):
    path = tmp_path / "result.nc"
    write_dataset(dataset, path)
    write_dataset(other_dataset, path, overwrite=True)
    loaded = read_dataset(path)
    assert loaded.attrs["seed"] == 8
    xr.testing.assert_identical(loaded, other_dataset)
    assert files_in(tmp_path) == ["result.nc"]


def test_missing_directory(tmp_path, dataset):
    with pytest.raises(ConfigError, match=r"output directory .*absent does not exist"):
        write_dataset(dataset, tmp_path / "absent" / "result.nc")
    assert files_in(tmp_path) == []


def _failing_write(exception):
    def write_netcdf(dataset, path):
        with open(path, "wb") as handle:  # a partial file, as a crash half-way would leave
            handle.write(b"\x89HDF\r\n\x1a\n partial")
        raise exception

    return write_netcdf


@pytest.mark.parametrize("exception", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_failure_while_writing_leaves_nothing(tmp_path, dataset, monkeypatch, exception):
    monkeypatch.setattr(marldyn_io, "write_netcdf", _failing_write(exception))
    with pytest.raises(type(exception)):
        write_dataset(dataset, tmp_path / "result.nc")
    assert files_in(tmp_path) == []


def test_failure_while_overwriting_keeps_the_old_file(tmp_path, dataset, other_dataset, monkeypatch):
    path = tmp_path / "result.nc"
    write_dataset(dataset, path)
    before = path.read_bytes()
    monkeypatch.setattr(marldyn_io, "write_netcdf", _failing_write(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        write_dataset(other_dataset, path, overwrite=True)
    assert files_in(tmp_path) == ["result.nc"]
    assert path.read_bytes() == before


def test_file_is_the_one_to_netcdf_writes(tmp_path, dataset):
    write_netcdf(dataset, tmp_path / "store.nc")
    dataset.to_netcdf(tmp_path / "xarray.nc", engine="h5netcdf")
    assert (tmp_path / "store.nc").read_bytes() == (tmp_path / "xarray.nc").read_bytes()
    chunked = tmp_path / "chunked.nc"
    write_netcdf(dataset.chunk({"run": 1}), chunked)  # dask arrays: through to_netcdf
    xr.testing.assert_identical(read_dataset(chunked), dataset)


def test_writing_does_not_import_dask_distributed(tmp_path):
    """Writing a result in a fresh interpreter leaves dask.distributed unimported (it costs start-up time)."""
    script = (
        "import sys, numpy as np, xarray as xr\n"
        "from marldyn.io import read_dataset, write_dataset\n"
        "dataset = xr.Dataset({'q': (('run', 'time'), np.ones((2, 3)))}, attrs={'seed': 1, 'config': 'x'})\n"
        "path = write_dataset(dataset, sys.argv[1])\n"
        "assert 'distributed' not in sys.modules, 'writing imported distributed'\n"
        "xr.testing.assert_identical(read_dataset(path), dataset)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "result.nc")], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "result.nc").is_file()


def test_read_missing_file(tmp_path):
    with pytest.raises(ConfigError, match=r"no such result file: .*absent\.nc"):
        read_dataset(tmp_path / "absent.nc")
    with pytest.raises(ConfigError, match=r"no such result file"):
        read_dataset(tmp_path)  # a directory


@pytest.mark.parametrize(
    "content",
    [b"", b"this is not netCDF\n", b"\x89HDF\r\n\x1a\n truncated", b"CDF\x01 classic header, truncated"],
    ids=["empty", "text", "truncated-hdf5", "truncated-classic"],
)
def test_read_non_netcdf_file(tmp_path, content):
    path = tmp_path / "bogus.nc"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=r"bogus\.nc: not a readable netCDF result"):
        read_dataset(path)
