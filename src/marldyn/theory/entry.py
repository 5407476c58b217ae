"""``theory(config, method)``: every theory of marldyn as one entry point returning an xarray Dataset.

The Dataset has the simulator's variable names (``policy``, ``q``, ``state_fraction``, and ``q_std``
where the method has a spread across agents) on the simulator's time grid (``[run] steps`` and
``record_every``), with ``time`` in simulator steps (NOTES.md 1), so ``marldyn compare`` can lay the two
side by side.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from ..config import Config
from ..errors import ConfigError
from ..graphs import Graph

METHODS = ("reduced", "full", "full-discrete", "particles", "sde", "sde-graph", "lna")
DEFAULT_MAX_PARTICLES = 512


def theory(
    config: Config | dict | str | Path,
    method: str = "reduced",
    *,
    graph: Graph | None = None,
    particles: int | None = None,
    timescale: str = "reduced",
    dt: float = 10.0,
    progress: bool | None = None,
) -> xr.Dataset:
    """Predict the population dynamics of ``config`` with one of the theories.

    Parameters
    ----------
    config : Config, dict or path
        The same configuration as :func:`marldyn.simulate`.
    method : {"reduced", "full", "full-discrete", "particles", "sde"}
        - ``reduced``: point mass at the initial table (the noise is ignored), edge states stationary
          (time-scale separation, eqs. 18-19);
        - ``full``: point mass with the edge-state distribution as a second ODE variable (eq. 15);
        - ``full-discrete``: the exact one-step map of the point mass and its edge-state distribution;
        - ``particles``: heterogeneous population of P particles drawn from the initial distribution,
          coupled by the pair approximation (eqs. 11, 19-20); ``timescale`` picks stationary (reduced) or
          per-step (full) pair distributions;
        - ``sde``: ``runs`` ensemble members, each one particle per agent with the simulator's initial
          draws and the agents' degrees, following eq. (5) with the exact Σ (Euler–Maruyama, step ``dt``);
        - ``sde-graph``: ``runs`` members, one SDE per agent on the actual graph (its neighbours' policies, its
          edges' state distributions per ``timescale``, its own exact Σ; :mod:`marldyn.theory.graph_sde`);
        - ``lna``: linear-noise approximation around the homogeneous fixed point Q* (root of δ̄ from the initial
          table): q = Q*, stationary ``q_std``, ``q_mean_std``, ``policy_std`` (:mod:`marldyn.theory.lna`).
        On graphs whose degrees differ, the point-mass methods use one point mass per degree class
        (NOTES.md 4), coupled as particles.
    graph : Graph or networkx.Graph, optional
        Use this graph instead of ``[graph]`` (only its degrees matter).
    particles : int, optional
        P for ``particles`` (default: the number of agents, at most 512).
    timescale : {"reduced", "full"}
        For ``particles``.
    dt : float
        Time step of ``sde`` in simulator steps (1 reproduces one simulator step's first two moments exactly).
    progress : bool, optional
        Progress bar for ``sde`` (default: on a terminal).

    Returns
    -------
    xarray.Dataset
        ``policy``, ``q`` (time, state, action) [(run, time, ...) for ``sde``], ``state_fraction``,
        and ``q_std`` for ``particles`` and ``sde``; attrs: method, config TOML, version, seed, initial
        condition, horizon.
    """
    from ..config import as_config
    from ..graphs import as_graph
    from ..simulation.runner import record_times
    from .homogeneous import solve_full, solve_full_discrete, solve_reduced
    from .particles import initial_particles, solve_particles
    from .sde import solve_sde

    if method not in METHODS:
        from ..errors import did_you_mean

        raise ConfigError(f"method = {method!r} must be one of {', '.join(METHODS)}{did_you_mean(method, METHODS)}")
    config = as_config(config)
    game = config.build_game()
    graph = as_graph(graph) if graph is not None else config.build_graph()
    grid = record_times(config.run.steps, config.run.record_every)
    learning = config.learning
    parameters = dict(alpha=learning.alpha, beta=learning.beta, gamma=learning.gamma, rule=learning.rule)
    table = config.initial_q_table(game)
    initial_states = config.initial_state_distribution(game.n_states)
    degrees = graph.degree
    classes, counts = np.unique(degrees, return_counts=True)
    extra: dict = {}
    if method in ("reduced", "full", "full-discrete") and classes.size == 1:
        solver = {"reduced": solve_reduced, "full": solve_full, "full-discrete": solve_full_discrete}[method]
        result = solver(
            table, game, grid, degree=int(classes[0]), initial_state_distribution=initial_states, **parameters
        )
        variables = _variables(result)
        condition = f"point mass at Q = {table.tolist()}"
    elif method in ("reduced", "full", "full-discrete"):
        points = np.broadcast_to(table, (classes.size,) + table.shape).copy()
        timescale_of_classes = "reduced" if method == "reduced" else "full"
        result = solve_particles(
            points,
            game,
            grid,
            degree=classes,
            weight=counts / counts.sum(),
            timescale=timescale_of_classes,
            initial_state_distribution=initial_states,
            **parameters,
        )
        variables = _variables(result)
        condition = f"one point mass per degree class ({classes.size} classes) at Q = {table.tolist()}"
        extra["degree_classes"] = classes.tolist()
    elif method == "particles":
        count = particles if particles is not None else min(graph.n_agents, DEFAULT_MAX_PARTICLES)
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
            game,
            grid,
            degree=particle_degrees,
            timescale=timescale,
            initial_state_distribution=initial_states,
            **parameters,
        )
        variables = _variables(result)
        condition = _noise_text(config, table) + f"; {count} particles (scrambled Sobol draws)"
        extra.update(particles=int(count), timescale=timescale)
    elif method == "sde-graph":  # issue 8: one SDE per agent on the actual graph (theory/graph_sde.py)
        from .graph_sde import solve_graph_sde

        q0 = simulator_initial_q(config, game, graph)
        result = solve_graph_sde(
            q0,
            game,
            graph,
            grid,
            timescale=timescale,
            dt=dt,
            seed=np.random.SeedSequence([config.run.seed, 2]),
            initial_state_distribution=initial_states,
            progress=progress,
            **parameters,
        )
        variables = _variables(result)
        condition = _noise_text(config, table) + "; the simulator's own initial draws, one SDE per agent on the graph"
        extra.update(dt=float(dt), timescale=timescale, members=int(config.run.runs))
    elif method == "lna":  # issue 8: linear-noise approximation on the graph (theory/lna.py)
        from .lna import lna_dataset_variables

        variables, condition, lna_extra = lna_dataset_variables(config, game, graph, grid, table, **parameters)
        extra.update(lna_extra)
    else:
        q0 = simulator_initial_q(config, game, graph)
        result = solve_sde(
            q0,
            game,
            grid,
            degree=degrees,
            dt=dt,
            seed=np.random.SeedSequence([config.run.seed, 1]),
            initial_state_distribution=initial_states,
            progress=progress,
            **parameters,
        )
        variables = _variables(result)
        condition = _noise_text(config, table) + "; the simulator's own initial draws, one particle per agent"
        extra.update(dt=float(dt), particles=int(graph.n_agents))
    return _dataset(variables, grid, game, graph, config, method, condition, extra)


def simulator_initial_q(config: Config, game, graph) -> np.ndarray:
    """The simulator's own initial Q of every run, shape (run, agent, state, action) (same seeds and draws)."""
    from ..simulation.runner import initial_state, make_problem, run_streams

    problem = make_problem(config, game, graph)
    return np.stack(
        [initial_state(problem, init_seed)[0] for init_seed, _ in run_streams(config.run.seed, config.run.runs)]
    )


def _variables(result) -> dict:
    """The Dataset variables a trajectory object has (``q_std`` only where the method has a spread)."""
    return {name: getattr(result, name) for name in ("q", "policy", "q_std", "state_fraction") if hasattr(result, name)}


def _noise_text(config, table) -> str:
    text = f"Q = {table.tolist()}"
    if config.init.q_noise > 0:
        text += f" + {config.init.q_noise_distribution} noise of scale {config.init.q_noise} per agent and entry"
    return text


def _dataset(variables, grid, game, graph, config, method, condition, extra) -> xr.Dataset:
    from .. import __version__

    has_runs = variables["q"].ndim == 4
    lead = ("run", "time") if has_runs else ("time",)
    coords = {"time": grid, "state": np.arange(game.n_states), "action": np.arange(game.n_actions)}
    if has_runs:
        coords["run"] = np.arange(variables["q"].shape[0])
    data = {
        name: ((*lead, "state") if name == "state_fraction" else (*lead, "state", "action"), np.asarray(value))
        for name, value in variables.items()
    }
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
            "edge states uniform over states"
            if config.init.edge_state == "uniform"
            else f"all edges in state {config.init.edge_state}"
        ),
        horizon=int(grid[-1]),
        **{key: (str(value) if isinstance(value, list) else value) for key, value in extra.items()},
    )
    return dataset
