"""Interaction graphs: undirected, simple, as edge arrays and CSR adjacency.

networkx is used only at the boundary (``from_networkx`` and some generators); inside marldyn a
graph is a :class:`Graph` of integer arrays.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ConfigError

_INTEGER = re.compile(r"[+-]?[0-9]+")


@dataclass(frozen=True, eq=False)
class Graph:
    """An undirected simple graph on agents 0 to n_agents - 1.

    Attributes
    ----------
    n_agents : int
        N, the number of agents (nodes).
    edges : ndarray of int64, shape (edge, 2)
        Each undirected edge once, as ``(i, j)`` with ``i < j``, sorted lexicographically.
    indptr, indices : ndarray of int64
        CSR adjacency: the neighbours of agent ``i`` are ``indices[indptr[i]:indptr[i + 1]]`` (sorted).
    name : str
        A label, recorded in outputs.
    labels : ndarray of int64, shape (agent,), optional
        After :func:`reorder`: the original id of every agent (``None``: the ids are the original ones).

    Examples
    --------
    Graphs come from the constructors (:func:`lattice`, :func:`from_edges`, :func:`from_networkx`, ...):

    >>> from marldyn.graphs import lattice
    >>> graph = lattice(16)
    >>> graph.n_agents, graph.n_edges, graph.name
    (16, 32, 'lattice4x4')
    >>> graph.neighbors(0)  # left, right, down and up on the 4 x 4 torus
    array([ 1,  3,  4, 12])
    >>> graph.edges[:3], graph.degree[:3]
    (array([[0, 1],
           [0, 3],
           [0, 4]]), array([4, 4, 4]))
    >>> graph.to_networkx().number_of_edges()
    32
    """

    n_agents: int
    edges: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    name: str = "graph"
    labels: np.ndarray | None = None

    @property
    def n_edges(self) -> int:
        """E, the number of undirected edges."""
        return int(self.edges.shape[0])

    @property
    def degree(self) -> np.ndarray:
        """k_i, the degree of every agent, shape (agent,)."""
        return np.diff(self.indptr)

    def neighbors(self, agent: int) -> np.ndarray:
        """The neighbours of one agent, sorted."""
        return self.indices[self.indptr[agent] : self.indptr[agent + 1]]

    def to_networkx(self):
        """The same graph as a :class:`networkx.Graph`."""
        import networkx as nx

        graph = nx.Graph()
        graph.add_nodes_from(range(self.n_agents))
        graph.add_edges_from(self.edges.tolist())
        return graph


def from_edges(edges, n_agents: int | None = None, name: str = "edgelist", field: str = "graph") -> Graph:
    """Build a :class:`Graph` from an (edge, 2) array of agent ids, validating it.

    Parameters
    ----------
    edges : array_like of int, shape (edge, 2)
        Each undirected edge once, in any order and orientation.
    n_agents : int, optional
        N; default: the largest id + 1. Agents without an edge are warned about (they never learn).
    name : str
        The graph's label.
    field : str
        The config field named in error messages.

    Returns
    -------
    Graph
        With the edges as ``(i, j)``, ``i < j``, sorted.

    Raises
    ------
    ConfigError
        On non-integer or negative ids, ids ``>= n_agents``, self-loops, duplicate edges
        (``(i, j)`` and ``(j, i)`` count as the same edge) or an empty graph.

    Examples
    --------
    A triangle with a pendant agent:

    >>> graph = from_edges([[0, 1], [1, 2], [2, 0], [3, 2]])
    >>> graph.n_agents, graph.edges.tolist(), graph.degree.tolist()
    (4, [[0, 1], [0, 2], [1, 2], [2, 3]], [2, 2, 3, 1])
    >>> from_edges([[0, 1], [1, 0]])
    Traceback (most recent call last):
    ...
    marldyn.errors.ConfigError: graph: duplicate edge (0, 1) (multi-edges are not allowed)
    """
    raw = np.asarray(edges)
    if raw.size == 0:
        raise ConfigError(f"{field}: the graph has no edges")
    if raw.ndim != 2 or raw.shape[1] != 2:
        raise ConfigError(f"{field}: edges must be pairs of agent ids, shape (edge, 2), got {raw.shape}")
    if raw.dtype.kind == "f":
        if not np.all(np.isfinite(raw)) or np.any(raw != np.round(raw)):
            raise ConfigError(f"{field}: agent ids must be integers")
    elif raw.dtype.kind not in "iu":
        raise ConfigError(f"{field}: agent ids must be integers, got {raw.dtype}")
    pairs = raw.astype(np.int64)
    if np.any(pairs < 0):
        raise ConfigError(f"{field}: agent ids must be >= 0, found {pairs.min()}")
    if n_agents is None:
        n_agents = int(pairs.max()) + 1
    elif np.any(pairs >= n_agents):
        raise ConfigError(f"{field}: agent id {pairs.max()} out of range for n = {n_agents} agents")
    loops = pairs[:, 0] == pairs[:, 1]
    if np.any(loops):
        raise ConfigError(f"{field}: self-loop at agent {pairs[loops][0, 0]} (self-loops are not allowed)")
    ordered = np.sort(pairs, axis=1)
    ordered = ordered[np.lexsort((ordered[:, 1], ordered[:, 0]))]
    duplicate = np.all(ordered[1:] == ordered[:-1], axis=1)
    if np.any(duplicate):
        i, j = ordered[1:][duplicate][0]
        raise ConfigError(f"{field}: duplicate edge ({i}, {j}) (multi-edges are not allowed)")
    both = np.concatenate([ordered, ordered[:, ::-1]])
    both = both[np.lexsort((both[:, 1], both[:, 0]))]
    indptr = np.zeros(n_agents + 1, dtype=np.int64)
    np.cumsum(np.bincount(both[:, 0], minlength=n_agents), out=indptr[1:])
    graph = Graph(int(n_agents), ordered, indptr, both[:, 1].copy(), name)
    isolated = int(np.sum(graph.degree == 0))
    if isolated:
        warnings.warn(f"{field}: {isolated} isolated agent(s) have no neighbours and never learn", stacklevel=2)
    for array in (graph.edges, graph.indptr, graph.indices):
        array.setflags(write=False)
    return graph


ORDERS = ("given", "rcm")
#: :func:`random_regular` uses the pairing model (numpy) when n * degree exceeds this, networkx below it.
PAIRING_FROM = 10_000


def reorder(graph: Graph, order: str = "rcm") -> Graph:
    """The same graph with its agents renumbered for memory locality.

    ``"rcm"`` is the reverse Cuthill–McKee order (``scipy.sparse.csgraph.reverse_cuthill_mckee``): it
    numbers neighbours close to each other, so that on a graph with locality whose ids were given in an
    arbitrary order (an edge list of a spatial network, a shuffled lattice) the simulator's edge sweep
    touches nearby memory. It cannot help a graph without locality (random regular, Erdős–Rényi). Agents
    are exchangeable in the model, so population-level results are statistically the same; per-agent
    outputs follow the new numbering, and ``labels`` maps it back (new id k was agent ``labels[k]``).

    Parameters
    ----------
    graph : Graph
    order : {"rcm", "given"}
        ``"given"`` returns ``graph`` unchanged.

    Returns
    -------
    Graph
        The renumbered graph, with ``labels`` (agent,) set.

    Examples
    --------
    A path of eight agents whose ids were given out of order: RCM numbers it along the path, so that every
    edge joins consecutive ids (its bandwidth, the largest id difference along an edge, drops from 6 to 1).

    >>> path = from_edges([[0, 5], [5, 2], [2, 7], [7, 1], [1, 4], [4, 6], [6, 3]])
    >>> ordered = reorder(path)
    >>> ordered.edges.tolist()
    [[0, 1], [1, 2], [2, 3], [3, 4], [4, 5], [5, 6], [6, 7]]
    >>> ordered.labels  # new agent k is agent labels[k] of the path
    array([3, 6, 4, 1, 7, 2, 5, 0])
    """
    if order not in ORDERS:
        raise ConfigError(f"graph.order = {order!r} must be one of {', '.join(ORDERS)}")
    if order == "given":
        return graph
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import reverse_cuthill_mckee

    adjacency = csr_matrix((np.ones(graph.indices.size), graph.indices, graph.indptr), (graph.n_agents,) * 2)
    permutation = np.asarray(reverse_cuthill_mckee(adjacency, symmetric_mode=True), dtype=np.int64)
    new_id = np.empty(graph.n_agents, dtype=np.int64)
    new_id[permutation] = np.arange(graph.n_agents)
    relabelled = from_edges(new_id[graph.edges], graph.n_agents, name=f"{graph.name} (rcm order)")
    labels = permutation if graph.labels is None else graph.labels[permutation]
    labels.setflags(write=False)
    return Graph(relabelled.n_agents, relabelled.edges, relabelled.indptr, relabelled.indices, relabelled.name, labels)


def lattice(n: int) -> Graph:
    """Periodic square lattice (torus) with von Neumann neighbourhood, degree 4.

    Parameters
    ----------
    n : int
        Number of agents; must be a perfect square L*L with L >= 3. Agent ``r * L + c`` sits at row r,
        column c.

    Returns
    -------
    Graph
        2N edges, named ``"latticeLxL"``.

    Examples
    --------
    >>> graph = lattice(16)
    >>> graph.name, graph.n_edges, graph.neighbors(5)  # agent 5 sits at row 1, column 1
    ('lattice4x4', 32, array([1, 4, 6, 9]))
    >>> lattice(10)
    Traceback (most recent call last):
    ...
    marldyn.errors.ConfigError: graph.n = 10: a lattice needs a perfect square number of agents, at least 9
    """
    side = math.isqrt(n) if isinstance(n, int) and n > 0 else 0
    if side * side != n or side < 3:
        raise ConfigError(f"graph.n = {n}: a lattice needs a perfect square number of agents, at least 9")
    ids = np.arange(n, dtype=np.int64).reshape(side, side)
    right = np.stack([ids.ravel(), np.roll(ids, -1, axis=1).ravel()], axis=1)
    down = np.stack([ids.ravel(), np.roll(ids, -1, axis=0).ravel()], axis=1)
    return from_edges(np.concatenate([right, down]), n, name=f"lattice{side}x{side}")


def lattice_side(graph: Graph) -> int:
    """L if ``graph`` is the periodic L x L lattice of :func:`lattice` with L ≥ 4 (same labels), else 0.

    L ≥ 4: the 3 x 3 torus has triangles (each row is one), so it is not treated as a lattice by the theories
    that assume a triangle-free graph (the LNA's and the closure's Fourier route).

    Examples
    --------
    >>> from marldyn.graphs import lattice, lattice_side, random_regular
    >>> lattice_side(lattice(16)), lattice_side(lattice(9)), lattice_side(random_regular(16, 4))
    (4, 0, 0)
    """
    n = graph.n_agents
    side = math.isqrt(n)
    if side * side != n or side < 4 or not np.all(np.asarray(graph.degree) == 4):
        return 0
    return side if np.array_equal(lattice(n).edges, graph.edges) else 0


def complete(n: int) -> Graph:
    """Complete graph on ``n >= 2`` agents (degree n - 1).

    Examples
    --------
    >>> graph = complete(5)
    >>> graph.name, graph.n_edges, graph.degree
    ('complete5', 10, array([4, 4, 4, 4, 4]))
    """
    _check_n(n, 2)
    i, j = np.triu_indices(n, k=1)
    return from_edges(np.stack([i, j], axis=1), n, name=f"complete{n}")


def random_regular(n: int, degree: int, seed: int | None = 0) -> Graph:
    """Random ``degree``-regular simple graph on ``n`` agents.

    Requires ``0 < degree < n`` and ``n * degree`` even. Large graphs (n·degree > 10,000) come from the
    pairing (configuration) model — the stubs shuffled and paired — with the few self-loops and repeated
    pairs removed by random double-edge swaps (about (d² - 1) / 4 of them, whatever n), which is fast for
    millions of agents and asymptotically uniform; small graphs use networkx's generator.

    Examples
    --------
    >>> graph = random_regular(10, 3, seed=0)
    >>> graph.name, graph.n_edges, graph.degree
    ('random_regular10d3', 15, array([3, 3, 3, 3, 3, 3, 3, 3, 3, 3]))
    """
    _check_n(n, 2)
    if isinstance(degree, bool) or not isinstance(degree, int) or not 0 < degree < n or (n * degree) % 2:
        raise ConfigError(
            f"graph.degree = {degree}: a random regular graph needs 0 < degree < n = {n} and n * degree even"
        )
    name = f"random_regular{n}d{degree}"
    if n * degree > PAIRING_FROM:
        edges = _pairing_model(n, degree, np.random.default_rng(seed))
        if edges is not None:
            return from_edges(edges, n, name=name)
    import networkx as nx

    return from_networkx(nx.random_regular_graph(degree, n, seed=seed), name=name)


def _pairing_model(n: int, degree: int, rng: np.random.Generator, max_swaps: int = 100_000) -> np.ndarray | None:
    """Pairing model plus double-edge swaps that remove self-loops and multi-edges; None if that fails."""
    stubs = rng.permutation(np.repeat(np.arange(n, dtype=np.int64), degree))
    edges = np.sort(stubs.reshape(-1, 2), axis=1)
    keys = edges[:, 0] * n + edges[:, 1]
    order = np.argsort(keys, kind="stable")
    repeated = np.zeros(len(edges), dtype=bool)
    repeated[order[1:]] = keys[order[1:]] == keys[order[:-1]]
    bad = list(np.flatnonzero(repeated | (edges[:, 0] == edges[:, 1])))
    present: dict[int, int] = {}
    for key in keys.tolist():
        present[key] = present.get(key, 0) + 1

    def remove(k):
        present[k] -= 1
        if not present[k]:
            del present[k]

    swaps = 0
    while bad and swaps < max_swaps:
        swaps += 1
        e = bad[-1]
        f = int(rng.integers(len(edges)))
        (a, b), (c, d) = edges[e], edges[f]
        if rng.random() < 0.5:
            c, d = d, c
        new = sorted((a, c)), sorted((b, d))
        new_keys = [u * n + v for u, v in new]
        if f == e or a == c or b == d or new_keys[0] == new_keys[1] or any(k in present for k in new_keys):
            continue
        remove(int(keys[e]))
        remove(int(keys[f]))
        for index, (u, v), k in zip((e, f), new, new_keys, strict=True):
            edges[index] = (u, v)
            keys[index] = k
            present[k] = 1
        bad.pop()
        if f in bad:  # f was bad too and is now repaired
            bad.remove(f)
    if bad:
        return None
    return edges


def erdos_renyi(n: int, edge_probability: float, seed: int | None = 0) -> Graph:
    """Erdős–Rényi G(n, p) graph (isolated agents possible: they are warned about).

    Examples
    --------
    About p n (n - 1) / 2 = 247.5 edges are expected:

    >>> graph = erdos_renyi(100, 0.05, seed=1)
    >>> graph.name, graph.n_edges, int(graph.degree.min()), int(graph.degree.max())
    ('erdos_renyi100p0.05', 252, 1, 11)
    """
    import networkx as nx

    _check_n(n, 2)
    if not 0.0 < edge_probability <= 1.0:
        raise ConfigError(f"graph.edge_probability = {edge_probability} must be in (0, 1]")
    graph = nx.fast_gnp_random_graph(n, edge_probability, seed=seed)
    return from_networkx(graph, name=f"erdos_renyi{n}p{edge_probability:g}")


def barabasi_albert(n: int, m: int, seed: int | None = 0) -> Graph:
    """Barabási–Albert preferential-attachment graph; each new agent attaches ``m`` edges (1 <= m < n).

    Examples
    --------
    m (n - m) = 96 edges; the degrees are broad, from m = 2 up to hubs:

    >>> graph = barabasi_albert(50, 2, seed=1)
    >>> graph.n_edges, int(graph.degree.min()), int(graph.degree.max())
    (96, 2, 17)
    """
    import networkx as nx

    _check_n(n, 2)
    if not isinstance(m, int) or not 1 <= m < n:
        raise ConfigError(f"graph.m = {m} must be an integer with 1 <= m < n = {n}")
    return from_networkx(nx.barabasi_albert_graph(n, m, seed=seed), name=f"barabasi_albert{n}m{m}")


def from_networkx(graph, name: str | None = None) -> Graph:
    """Convert a networkx graph; agents are numbered in the graph's node order.

    Examples
    --------
    >>> import networkx as nx
    >>> graph = from_networkx(nx.path_graph(["a", "b", "c", "d"]), name="path")
    >>> graph.name, graph.n_agents, graph.edges.tolist()
    ('path', 4, [[0, 1], [1, 2], [2, 3]])
    >>> karate = from_networkx(nx.karate_club_graph(), name="karate")
    >>> karate.n_agents, karate.n_edges
    (34, 78)
    """
    import networkx as nx

    if graph.is_directed():
        raise ConfigError("graph: a directed networkx graph was given; use graph.to_undirected()")
    if graph.is_multigraph():
        multi = [e for e in graph.edges(keys=True) if e[2] != 0]
        if multi:
            raise ConfigError(f"graph: multi-edge between {multi[0][0]} and {multi[0][1]} is not allowed")
        graph = nx.Graph(graph)
    index = {node: k for k, node in enumerate(graph.nodes())}
    if graph.number_of_nodes() == 0:
        raise ConfigError("graph: the networkx graph has no nodes")
    edges = np.array([(index[u], index[v]) for u, v in graph.edges()], dtype=np.int64).reshape(-1, 2)
    return from_edges(edges, len(index), name=name or "networkx")


def read_edgelist(path: str | Path, n_agents: int | None = None) -> Graph:
    """Read a whitespace- or comma-separated edge list (one ``i j`` pair per line, ``#`` comments).

    Agent ids are integers from 0; ``n_agents`` (default: largest id + 1) allows isolated agents.

    Examples
    --------
    >>> _ = Path("ring.txt").write_text("# a ring of five agents\\n0 1\\n1 2\\n2 3\\n3 4\\n4 0\\n")
    >>> graph = read_edgelist("ring.txt")
    >>> graph.name, graph.n_agents, graph.n_edges
    ('ring', 5, 5)
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"graph.path: no such file: {path}")
    try:
        text_lines = path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError:
        raise ConfigError(f"graph.path {path.name}: not a UTF-8 text file") from None
    rows = []
    for number, line in enumerate(text_lines, start=1):
        raw = line.split("#", 1)[0]
        text = raw.replace(",", " ").strip()
        if not text:
            continue
        fields = text.split()
        if len(fields) != 2:
            raise ConfigError(f"graph.path {path.name}:{number}: expected two agent ids, got {line.strip()!r}")
        if not all(_INTEGER.fullmatch(field) for field in fields) or raw.count(",") > 1:
            raise ConfigError(f"graph.path {path.name}:{number}: agent ids must be integers, got {line.strip()!r}")
        rows.append((int(fields[0]), int(fields[1])))
    return from_edges(np.array(rows, dtype=np.int64).reshape(-1, 2), n_agents, name=path.stem, field="graph.path")


def _check_n(n, minimum: int) -> None:
    if not isinstance(n, int) or isinstance(n, bool) or n < minimum:
        raise ConfigError(f"graph.n = {n!r} must be an integer >= {minimum}")


def as_graph(graph) -> Graph:
    """A :class:`Graph` from a Graph (returned as it is) or a networkx graph (:func:`from_networkx`).

    Examples
    --------
    >>> import networkx as nx
    >>> as_graph(nx.cycle_graph(5)).n_edges
    5
    """
    if isinstance(graph, Graph):
        return graph
    try:
        import networkx as nx
    except ImportError:  # pragma: no cover
        nx = None
    if nx is not None and isinstance(graph, nx.Graph):
        return from_networkx(graph)
    raise ConfigError(f"graph must be a marldyn Graph or a networkx graph, got {type(graph).__name__}")
