"""Groups of agents that play an N-player game together: ``Groups`` and the ways to build them.

A group game (:mod:`marldyn.group_games`) is played in groups instead of on edges: every group carries its own
state, plays once per step in it and moves to a next state drawn from the number of its members choosing
action 0. Groups come from the graph:

- :func:`pairwise_groups`: the edges, each a group of two (the paper's model);
- :func:`neighborhood_groups`: every agent centres a group of itself and its neighbours (Santos, Santos &
  Pacheco, Nature 2008), so an agent of degree k is in k + 1 groups;
- :func:`read_groups`: one group per line of a text file.

Groups are stored as CSR: the members of group g are ``member[pointer[g]:pointer[g + 1]]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ConfigError
from .graphs import Graph

__all__ = ["GROUP_KINDS", "Groups", "from_lists", "groups_of", "neighborhood_groups", "pairwise_groups", "read_groups"]

GROUP_KINDS = ("pairwise", "neighborhood", "file")


@dataclass(frozen=True, eq=False)
class Groups:
    """Groups of agents, as CSR arrays.

    Attributes
    ----------
    n_agents : int
        N, the number of agents (ids 0 to N - 1).
    pointer : ndarray of int64, shape (group + 1,)
        Group g's members are ``member[pointer[g]:pointer[g + 1]]``.
    member : ndarray of int64, shape (membership,)
        The members of every group, group after group.
    name : str
        A label, recorded in outputs (``pairwise``, ``neighborhood`` or the file's stem).

    Examples
    --------
    >>> from marldyn.graphs import lattice
    >>> groups = neighborhood_groups(lattice(9))
    >>> groups.n_groups, groups.sizes[:3].tolist(), groups.members(0).tolist()
    (9, [5, 5, 5], [0, 1, 2, 3, 6])
    >>> groups.memberships[:3].tolist()  # every agent of the 4-regular lattice is in 5 groups
    [5, 5, 5]
    """

    n_agents: int
    pointer: np.ndarray
    member: np.ndarray
    name: str = "groups"

    @property
    def n_groups(self) -> int:
        """G, the number of groups."""
        return int(self.pointer.size - 1)

    @property
    def sizes(self) -> np.ndarray:
        """n_g, the size of every group, shape (group,)."""
        return np.diff(self.pointer)

    @property
    def memberships(self) -> np.ndarray:
        """The number of groups each agent is in, shape (agent,) (an agent's "degree" in the group theory)."""
        return np.bincount(self.member, minlength=self.n_agents)

    @property
    def distinct_sizes(self) -> tuple[int, ...]:
        """The different group sizes, ascending."""
        return tuple(int(n) for n in np.unique(self.sizes))

    def members(self, group: int) -> np.ndarray:
        """The members of one group, in their stored order."""
        return self.member[self.pointer[group] : self.pointer[group + 1]]

    def size_index(self) -> np.ndarray:
        """Each group's position in :attr:`distinct_sizes`, shape (group,) int64 (the kernels' table index)."""
        return np.searchsorted(np.array(self.distinct_sizes), self.sizes).astype(np.int64)


def from_lists(groups, n_agents: int | None = None, name: str = "groups", field: str = "graph.groups") -> Groups:
    """Build :class:`Groups` from a sequence of member lists, validating them.

    Parameters
    ----------
    groups : sequence of sequences of int
        The members of every group (agent ids from 0).
    n_agents : int, optional
        N; default: the largest id + 1.
    name : str
        The label of the groups.
    field : str
        The config field named in error messages.

    Returns
    -------
    Groups

    Raises
    ------
    ConfigError
        No groups, a group of fewer than two agents, an agent twice in one group, ids that are not integers or
        out of range.

    Examples
    --------
    >>> groups = from_lists([[0, 1, 2], [2, 3]])
    >>> groups.n_agents, groups.sizes.tolist(), groups.memberships.tolist()
    (4, [3, 2], [1, 1, 2, 1])
    >>> from_lists([[0, 1], [2, 2, 3]])
    Traceback (most recent call last):
    ...
    marldyn.errors.ConfigError: graph.groups: group 1 lists agent 2 twice
    """
    groups = list(groups)
    if not groups:
        raise ConfigError(f"{field}: there are no groups")
    arrays = [np.asarray(members) for members in groups]
    for g, raw in enumerate(arrays):
        if raw.ndim != 1 or (raw.size and raw.dtype.kind not in "iu"):
            raise ConfigError(f"{field}: group {g} must be a list of integer agent ids")
    sizes = np.array([raw.size for raw in arrays], dtype=np.int64)
    small = np.flatnonzero(sizes < 2)
    if small.size:
        g = int(small[0])
        raise ConfigError(f"{field}: group {g} has {sizes[g]} agent(s); a group needs at least two")
    member = np.concatenate(arrays).astype(np.int64)
    group = np.repeat(np.arange(sizes.size), sizes)
    order = np.lexsort((member, group))  # by group, then agent: a repeated agent sits next to itself
    twice = np.flatnonzero((np.diff(member[order]) == 0) & (np.diff(group[order]) == 0))
    if twice.size:
        g, agent = int(group[order][twice[0]]), int(member[order][twice[0]])
        raise ConfigError(f"{field}: group {g} lists agent {agent} twice")
    if member.min() < 0:
        raise ConfigError(f"{field}: agent ids must be >= 0, found {int(member.min())}")
    if n_agents is None:
        n_agents = int(member.max()) + 1
    elif member.max() >= n_agents:
        raise ConfigError(f"{field}: agent id {int(member.max())} is out of range for {n_agents} agents")
    pointer = np.zeros(sizes.size + 1, dtype=np.int64)
    np.cumsum(sizes, out=pointer[1:])
    return Groups(int(n_agents), pointer, member, name)


def pairwise_groups(graph: Graph) -> Groups:
    """The edges as groups of two, ``[i, j]`` with i < j, in edge order (the paper's model).

    Examples
    --------
    >>> from marldyn.graphs import lattice
    >>> groups = pairwise_groups(lattice(9))
    >>> groups.n_groups, groups.members(0).tolist()
    (18, [0, 1])
    """
    pointer = np.arange(0, 2 * graph.n_edges + 1, 2, dtype=np.int64)
    return Groups(graph.n_agents, pointer, np.ascontiguousarray(graph.edges.reshape(-1)), "pairwise")


def neighborhood_groups(graph: Graph) -> Groups:
    """Every agent with at least one neighbour centres a group: itself, then its neighbours in increasing id.

    Group g is centred on agent g (an isolated agent centres no group, and its groups are skipped).

    Examples
    --------
    >>> from marldyn.graphs import from_edges
    >>> groups = neighborhood_groups(from_edges([[0, 1], [1, 2]]))  # a path of three agents
    >>> [groups.members(g).tolist() for g in range(groups.n_groups)]
    [[0, 1], [1, 0, 2], [2, 1]]
    """
    degree = graph.degree
    centred = np.flatnonzero(degree > 0)
    sizes = degree[centred] + 1
    pointer = np.zeros(centred.size + 1, dtype=np.int64)
    np.cumsum(sizes, out=pointer[1:])
    member = np.empty(pointer[-1], dtype=np.int64)
    member[pointer[:-1]] = centred
    is_centre = np.zeros(pointer[-1], dtype=bool)
    is_centre[pointer[:-1]] = True
    member[~is_centre] = graph.indices  # an isolated agent has no neighbours, so CSR order is the groups' order
    return Groups(graph.n_agents, pointer, member, "neighborhood")


def read_groups(path: str | Path, n_agents: int) -> Groups:
    """Read groups from a text file: one group per line, agent ids separated by whitespace or commas.

    ``#`` starts a comment; blank lines are skipped.

    Parameters
    ----------
    path : str or pathlib.Path
    n_agents : int
        N, the number of agents of the graph (every id must be below it).

    Raises
    ------
    ConfigError
        A missing file, a line that is not integers, or invalid groups (:func:`from_lists`).

    Examples
    --------
    >>> _ = Path("groups.txt").write_text("# triangles\\n0 1 2\\n2, 3, 4\\n")
    >>> groups = read_groups("groups.txt", n_agents=5)
    >>> groups.name, groups.sizes.tolist()
    ('groups', [3, 3])
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"graph.groups_path: no such file: {path}")
    groups = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        text = line.split("#", 1)[0].replace(",", " ").split()
        if not text:
            continue
        try:
            groups.append([int(word) for word in text])
        except ValueError:
            raise ConfigError(f"graph.groups_path {path.name}, line {number}: agent ids must be integers") from None
    return from_lists(groups, n_agents, name=path.stem, field=f"graph.groups_path {path.name}")


def groups_of(graph: Graph, kind: str, path: str | Path | None = None) -> Groups:
    """The groups of ``kind`` (one of :data:`GROUP_KINDS`) on ``graph``.

    Examples
    --------
    >>> from marldyn.graphs import lattice
    >>> groups_of(lattice(16), "neighborhood").n_groups
    16
    """
    if kind == "pairwise":
        return pairwise_groups(graph)
    if kind == "neighborhood":
        return neighborhood_groups(graph)
    if kind == "file":
        return read_groups(path, graph.n_agents)
    raise ConfigError(f"graph.groups = {kind!r} must be one of {', '.join(GROUP_KINDS)}")
