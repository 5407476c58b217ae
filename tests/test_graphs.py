"""Graph constructors and edge-list input: validation, neighbourhoods, CSR consistency."""

from __future__ import annotations

import warnings

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marldyn.errors import ConfigError
from marldyn.graphs import (
    Graph,
    barabasi_albert,
    complete,
    erdos_renyi,
    from_edges,
    from_networkx,
    lattice,
    random_regular,
    read_edgelist,
    reorder,
)


def assert_consistent(graph: Graph) -> None:
    """Edges, CSR arrays and degrees describe the same undirected simple graph."""
    n, edges = graph.n_agents, graph.edges
    assert edges.dtype == np.int64 and edges.ndim == 2 and edges.shape[1] == 2
    assert np.all(edges[:, 0] < edges[:, 1]), "each edge once, as (i, j) with i < j"
    assert np.all(edges >= 0) and np.all(edges < n)
    as_tuples = [tuple(e) for e in edges.tolist()]
    assert as_tuples == sorted(set(as_tuples)), "edges sorted lexicographically, no duplicates"
    assert graph.indptr.shape == (n + 1,) and graph.indptr[0] == 0
    assert np.all(np.diff(graph.indptr) >= 0)
    assert graph.indptr[-1] == graph.indices.size == 2 * graph.n_edges
    assert graph.degree.sum() == 2 * graph.n_edges
    from_csr = set()
    for i in range(n):
        neighbours = graph.neighbors(i)
        assert np.all(np.diff(neighbours) > 0), "neighbours sorted, no repeats"
        assert i not in neighbours
        from_csr.update((min(i, j), max(i, j)) for j in neighbours.tolist())
        for j in neighbours.tolist():
            assert i in graph.neighbors(j), "adjacency is symmetric"
    assert from_csr == set(as_tuples)
    np.testing.assert_array_equal(graph.degree, np.bincount(edges.ravel(), minlength=n))
    for array in (graph.edges, graph.indptr, graph.indices):
        assert not array.flags.writeable


def nx_edges(graph) -> set[tuple[int, int]]:
    return {(min(u, v), max(u, v)) for u, v in graph.edges()}


# ---------------------------------------------------------------- lattice


@pytest.mark.parametrize("side", [3, 4, 5])
def test_lattice_is_a_four_regular_torus(side):
    n = side * side
    graph = lattice(n)
    assert_consistent(graph)
    assert graph.n_agents == n and graph.n_edges == 2 * n
    np.testing.assert_array_equal(graph.degree, 4)
    for agent in range(n):  # von Neumann neighbourhood with periodic boundaries
        r, c = divmod(agent, side)
        expected = {
            ((r - 1) % side) * side + c,
            ((r + 1) % side) * side + c,
            r * side + (c - 1) % side,
            r * side + (c + 1) % side,
        }
        assert set(graph.neighbors(agent).tolist()) == expected


def test_lattice_neighbours_by_hand():
    graph = lattice(16)  # 4 x 4, agent r * 4 + c
    assert graph.neighbors(0).tolist() == [1, 3, 4, 12]
    assert graph.neighbors(5).tolist() == [1, 4, 6, 9]
    assert graph.neighbors(15).tolist() == [3, 11, 12, 14]
    assert graph.neighbors(7).tolist() == [3, 4, 6, 11]
    assert lattice(9).neighbors(4).tolist() == [1, 3, 5, 7]
    assert nx.is_isomorphic(graph.to_networkx(), nx.grid_2d_graph(4, 4, periodic=True))


@pytest.mark.parametrize("n", [10, 12, 15, 50, 99])
def test_lattice_non_square_rejected(n):
    with pytest.raises(ConfigError, match=rf"graph\.n = {n}: a lattice needs a perfect square"):
        lattice(n)


@pytest.mark.parametrize("n", [0, 1, 4, -9, 16.0, True, "16"])
def test_lattice_too_small_or_not_an_integer_rejected(n):
    with pytest.raises(ConfigError, match=r"graph\.n = .*perfect square number of agents, at least 9"):
        lattice(n)


# ---------------------------------------------------------------- other generators


@pytest.mark.parametrize("n", [2, 3, 7])
def test_complete(n):
    graph = complete(n)
    assert_consistent(graph)
    assert graph.n_edges == n * (n - 1) // 2
    np.testing.assert_array_equal(graph.degree, n - 1)


@pytest.mark.parametrize("n", [1, 0, 2.0, True])
def test_complete_too_small_rejected(n):
    with pytest.raises(ConfigError, match=r"graph\.n = .* must be an integer >= 2"):
        complete(n)


def test_random_regular_is_regular_and_seeded():
    graph = random_regular(20, 3, seed=7)
    assert_consistent(graph)
    np.testing.assert_array_equal(graph.degree, 3)
    assert graph.n_edges == 30
    np.testing.assert_array_equal(random_regular(20, 3, seed=7).edges, graph.edges)
    assert not np.array_equal(random_regular(20, 3, seed=8).edges, graph.edges)


@pytest.mark.parametrize(("n", "degree"), [(9, 3), (5, 5), (5, 7), (10, 0), (10, -2), (10, 3.0)])
def test_random_regular_impossible_rejected(n, degree):
    with pytest.raises(ConfigError, match=rf"graph\.degree = {degree}: .*0 < degree < n = {n} and n \* degree even"):
        random_regular(n, degree)


def test_erdos_renyi_seeded_and_limits():
    graph = erdos_renyi(30, 0.3, seed=5)
    assert_consistent(graph)
    assert graph.n_agents == 30
    np.testing.assert_array_equal(erdos_renyi(30, 0.3, seed=5).edges, graph.edges)
    assert not np.array_equal(erdos_renyi(30, 0.3, seed=6).edges, graph.edges)
    assert erdos_renyi(6, 1.0).n_edges == 15


@pytest.mark.parametrize("p", [0.0, -0.1, 1.5])
def test_erdos_renyi_bad_probability(p):
    with pytest.raises(ConfigError, match=r"graph\.edge_probability = .* must be in \(0, 1\]"):
        erdos_renyi(10, p)


def test_erdos_renyi_isolated_agents_are_warned():
    with pytest.warns(UserWarning, match=r"isolated agent\(s\) have no neighbours"):
        graph = erdos_renyi(20, 0.05, seed=1)
    assert np.any(graph.degree == 0)
    assert_consistent(graph)


def test_barabasi_albert_matches_networkx():
    graph = barabasi_albert(25, 2, seed=3)
    assert_consistent(graph)
    assert {tuple(e) for e in graph.edges.tolist()} == nx_edges(nx.barabasi_albert_graph(25, 2, seed=3))
    assert graph.degree.min() >= 2


@pytest.mark.parametrize("m", [0, 10, 11, 1.5])
def test_barabasi_albert_bad_m(m):
    with pytest.raises(ConfigError, match=r"graph\.m = .* 1 <= m < n = 10"):
        barabasi_albert(10, m)


# ---------------------------------------------------------------- networkx input


def test_from_networkx_relabels_nodes_in_node_order():
    source = nx.Graph()
    source.add_nodes_from(["c", "a", "b", "d"])
    source.add_edges_from([("a", "b"), ("c", "a"), ("d", "b")])
    graph = from_networkx(source)
    assert_consistent(graph)
    assert graph.n_agents == 4
    assert graph.edges.tolist() == [[0, 1], [1, 2], [2, 3]]  # c=0, a=1, b=2, d=3


def test_from_networkx_round_trip():
    source = nx.petersen_graph()
    graph = from_networkx(source, name="petersen")
    assert graph.name == "petersen"
    assert nx_edges(graph.to_networkx()) == nx_edges(source)


def test_from_networkx_isolated_node_warned():
    source = nx.Graph([(0, 1)])
    source.add_node(2)
    with pytest.warns(UserWarning, match=r"1 isolated agent"):
        graph = from_networkx(source)
    assert graph.n_agents == 3


@pytest.mark.parametrize(
    ("source", "match"),
    [
        pytest.param(nx.DiGraph([(0, 1), (1, 2)]), r"directed", id="directed"),
        pytest.param(nx.MultiGraph([(0, 1), (0, 1), (1, 2)]), r"multi-edge between 0 and 1", id="multigraph"),
        pytest.param(nx.MultiDiGraph([(0, 1)]), r"directed", id="multidigraph"),
        pytest.param(nx.Graph([(0, 1), (1, 1)]), r"self-loop at agent 1", id="self-loop"),
        pytest.param(nx.Graph(), r"no nodes", id="empty"),
        pytest.param(nx.empty_graph(3), r"no edges", id="no-edges"),
    ],
)
def test_from_networkx_rejects(source, match):
    with pytest.raises(ConfigError, match=match):
        from_networkx(source)


def test_from_networkx_simple_multigraph_accepted():
    graph = from_networkx(nx.MultiGraph([(0, 1), (1, 2)]))
    assert graph.edges.tolist() == [[0, 1], [1, 2]]


# ---------------------------------------------------------------- edge arrays


def test_from_edges_normalises_order_and_orientation():
    graph = from_edges([[3, 1], [0, 2], [2, 1], [1, 0]])
    assert_consistent(graph)
    assert graph.edges.tolist() == [[0, 1], [0, 2], [1, 2], [1, 3]]
    assert graph.neighbors(1).tolist() == [0, 2, 3]
    assert graph.indptr.tolist() == [0, 2, 5, 7, 8]
    assert graph.indices.tolist() == [1, 2, 0, 2, 3, 0, 1, 1]


def test_from_edges_integer_valued_floats_accepted():
    assert from_edges(np.array([[0.0, 1.0], [1.0, 2.0]])).edges.tolist() == [[0, 1], [1, 2]]


@pytest.mark.parametrize(
    ("edges", "n_agents", "match"),
    [
        pytest.param([[0, 1], [2, 2]], None, r"self-loop at agent 2", id="self-loop"),
        pytest.param([[0, 1], [1, 2], [0, 1]], None, r"duplicate edge \(0, 1\)", id="duplicate"),
        pytest.param([[0, 1], [2, 1], [1, 2]], None, r"duplicate edge \(1, 2\)", id="reversed-duplicate"),
        pytest.param([[0, 1], [1, -3]], None, r"agent ids must be >= 0, found -3", id="negative"),
        pytest.param([[0, 1], [1, 7]], 5, r"agent id 7 out of range for n = 5", id="out-of-range"),
        pytest.param([[0, 1.5]], None, r"agent ids must be integers", id="fractional"),
        pytest.param([[0, np.nan]], None, r"agent ids must be integers", id="nan"),
        pytest.param([["a", "b"]], None, r"agent ids must be integers", id="strings"),
        pytest.param([[True, False]], None, r"agent ids must be integers", id="booleans"),
        pytest.param([], None, r"no edges", id="empty"),
        pytest.param(np.zeros((0, 2), dtype=int), 4, r"no edges", id="empty-2d"),
        pytest.param([[0, 1, 2]], None, r"pairs of agent ids, shape \(edge, 2\)", id="triples"),
        pytest.param([0, 1], None, r"pairs of agent ids", id="flat"),
    ],
)
def test_from_edges_rejects(edges, n_agents, match):
    with pytest.raises(ConfigError, match=rf"^graph: .*{match}"):
        from_edges(edges, n_agents)


def test_from_edges_isolated_agents_warned():
    with pytest.warns(UserWarning, match=r"graph: 2 isolated agent\(s\)"):
        graph = from_edges([[0, 1]], 4)
    assert graph.degree.tolist() == [1, 1, 0, 0]
    assert_consistent(graph)


@st.composite
def edge_lists(draw):
    n = draw(st.integers(min_value=2, max_value=12))
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    chosen = draw(st.lists(st.sampled_from(pairs), min_size=1, max_size=len(pairs), unique=True))
    flips = draw(st.lists(st.booleans(), min_size=len(chosen), max_size=len(chosen)))
    edges = [(j, i) if flip else (i, j) for (i, j), flip in zip(chosen, flips, strict=True)]
    extra = draw(st.integers(min_value=0, max_value=3))
    return n + extra, edges


@settings(max_examples=25, deadline=None)
@given(edge_lists())
def test_random_edge_lists_give_consistent_csr(case):
    n_agents, edges = case
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        graph = from_edges(np.array(edges), n_agents)
    assert graph.n_agents == n_agents and graph.n_edges == len(edges)
    assert_consistent(graph)
    assert {tuple(e) for e in graph.edges.tolist()} == {(min(e), max(e)) for e in edges}


# ---------------------------------------------------------------- edge-list files


def test_read_edgelist_comments_commas_and_whitespace(tmp_path):
    path = tmp_path / "net.txt"
    path.write_text("# an edge list\n\n0 1\n1,2   # trailing comment\n  2 ,\t3\n3\t0\n# end\n")
    graph = read_edgelist(path)
    assert_consistent(graph)
    assert graph.name == "net" and graph.n_agents == 4
    assert graph.edges.tolist() == [[0, 1], [0, 3], [1, 2], [2, 3]]


def test_read_edgelist_with_more_agents_warns_about_isolated(tmp_path):
    path = tmp_path / "net.csv"
    path.write_text("0,1\n1,2\n")
    with pytest.warns(UserWarning, match=r"graph\.path: 3 isolated agent\(s\)"):
        graph = read_edgelist(str(path), n_agents=6)
    assert graph.degree.tolist() == [1, 2, 1, 0, 0, 0]


@pytest.mark.parametrize(
    ("text", "n_agents", "match"),
    [
        pytest.param("0 1\n1 1\n", None, r"graph\.path: self-loop at agent 1", id="self-loop"),
        pytest.param("0 1\n1 2\n0 1\n", None, r"graph\.path: duplicate edge \(0, 1\)", id="duplicate"),
        pytest.param("0 1\n1 2\n1 0\n", None, r"graph\.path: duplicate edge \(0, 1\)", id="reversed-duplicate"),
        pytest.param("0 1\n-1 2\n", None, r"graph\.path: agent ids must be >= 0, found -1", id="negative"),
        pytest.param("0 1\n1 5\n", 4, r"graph\.path: agent id 5 out of range for n = 4", id="out-of-range"),
        pytest.param("0 1\n1 2.0\n", None, r"bad\.txt:2: agent ids must be integers, got '1 2\.0'", id="float"),
        pytest.param("0 1\nx 2\n", None, r"bad\.txt:2: agent ids must be integers, got 'x 2'", id="word"),
        pytest.param("0 1\n\n1 2 3\n", None, r"bad\.txt:3: expected two agent ids, got '1 2 3'", id="three-ids"),
        pytest.param("0 1\n2\n", None, r"bad\.txt:2: expected two agent ids, got '2'", id="one-id"),
        pytest.param("0;1\n", None, r"bad\.txt:1: expected two agent ids, got '0;1'", id="semicolon"),
        pytest.param("", None, r"graph\.path: the graph has no edges", id="empty-file"),
        pytest.param("# only\n\n   \n# comments\n", None, r"graph\.path: the graph has no edges", id="only-comments"),
    ],
)
def test_read_edgelist_rejects(tmp_path, text, n_agents, match):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        read_edgelist(path, n_agents)


def test_read_edgelist_missing_file(tmp_path):
    with pytest.raises(ConfigError, match=r"graph\.path: no such file: .*absent\.txt"):
        read_edgelist(tmp_path / "absent.txt")
    with pytest.raises(ConfigError, match=r"graph\.path: no such file"):
        read_edgelist(tmp_path)  # a directory


def test_read_edgelist_not_utf8(tmp_path):
    path = tmp_path / "binary.txt"
    path.write_bytes(b"0 1\n\xff\xfe 2\n")
    with pytest.raises(ConfigError, match=r"graph\.path"):
        read_edgelist(path)


@pytest.mark.parametrize("text", ["0,,1\n", "1_0 2\n"], ids=["empty-field", "underscore"])
def test_read_edgelist_rejects_lenient_integer_syntax(tmp_path, text):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        with pytest.raises(ConfigError, match=r"bad\.txt:1"):
            read_edgelist(path)


# ----------------------------------------------------------------------------------------------
# reorder
# ----------------------------------------------------------------------------------------------
def bandwidth(graph: Graph) -> int:
    return int(np.max(graph.edges[:, 1] - graph.edges[:, 0]))


def test_rcm_restores_the_locality_of_a_shuffled_lattice_and_keeps_the_graph():
    side = 30
    original = lattice(side * side)
    shuffle = np.random.default_rng(0).permutation(original.n_agents)  # agent a gets the id shuffle[a]
    shuffled = from_edges(shuffle[original.edges], original.n_agents)
    ordered = reorder(shuffled, "rcm")
    assert_consistent(ordered)
    assert bandwidth(shuffled) > 0.9 * original.n_agents
    assert bandwidth(ordered) <= 3 * side  # a band of a few rows, like the lattice's own numbering
    # the same graph: new id k is old agent labels[k]
    relabelled_back = {tuple(sorted(pair)) for pair in ordered.labels[ordered.edges].tolist()}
    assert relabelled_back == {tuple(pair) for pair in shuffled.edges.tolist()}
    assert sorted(ordered.labels.tolist()) == list(range(original.n_agents))
    assert np.array_equal(np.sort(ordered.degree), np.sort(shuffled.degree))


def test_reorder_twice_keeps_the_original_labels():
    graph = barabasi_albert(60, 2, seed=4)
    once = reorder(graph)
    twice = reorder(once)
    relabelled_back = {tuple(sorted(pair)) for pair in twice.labels[twice.edges].tolist()}
    assert relabelled_back == {tuple(pair) for pair in graph.edges.tolist()}


def test_given_order_is_the_identity_and_unknown_orders_are_refused():
    graph = lattice(16)
    assert reorder(graph, "given") is graph and graph.labels is None
    with pytest.raises(ConfigError, match="graph.order"):
        reorder(graph, "metis")
