"""``theory(config, method)``: every theory of marldyn as one entry point returning an xarray Dataset.

The Dataset has the simulator's variable names (``policy``, ``q``, ``state_fraction``, and ``q_std``
where the method has a spread across agents) on the simulator's time grid (``[run] steps`` and
``record_every``), with ``time`` in simulator steps (NOTES.md 1), so ``marldyn compare`` can lay the two
side by side.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import xarray as xr

from ..agents import TYPE_RECORDS, type_degree_classes
from ..config import Config
from ..games import require_immediate_reward
from ..graphs import Graph
from .methods import DEFAULT_MAX_PARTICLES, METHODS, TheoryMethod, as_method

__all__ = ["DEFAULT_MAX_PARTICLES", "METHODS", "simulator_initial_q", "theory"]


def theory(
    config: Config | dict | str | Path,
    method: str | TheoryMethod = "reduced",
    *,
    graph: Graph | None = None,
    particles: int | None = None,
    timescale: str | None = None,
    dt: float | None = None,
    progress: bool | None = None,
) -> xr.Dataset:
    """Predict the population dynamics of ``config`` with one of the theories.

    Parameters
    ----------
    config : Config, dict or path
        The same configuration as :func:`marldyn.simulate`.
    method : TheoryMethod or str
        A method object of :mod:`marldyn.theory.methods` holding its options, or its name for the
        defaults (``"particles"`` is ``Particles()``):

        - :class:`~marldyn.theory.Reduced` (``reduced``): point mass at the initial table (the noise is
          ignored), edge states stationary (time-scale separation, eqs. 18-19);
        - :class:`~marldyn.theory.Full` (``full``): point mass with the edge-state distribution as a second
          ODE variable (eq. 15);
        - :class:`~marldyn.theory.FullDiscrete` (``full-discrete``): the exact one-step map of the point
          mass and its edge-state distribution;
        - :class:`~marldyn.theory.Particles` (``particles``; ``n``, ``timescale``): heterogeneous population
          of P particles drawn from the initial distribution, coupled by the pair approximation (eqs. 11,
          19-20); ``timescale`` picks stationary (reduced) or per-step (full) pair distributions;
        - :class:`~marldyn.theory.SDE` (``sde``; ``dt``): ``runs`` ensemble members, each one particle per
          agent with the simulator's initial draws and the agents' degrees, following eq. (5) with the exact
          Σ (Euler–Maruyama, step ``dt``);
        - :class:`~marldyn.theory.GraphSDE` (``sde-graph``; ``dt``, ``timescale``, ``noise``): ``runs``
          members, one SDE per agent on the actual graph (its neighbours' policies, its edges' state
          distributions per ``timescale``, its own exact Σ; :mod:`marldyn.theory.graph_sde`);
        - :class:`~marldyn.theory.LNA` (``lna``): linear-noise approximation around the homogeneous fixed
          point Q* (root of δ̄ from the initial table): q = Q*, stationary ``q_std``, ``q_mean_std``,
          ``policy_std`` (:mod:`marldyn.theory.lna`);
        - :class:`~marldyn.theory.Closure` (``closure``; ``timescale``, ``dt``, ``correlations``,
          ``order``): the Gaussian moment closure on the graph (per degree class where degrees differ, per (type,
          degree) class with agent types) — mean,
          ``q_std``, ``q_mean_std`` and the predicted ``q_skewness``, ``q_kurtosis``
          (:mod:`marldyn.theory.closure`).

        On graphs whose degrees differ, the point-mass methods use one point mass per degree class
        (NOTES.md 4), coupled as particles.
    graph : Graph or networkx.Graph, optional
        Use this graph instead of ``[graph]`` (only its degrees matter).
    particles, timescale, dt : optional
        Shortcuts with a method *name* only: ``theory(config, "particles", particles=64)`` is
        ``theory(config, Particles(n=64))``. An option the method does not take is an error, and so is any
        of them given with a method object.
    progress : bool, optional
        Progress bar for ``sde`` and ``sde-graph`` (default: on a terminal).

    Returns
    -------
    xarray.Dataset
        ``policy``, ``q`` (time, state, action) [(run, time, ...) for ``sde`` and ``sde-graph``],
        ``state_fraction``, and ``q_std`` where the method has a spread; attrs: ``method`` (the name),
        ``method_options`` (the object's options as JSON), the resolved options (``particles``,
        ``timescale``, ``dt`` where used), config TOML, version, seed, initial condition, horizon.

    Raises
    ------
    ConfigError
        An unknown method, an option the method does not take, a bad option value or config.

    Examples
    --------
    >>> import marldyn
    >>> from marldyn.theory import Particles
    >>> config = {"graph": {"kind": "lattice", "n": 9}, "run": {"steps": 40, "record_every": 20}}
    >>> reduced = marldyn.predict(config)  # the default method, "reduced"
    >>> dict(reduced.sizes), list(reduced.data_vars), reduced["time"].values
    ({'time': 3, 'state': 2, 'action': 2}, ['q', 'policy', 'state_fraction'], array([ 0, 20, 40]))
    >>> marldyn.predict(config, Particles(n=4)).attrs["particles"]
    4
    >>> marldyn.predict(config, "reduced", dt=5.0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    marldyn.errors.ConfigError: method 'reduced' does not take the option 'dt' ...
    """
    from ..config import as_config
    from ..graphs import as_graph
    from ..memory import require_memory, theory_memory
    from ..simulation.runner import record_times
    from .homogeneous import solve_full, solve_full_discrete, solve_reduced
    from .particles import initial_particles, solve_particles
    from .sde import solve_sde

    shortcuts = {"particles": particles, "timescale": timescale, "dt": dt}
    method = as_method(method, **{key: value for key, value in shortcuts.items() if value is not None})
    config = as_config(config)
    game = config.build_game()
    graph = as_graph(graph) if graph is not None else None
    # Nothing large exists yet: refuse a case too large for the machine before the graph is built (issue 12).
    require_memory(theory_memory(config, method, graph=graph), f"the {method.name} theory")
    graph = graph if graph is not None else config.build_graph()
    grid = record_times(config.run.steps, config.run.record_every)
    learning = config.learning
    parameters = dict(alpha=learning.alpha, beta=learning.beta, gamma=learning.gamma, rule=learning.rule)
    learners = config.learners(game, graph.n_agents)
    table = config.initial_q_table(game)
    initial_states = config.initial_state_distribution(game.n_states)
    degrees = graph.degree
    classes = np.unique(degrees)
    _check_support(config, method, regular=classes.size == 1)
    if method.name in ("lna", "closure"):
        require_immediate_reward(game, method.name)
    extra: dict = {"agent_types": learners.describe()} if learners.typed else {}
    name = method.name
    point_game = game
    groups = config.build_groups(graph, game)
    if groups is not None:  # a group game (issue 14) in groups of one size; an agent's "degree" is its groups
        point_game, degrees = _group_game(method, game, groups)
        classes = np.unique(degrees)
        extra.update(n_groups=groups.n_groups, group_size=point_game.group_size, groups_per_agent=classes.tolist())
    if name in ("reduced", "full", "full-discrete") and classes.size == 1 and not learners.typed:
        solver = {"reduced": solve_reduced, "full": solve_full, "full-discrete": solve_full_discrete}[name]
        result = solver(
            table,
            point_game,
            grid,
            degree=int(classes[0]),
            initial_state_distribution=initial_states,
            policy=learning.policy,
            epsilon=learning.epsilon,
            faq_beta=learning.faq_beta,
            **parameters,
        )
        variables = _variables(result)
        condition = f"point mass at Q = {table.tolist()}"
    elif name in ("reduced", "full", "full-discrete"):
        class_type, class_degree, weight = type_degree_classes(learners, first_run_types(config, game, graph), degrees)
        points = np.broadcast_to(table, (class_type.size,) + table.shape).copy()
        timescale_of_classes = "reduced" if name == "reduced" else "full"
        result = solve_particles(
            points,
            point_game,
            grid,
            degree=class_degree,
            weight=weight,
            learners=learners,
            particle_type=class_type,
            timescale=timescale_of_classes,
            initial_state_distribution=initial_states,
        )
        variables = _variables(result)
        what = "(type, degree) class" if learners.typed else "degree class"
        condition = f"one point mass per {what} ({class_type.size} classes) at Q = {table.tolist()}"
        extra["degree_classes"] = class_degree.tolist()
        if learners.typed:
            extra["type_classes"] = [learners.names[t] for t in class_type]
    elif name == "particles":
        count = method.count(graph.n_agents)
        q0, particle_degrees = initial_particles(
            table,
            config.init.q_noise,
            count,
            graph_degrees=degrees,
            distribution=config.init.q_noise_distribution,
            seed=np.random.SeedSequence(config.run.seed),
        )
        result = solve_particles(
            q0,
            point_game,
            grid,
            degree=particle_degrees,
            learners=learners,
            particle_type=particle_types(learners, first_run_types(config, game, graph), count),
            timescale=method.timescale,
            initial_state_distribution=initial_states,
        )
        variables = _variables(result)
        condition = _noise_text(config, table) + f"; {count} particles (scrambled Sobol draws)"
        extra.update(particles=int(count), timescale=method.timescale)
    elif name == "sde-graph":  # issue 8: one SDE per agent on the actual graph (theory/graph_sde.py)
        from .graph_sde import solve_graph_sde

        q0, agent_type = simulator_initial_q(config, game, graph, types=True)
        result = solve_graph_sde(
            q0,
            point_game,
            graph,
            grid,
            learners=learners,
            agent_type=agent_type,
            timescale=method.timescale,
            dt=method.dt,
            noise=method.noise,
            seed=np.random.SeedSequence([config.run.seed, 2]),
            initial_state_distribution=initial_states,
            progress=progress,
            groups=groups,
        )
        variables = _variables(result)
        condition = _noise_text(config, table) + "; the simulator's own initial draws, one SDE per agent on the graph"
        extra.update(dt=method.dt, timescale=method.timescale, members=int(config.run.runs))
        if not method.noise:
            condition += "; without noise"
    elif name == "lna":  # issue 8: linear-noise approximation on the graph (theory/lna.py)
        from .lna import fixed_point_difference, lna_dataset_variables

        typed = {}
        if learners.typed:
            initial_q, assignments = simulator_initial_q(config, game, graph, types=True)
            typed = dict(learners=learners, assignments=assignments)
        if learners.typed and fixed_point_difference(learners) is not None:  # each learner at its own Q*_i
            from .agent_lna import agent_lna_dataset_variables

            variables, condition, lna_extra = agent_lna_dataset_variables(
                game, graph, grid, table, learners, assignments, initial_q
            )
        else:
            variables, condition, lna_extra = lna_dataset_variables(
                config,
                game,
                graph,
                grid,
                table,
                policy=learning.policy,
                epsilon=learning.epsilon,
                faq_beta=learning.faq_beta,
                **typed,
                **parameters,
            )
        extra.update(lna_extra)
    elif name == "closure":  # issue 16: Gaussian moment closure on the graph (theory/closure.py)
        from .closure import solve_closure

        typed_closure = {}
        if learners.typed:  # one Gaussian per (type, degree) class, the simulator's assignment of run 0
            typed_closure = dict(learners=learners, agent_type=first_run_types(config, game, graph))
        noise = config.init.q_noise
        uniform = config.init.q_noise_distribution == "uniform"
        variance = noise**2 / 3.0 if uniform else noise**2
        result = solve_closure(
            table,
            game,
            grid,
            graph=graph,
            initial_covariance=variance * np.eye(table.size),
            initial_kurtosis=-1.2 if uniform and noise > 0 else 0.0,
            timescale=method.timescale,
            dt=int(method.dt),
            correlations=method.correlations,
            order=method.order,
            initial_state_distribution=initial_states,
            faq_beta=learning.faq_beta,
            policy=learning.policy,
            epsilon=learning.epsilon,
            **typed_closure,
            **parameters,
        )
        variables = _variables(result)
        variables.update(q_mean_std=result.q_mean_std, q_skewness=result.q_skewness, q_kurtosis=result.q_kurtosis)
        gaussians = {
            "modes": "C per graph mode",
            "degree classes": "one per degree class",
            "type classes": "one per (type, degree) class",
        }[result.attrs["route"]]
        condition = _noise_text(config, table) + f"; a Gaussian N(m, C) of the agents' tables, {gaussians}"
        extra.update(
            timescale=method.timescale,
            **{
                key: value
                for key, value in result.attrs.items()
                if key in ("order", "focal_nodes", "neighbor_nodes", "modes", "route")
            },
        )
        if method.timescale == "full":
            extra["dt"] = method.dt
    else:  # sde
        q0, agent_type = simulator_initial_q(config, game, graph, types=True)
        result = solve_sde(
            q0,
            point_game,
            grid,
            degree=degrees,
            learners=learners,
            particle_type=agent_type,
            dt=method.dt,
            seed=np.random.SeedSequence([config.run.seed, 1]),
            initial_state_distribution=initial_states,
            progress=progress,
        )
        variables = _variables(result)
        condition = _noise_text(config, table) + "; the simulator's own initial draws, one particle per agent"
        extra.update(dt=method.dt, particles=int(graph.n_agents))
    extra["method_options"] = json.dumps(method.options())
    return _dataset(variables, grid, game, graph, config, learners, name, condition, extra)


def simulator_initial_q(config: Config, game, graph, types: bool = False):
    """The simulator's own initial Q of every run, shape (run, agent, state, action) (same seeds and draws); with
    ``types`` also every run's assignment of agents to types, shape (run, agent)."""
    from ..simulation.runner import agent_types, initial_state, make_problem, run_streams

    problem = make_problem(config, game, graph)
    streams = run_streams(config.run.seed, config.run.runs)
    q = np.stack([initial_state(problem, stream[0])[0] for stream in streams])
    if not types:
        return q
    return q, np.stack([agent_types(problem, stream[2]) for stream in streams])


def first_run_types(config: Config, game, graph) -> np.ndarray:
    """The simulator's assignment of agents to types in run 0 (its counts per type are those of every run)."""
    from ..simulation.runner import agent_types, make_problem, run_streams

    return agent_types(make_problem(config, game, graph), run_streams(config.run.seed, 1)[0][2])


def particle_types(learners, agent_type, count: int) -> np.ndarray:
    """Types of ``count`` particles in the proportions of the agents' types (largest remainders), shape (count,).

    Examples
    --------
    >>> import numpy as np
    >>> from marldyn.agents import Learners
    >>> learners = Learners.uniform(2, 2, alpha=0.1, beta=1.0, gamma=0.8)
    >>> particle_types(learners, np.zeros(10, np.int64), 3)
    array([0, 0, 0])
    """
    shares = np.bincount(agent_type, minlength=learners.n_types) / agent_type.size
    exact = shares * count
    whole = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - whole), kind="stable")
    whole[order[: count - whole.sum()]] += 1
    return np.repeat(np.arange(learners.n_types), whole)


GROUP_METHODS = ("reduced", "full", "full-discrete", "particles", "sde", "sde-graph")
"""The theory methods that take group games."""


def _group_game(method, game, groups):
    """The sized group game and every agent's number of groups, where the method takes the groups (else a
    one-line ConfigError): groups of one size."""
    from ..errors import ConfigError

    if method.name not in GROUP_METHODS:
        raise ConfigError(f"method {method.name!r} does not take group games yet; use {', '.join(GROUP_METHODS)}")
    sizes = groups.distinct_sizes
    if len(sizes) != 1:
        raise ConfigError(
            f"group games: the theory needs groups of one size (e.g. neighborhood groups on a regular graph); these "
            f"groups have sizes {list(sizes)}"
        )
    return game.sized(sizes[0]), groups.memberships


def _check_support(config: Config, method, regular: bool) -> None:
    """A clear error where a method does not take the config's policy, rule or agent types (issue 13)."""
    from ..errors import ConfigError

    learning = config.learning
    types = config.agent_types
    greedy = learning.policy == "epsilon_greedy" or any(t.policy == "epsilon_greedy" for t in types)
    name = method.name
    classes = name == "reduced" and (bool(types) or not regular)
    if greedy and (classes or (name == "particles" and method.timescale == "reduced")):
        raise ConfigError(
            f"method {name!r}: ε-greedy particles at stationary pairs (the reduced time scale) have no unique "
            "motion where several slide on switching surfaces at once (flipping together or independently gives "
            "different fields, so identical classes would not give the single point mass); use the full time "
            "scale (full-discrete, or Particles(timescale='full')), whose step-by-step map crosses the switching "
            "surfaces as the simulator does, or sde"
        )


def _variables(result) -> dict:
    """The Dataset variables a trajectory object has (``q_std`` only where the method has a spread, the per-type
    means only with agent types)."""
    names = ("q", "policy", "q_std", "state_fraction") + TYPE_RECORDS
    return {name: getattr(result, name) for name in names if getattr(result, name, None) is not None}


def _noise_text(config, table) -> str:
    text = f"Q = {table.tolist()}"
    if config.init.q_noise > 0:
        text += f" + {config.init.q_noise_distribution} noise of scale {config.init.q_noise} per agent and entry"
    return text


def _dataset(variables, grid, game, graph, config, learners, method, condition, extra) -> xr.Dataset:
    from .. import __version__

    sites = "group" if "n_groups" in extra else "edge"
    has_runs = variables["q"].ndim == 4
    lead = ("run", "time") if has_runs else ("time",)
    coords = {"time": grid, "state": np.arange(game.n_states), "action": np.arange(game.n_actions)}
    if has_runs:
        coords["run"] = np.arange(variables["q"].shape[0])
    if any(name in variables for name in TYPE_RECORDS):
        coords["agent_type"] = np.array(learners.names, dtype=object)

    def dims(name):
        if name == "state_fraction":
            return (*lead, "state")
        return (*lead, "agent_type", "state", "action") if name in TYPE_RECORDS else (*lead, "state", "action")

    data = {name: (dims(name), np.asarray(value)) for name, value in variables.items()}
    dataset = xr.Dataset(data, coords=coords)
    dataset["time"].attrs.update(units="steps", long_name="time (simulator steps)")
    dataset.attrs.update(
        kind="theory",
        method=method,
        config=config.to_toml(),
        marldyn_version=__version__,
        seed=config.run.seed,
        game=game.name,
        graph=graph.name,
        n_agents=graph.n_agents,
        n_edges=graph.n_edges,
        initial_condition=condition
        + "; "
        + (
            f"{sites} states uniform over states"
            if config.init.edge_state == "uniform"
            else f"all {sites}s in state {config.init.edge_state}"
        ),
        horizon=int(grid[-1]),
        **{key: (str(value) if isinstance(value, list) else value) for key, value in extra.items()},
    )
    return dataset
