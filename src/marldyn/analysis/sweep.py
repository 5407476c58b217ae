"""Parameter sweeps: every point of a grid runs (simulation and/or theory), on dask.distributed or locally, resumably.

A sweep file (TOML) names a base configuration, the parameters and their values, what to run and what to keep::

    base = "pd_lattice.toml"                 # a config file (relative to the sweep file), or a [base] table
    [parameters]                             # a list of values, or {start, stop, num}
    "learning.gamma" = {start = 0.5, stop = 0.95, num = 10}
    "game.b[0]" = [1.5, 2.0, 3.0]            # one component of a vector parameter; "game.b" takes pairs
    [[task]]
    run = "theory"                           # or "simulate"
    method = "reduced"                       # theory method (marldyn.theory.METHODS)
    steps = 200000                           # optional [run] overrides: steps, runs, record_every
    [[task]]
    run = "theory"
    method = "particles"                     # with options, named as the `marldyn theory` flags:
    particles = 64                           #   particles, timescale (particles, sde-graph),
    timescale = "full"                       #   dt (sde, sde-graph), noise (sde-graph)
    [[task]]
    run = "simulate"
    runs = 4
    every = {"learning.gamma" = 3}           # a coarser grid: every 3rd value of gamma (all by default)
    [summary]
    variables = ["policy", "state_fraction"] # final values (run mean and std for simulations); with agent
                                             #   types also "policy_by_type", "q_by_type"
    window = 0.0                             # fraction of the records at the end to average over
    [plot]                                   # paths: section.key, section.key[i], agent_types[k].key
    x = "game.b[0]"                          # the phase diagram drawn by --plot (a curve without y)
    y = "learning.gamma"
    variable = "policy"
    action = 0

Results: one ``xarray.Dataset`` with the swept parameters as dimensions (coordinates named by their paths,
e.g. ``learning.gamma``; vector values as text), variables ``{task}_{variable}`` (NaN where a task's coarser
grid has no point), ``{task}_{variable}_std`` across runs for simulations, and ``{task}_error`` (empty where
the point ran, the error otherwise). Task names are ``simulate`` and ``theory_{method}``.

Theory options: a theory task may set the options of its method (:mod:`marldyn.theory.methods`) as keys of
the task, with the names of the ``marldyn theory`` flags (``particles = 64`` is ``Particles(n=64)``). They are
validated by :func:`marldyn.theory.method_from_name` when the sweep is read: an option the method does not
take, or a bad value, is an error naming the key. The task records the method's complete options (defaults
filled in, numbers normalised), so a sweep's results and its resumable parts do not depend on how the options
were spelled (``dt = 10`` and no ``dt`` are the same task). Each method can appear in one task per sweep.

Reproducibility: every point's ``[run] seed`` is derived from the base seed and the point's parameter values
(a hash of their canonical JSON), never from the worker or the grid, so the result is identical for any
cluster size and for the same point in another sweep. Resumability: each finished point is written
atomically to ``OUT.parts/{task}-{digest}.nc``, the digest covering the point's full configuration and the
task; a rerun loads those and runs only the rest. A failing point is reported in ``{task}_error`` and is not
written as a part, so a rerun tries it again.
"""

from __future__ import annotations

import hashlib
import json
import math
import multiprocessing
import tomllib
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import as_completed as futures_completed
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import xarray as xr

from ..agents import TYPE_RECORDS
from ..config import SECTIONS, Config, load_config, parse_config
from ..errors import ConfigError, did_you_mean
from ..io import read_dataset, write_dataset
from ..plots import new_figure, plot_phase_diagram, plot_sweep_curve, save_figure
from ..progress import progress_bar

__all__ = [
    "Sweep",
    "evaluate_point",
    "load_sweep",
    "parse_sweep",
    "phase_diagram_figure",
    "plot_phase_diagram",
    "point_seed",
    "run_sweep",
]

RUNS = ("simulate", "theory")
SUMMARY_VARIABLES = ("policy", "q", "state_fraction", "q_std") + TYPE_RECORDS
TRAILING = {3: ("agent_type", "state", "action"), 2: ("state", "action"), 1: ("state",)}
"""The dimensions of a summarised variable after the swept ones, by its number of dimensions."""
TASK_KEYS = ("run", "method", "steps", "runs", "record_every", "every")  # and the theory method's options
TOP_KEYS = ("base", "seed", "parameters", "task", "summary", "plot")


@dataclass(frozen=True, eq=False)
class Sweep:
    """A validated sweep.

    Attributes
    ----------
    base : Config
        The base configuration.
    parameters : dict of str to list
        Parameter path -> values (the grid is their product, in this order).
    tasks : tuple of dict
        Each with ``name``, ``run``, ``method`` (theory: the method name), ``options`` (theory: the method's
        complete options, field -> value, as :meth:`marldyn.theory.TheoryMethod.options`; empty for
        simulations), ``overrides`` ([run] fields) and ``every`` (parameter -> stride).
    summary : dict
        ``variables`` (tuple) and ``window`` (float in [0, 1)).
    plot : dict
        ``x``, ``y``, ``variable``, ``action`` for :func:`phase_diagram_figure`.
    seed : int
        Base seed of the per-point seeds.

    Examples
    --------
    >>> from marldyn.analysis import parse_sweep
    >>> sweep = parse_sweep({
    ...     "base": {"graph": {"kind": "lattice", "n": 9}, "run": {"steps": 2000, "record_every": 1000}},
    ...     "parameters": {"learning.gamma": [0.5, 0.8], "learning.beta": [0.5, 1.0, 2.0]},
    ...     "task": [{"run": "theory", "method": "reduced"}, {"run": "simulate", "runs": 2}],
    ... })
    >>> [task["name"] for task in sweep.tasks], len(sweep.points(sweep.tasks[0]))
    (['theory_reduced', 'simulate'], 6)
    >>> sweep.points(sweep.tasks[0])[1]  # (index per parameter, values)
    ((0, 1), {'learning.gamma': 0.5, 'learning.beta': 1.0})
    >>> config = sweep.point_config({"learning.gamma": 0.5, "learning.beta": 1.0}, sweep.tasks[1])
    >>> config.learning.gamma, config.run.runs
    (0.5, 2)
    """

    base: Config
    parameters: dict
    tasks: tuple
    summary: dict
    plot: dict
    seed: int
    source: str = field(default="")

    def points(self, task: dict) -> list[tuple[tuple[int, ...], dict]]:
        """The grid points of ``task``: (index per parameter, parameter path -> value), in grid order."""
        names = list(self.parameters)
        ranges = [range(0, len(self.parameters[n]), int(task["every"].get(n, 1))) for n in names]
        points = []
        for index in np.ndindex(*[len(r) for r in ranges]):
            position = tuple(ranges[k][i] for k, i in enumerate(index))
            points.append((position, {n: self.parameters[n][p] for n, p in zip(names, position, strict=True)}))
        return points

    def point_config(self, values: dict, task: dict) -> Config:
        """The validated configuration of one point of one task (seed derived from the values)."""
        data = self.base.model_dump(exclude_none=True)
        for path, value in values.items():
            _assign(data, path, value)
        data["run"].update(task["overrides"])
        data["run"]["seed"] = point_seed(self.seed, values)
        try:
            return parse_config(data, base_dir=self.base.base_dir)
        except ConfigError as exc:
            raise ConfigError(f"sweep point {json.dumps(values)}: {exc}") from None


def point_seed(base_seed: int, values: dict) -> int:
    """The ``[run] seed`` of a sweep point: from the base seed and the point's parameter values only.

    Parameters
    ----------
    base_seed : int
    values : dict
        Parameter path -> value.

    Returns
    -------
    int
        In [0, 2**63).

    Examples
    --------
    >>> from marldyn.analysis import point_seed
    >>> point_seed(0, {"learning.gamma": 0.5})
    4517151606679724505
    >>> point_seed(0, {"learning.gamma": 0.5}) == point_seed(1, {"learning.gamma": 0.5})
    False
    """
    digest = hashlib.blake2b(json.dumps(values, sort_keys=True).encode(), digest_size=16).digest()
    words = [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]
    state = np.random.SeedSequence([int(base_seed), *words]).generate_state(2, np.uint32)
    return int((int(state[0]) << 32 | int(state[1])) & (2**63 - 1))


# ----------------------------------------------------------------------------------------------
# parsing
# ----------------------------------------------------------------------------------------------
def _split_path(path: str) -> tuple[str, int | None, str, int | None]:
    """``section.key``, ``section.key[index]`` or, for an array of tables, ``section[entry].key[index]``."""
    text = path.strip()
    index = None
    head, dot, tail = text.partition(".")
    entry = None
    if head.endswith("]") and "[" in head:  # agent_types[0].fraction
        head, _, rest = head.partition("[")
        try:
            entry = int(rest[:-1])
        except ValueError:
            raise ConfigError(f"parameter {path!r}: the entry in {head}[...] must be an integer") from None
    if tail.endswith("]") and "[" in tail:
        tail, _, rest = tail.partition("[")
        try:
            index = int(rest[:-1])
        except ValueError:
            raise ConfigError(f"parameter {path!r}: the index in [...] must be an integer") from None
    section, key = head, tail
    if section not in SECTIONS:
        raise ConfigError(f"parameter {path!r}: unknown section {section!r}{did_you_mean(section, SECTIONS)}")
    array = section == "agent_types"
    if array != (entry is not None):
        form = f"{section}[entry].key" if array else f"{section}.key"
        raise ConfigError(f"parameter {path!r}: write it as {form}")
    fields = list(SECTIONS[section].model_fields)
    if not dot or key not in fields:
        raise ConfigError(f"parameter {path!r}: unknown key {key!r} in [{section}]{did_you_mean(key, fields)}")
    return section, entry, key, index


def _assign(data: dict, path: str, value) -> None:
    section, entry, key, index = _split_path(path)
    if entry is None:
        table = data.setdefault(section, {})
    else:
        entries = data.get(section) or []
        if not 0 <= entry < len(entries):
            raise ConfigError(f"parameter {path!r}: the base config has no {section} entry {entry}")
        table = entries[entry]
    if index is None:
        table[key] = value
        return
    current = table.get(key)
    if not isinstance(current, list | tuple) or not 0 <= index < len(current):
        raise ConfigError(f"parameter {path!r}: set {section}.{key} in the base config (a list with an entry {index})")
    current = list(current)
    current[index] = value
    table[key] = current


def _values(path: str, spec) -> list:
    if isinstance(spec, dict):
        unknown = set(spec) - {"start", "stop", "num"}
        if unknown or set(spec) != {"start", "stop", "num"}:
            raise ConfigError(f"parameters.{path!r} = {spec}: a grid needs exactly start, stop and num")
        if not isinstance(spec["num"], int) or spec["num"] < 1:
            raise ConfigError(f"parameters.{path!r}: num must be an integer >= 1")
        return [float(v) for v in np.linspace(float(spec["start"]), float(spec["stop"]), spec["num"])]
    if not isinstance(spec, list) or not spec:
        raise ConfigError(f"parameters.{path!r} must be a non-empty list of values or {{start, stop, num}}")
    if len({json.dumps(v) for v in spec}) != len(spec):
        raise ConfigError(f"parameters.{path!r} has repeated values")
    return list(spec)


def _task(spec: dict, parameters: dict) -> dict:
    from ..theory.methods import METHOD_CLASSES, method_from_name

    if not isinstance(spec, dict):
        raise ConfigError("each [[task]] must be a table")
    option_keys = sorted({key for cls in METHOD_CLASSES.values() for key in cls.keywords()})
    for key in spec:
        if key not in TASK_KEYS and key not in option_keys:
            allowed = TASK_KEYS + tuple(option_keys)
            raise ConfigError(f"unknown key {key!r} in [[task]]{did_you_mean(key, allowed)}; allowed: {allowed}")
    run = spec.get("run")
    if run not in RUNS:
        raise ConfigError(f"task.run = {run!r} must be one of {', '.join(RUNS)}{did_you_mean(run, RUNS)}")
    method = spec.get("method")
    given = {key: spec[key] for key in spec if key not in TASK_KEYS}
    options: dict = {}
    if run == "theory":
        method = method or "reduced"
        try:
            chosen = method_from_name(method, **given)
        except ConfigError as exc:
            raise ConfigError(f"[[task]] run = 'theory': {exc}") from None
        method, options = chosen.name, chosen.options()
    elif method is not None:
        raise ConfigError("task.method is only allowed with run = 'theory'")
    elif given:
        raise ConfigError(f"task.{next(iter(given))}: method options are only allowed with run = 'theory'")
    every = spec.get("every", {})
    for name, stride in every.items():
        if name not in parameters:
            raise ConfigError(f"task.every: {name!r} is not a swept parameter{did_you_mean(name, parameters)}")
        if not isinstance(stride, int) or stride < 1:
            raise ConfigError(f"task.every.{name!r} = {stride!r} must be an integer >= 1")
    overrides = {k: spec[k] for k in ("steps", "runs", "record_every") if k in spec}
    name = "simulate" if run == "simulate" else f"theory_{method.replace('-', '_')}"
    return {
        "name": name,
        "run": run,
        "method": method,
        "options": options,
        "overrides": overrides,
        "every": dict(every),
    }


def parse_sweep(data: dict, base_dir: str | Path | None = None) -> Sweep:
    """Validate a sweep (a dict as read from TOML) into a :class:`Sweep`; every point's config is checked.

    Parameters
    ----------
    data : dict
        The sweep's tables (see the module docstring): ``base``, ``parameters``, ``task``, and optionally
        ``seed``, ``summary``, ``plot``.
    base_dir : path, optional
        Where a ``base`` file name and the base config's relative paths resolve (default: the working directory).

    Returns
    -------
    Sweep

    Raises
    ------
    ConfigError
        With the first problem (unknown keys with a "did you mean", bad values, or an invalid point).

    Examples
    --------
    >>> from marldyn.analysis import parse_sweep
    >>> sweep = parse_sweep({
    ...     "base": {"graph": {"kind": "lattice", "n": 9}},
    ...     "parameters": {"learning.gamma": {"start": 0.5, "stop": 0.9, "num": 3}},
    ...     "task": [{"run": "theory", "method": "particles", "particles": 8}],
    ... })
    >>> sweep.parameters, sweep.tasks[0]["options"]  # the method's complete options
    ({'learning.gamma': [0.5, 0.7, 0.9]}, {'n': 8, 'timescale': 'reduced'})
    >>> parse_sweep({"base": {}, "parameters": {"learning.gama": [0.5]}, "task": [{"run": "theory"}]})
    Traceback (most recent call last):
        ...
    marldyn.errors.ConfigError: parameter 'learning.gama': unknown key 'gama' in [learning] (did you mean 'gamma'?)
    """
    if not isinstance(data, dict):
        raise ConfigError("a sweep must be a table")
    for key in data:
        if key not in TOP_KEYS:
            raise ConfigError(f"unknown key {key!r} in the sweep{did_you_mean(key, TOP_KEYS)}; allowed: {TOP_KEYS}")
    base_dir = Path(base_dir) if base_dir is not None else None
    base = data.get("base")
    if isinstance(base, str):
        path = Path(base) if Path(base).is_absolute() or base_dir is None else base_dir / base
        config = load_config(path)
    elif isinstance(base, dict):
        config = parse_config(base, base_dir=base_dir)
    else:
        raise ConfigError("the sweep needs base = 'config.toml' or a [base] table with the config's tables")
    raw = data.get("parameters")
    if not isinstance(raw, dict) or not raw:
        raise ConfigError("the sweep needs a [parameters] table with at least one parameter")
    parameters = {}
    for path, spec in raw.items():
        _split_path(path)
        parameters[path] = _values(path, spec)
    tasks_spec = data.get("task")
    if not isinstance(tasks_spec, list) or not tasks_spec:
        raise ConfigError("the sweep needs at least one [[task]] (run = 'simulate' or 'theory')")
    tasks = tuple(_task(spec, parameters) for spec in tasks_spec)
    if len({t["name"] for t in tasks}) != len(tasks):
        raise ConfigError(
            "two tasks have the same run and method (one task per theory method; run variants in another sweep)"
        )
    summary = dict(data.get("summary", {}))
    for key in summary:
        if key not in ("variables", "window"):
            raise ConfigError(f"unknown key {key!r} in [summary]{did_you_mean(key, ('variables', 'window'))}")
    variables = tuple(summary.get("variables", ("policy", "state_fraction")))
    for name in variables:
        if name not in SUMMARY_VARIABLES:
            raise ConfigError(
                f"summary.variables: {name!r} is not one of {', '.join(SUMMARY_VARIABLES)}"
                f"{did_you_mean(name, SUMMARY_VARIABLES)}"
            )
    window = summary.get("window", 0.0)
    if not isinstance(window, int | float) or not 0.0 <= window < 1.0:
        raise ConfigError(f"summary.window = {window!r} must be a number in [0, 1)")
    plot = _plot_spec(data.get("plot", {}), parameters, variables)
    seed = data.get("seed", config.run.seed)
    if not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed = {seed!r} must be a non-negative integer")
    sweep = Sweep(
        config, parameters, tasks, {"variables": variables, "window": float(window)}, plot, seed, str(base_dir or "")
    )
    for task in tasks:
        for _, values in sweep.points(task):
            sweep.point_config(values, task)
    return sweep


def _plot_spec(spec: dict, parameters: dict, variables) -> dict:
    allowed = ("x", "y", "variable", "action")
    for key in spec:
        if key not in allowed:
            raise ConfigError(f"unknown key {key!r} in [plot]{did_you_mean(key, allowed)}")
    names = list(parameters)
    plot = {
        "x": spec.get("x", names[0]),
        "y": spec.get("y", names[1] if len(names) > 1 else None),
        "variable": spec.get("variable", variables[0]),
        "action": spec.get("action", 0),
    }
    for axis in ("x", "y"):
        if plot[axis] is not None and plot[axis] not in parameters:
            raise ConfigError(f"plot.{axis} = {plot[axis]!r} is not a swept parameter{did_you_mean(plot[axis], names)}")
    if plot["variable"] not in variables:
        raise ConfigError(f"plot.variable = {plot['variable']!r} is not among summary.variables {list(variables)}")
    return plot


def load_sweep(path: str | Path) -> Sweep:
    """Read and validate a sweep file; a ``base`` path resolves next to it.

    Parameters
    ----------
    path : str or Path
        A TOML file (see the module docstring).

    Returns
    -------
    Sweep

    Raises
    ------
    ConfigError
        If the file is missing, not valid TOML, or the sweep is invalid (:func:`parse_sweep`).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from marldyn.analysis import load_sweep
    >>> text = '''
    ... [base.graph]
    ... kind = "lattice"
    ... n = 9
    ... [parameters]
    ... "learning.beta" = [0.5, 1.0]
    ... [[task]]
    ... run = "theory"
    ... method = "reduced"
    ... '''
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "sweep.toml"
    ...     _ = path.write_text(text)
    ...     sweep = load_sweep(path)
    >>> sweep.parameters, sweep.base.graph.n
    ({'learning.beta': [0.5, 1.0]}, 9)
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"sweep file not found: {path}")
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    return parse_sweep(data, base_dir=path.parent)


# ----------------------------------------------------------------------------------------------
# one point
# ----------------------------------------------------------------------------------------------
def evaluate_point(config_toml: str, base_dir: str | None, task: dict, summary: dict) -> dict:
    """Run one point of one task and summarise it (the function sent to the workers).

    Parameters
    ----------
    config_toml : str
        The point's configuration as TOML.
    base_dir : str or None
    task, summary : dict
        As in :class:`Sweep`.

    Returns
    -------
    dict
        Variable name -> ndarray ((state, action) or (state,)); for simulations also ``{name}_std`` across runs.
        On failure: ``{"error": "ExceptionType: message"}`` (the worker never raises).
    """
    try:
        config = parse_config(tomllib.loads(config_toml), base_dir=base_dir)
        if task["run"] == "simulate":
            from ..simulation.runner import simulate

            dataset = simulate(config, workers=1, progress=False)  # the points are the parallelism
        else:
            from ..theory import method_from_name, theory

            dataset = theory(config, method_from_name(task["method"], **task["options"]), progress=False)
        return _summarise(dataset, summary)
    except Exception as exc:  # noqa: BLE001 - a point's failure is data, reported in the output
        return {"error": f"{type(exc).__name__}: {' '.join(str(exc).split())}"}


def _summarise(dataset: xr.Dataset, summary: dict) -> dict:
    records = dataset.sizes["time"]
    last = max(1, int(math.floor(summary["window"] * records)))
    window = dataset.isel(time=slice(records - last, records))
    result = {}
    for name in summary["variables"]:
        if name not in window:
            continue
        values = window[name].mean("time")
        if "run" in values.dims:
            result[f"{name}_std"] = values.std("run").values
            values = values.mean("run")
        result[name] = values.values
    return result


# ----------------------------------------------------------------------------------------------
# running
# ----------------------------------------------------------------------------------------------
def _part_path(parts: Path, task: dict, config: Config, summary: dict) -> Path:
    key = json.dumps({"config": config.to_toml(), "task": task, "summary": summary}, sort_keys=True)
    return parts / f"{task['name']}-{hashlib.blake2b(key.encode(), digest_size=10).hexdigest()}.nc"


def _write_part(path: Path, result: dict) -> None:
    dataset = xr.Dataset({name: (TRAILING[np.ndim(value)], np.asarray(value)) for name, value in result.items()})
    write_dataset(dataset, path, overwrite=True)


def _read_part(path: Path) -> dict:
    return {name: value.values for name, value in read_dataset(path).data_vars.items()}


DISTRIBUTED_HINT = "pip install 'marldyn[distributed]'"


def _distributed():
    """The ``dask.distributed`` module, or a one-line ConfigError naming the extra that installs it."""
    try:
        import dask.distributed
    except ImportError:
        raise ConfigError(f"sweeps on a dask cluster need dask.distributed: {DISTRIBUTED_HINT}") from None
    return dask.distributed


def _client(client, scheduler, workers):
    """(executor, closers to call when done) for the chosen execution; (None, []) runs in this process.

    The executor is a dask client (``client``, ``scheduler``, or a LocalCluster of ``workers`` processes when
    dask.distributed is installed) or, without dask, a process pool of the standard library: local sweeps do
    not need the ``distributed`` extra, and give the same results either way (the seeds come from the points).
    """
    if client is not None:
        return client, []
    if scheduler is not None:
        distributed = _distributed()
        try:
            made = distributed.Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise ConfigError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
        return made, [made.close]
    if workers == 1:
        return None, []
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
        return pool, [partial(pool.shutdown, cancel_futures=True)]
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
    made = Client(cluster)
    return made, [made.close, cluster.close]


def run_sweep(
    sweep: Sweep | str | Path,
    output: str | Path | None = None,
    *,
    client=None,
    scheduler: str | None = None,
    workers: int = 1,
    overwrite: bool = False,
    progress: bool | None = None,
) -> xr.Dataset:
    """Run every point of every task of a sweep and gather the summaries into one Dataset.

    Parameters
    ----------
    sweep : Sweep or path
    output : path, optional
        The netCDF file to write (atomically); the parts go to ``OUTPUT.parts/``. Without ``output`` nothing is
        stored (and nothing can be resumed).
    client : dask.distributed.Client, optional
        Use this client.
    scheduler : str, optional
        Address of a running dask scheduler (``tcp://host:port``), e.g. one started by dask-jobqueue.
    workers : int
        Without ``client`` or ``scheduler``: 1 runs the points in this process, more start a dask LocalCluster
        of that many single-threaded worker processes (without dask, ``pip install 'marldyn[distributed]'``,
        a process pool of the standard library). The result does not depend on it.
    overwrite : bool
        Replace an existing ``output``.
    progress : bool, optional
        Progress bar (default: on a terminal).

    Returns
    -------
    xarray.Dataset
        See the module docstring; ``attrs["failed"]`` counts the points that raised.

    Examples
    --------
    In this process (``workers=1``, no ``output``: nothing is written):

    >>> from marldyn.analysis import parse_sweep, run_sweep
    >>> sweep = parse_sweep({
    ...     "base": {"graph": {"kind": "lattice", "n": 9}, "run": {"steps": 2000, "record_every": 1000}},
    ...     "parameters": {"learning.gamma": [0.5, 0.8], "learning.beta": [0.5, 1.0]},
    ...     "task": [{"run": "theory", "method": "reduced"}],
    ... })
    >>> result = run_sweep(sweep, workers=1, progress=False)
    >>> result.attrs["failed"], dict(result["theory_reduced_policy"].sizes)
    (0, {'learning.gamma': 2, 'learning.beta': 2, 'state': 2, 'action': 2})
    >>> result["theory_reduced_policy"].sel(state=0, action=0).values.round(3)  # P(C) in s1: rows γ, columns β
    array([[0.462, 0.404],
           [0.464, 0.404]])
    """

    sweep = load_sweep(sweep) if isinstance(sweep, str | Path) else sweep
    if not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"workers = {workers!r} must be an integer >= 1")
    parts = None
    if output is not None:
        output = Path(output)
        if output.exists() and not overwrite:
            raise ConfigError(f"output {output} exists; choose another name or pass --overwrite")
        if not (output.parent if str(output.parent) else Path(".")).is_dir():
            raise ConfigError(f"output directory {output.parent} does not exist")
        parts = output.with_name(output.name + ".parts")
        parts.mkdir(exist_ok=True)
    jobs = []
    results: dict[tuple, dict] = {}
    estimates = []
    for task in sweep.tasks:
        for position, values in sweep.points(task):
            config = sweep.point_config(values, task)
            path = _part_path(parts, task, config, sweep.summary) if parts is not None else None
            if path is not None and path.is_file():
                results[(task["name"], position)] = _read_part(path)
            else:
                jobs.append(((task["name"], position), (config.to_toml(), config.base_dir, task, sweep.summary), path))
                estimates.append((_point_memory(config, task), task["name"], values))
    if estimates and client is None and scheduler is None:  # the points run on this machine
        _require_sweep_memory(estimates, workers)
    active, closers = _client(client, scheduler, workers) if jobs else (None, [])
    try:
        with progress_bar(progress, total=len(jobs), unit="point", desc="sweep") as bar:
            for key, result, path in _execute(active, jobs):
                results[key] = result
                if path is not None and "error" not in result:
                    _write_part(path, result)
                bar.update(1)
    finally:
        for close in closers:
            close()
    dataset = _gather(sweep, results)
    if output is not None:
        write_dataset(dataset, output, overwrite=overwrite)
    return dataset


def _point_memory(config: Config, task: dict) -> int:
    """Estimated bytes of one point (:mod:`marldyn.memory`), from its config alone."""
    from ..memory import simulation_memory, theory_memory

    if task["run"] == "simulate":
        return simulation_memory(config, workers=1)
    return theory_memory(config, task["method"], **task["options"])


def _require_sweep_memory(estimates: list[tuple[int, str, dict]], workers: int) -> None:
    """Refuse, before any point starts, a sweep whose largest point (or ``workers`` largest at once) would not fit."""
    from ..memory import require_memory, require_memory_at_once

    needed, name, values = max(estimates, key=lambda item: item[0])
    at = ", ".join(f"{key} = {value}" for key, value in values.items())
    hint = "leave the largest values out of the grid, or run the sweep on a cluster (--scheduler)"
    require_memory(needed, f"the sweep point {name} at {at}", hint=hint)
    sizes = [item[0] for item in estimates]
    require_memory_at_once(
        sizes, workers, f"the sweep's {{count}} largest points at once (workers = {workers})", hint=hint
    )


def _execute(client, jobs):
    """Yield (key, result, part path) as points finish: in this process, on the dask client or the pool."""
    if client is None:
        for key, arguments, path in jobs:
            yield key, evaluate_point(*arguments), path
        return
    if isinstance(client, ProcessPoolExecutor):
        submit, completed, cancel = client.submit, futures_completed, _cancel_each
    else:
        from dask.distributed import as_completed

        submit, completed, cancel = partial(client.submit, pure=False), as_completed, client.cancel
    futures = {submit(evaluate_point, *arguments): (key, path) for key, arguments, path in jobs}
    try:
        for future in completed(futures):
            key, path = futures[future]
            yield key, future.result(), path
    finally:
        cancel(list(futures))


def _cancel_each(futures) -> None:
    """Cancel the process pool's futures that have not started (dask's ``client.cancel`` for a pool)."""
    for future in futures:
        future.cancel()


def _gather(sweep: Sweep, results: dict) -> xr.Dataset:
    names = list(sweep.parameters)
    shape = tuple(len(sweep.parameters[n]) for n in names)
    coords = {}
    for name in names:
        values = sweep.parameters[name]
        scalar = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        coords[name] = np.array(values, dtype=float) if scalar else np.array([json.dumps(v) for v in values])
    variables = {}
    failed = 0
    game = sweep.base.build_game()
    for task in sweep.tasks:
        errors = np.full(shape, "", dtype=object)
        for position, _ in sweep.points(task):
            result = results.get((task["name"], position), {"error": "not run"})
            if "error" in result:
                errors[position] = result["error"]
                failed += 1
                continue
            for variable, value in result.items():
                full = f"{task['name']}_{variable}"
                if full not in variables:
                    dims = (*names, *TRAILING[np.ndim(value)])
                    variables[full] = (dims, np.full(shape + np.shape(value), np.nan))
                if variables[full][1][position].shape != np.shape(value):  # the points' agent types differ
                    errors[position] = f"{variable}: shape {np.shape(value)} differs from the other points'"
                    failed += 1
                    continue
                variables[full][1][position] = value
        variables[f"{task['name']}_error"] = (tuple(names), errors.astype(str))
    coords.update(state=np.arange(game.n_states), action=np.arange(game.n_actions))
    if any(dims[len(names)] == "agent_type" for dims, _ in variables.values() if len(dims) > len(names)):
        coords["agent_type"] = np.array(sweep.base.learners(game, sweep.base.build_graph().n_agents).names)
    dataset = xr.Dataset(variables, coords=coords)
    dataset.attrs.update(
        kind="sweep",
        base_config=sweep.base.to_toml(),
        parameters=json.dumps(sweep.parameters),
        tasks=json.dumps([{k: v for k, v in t.items()} for t in sweep.tasks]),
        summary=json.dumps(sweep.summary),
        plot=json.dumps(sweep.plot),
        seed=sweep.seed,
        seeds="per point: SeedSequence([seed, blake2b(JSON of the point's parameter values)])",
        failed=failed,
    )
    return dataset


# ----------------------------------------------------------------------------------------------
# phase diagrams
# ----------------------------------------------------------------------------------------------
def phase_diagram_figure(dataset: xr.Dataset, path=None):
    """The sweep's phase diagrams as one figure: one panel per state, from the sweep's ``[plot]`` settings (a
    curve over ``plot.x`` where only one parameter is swept, ``plot.y`` not given).

    The first theory task is the colour map and the first simulation task (if any) the overlay (or the first
    task alone). Returns the figure; with ``path`` it is also saved (PNG, PDF or SVG). The panels are drawn by
    :func:`marldyn.plots.plot_phase_diagram` (re-exported here).

    Examples
    --------
    >>> from marldyn.analysis import parse_sweep, phase_diagram_figure, run_sweep
    >>> sweep = parse_sweep({
    ...     "base": {"graph": {"kind": "lattice", "n": 9}, "run": {"steps": 2000, "record_every": 1000}},
    ...     "parameters": {"learning.gamma": [0.5, 0.8], "learning.beta": [0.5, 1.0]},
    ...     "task": [{"run": "theory", "method": "reduced"}],
    ...     "plot": {"x": "learning.gamma", "y": "learning.beta", "variable": "policy", "action": 0},
    ... })
    >>> figure = phase_diagram_figure(run_sweep(sweep, progress=False))  # no path: nothing is saved
    >>> [ax.get_title() for ax in figure.axes[:2]]  # one panel per state
    ['state 0: theory reduced (cells)', 'state 1: theory reduced (cells)']
    """
    plot = json.loads(dataset.attrs["plot"])
    tasks = [t["name"] for t in json.loads(dataset.attrs["tasks"])]
    theories = [t for t in tasks if t != "simulate"]
    main = theories[0] if theories else tasks[0]
    overlay = "simulate" if "simulate" in tasks and main != "simulate" else None
    variable = plot["variable"]
    if f"{main}_{variable}" not in dataset:
        raise ConfigError(f"no {main}_{variable} in the sweep result (did every point of {main} fail?)")
    states = dataset["state"].values if "state" in dataset[f"{main}_{variable}"].dims else [0]
    figure, axes = new_figure(1, len(states), width=5.0, height=4.6)
    base = parse_config(tomllib.loads(dataset.attrs["base_config"]))
    horizons = {t["name"]: t["overrides"].get("steps", base.run.steps) for t in json.loads(dataset.attrs["tasks"])}
    figure.suptitle(
        f"{plot['variable']} at the horizon ("
        + ", ".join(f"{name.replace('_', ' ')}: {steps} steps" for name, steps in horizons.items())
        + ")",
        fontsize="medium",
    )
    for ax, state in zip(axes[0], states, strict=True):
        if plot["y"] is None:  # one swept parameter: the theory's curve, the simulation's points
            plot_sweep_curve(
                dataset,
                f"{main}_{variable}",
                x=plot["x"],
                state=state,
                action=plot["action"],
                overlay=f"{overlay}_{variable}" if overlay else None,
                ax=ax,
            )
            ax.set_title(f"state {state}", fontsize="medium")
            continue
        plot_phase_diagram(
            dataset,
            f"{main}_{variable}",
            x=plot["x"],
            y=plot["y"],
            state=state,
            action=plot["action"],
            overlay=f"{overlay}_{variable}" if overlay else None,
            ax=ax,
        )
        ax.set_title(f"state {state}: {main.replace('_', ' ')} (cells)", fontsize="medium")
    if path is not None:
        save_figure(figure, Path(path))
    return figure
