"""The one pipeline every reproduction shares: run simulation and theories, compare, plot, write a summary.

A reproduction is a list of :class:`Case` objects (one configuration each, simulated and/or predicted by
several :class:`TheorySpec` theories) run by a :class:`Reproduction`, which writes everything into its own
directory:

- ``<case>_simulation.nc`` and ``<case>_<theory>.nc`` (netCDF via :func:`marldyn.io.write_dataset`),
- the figure(s) as PNG and PDF,
- ``summary.json`` and ``summary.md``: parameters, initial conditions (from the datasets' ``initial_condition``
  attributes), runs, horizons, the sim-vs-theory error tables from :func:`marldyn.compare.compare`, run times,
  the :class:`~marldyn.errors.MarldynWarning` messages of each theory (recorded there, not printed) and notes.

Every file is written to a temporary name in the directory and renamed when complete. The figures are drawn
by :mod:`marldyn.plots` (simulations as the run-mean with a band of ±1 standard deviation across runs, theories
as lines; :func:`marldyn.plots.pd_row` and :func:`marldyn.plots.sweep_panels` take the :class:`CaseResult`
objects of this module) and saved by :func:`marldyn.plots.save_figure`.
"""

from __future__ import annotations

import copy
import json
import re
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import xarray as xr

from .. import __version__
from ..compare import compare, error_table
from ..config import Config, parse_config
from ..errors import ConfigError, MarldynWarning
from ..io import atomic_write_text, write_dataset
from ..plots import new_figure, pd_row
from ..plots import save_figure as write_figure
from ..progress import progress_bar
from ..theory.methods import SDE, TheoryMethod, as_method

#: The paper's setting (NOTES.md 2 and 9): the two-state prisoner's dilemma of eq. (21) on a 10x10 periodic
#: lattice, with p and the initial Q from the authors' code; 10 runs of 20,000 steps.
PAPER = {
    "game": {"name": "two_state_pd", "b": [5.0, 1.2], "c": [0.5, 0.5], "p": [0.7, 0.2]},
    "graph": {"kind": "lattice", "n": 100},
    "learning": {"rule": "q_learning", "alpha": 0.001, "beta": 1.0, "gamma": 0.8},
    "init": {"q": [[0.5, 0.0], [0.0, 0.5]], "q_noise": 0.1, "q_noise_distribution": "normal", "edge_state": "uniform"},
    "run": {"steps": 20000, "runs": 10, "seed": 0, "record_every": 100},
}

#: Said in every summary of a reproduction built on :data:`PAPER`.
PROVENANCE = (
    "p1 = 0.7, p2 = 0.2 and the initial Q-values Q(s1) = (0.5, 0), Q(s2) = (0, 0.5) [(cooperate, defect)] plus "
    "independent Gaussian noise of standard deviation 0.1 per agent and entry, with edge states 50/50, come from "
    "the authors' public code (shared/NOTES.md 2): the paper does not state the initial Q, and its Figure 3 "
    "caption's p1 = 0.8, p2 = 0.3 is a typo according to that code."
)

#: Records per simulated trajectory (record_every = steps // RECORDS).
RECORDS = 200
#: Runs per case in quick mode (two would give a noise estimate; three makes it less erratic).
QUICK_RUNS = 3
#: Quick mode divides horizons by this factor.
QUICK_STEP_FACTOR = 10
#: The SDE ensemble's Euler–Maruyama step in learning time: alpha x dt (dt = 50 steps at alpha = 1e-3).
SDE_LEARNING_STEP = 0.05


# ----------------------------------------------------------------------------------------------
# configurations
# ----------------------------------------------------------------------------------------------
def make_config(
    changes: dict | None = None,
    *,
    steps: int,
    runs: int,
    record_every: int | None = None,
    base: dict = PAPER,
) -> Config:
    """A validated :class:`~marldyn.config.Config`: ``base`` with ``changes`` merged in, and a ``[run]`` horizon.

    Parameters
    ----------
    changes : dict, optional
        Nested like the TOML schema (e.g. ``{"learning": {"gamma": 0.5}}``); a section given with a different
        ``name``/``kind`` replaces the base section instead of being merged into it.
    steps, runs : int
        The horizon and the number of runs.
    record_every : int, optional
        Default ``max(1, steps // RECORDS)``.
    base : dict
        The configuration to start from (default :data:`PAPER`).
    """
    data = copy.deepcopy(base)
    for section, values in (changes or {}).items():
        replaces = any(key in values and values[key] != data.get(section, {}).get(key) for key in ("name", "kind"))
        data[section] = dict(values) if replaces else {**data.get(section, {}), **values}
    data["run"] = {**data.get("run", {}), "steps": int(steps), "runs": int(runs)}
    data["run"]["record_every"] = int(record_every) if record_every else max(1, int(steps) // RECORDS)
    return parse_config(data)


def horizon(steps: int, quick: bool) -> int:
    """``steps``, or ``steps // QUICK_STEP_FACTOR`` in quick mode."""
    return max(1, steps // QUICK_STEP_FACTOR) if quick else steps


def run_count(runs: int, quick: bool) -> int:
    """``runs``, or :data:`QUICK_RUNS` (at most ``runs``) in quick mode."""
    return min(runs, QUICK_RUNS) if quick else runs


def parameters_of(config: Config) -> dict:
    """The settings of ``config`` as a flat, JSON-ready dict (game, graph, learning, initial condition, run)."""
    data = config.model_dump(exclude_none=True)
    game = data["game"]
    result = {"game": game["name"]}
    if game["name"] == "two_state_pd":
        result.update({key: list(game[key]) for key in ("b", "c", "p") if key in game})
    else:
        result.update(payoff=game.get("payoff"), transition=game.get("transition"))
    result["graph"] = {key: value for key, value in data["graph"].items()}
    result.update(data["learning"])
    init = data["init"]
    result.update(
        initial_q=init.get("q", "zeros"),
        q_noise=init["q_noise"],
        q_noise_distribution=init["q_noise_distribution"],
        initial_edge_state=init["edge_state"],
    )
    result.update(data["run"])
    return result


# ----------------------------------------------------------------------------------------------
# cases and their results
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TheorySpec:
    """One theory to compute for a case.

    Parameters
    ----------
    method : TheoryMethod or str
        The method object of :func:`marldyn.theory.theory` with its options (``Particles(n=400)``), or a
        method name for the defaults (stored as the object).
    label : str, optional
        Legend label and file name part (default: the method's name).
    compare : bool
        Compare with the case's simulation (error table in the summary).

    Examples
    --------
    >>> from marldyn.reproduce.common import TheorySpec
    >>> from marldyn.theory import Particles
    >>> spec = TheorySpec(Particles(timescale="full"), label="particles-full")
    >>> spec.name, spec.method.name, spec.options()
    ('particles-full', 'particles', {'n': None, 'timescale': 'full'})
    """

    method: TheoryMethod
    label: str | None = None
    compare: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "method", as_method(self.method))

    @property
    def name(self) -> str:
        """The label, or the method's name if no label was given."""
        return self.label or self.method.name

    def options(self) -> dict:
        """The method's options (recorded in the summary)."""
        return self.method.options()


def sde_theory(alpha: float) -> TheorySpec:
    """The ``sde`` ensemble with ``dt = SDE_LEARNING_STEP / alpha`` steps (at least one step)."""
    return TheorySpec(SDE(dt=max(1.0, SDE_LEARNING_STEP / alpha)))


@dataclass(frozen=True)
class Case:
    """One configuration of a reproduction: simulated (optionally) and predicted by ``theories``.

    Parameters
    ----------
    key : str
        Short file-safe identifier (file names, summary).
    label : str
        Human-readable label (legends, summary).
    config : Config
    theories : tuple of TheorySpec
    simulate : bool
        Run the simulation (theory-only cases set False).
    varied : dict
        The parameters that distinguish this case (for the summary).
    """

    key: str
    label: str
    config: Config
    theories: tuple[TheorySpec, ...] = ()
    simulate: bool = True
    varied: dict = field(default_factory=dict)


@dataclass
class CaseResult:
    """What a case produced: the datasets, the comparisons (theory label -> :func:`compare` dict), timings, and
    the :class:`~marldyn.errors.MarldynWarning` messages each theory raised (theory label -> list of str)."""

    case: Case
    simulation: xr.Dataset | None
    theories: dict[str, xr.Dataset]
    comparisons: dict[str, dict]
    seconds: dict[str, float]
    theory_warnings: dict[str, list[str]] = field(default_factory=dict)

    def theory(self, label: str) -> xr.Dataset:
        """The theory dataset with this label."""
        return self.theories[label]


def compact_errors(result: dict) -> dict:
    """A :func:`compare` result without its per-time lists: the numbers per component, and the worst ones."""
    keys = (
        "label",
        "variable",
        "state",
        "action",
        "max_error",
        "time_of_max_error",
        "mean_error",
        "final_error",
        "noise_at_max_error",
        "mean_noise",
        "within_noise",
    )
    components = [{key: component[key] for key in keys} for component in result["components"]]

    def worst(variable, statistic):
        values = [c[statistic] for c in components if c["variable"] == variable and c[statistic] is not None]
        return max(values) if values else None

    return {
        "simulation_method": result["simulation_method"],
        "theory_method": result["theory_method"],
        "simulation_runs": result["simulation_runs"],
        "theory_runs": result["theory_runs"],
        "time_range": [result["time"][0], result["time"][-1]],
        "noise_factor": result["noise_factor"],
        "max_policy_error": worst("policy", "max_error"),
        "mean_policy_error": worst("policy", "mean_error"),
        "max_state_fraction_error": worst("state_fraction", "max_error"),
        "all_policy_within_noise": all(c["within_noise"] for c in components if c["variable"] == "policy"),
        "components": components,
    }


# ----------------------------------------------------------------------------------------------
# the reproduction: runs cases, writes files and the summary
# ----------------------------------------------------------------------------------------------
class Reproduction:
    """A reproduction in the making: runs its cases and writes every output atomically into ``out_dir``.

    Parameters
    ----------
    name : str
        The registry name (``fig3``, ...), used for the figure's file name.
    title : str
        One line saying what is reproduced.
    out_dir : str or Path
        Created if missing; files inside it are replaced.
    quick : bool
        Quick mode (recorded in the summary).
    workers : int
        Processes for the simulation runs.
    progress : bool, optional
        Progress bar over cases; default: only on a terminal (``MARLDYN_PROGRESS=0`` turns it off).
    base : Config, optional
        The configuration the cases vary (its parameters head the summary).
    provenance : str, optional
        Where settings that the paper leaves open come from (default :data:`PROVENANCE`).
    """

    def __init__(
        self,
        name: str,
        title: str,
        out_dir,
        *,
        quick: bool = False,
        workers: int = 1,
        progress: bool | None = None,
        base: Config | None = None,
        provenance: str | None = PROVENANCE,
    ):
        if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
            raise ConfigError(f"workers = {workers!r} must be an integer >= 1")
        self.name = name
        self.title = title
        self.out_dir = Path(out_dir)
        self.quick = bool(quick)
        self.workers = workers
        self.progress = progress
        self.base = base
        self.provenance = provenance
        self.notes: list[str] = []
        self.results: list[CaseResult] = []
        self.figures: list[str] = []
        self.extra: dict = {}
        self._started = time.perf_counter()
        self.out_dir.mkdir(parents=True, exist_ok=True)

    # -- running ---------------------------------------------------------------------------
    def run(self, cases) -> dict[str, CaseResult]:
        """Run every case (simulation, theories, comparisons), write its datasets, and return results by key.

        With ``workers > 1`` the cases' simulations run in one pool of ``workers`` processes (a case per task,
        each with the runner's own ``workers=1``: the results do not depend on it), started once for the whole
        reproduction, while the theories are computed in this process.
        """
        cases = list(cases)
        keys = [case.key for case in cases]
        if len(set(keys)) != len(keys):
            raise ValueError(f"case keys must be unique: {keys}")
        simulated = [case for case in cases if case.simulate]
        require_case_memory(cases, concurrent=min(self.workers, len(simulated)))  # before any case starts
        pool = None
        if self.workers > 1 and simulated:
            pool = ProcessPoolExecutor(max_workers=min(self.workers, len(simulated)), mp_context=get_context("spawn"))
        results = {}
        try:
            futures = {case.key: pool.submit(simulate_case, case.config) for case in simulated} if pool else {}
            with progress_bar(self.progress, iterable=cases, desc=self.name, unit="case") as bar:
                for case in bar:
                    bar.set_postfix_str(case.label, refresh=True)
                    results[case.key] = self._run_case(case, futures.get(case.key))
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
        return results

    def _run_case(self, case: Case, future=None) -> CaseResult:
        from ..theory import theory

        seconds = {}
        theories = {}
        theory_warnings = {}
        for spec in case.theories:
            start = time.perf_counter()
            with warnings.catch_warnings(record=True) as caught:  # a theory's MarldynWarnings go to the summary
                warnings.simplefilter("always", MarldynWarning)
                dataset = theory(case.config, spec.method, progress=False)
            seconds[spec.name] = time.perf_counter() - start
            theory_warnings[spec.name] = _marldyn_warnings(caught)
            dataset.attrs["label"] = spec.name
            theories[spec.name] = dataset
            self._write(dataset, f"{case.key}_{_file_part(spec.name)}.nc")
        simulation = None
        if case.simulate:
            simulation, seconds["simulation"] = future.result() if future is not None else simulate_case(case.config)
            self._write(simulation, f"{case.key}_simulation.nc")
        comparisons = {
            spec.name: compare(simulation, theories[spec.name])
            for spec in case.theories
            if spec.compare and simulation is not None
        }
        result = CaseResult(case, simulation, theories, comparisons, seconds, theory_warnings)
        self.results.append(result)
        return result

    # -- writing -----------------------------------------------------------------------------
    def _write(self, dataset: xr.Dataset, file_name: str) -> None:
        write_dataset(dataset, self.out_dir / file_name, overwrite=True)

    def save_figure(self, figure, stem: str | None = None) -> list[Path]:
        """Save ``figure`` as ``<stem>.png`` and ``<stem>.pdf`` (default stem: the reproduction's name)."""
        paths = write_figure(figure, self.out_dir / f"{stem or self.name}.pdf")
        self.figures += [path.name for path in paths]
        return paths

    def note(self, text: str) -> None:
        """Add a sentence to the summary's notes."""
        self.notes.append(text)

    def finish(self) -> dict:
        """Write ``summary.json`` and ``summary.md`` and return the summary."""
        summary = self.summary()
        atomic_write_text(self.out_dir / "summary.json", json.dumps(summary, indent=2, default=json_default) + "\n")
        atomic_write_text(self.out_dir / "summary.md", markdown(summary, self.results))
        return summary

    def summary(self) -> dict:
        """The summary as a JSON-ready dict (see the module docstring)."""
        base = self.base if self.base is not None else (self.results[0].case.config if self.results else None)
        first = next((r.simulation for r in self.results if r.simulation is not None), None)
        return {
            "name": self.name,
            "title": self.title,
            "command": f"marldyn reproduce {self.name}" + (" --quick" if self.quick else ""),
            "quick": self.quick,
            "marldyn_version": __version__,
            "workers": self.workers,
            "seconds": round(time.perf_counter() - self._started, 3),
            "parameters": None if base is None else parameters_of(base),
            "initial_condition": None if first is None else first.attrs.get("initial_condition"),
            "runs": None if first is None else int(first.sizes["run"]),
            "horizon": None if first is None else int(first.attrs["horizon"]),
            "provenance": self.provenance,
            "notes": self.notes + [_largest_errors(result) for result in self.results if result.comparisons],
            **self.extra,
            "cases": [_case_summary(result) for result in self.results],
            "figures": list(self.figures),
            "files": sorted(
                {p.name for p in self.out_dir.iterdir() if p.is_file() and not p.name.startswith(".")}
                | {"summary.json", "summary.md"}
            ),
        }


def _largest_errors(result: CaseResult) -> str:
    """One sentence: each theory's largest policy error against the simulation (max over time, states, actions)."""
    worst = {label: compact_errors(value)["max_policy_error"] for label, value in result.comparisons.items()}
    errors = ", ".join(f"{label} {'-' if v is None else f'{v:.3f}'}" for label, v in worst.items())
    return f"{result.case.label}: largest policy error vs simulation by theory: {errors}."


def _case_summary(result: CaseResult) -> dict:
    case, simulation = result.case, result.simulation
    theories = {}
    for label, dataset in result.theories.items():
        spec = next(s for s in case.theories if s.name == label)
        theories[label] = {
            "method": spec.method.name,
            "options": spec.options(),
            "file": f"{case.key}_{_file_part(label)}.nc",
            "initial_condition": dataset.attrs.get("initial_condition"),
            "horizon": int(dataset.attrs["horizon"]),
            "seconds": round(result.seconds[label], 3),
            "warnings": result.theory_warnings.get(label, []),
        }
    return {
        "key": case.key,
        "label": case.label,
        "varied": case.varied,
        "parameters": parameters_of(case.config),
        "runs": None if simulation is None else int(simulation.sizes["run"]),
        "horizon": int(case.config.run.steps),
        "record_every": int(case.config.run.record_every),
        "initial_condition": None if simulation is None else simulation.attrs.get("initial_condition"),
        "simulation_file": None if simulation is None else f"{case.key}_simulation.nc",
        "simulation_seconds": None if simulation is None else round(result.seconds["simulation"], 3),
        "theories": theories,
        "final": {label: final_values(dataset) for label, dataset in _datasets(result).items()},
        "errors": {label: compact_errors(value) for label, value in result.comparisons.items()},
    }


def _datasets(result: CaseResult) -> dict:
    simulation = {} if result.simulation is None else {"simulation": result.simulation}
    return {**simulation, **result.theories}


def final_values(dataset: xr.Dataset) -> dict:
    """The run-mean policy (state, action) and edge-state fractions (state,) at the last recorded time."""
    last = dataset.isel(time=-1)
    if "run" in last.dims:
        last = last.mean("run")
    return {
        "time": float(dataset["time"].values[-1]),
        "policy": last["policy"].transpose("state", "action").values.tolist(),
        "state_fraction": last["state_fraction"].values.tolist() if "state_fraction" in last else None,
    }


def markdown(summary: dict, results: list[CaseResult]) -> str:
    """``summary.md``: the summary for people, with the full error tables of :func:`marldyn.compare.error_table`."""
    lines = [f"# {summary['name']}: {summary['title']}", ""]
    lines += [
        f"- command: `{summary['command']}` ({'quick mode' if summary['quick'] else 'full mode'}), "
        f"marldyn {summary['marldyn_version']}, {summary['workers']} worker(s), {summary['seconds']:.1f} s",
        f"- runs per simulated case: {summary['runs']}; horizon of the first case: {summary['horizon']} steps",
        f"- initial condition (simulation): {summary['initial_condition']}",
        f"- figures: {', '.join(summary['figures'])}",
        "",
    ]
    if summary["parameters"]:
        lines += ["## Parameters", "", "| parameter | value |", "| --- | --- |"]
        lines += [f"| {key} | `{_short(value)}` |" for key, value in summary["parameters"].items()]
        lines.append("")
    if summary["provenance"]:
        lines += ["## Provenance", "", summary["provenance"], ""]
    if summary["notes"]:
        lines += ["## Notes", ""] + [f"- {note}" for note in summary["notes"]] + [""]
    lines += ["## Cases", ""]
    for result, case in zip(results, summary["cases"], strict=True):
        lines += [f"### {case['label']} (`{case['key']}`)", ""]
        if case["varied"]:
            lines.append("- varied: " + ", ".join(f"{k} = {_short(v)}" for k, v in case["varied"].items()))
        if case["runs"] is not None:
            lines.append(
                f"- simulation: {case['runs']} runs x {case['horizon']} steps (record every {case['record_every']}),"
                f" {case['simulation_seconds']:.1f} s; initial condition: {case['initial_condition']}"
            )
        for label, info in case["theories"].items():
            options = ", ".join(f"{k}={v}" for k, v in info["options"].items() if v is not None)
            lines.append(
                f"- theory `{label}` ({info['method']}{'; ' + options if options else ''}): to step "
                f"{info['horizon']}, {info['seconds']:.1f} s; initial condition: {info['initial_condition']}"
                + "".join(f"; warned: {message}" for message in info["warnings"])
            )
        for label, comparison in result.comparisons.items():
            lines += ["", f"Simulation vs `{label}`:", "", "```text", error_table(comparison), "```"]
        lines.append("")
    lines += ["## Files", ""] + [f"- `{name}`" for name in summary["files"]] + [""]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# figures (drawn by marldyn.plots)
# ----------------------------------------------------------------------------------------------
def single_row_figure(job: Reproduction, results: list[CaseResult], theories, title: str) -> dict:
    """Finish a one-row sweep figure (edge states, cooperation in s1 and s2) and the reproduction.

    ``title`` is completed with the run count and horizon; returns :meth:`Reproduction.finish`'s summary.
    """
    figure, axes = new_figure(1, 3, width=4.4, height=3.8)
    pd_row(axes[0], results, [spec.name for spec in theories])
    note_final_cooperation(job, results)
    runs = results[0].simulation.sizes["run"]
    figure.suptitle(f"{title}; {runs} runs x {results[0].case.config.run.steps} steps")
    job.save_figure(figure)
    return job.finish()


def note_final_cooperation(job: Reproduction, results: list[CaseResult]) -> None:
    """Add one note per case: the simulated run-mean cooperation in each state at the horizon."""
    for result in results:
        final = result.simulation["policy"].isel(time=-1).sel(action=0).mean("run").values
        states = ", ".join(f"s{state + 1} = {value:.3f}" for state, value in enumerate(final))
        job.note(f"{result.case.label}: final cooperation (simulation, t = {result.case.config.run.steps}) {states}.")


def merge_in_time(early: xr.Dataset, late: xr.Dataset) -> xr.Dataset:
    """``early`` up to its last time, then ``late`` after it (e.g. dense early records + the main records)."""
    cut = float(early["time"].values[-1])
    joined = xr.concat([early, late.sel(time=late["time"] > cut)], dim="time", data_vars="minimal", coords="minimal")
    joined.attrs = dict(late.attrs)
    return joined


# ----------------------------------------------------------------------------------------------
# small helpers
# ----------------------------------------------------------------------------------------------
def require_case_memory(cases, *, concurrent: int = 1) -> None:
    """Refuse, before any work, cases whose simulation or theory would not fit in the available memory.

    Every theory of a case and its simulation are checked on their own (:mod:`marldyn.memory`), and the
    ``concurrent`` largest simulations together (they run at once in the process pool).
    """
    from ..memory import require_memory, require_memory_at_once, simulation_memory, theory_memory

    simulations = []
    for case in cases:
        for spec in case.theories:
            require_memory(theory_memory(case.config, spec.method), f"case {case.key}: theory {spec.name}")
        if case.simulate:
            simulations.append(simulation_memory(case.config, workers=1))
            require_memory(simulations[-1], f"case {case.key}: the simulation")
    require_memory_at_once(
        simulations, concurrent, f"the {{count}} largest simulations at once (workers = {concurrent})"
    )


def simulate_case(config: Config) -> tuple[xr.Dataset, float]:
    """Simulate ``config`` in this process (no progress bar); returns the dataset and the seconds it took."""
    from ..simulation.runner import simulate

    start = time.perf_counter()
    dataset = simulate(config, workers=1, progress=False)
    return dataset, time.perf_counter() - start


def _marldyn_warnings(caught) -> list[str]:
    """The messages of the recorded :class:`~marldyn.errors.MarldynWarning` s; any other warning is re-issued."""
    messages = []
    for item in caught:
        if issubclass(item.category, MarldynWarning):
            messages.append(str(item.message))
        else:
            warnings.warn_explicit(item.message, item.category, item.filename, item.lineno, source=item.source)
    return messages


def _file_part(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", label).strip("_") or "theory"


def _short(value) -> str:
    text = json.dumps(value, default=json_default)
    return text if len(text) <= 160 else text[:157] + "..."


def json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
