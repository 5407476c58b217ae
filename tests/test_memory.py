"""marldyn.memory: estimates from the config alone, honest within 2x, and refusal before any large allocation."""

from __future__ import annotations

import tracemalloc
import warnings

import networkx  # noqa: F401 - imported here, not inside a traced construction
import numpy as np
import pytest
import scipy.sparse.csgraph  # noqa: F401

import marldyn
import marldyn.config
import marldyn.theory
from marldyn import ConfigError, memory
from marldyn.cli import main
from marldyn.simulation import runner

GIB = 2**30
HUGE_LATTICE = '[graph]\nkind = "lattice"\nn = 100_000_000\n'  # issue 12, bug 2: killed by the OS (exit 137)
ABSURD_LATTICE = '[graph]\nkind = "lattice"\nn = 1_000_000_000_000\n'  # ~300 TB: refused on any machine


def config_of(graph: dict, **run) -> marldyn.Config:
    return marldyn.parse_config({"graph": graph, "run": {"steps": 20, "runs": 2, "record_every": 10, **run}})


def graph_bytes(graph) -> int:
    arrays = (graph.edges, graph.indptr, graph.indices) + ((graph.labels,) if graph.labels is not None else ())
    return sum(array.nbytes for array in arrays)


def traced_peak(function):
    """(result, bytes at tracemalloc's peak) of ``function()`` (numpy and Python allocations; not numba's)."""
    tracemalloc.start()
    try:
        result = function()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def refuse_building_graphs(monkeypatch):
    """Any graph construction from a config fails the test: the refusal must come before it."""

    def build(*args, **kwargs):
        raise AssertionError("the graph was built before the memory check")

    monkeypatch.setattr(marldyn.config.GraphConfig, "build", build)


# ----------------------------------------------------------------------------------------------
# the graph
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "graph",
    [
        {"kind": "lattice", "n": 400},
        {"kind": "lattice", "n": 400, "order": "rcm"},
        {"kind": "complete", "n": 30},
        {"kind": "random_regular", "n": 300, "degree": 3},
        {"kind": "random_regular", "n": 4000, "degree": 6},  # pairing model
        {"kind": "barabasi_albert", "n": 300, "m": 3},
    ],
)
def test_graph_size_is_the_built_graphs_size(graph):
    config = config_of(graph)
    size = memory.graph_size(config.graph)
    built = config.build_graph()
    assert (size.n_agents, size.n_edges) == (built.n_agents, built.n_edges)
    assert size.held == graph_bytes(built)
    assert size.peak >= size.held
    if graph["kind"] in ("lattice", "complete", "random_regular"):
        assert size.classes == 1


def test_graph_size_of_erdos_renyi_and_edge_lists(tmp_path):
    config = config_of({"kind": "erdos_renyi", "n": 2000, "edge_probability": 0.005})
    size, built = memory.graph_size(config.graph), config.build_graph()
    assert abs(size.n_edges - built.n_edges) < 0.1 * built.n_edges
    assert size.classes >= len(np.unique(built.degree))
    path = tmp_path / "edges.txt"
    path.write_text("# a ring\n" + "".join(f"{i} {(i + 1) % 50}\n" for i in range(50)))
    edgelist = marldyn.parse_config({"graph": {"kind": "edgelist", "path": "edges.txt"}}, base_dir=tmp_path)
    size = memory.graph_size(edgelist.graph, edgelist.base_dir)
    assert size.n_edges == 51  # the comment line counts: an upper bound
    assert 50 <= size.n_agents <= 2 * 51  # without graph.n: at most two agents per line
    assert memory.graph_size(edgelist.graph.model_copy(update={"n": 70}), tmp_path).n_agents == 70


def write_edge_list(path, graph) -> None:
    permutation = np.random.default_rng(0).permutation(graph.n_agents)
    path.write_text("".join(f"{i} {j}\n" for i, j in permutation[graph.edges].tolist()))


@pytest.mark.parametrize(
    "graph",
    [
        {"kind": "lattice", "n": 200**2},
        {"kind": "lattice", "n": 200**2, "order": "rcm"},
        {"kind": "random_regular", "n": 40_000, "degree": 4},
        {"kind": "complete", "n": 400},
        {"kind": "erdos_renyi", "n": 10_000, "edge_probability": 4e-4},
        {"kind": "barabasi_albert", "n": 10_000, "m": 2},
        {"kind": "edgelist", "path": "edges.txt"},
    ],
)
def test_graph_memory_is_within_2x_of_the_measured_peak(graph, tmp_path):
    if graph["kind"] == "edgelist":
        write_edge_list(tmp_path / "edges.txt", marldyn.random_regular(20_000, 4, seed=1))
    config = marldyn.parse_config({"graph": graph}, base_dir=tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # isolated agents of Erdős–Rényi
        _, peak = traced_peak(config.build_graph)
    estimate = memory.graph_memory(config.graph, config.base_dir)
    assert peak / 2 <= estimate <= 2 * peak, (estimate, peak)


# ----------------------------------------------------------------------------------------------
# the simulation
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("snapshots", [False, True])
def test_simulation_memory_is_within_2x_of_the_measured_peak(snapshots):
    """1e5-agent lattice, a few runs; tracemalloc sees numpy's arrays (not the kernel's 32 N K bytes)."""
    config = config_of({"kind": "lattice", "n": 316**2}, runs=3)
    config = config.model_copy(update={"init": config.init.model_copy(update={"q_noise": 0.1})})
    warm = config.model_copy(update={"graph": config.graph.model_copy(update={"n": 160**2})})
    marldyn.simulate(warm.with_overrides(steps=2, runs=1), workers=1, progress=False)  # compile outside the trace
    _, peak = traced_peak(lambda: marldyn.simulate(config, workers=1, snapshots=snapshots, progress=False))
    estimate = memory.simulation_memory(config, workers=1, snapshots=snapshots)
    assert peak / 2 <= estimate <= 2 * peak, (estimate, peak)


def test_run_memory_counts_runs_in_flight_records_and_snapshots():
    base = dict(runs=4, records=11)
    one = memory.run_memory(1000, 2000, 2, 2, **base)
    assert memory.run_memory(1000, 2000, 2, 2, **base, concurrent=4) > 3 * one
    snapshots = memory.run_memory(1000, 2000, 2, 2, **base, snapshots=True)
    assert snapshots - one == 2 * 4 * 11 * 8 * (1000 * 4 + 2000)  # every agent's Q and edge state, twice
    assert memory.record_count(20, 10) == runner.record_times(20, 10).size == 3
    assert memory.record_count(25, 10) == runner.record_times(25, 10).size == 4


def test_simulation_memory_uses_the_runners_formula():
    config = config_of({"kind": "lattice", "n": 100})
    problem = runner.make_problem(config, config.build_game(), config.build_graph(), snapshots=True)
    size = memory.graph_size(config.graph)
    expected = max(size.peak, size.held + runner.estimate_memory(problem, runs=2, concurrent=2))
    assert memory.simulation_memory(config, workers=2, snapshots=True) == expected
    given = config.build_graph()
    assert memory.simulation_memory(config, 2, True, graph=given) == runner.estimate_memory(problem, 2, 2)


def test_memory_estimate_refuses_up_front(monkeypatch):
    config = marldyn.parse_config({"graph": {"n": 100}, "run": {"steps": 10, "runs": 2}})
    problem = runner.make_problem(config, config.build_game(), config.build_graph(), snapshots=True)
    needed = runner.estimate_memory(problem, runs=2, concurrent=1)
    assert needed > 2 * problem.record_times.size * 8 * (100 * 4 + 200)  # snapshots of both runs at least
    monkeypatch.setattr(memory, "available_memory", lambda: 4096)
    with pytest.raises(ConfigError, match=r"needs about .* GiB but .* GiB are available"):
        marldyn.simulate(config)


def test_workers_none_shrink_to_fit_instead_of_refusing(monkeypatch):
    config = config_of({"kind": "lattice", "n": 400}, runs=4)
    one = memory.simulation_memory(config, workers=1)
    monkeypatch.setattr(memory, "available_memory", lambda: one + 1)
    marldyn.simulate(config, workers=None, progress=False)  # fits with one worker: runs, fewer threads
    with pytest.raises(ConfigError, match="needs about"):
        marldyn.simulate(config, workers=4, progress=False)


# ----------------------------------------------------------------------------------------------
# the theories
# ----------------------------------------------------------------------------------------------
def test_theory_memory_grows_with_what_each_method_allocates():
    config = config_of({"kind": "lattice", "n": 10_000}, runs=10)
    graph_peak = memory.graph_memory(config.graph)
    reduced = memory.theory_memory(config, "reduced")
    assert graph_peak <= reduced < 1.5 * graph_peak  # a point mass: the graph is all
    sde = memory.theory_memory(config, "sde")
    assert sde > 3 * 10 * 10_000 * 4 * 8  # three copies of every member's Q
    assert memory.theory_memory(config, "sde-graph") > sde - 2 * graph_peak
    pairs = memory.theory_memory(config, "particles", particles=3000, timescale="full")
    assert pairs > 3000**2 * 2 * 8  # the P x P pair distributions
    assert memory.theory_memory(config, marldyn.theory.Particles(n=3000)) < pairs  # reduced: no P x P
    assert memory.theory_memory(config, "lna") > graph_peak
    ten_times = config_of({"kind": "lattice", "n": 100_489}, runs=10)  # 317²
    assert memory.theory_memory(ten_times, "sde") > 9 * sde


def test_theory_memory_of_the_dense_lna_routes():
    small = config_of({"kind": "random_regular", "n": 500, "degree": 3})  # laplacian or direct: dense
    assert memory.theory_memory(small, "lna") > 500**2 * 8
    big = config_of({"kind": "random_regular", "n": 100_000, "degree": 3})  # solve_lna refuses up front
    assert memory.theory_memory(big, "lna") < 2 * memory.graph_memory(big.graph)


def test_theory_memory_rejects_options_the_method_does_not_take():
    with pytest.raises(ConfigError, match="dt"):
        memory.theory_memory(config_of({"kind": "lattice", "n": 9}), "reduced", dt=5.0)


# ----------------------------------------------------------------------------------------------
# the machine and the refusal
# ----------------------------------------------------------------------------------------------
def test_require_memory_says_what_needs_how_much(monkeypatch):
    memory.require_memory(GIB, "a job", available=2 * GIB)
    monkeypatch.setattr(memory, "available_memory", lambda: None)  # the system does not say: no check
    memory.require_memory(10**15, "a job")
    with pytest.raises(ConfigError, match=r"^a job needs about 3\.0 GiB but 1\.0 GiB are available \(fewer runs\)$"):
        memory.require_memory(3 * GIB, "a job", hint="fewer runs", available=GIB)


def test_available_memory_is_the_tighter_of_system_and_cgroup(monkeypatch):
    available = memory.available_memory()
    assert available is None or available > 0
    monkeypatch.setattr(memory, "_meminfo_available", lambda: 8 * GIB)
    monkeypatch.setattr(memory, "_cgroup_room", lambda: 2 * GIB)
    assert memory.available_memory() == 2 * GIB
    monkeypatch.setattr(memory, "_cgroup_room", lambda: None)
    assert memory.available_memory() == 8 * GIB


# ----------------------------------------------------------------------------------------------
# regressions of issue 12, bug 2: refused with exit 2 and the estimate, before the graph is built
# ----------------------------------------------------------------------------------------------
def test_cli_refuses_a_1e8_lattice_before_building_it(tmp_path, monkeypatch, capsys):
    (tmp_path / "huge.toml").write_text(HUGE_LATTICE)
    refuse_building_graphs(monkeypatch)
    monkeypatch.setattr(memory, "available_memory", lambda: 16 * GIB)
    assert main(["simulate", str(tmp_path / "huge.toml"), "-o", str(tmp_path / "out.nc"), "--no-progress"]) == 2
    message = capsys.readouterr().err
    assert "lattice graph, n = 100,000,000" in message
    assert "needs about 32.8 GiB but 16.0 GiB are available" in message


def test_cli_refuses_a_1e8_lattice_on_this_machine(tmp_path, capsys):
    """The real thing, where the machine is too small for it (else the check would rightly let it run)."""
    (tmp_path / "huge.toml").write_text(HUGE_LATTICE)
    needed, available = memory.simulation_memory(marldyn.load_config(tmp_path / "huge.toml")), memory.available_memory()
    if available is None or available >= needed:
        pytest.skip("this machine could hold the 1e8 lattice")
    assert main(["simulate", str(tmp_path / "huge.toml"), "-o", str(tmp_path / "out.nc"), "--no-progress"]) == 2
    assert "needs about" in capsys.readouterr().err


def test_cli_refuses_an_absurd_lattice_on_any_machine(tmp_path, capsys):
    (tmp_path / "absurd.toml").write_text(ABSURD_LATTICE)
    assert main(["simulate", str(tmp_path / "absurd.toml"), "-o", str(tmp_path / "out.nc")]) == 2
    assert "needs about" in capsys.readouterr().err


def test_cli_theory_sde_is_refused_before_building_the_graph(tmp_path, monkeypatch, capsys):
    # small enough to run in a second if the check is missing (the test then fails instead of being killed)
    (tmp_path / "c.toml").write_text('[graph]\nkind = "lattice"\nn = 10_000\n[run]\nsteps = 10\nruns = 1\n')
    monkeypatch.setattr(memory, "available_memory", lambda: 2**20)
    code = main(["theory", str(tmp_path / "c.toml"), "--method", "sde", "-o", str(tmp_path / "t.nc"), "--no-progress"])
    assert code == 2
    assert "needs about" in capsys.readouterr().err


def test_cli_theory_sde_refuses_an_absurd_lattice(tmp_path, capsys):
    (tmp_path / "absurd.toml").write_text(ABSURD_LATTICE)
    assert main(["theory", str(tmp_path / "absurd.toml"), "--method", "sde", "-o", str(tmp_path / "t.nc")]) == 2
    assert "needs about" in capsys.readouterr().err


def test_cli_sweep_with_a_huge_point_is_refused_before_any_point_runs(tmp_path, monkeypatch, capsys):
    (tmp_path / "base.toml").write_text('[graph]\nkind = "lattice"\n[run]\nsteps = 10\nruns = 1\n')
    (tmp_path / "s.toml").write_text(
        'base = "base.toml"\n[parameters]\n"graph.n" = [9, 100_000_000]\n[[task]]\nrun = "simulate"\n'
    )
    refuse_building_graphs(monkeypatch)
    monkeypatch.setattr(memory, "available_memory", lambda: 16 * GIB)
    assert main(["sweep", str(tmp_path / "s.toml"), "-o", str(tmp_path / "s.nc"), "--workers", "1"]) == 2
    message = capsys.readouterr().err
    assert "the sweep point simulate at graph.n = 100000000 needs about" in message
    assert not (tmp_path / "s.nc").exists()


def test_reproduction_cases_are_checked_before_any_runs(monkeypatch):
    from marldyn.reproduce.common import Case, TheorySpec, require_case_memory

    small = config_of({"kind": "lattice", "n": 9})
    huge = config_of({"kind": "lattice", "n": 100_000_000})
    cases = [Case("small", "small", small, (TheorySpec("reduced"),)), Case("huge", "huge", huge, (), simulate=True)]
    refuse_building_graphs(monkeypatch)
    monkeypatch.setattr(memory, "available_memory", lambda: 16 * GIB)
    with pytest.raises(ConfigError, match="case huge: the simulation needs about"):
        require_case_memory(cases)
    with pytest.raises(ConfigError, match="case huge: theory sde needs about"):
        require_case_memory([Case("huge", "huge", huge, (TheorySpec("sde"),), simulate=False)])
    require_case_memory(cases[:1], concurrent=2)


def test_pieces_that_run_at_once_are_refused_together(monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda: 5 * memory.GIB)
    sizes = [3 * memory.GIB, memory.GIB, 3 * memory.GIB]  # each fits; the two largest together do not
    for piece in sizes:
        memory.require_memory(piece, "one piece")
    memory.require_memory_at_once(sizes, 1, "the {count} largest pieces")  # one at a time: nothing summed
    with pytest.raises(ConfigError, match=r"^the 2 largest pieces needs about 6\.0 GiB but 5\.0 GiB"):
        memory.require_memory_at_once(sizes, 2, "the {count} largest pieces")
