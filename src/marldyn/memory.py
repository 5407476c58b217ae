"""Memory estimates made from the configuration alone, before any large allocation, and the refusal.

A run too large for the machine must be refused with a message, not killed by the operating system after it
has filled the memory. Every entry point (``simulate``, ``resume``, every theory method, sweeps,
reproductions) therefore estimates the bytes it will need from the configuration — ``[graph]`` n, kind and
degree / edge_probability / m (or the edge list's size), the game's K states and M actions, ``[run]`` runs and
records, the method's options — *before* it builds the graph, and calls :func:`require_memory`:

>>> import marldyn
>>> from marldyn.memory import graph_memory, require_memory, simulation_memory
>>> config = marldyn.parse_config({"graph": {"kind": "lattice", "n": 100_000_000}})
>>> needed = simulation_memory(config)
>>> round(graph_memory(config.graph) / 2**30), round(needed / 2**30)  # GiB: building the graph; then running it
(30, 33)
>>> require_memory(needed, "the simulation", available=16 * 2**30)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
marldyn.errors.ConfigError: the simulation needs about 32.8 GiB but 16.0 GiB are available ...

The estimates are upper bounds meant to be honest within about a factor of two. The constants below were
measured with ``tracemalloc`` (and agree with the peak resident memory within 10 %) on graphs of 10⁵ agents:

- :func:`marldyn.graphs.from_edges` (validation, sorting, both directions of every edge) peaks at ~150 bytes
  per edge, the generators that build their edges with numpy (lattice, complete, the pairing model of large
  random regular graphs) at 150-170; the final :class:`~marldyn.graphs.Graph` holds 32 bytes per edge
  (``edges``, ``indices``) plus 8 per agent (``indptr``);
- the networkx generators (Erdős–Rényi, Barabási–Albert, small random regular graphs) peak at ~460-490 bytes
  per agent plus 235-285 per edge (Python dicts of dicts), 2-3x the numpy kinds;
- an edge list peaks at ~320 bytes per line (the text, its lines and one Python tuple per edge);
- ``order = "rcm"`` adds ~50 bytes per edge (the sparse matrix and a second ``from_edges``).

The simulation and the theories are sums of their arrays, read off the code (see each function).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from .config import resolve_path
from .errors import ConfigError
from .graphs import PAIRING_FROM

__all__ = [
    "GraphSize",
    "available_memory",
    "graph_memory",
    "graph_size",
    "require_memory",
    "require_memory_at_once",
    "run_memory",
    "simulation_memory",
    "theory_memory",
]

GIB = 2**30

# Bytes measured on 1e5-agent graphs (module docstring); rounded up.
FROM_EDGES_PER_EDGE = 160  # graphs.from_edges and the numpy generators feeding it (lattice, complete)
PAIRING_PER_EDGE = 200  # graphs.random_regular's pairing model (+ its dict of edge keys), then from_edges
NETWORKX_PER_AGENT = 500  # networkx generators, converted by from_networkx
NETWORKX_PER_EDGE = 300
EDGELIST_PER_BYTE = 3  # the file's bytes and its decoded text
EDGELIST_PER_LINE = 280  # one str and one tuple of two ints per line, then from_edges
RCM_PER_EDGE = 60  # graphs.reorder: sparse adjacency and a second from_edges beside the first graph
HELD_PER_EDGE = 32  # Graph.edges (E, 2) and Graph.indices (2 E,), int64
HELD_PER_AGENT = 8  # Graph.indptr; 8 more for Graph.labels after reorder


# ----------------------------------------------------------------------------------------------
# the machine
# ----------------------------------------------------------------------------------------------
def available_memory() -> int | None:
    """Bytes of memory available to this process now, or ``None`` where the system does not say.

    The smaller of the system's available memory (``MemAvailable`` of ``/proc/meminfo``: free memory plus
    reclaimable caches; elsewhere the free physical pages) and the room left under a cgroup memory limit
    (containers, batch schedulers), where there is one.

    Examples
    --------
    >>> available = available_memory()
    >>> available is None or available > 0
    True
    """
    system = _meminfo_available()
    if system is None:
        try:
            system = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):  # pragma: no cover - not on a POSIX system
            system = None
    limit = _cgroup_room()
    if system is None or limit is None:
        return system if limit is None else limit
    return min(system, limit)


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo") as stream:
            for line in stream:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_room() -> int | None:
    """Limit minus usage of this process's cgroup (v2, then v1), or ``None`` without a limit."""
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
    ):
        try:
            limit_text = Path(limit_file).read_text().strip()
            if limit_text == "max":
                return None
            limit, usage = int(limit_text), int(Path(usage_file).read_text().strip())
        except (OSError, ValueError):
            continue
        return None if limit >= 2**60 else max(limit - usage, 0)  # v1 says "no limit" with a huge number
    return None


def _gib(value: float) -> str:
    gib = value / GIB
    return f"{gib:.1f}" if gib >= 0.1 else f"{gib:.2g}"


def require_memory(needed: int, what: str, *, hint: str | None = None, available: int | None = None) -> None:
    """Refuse work whose estimated memory exceeds what the machine has available now.

    Parameters
    ----------
    needed : int
        Estimated bytes (:func:`simulation_memory`, :func:`theory_memory`, ...).
    what : str
        What needs them, the start of the message (e.g. ``"the simulation (1e8 agents, 10 runs)"``).
    hint : str, optional
        What to change, at the end of the message (default: a general hint).
    available : int, optional
        Bytes available (default: :func:`available_memory`; nothing is checked where it is ``None``).

    Raises
    ------
    ConfigError
        ``"<what> needs about X GiB but Y GiB are available (<hint>)"``.

    Examples
    --------
    >>> require_memory(2**20, "a small job", available=2**30)  # fits: nothing happens
    >>> require_memory(3 * 2**30, "a large job", hint="fewer runs", available=2**30)
    Traceback (most recent call last):
    ...
    marldyn.errors.ConfigError: a large job needs about 3.0 GiB but 1.0 GiB are available (fewer runs)
    """
    if available is None:
        available = available_memory()
    if available is not None and needed > available:
        hint = hint or "a smaller problem or a machine with more memory"
        raise ConfigError(f"{what} needs about {_gib(needed)} GiB but {_gib(available)} GiB are available ({hint})")


def require_memory_at_once(estimates, concurrent: int, what: str, *, hint: str | None = None) -> None:
    """Refuse work whose ``concurrent`` largest pieces would not fit together (pieces that run at once).

    ``estimates``: bytes of each piece; ``what``: the message's start, with ``{count}`` for the number of
    pieces summed. Nothing is checked for a single piece (check each one with :func:`require_memory`).

    Examples
    --------
    >>> require_memory_at_once([2**20, 2**10, 2**20], 2, "the {count} largest jobs")  # 2 MiB fit: nothing happens
    """
    largest = sorted(estimates, reverse=True)[: max(concurrent, 1)]
    if len(largest) > 1:
        require_memory(sum(largest), what.format(count=len(largest)), hint=hint)


# ----------------------------------------------------------------------------------------------
# the graph
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GraphSize:
    """The expected size of a ``[graph]`` section's graph, known without building it.

    Attributes
    ----------
    n_agents : int
        N (for an edge list without ``n``: at most twice the number of lines, an upper bound).
    n_edges : int
        E (expected for Erdős–Rényi; for an edge list: the number of lines, comments included).
    classes : int
        Distinct degrees to expect (1 for the regular kinds; an estimate, O(√N), for the others).
    peak : int
        Bytes at the peak of building the graph (the finished graph included).
    held : int
        Bytes the finished :class:`~marldyn.graphs.Graph` holds.

    Examples
    --------
    :func:`graph_size` fills it in from the ``[graph]`` section alone; the built graph for comparison:

    >>> import marldyn
    >>> config = marldyn.parse_config({"graph": {"kind": "barabasi_albert", "n": 1000, "m": 3}})
    >>> graph_size(config.graph)
    GraphSize(n_agents=1000, n_edges=2991, classes=63, peak=1397300, held=103720)
    >>> graph = config.build_graph()
    >>> graph.n_agents, graph.n_edges, len(set(graph.degree.tolist()))  # 39 distinct degrees
    (1000, 2991, 39)
    """

    n_agents: int
    n_edges: int
    classes: int
    peak: int
    held: int


def graph_size(graph_config, base_dir: str | Path | None = None) -> GraphSize:
    """N, E and the bytes to build and hold the graph of a ``[graph]`` section, without building it.

    Parameters
    ----------
    graph_config : GraphConfig
        ``config.graph`` of a validated :class:`~marldyn.config.Config`.
    base_dir : path, optional
        Where a relative ``graph.path`` resolves (``config.base_dir``).

    Returns
    -------
    GraphSize

    Examples
    --------
    >>> import marldyn
    >>> size = graph_size(marldyn.parse_config({"graph": {"kind": "lattice", "n": 10_000}}).graph)
    >>> size.n_agents, size.n_edges, size.classes, round(size.peak / 2**20, 1)
    (10000, 20000, 1, 3.1)
    """
    kind = graph_config.kind
    n = graph_config.n
    if kind == "edgelist":
        lines = _count_lines(resolve_path(graph_config.path, base_dir))
        n_agents = n if n is not None else max(2 * lines, 2)
        peak = EDGELIST_PER_BYTE * _file_size(resolve_path(graph_config.path, base_dir)) + EDGELIST_PER_LINE * lines
        return _size(graph_config, n_agents, lines, _classes(n_agents), peak)
    if kind == "lattice":
        return _size(graph_config, n, 2 * n, 1, FROM_EDGES_PER_EDGE * 2 * n)
    if kind == "complete":
        edges = n * (n - 1) // 2
        return _size(graph_config, n, edges, 1, FROM_EDGES_PER_EDGE * edges)
    if kind == "random_regular":
        edges = n * graph_config.degree // 2
        if n * graph_config.degree > PAIRING_FROM:
            return _size(graph_config, n, edges, 1, PAIRING_PER_EDGE * edges)
        return _size(graph_config, n, edges, 1, NETWORKX_PER_AGENT * n + NETWORKX_PER_EDGE * edges)
    if kind == "erdos_renyi":
        edges = math.ceil(graph_config.edge_probability * n * (n - 1) / 2)
    else:  # barabasi_albert: a star of m edges, then m edges for each of the n - m - 1 other agents
        edges = graph_config.m * (n - graph_config.m)
    return _size(graph_config, n, edges, _classes(n), NETWORKX_PER_AGENT * n + NETWORKX_PER_EDGE * edges)


def graph_memory(graph_config, base_dir: str | Path | None = None) -> int:
    """Bytes to build and hold the graph of a ``[graph]`` section: the peak of its construction.

    Parameters
    ----------
    graph_config : GraphConfig
        ``config.graph``.
    base_dir : path, optional
        Where a relative ``graph.path`` resolves (``config.base_dir``).

    Returns
    -------
    int
        :attr:`GraphSize.peak` of :func:`graph_size`.

    Examples
    --------
    >>> import marldyn
    >>> sparse = {"kind": "erdos_renyi", "n": 100_000, "edge_probability": 4e-5}
    >>> graph_memory(marldyn.parse_config({"graph": sparse}).graph) > 2 * graph_memory(
    ...     marldyn.parse_config({"graph": {"kind": "lattice", "n": 99_856}}).graph)  # networkx is heavier
    True
    """
    return graph_size(graph_config, base_dir).peak


def _size(graph_config, n_agents: int, n_edges: int, classes: int, build: int) -> GraphSize:
    held = HELD_PER_EDGE * n_edges + HELD_PER_AGENT * (n_agents + 1)
    if graph_config.order == "rcm":
        build += RCM_PER_EDGE * n_edges
        held += HELD_PER_AGENT * n_agents
    return GraphSize(int(n_agents), int(n_edges), int(classes), int(max(build, held)), int(held))


def _classes(n_agents: int) -> int:
    """Distinct degrees of a graph whose degrees differ: O(√N) for Erdős–Rényi and Barabási–Albert."""
    return min(int(n_agents), 2 * math.isqrt(int(n_agents)) + 1)


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        raise ConfigError(f"graph.path: no such file: {path}") from None


def _count_lines(path: Path, chunk: int = 2**22) -> int:
    """Lines of a text file, counted in 4 MiB chunks (about a second per GB)."""
    count, last = 0, b"\n"
    try:
        with open(path, "rb") as stream:
            while block := stream.read(chunk):
                count += block.count(b"\n")
                last = block[-1:]
    except OSError:
        raise ConfigError(f"graph.path: no such file: {path}") from None
    return count + (last != b"\n")


# ----------------------------------------------------------------------------------------------
# the simulation
# ----------------------------------------------------------------------------------------------
def run_memory(
    n_agents: int,
    n_edges: int,
    n_states: int,
    n_actions: int,
    *,
    runs: int,
    records: int,
    concurrent: int = 1,
    snapshots: bool = False,
) -> int:
    """Bytes the runs of a simulation need beyond the graph: the state of the runs in flight and all records.

    Per run in flight: Q (8 N K M bytes) and up to two temporaries of its size (the noisy initial draw; the
    policy and the spread of a record), the kernel's per-(agent, state) arrays (policy row, action, value,
    TD-target sum, count: 32 N K), the edge states and the threaded kernel's half-edge arrays (48 E).
    Records: 3 K M + K doubles per record and run, plus N K M + E values per record and run with snapshots,
    held twice at the end (each run's records and the stacked Dataset arrays).

    Parameters
    ----------
    n_agents, n_edges, n_states, n_actions : int
        N, E, K, M.
    runs : int
        ``[run] runs``.
    records : int
        Records per run (``len(record_times(steps, record_every))``).
    concurrent : int
        Runs in flight at once (the worker threads).
    snapshots : bool
        Every agent's Q and every edge's state are recorded too.

    Returns
    -------
    int

    Examples
    --------
    >>> run_memory(1000, 2000, 2, 2, runs=10, records=3)  # Q, kernel arrays, edge arrays; tiny records
    286720
    """
    q_size = n_agents * n_states * n_actions
    state = 24 * q_size + 40 * n_agents * n_states + 8 * n_agents + 48 * n_edges  # + rates and agent types
    per_record = 8 * (3 * n_states * n_actions + n_states)
    if snapshots:
        per_record += 8 * (q_size + n_edges)
    return int(concurrent * state + 2 * runs * records * per_record)


def record_count(steps: int, record_every: int) -> int:
    """``len(record_times(steps, record_every))`` without building the array.

    Examples
    --------
    >>> record_count(10, 3), record_count(9, 3)
    (5, 4)
    """
    return steps // record_every + 1 + (steps % record_every != 0)


def simulation_memory(config, workers: int | None = 1, snapshots: bool = False, *, graph=None) -> int:
    """Bytes :func:`marldyn.simulate` needs for ``config``: the graph's construction, then graph + runs.

    ``max(graph peak, graph held + run_memory(...))``: building the graph and running it do not overlap.

    Parameters
    ----------
    config : Config
        A validated configuration (nothing large is built: only the game, for K and M).
    workers : int or None
        Worker threads (runs in flight at once, at most ``runs``); ``None`` counts one, the fewest
        ``simulate(workers=None)`` uses.
    snapshots : bool
        As in :func:`marldyn.simulate`.
    graph : Graph, optional
        A graph given to :func:`marldyn.simulate` instead of ``[graph]``: it exists already, so only the runs
        count.

    Returns
    -------
    int

    Examples
    --------
    >>> import marldyn
    >>> config = marldyn.parse_config({"graph": {"n": 10_000}, "run": {"runs": 4}})
    >>> simulation_memory(config, workers=4) > simulation_memory(config, workers=1)
    True
    """
    game = config.build_game()
    runs = config.run.runs
    concurrent = 1 if workers is None else max(1, min(int(workers), runs))
    records = record_count(config.run.steps, config.run.record_every)
    if graph is not None:
        from .graphs import as_graph

        graph = as_graph(graph)
        n_agents, n_edges, peak, held = graph.n_agents, graph.n_edges, 0, 0
    else:
        size = graph_size(config.graph, config.base_dir)
        n_agents, n_edges, peak, held = size.n_agents, size.n_edges, size.peak, size.held
    runs_bytes = run_memory(
        n_agents,
        n_edges,
        game.n_states,
        game.n_actions,
        runs=runs,
        records=records,
        concurrent=concurrent,
        snapshots=snapshots,
    )
    return int(max(peak, held + runs_bytes))


# ----------------------------------------------------------------------------------------------
# the theories
# ----------------------------------------------------------------------------------------------
def theory_memory(config, method="reduced", *, graph=None, **options) -> int:
    """Bytes :func:`marldyn.predict` needs for ``config`` and ``method``: the graph's construction, then graph +
    the method's arrays.

    Per method (N agents, E edges, K states, M actions, R = ``[run] runs`` members, T records, P particles, d =
    K M), in doubles, beside the graph's degrees (4 N):

    - ``reduced``, ``full``, ``full-discrete``: one point mass per degree class (C classes), as particles
      with P = C (below);
    - ``particles``: the path and its summaries (3 T P d + 2 T P K), the pair sums of the stationary
      marginals (16 row blocks of P K (M + 1), the partner rows P K² M); with ``timescale = "full"`` the P x P
      pair distributions (P² K);
    - ``sde``: the members' initial Q, its copy and one temporary (3 R N d), and per member in flight
      (one per core) the pair sums of its N particles (N (K² M + 3 K M + K));
    - ``sde-graph``: initial Q, its copy and the final Q (3 R N d), one member's Q, policy and neighbour
      policy (3 N d), the edges' chains and pair distributions (E (K² + 2 K)) and the half-edge map (~8 E);
    - ``lna``: the sparse adjacency and its square (~3 N k²), then per route: ``fourier`` (the periodic
      lattice) one d² x d² system per wave vector (3 N d⁴); ``laplacian`` (regular, N <= 5000) the dense
      Laplacian and its eigenvectors (4 N²); ``direct`` (N d <= 4000) about 10 dense (N d)² matrices;
    - ``closure``: the records (T (2 d² + 6 d + K)), the ODE's stages over at most 65 modes, and the dense
      adjacency of a non-lattice graph for its spectrum (4 N²).

    Parameters
    ----------
    config : Config
        A validated configuration.
    method : TheoryMethod or str
        A method object or a name (:func:`marldyn.theory.as_method`).
    graph : Graph, optional
        A graph given to :func:`marldyn.predict` instead of ``[graph]`` (it exists already).
    **options
        With a method name: its options (``particles=64``, ``dt=...``), as in :func:`marldyn.predict`.

    Returns
    -------
    int

    Raises
    ------
    ConfigError
        An unknown method or an option it does not take.

    Examples
    --------
    >>> import marldyn
    >>> config = marldyn.parse_config({"graph": {"kind": "lattice", "n": 10_000}, "run": {"runs": 10}})
    >>> theory_memory(config, "reduced") < theory_memory(config, "sde") < theory_memory(config, "sde-graph")
    True
    >>> theory_memory(config, "particles", particles=2000, timescale="full") > 2000**2 * 2 * 8
    True
    """
    from .theory.methods import as_method

    method = as_method(method, **options)
    game = config.build_game()
    k, m = game.n_states, game.n_actions
    d = k * m
    runs = config.run.runs
    records = record_count(config.run.steps, config.run.record_every)
    if graph is not None:
        from .graphs import as_graph

        graph = as_graph(graph)
        degrees = graph.degree
        n, e = graph.n_agents, graph.n_edges
        classes = int(len(set(degrees.tolist()))) if n <= 1_000_000 else _classes(n)
        peak = held = 0
        lattice_route = False
    else:
        size = graph_size(config.graph, config.base_dir)
        n, e, classes, peak, held = size.n_agents, size.n_edges, size.classes, size.peak, size.held
        lattice_route = config.graph.kind == "lattice" and config.graph.order == "given" and n >= 16
    name = method.name
    words = 4 * n  # the degrees, their unique classes and counts
    if name in ("reduced", "full", "full-discrete"):
        words += _particle_words(classes, k, m, records, full=name != "reduced" and classes > 1)
    elif name == "particles":
        words += _particle_words(method.count(n), k, m, records, full=method.timescale == "full")
    elif name == "sde":
        in_flight = min(runs, _cores())
        words += 3 * runs * n * d + in_flight * n * (k * k * m + 3 * k * m + k) + 4 * runs * records * d
    elif name == "sde-graph":
        words += 3 * runs * n * d + 3 * n * d + 2 * n * k + e * (k * k + 2 * k + 8) + 4 * runs * records * d
    elif name == "closure":
        from .theory.closure import DIRECT_MODES, MAX_MODES

        words += records * (2 * d * d + 6 * d + k) + 20 * (MAX_MODES + 1) * d * d
        if lattice_route:
            peak = max(peak, held + graph_size(config.graph).peak)  # graphs.lattice_side builds the reference lattice
        elif n <= DIRECT_MODES:
            words += 4 * n * n  # the dense adjacency and its eigensolve
    else:  # lna
        words += _lna_words(n, e, d, lattice_route, regular=classes == 1)
        if lattice_route:
            peak = max(peak, held + graph_size(config.graph).peak)  # graphs.lattice_side builds the reference lattice
    return int(max(peak, held + 8 * words))


def _particle_words(particles: int, k: int, m: int, records: int, *, full: bool) -> int:
    p, d = particles, k * m
    words = 3 * records * p * d + 2 * records * p * k + min(16, p) * p * k * (m + 1) + p * k * k * m + 10 * p * d
    return words + (p * p * k if full else 0)


def _lna_words(n: int, e: int, d: int, lattice_route: bool, *, regular: bool) -> int:
    from .theory.lna import DIRECT_LIMIT, LAPLACIAN_LIMIT

    degree = 2 * e / max(n, 1)
    words = int(6 * e + 3 * n * degree * degree)  # sparse adjacency, A @ A, the triangle test
    if lattice_route:
        return words + 3 * n * d**4 + 4 * n * d * d
    route = 0
    if regular and n <= LAPLACIAN_LIMIT:
        route = 4 * n * n + 3 * n * d**4
    if n * d <= DIRECT_LIMIT:  # beyond it solve_lna refuses before allocating
        route = max(route, 10 * (n * d) ** 2 + n * n)
    return words + route


def _cores() -> int:
    cores = os.cpu_count() or 1
    if hasattr(os, "sched_getaffinity"):
        cores = min(cores, len(os.sched_getaffinity(0)))
    return max(1, cores)
