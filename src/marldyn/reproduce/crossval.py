"""Cross-validation beyond the prisoner's dilemma: three more games on two graph families, simulation vs theory.

Games (all symmetric, passed as custom games through the config schema):

- ``commons``: 3 states (rich, medium, poor resource) x 3 actions (restrain, moderate, exploit). A player's
  reward is the state's yield times its own harvest minus a cost of the opponent's harvest; the harder an edge
  is harvested (the sum of the two action indices), the more likely its resource degrades by one level, the
  gentler, the more likely it recovers.
- ``stag_hunt``: 2 states (good, degraded) x (stag, hare); a stag hunt in each state, with lower stakes when
  degraded; mutual stag keeps or restores the good state, mutual hare degrades it. Initial Q favours stag in
  the good state only.
- ``random``: 3 states x 2 actions, payoffs uniform on [0, 3] and transition rows Dirichlet(1), drawn with a
  fixed seed and symmetrised, T[s, a, b] = (T[s, a, b] + T[s, b, a]) / 2.

Graphs: random regular of degree 4 and Barabási–Albert with m = 2 (mean degree about 4, heterogeneous degrees,
which the theories handle by the agents' own degrees, NOTES.md 4). Theories: ``particles``, ``reduced`` and the
``sde`` ensemble.
"""

from __future__ import annotations

import numpy as np

from ..plots import new_figure, plot_components, style_axes
from ..theory.methods import Particles, Reduced
from .common import (
    PAPER,
    Case,
    Reproduction,
    TheorySpec,
    horizon,
    make_config,
    run_count,
    sde_theory,
)

STEPS = 20_000
RANDOM_GAME_SEED = 2024
GRAPHS = {
    "random_regular": {"kind": "random_regular", "n": 100, "degree": 4},
    "barabasi_albert": {"kind": "barabasi_albert", "n": 100, "m": 2},
}
GRAPH_NAMES = {"random_regular": "random regular (k = 4)", "barabasi_albert": "Barabási–Albert (m = 2)"}
THEORIES = (TheorySpec(Particles()), TheorySpec(Reduced()), sde_theory(PAPER["learning"]["alpha"]))
#: Quick mode leaves out the sde ensemble (its O(P²) pair chains per step cost seconds for the 3x3 game).
QUICK_THEORIES = THEORIES[:2]
BASE = {
    "graph": PAPER["graph"],
    "learning": PAPER["learning"],
    "init": {"q_noise": 0.1, "edge_state": "uniform"},
    "run": PAPER["run"],
}


def commons_game() -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """The 3-state, 3-action harvesting game: payoff (state, action, action), transition, state and action names."""
    yield_per_state = np.array([3.0, 2.0, 1.0])
    harvest = np.array([1.0, 1.5, 2.0])
    opponent_cost = 0.3
    payoff = yield_per_state[:, None, None] * harvest[None, :, None] - opponent_cost * harvest[None, None, :]
    n_states, n_actions = 3, 3
    transition = np.zeros((n_states, n_actions, n_actions, n_states))
    for state in range(n_states):
        for a in range(n_actions):
            for b in range(n_actions):
                pressure = (a + b) / (2 * (n_actions - 1))  # 0 (both restrain) .. 1 (both exploit)
                down = 0.6 * pressure if state < n_states - 1 else 0.0
                up = 0.6 * (1.0 - pressure) if state > 0 else 0.0
                transition[state, a, b, min(state + 1, n_states - 1)] += down
                transition[state, a, b, max(state - 1, 0)] += up
                transition[state, a, b, state] += 1.0 - down - up
    return payoff, transition, ["rich", "medium", "poor"], ["restrain", "moderate", "exploit"]


def stag_hunt_game() -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """A stag hunt with a degrading state (good, degraded) x (stag, hare)."""
    payoff = np.array([[[4.0, 0.0], [3.0, 2.0]], [[2.5, 0.0], [2.0, 1.5]]])
    to_good = np.array([[[0.95, 0.6], [0.6, 0.2]], [[0.7, 0.3], [0.3, 0.05]]])  # (state, action, action)
    transition = np.stack([to_good, 1.0 - to_good], axis=-1)
    return payoff, transition, ["good", "degraded"], ["stag", "hare"]


def random_game(seed: int = RANDOM_GAME_SEED, n_states: int = 3, n_actions: int = 2):
    """A random symmetric stochastic game with a fixed seed (transition symmetrised in the two actions)."""
    rng = np.random.default_rng(seed)
    payoff = rng.uniform(0.0, 3.0, size=(n_states, n_actions, n_actions))
    raw = rng.dirichlet(np.ones(n_states), size=(n_states, n_actions, n_actions))
    transition = 0.5 * (raw + raw.transpose(0, 2, 1, 3))
    return payoff, transition, [f"s{s + 1}" for s in range(n_states)], [f"a{a + 1}" for a in range(n_actions)]


#: name -> (game function, initial Q table or None for zeros)
GAMES = {
    "commons": (commons_game, None),
    "stag_hunt": (stag_hunt_game, [[0.8, 0.0], [0.0, 0.0]]),
    "random": (random_game, None),
}


def cases(quick: bool = False) -> list[Case]:
    """One case per game and graph family."""
    steps, runs = horizon(STEPS, quick), run_count(PAPER["run"]["runs"], quick)
    result = []
    for game_name, (make_game, q_table) in GAMES.items():
        payoff, transition, _, _ = make_game()
        game = {"name": "custom", "payoff": payoff.tolist(), "transition": transition.tolist()}
        init = {"q_noise": 0.1} | ({"q": q_table} if q_table is not None else {})
        for graph_name, graph in GRAPHS.items():
            result.append(
                Case(
                    f"{game_name}_{graph_name}",
                    f"{game_name} on {GRAPH_NAMES[graph_name]}",
                    make_config({"game": game, "graph": graph, "init": init}, steps=steps, runs=runs, base=BASE),
                    QUICK_THEORIES if quick else THEORIES,
                    varied={"game": game_name, "graph": graph},
                )
            )
    return result


def reproduce(out_dir, *, quick: bool = False, workers: int = 1, progress=None) -> dict:
    """Run the cross-validation into ``out_dir`` (one figure per game); returns the summary."""
    job = Reproduction(
        "crossval",
        "Cross-validation: a 3x3 commons game, a stag hunt with a degrading state and a random game, on random "
        "regular and Barabási–Albert graphs",
        out_dir,
        quick=quick,
        workers=workers,
        progress=progress,
        provenance=None,
    )
    job.note(
        "Games, initial Q and graphs are this reproduction's own design (not the paper's); every case uses "
        "N = 100, α = 0.001, β = 1, γ = 0.8 and independent N(0, 0.1²) noise on the initial Q of every agent. "
        f"The random game uses seed {RANDOM_GAME_SEED}; graphs use the run seed."
    )
    if quick:
        job.note("Quick mode leaves out the sde ensemble here; the full mode compares it too.")
    job.extra["games"] = {}
    results = job.run(cases(quick))
    for game_name, (make_game, _) in GAMES.items():
        payoff, transition, state_names, action_names = make_game()
        job.extra["games"][game_name] = {
            "states": state_names,
            "actions": action_names,
            "payoff": payoff.tolist(),
            "transition": transition.tolist(),
        }
        group = [results[f"{game_name}_{graph}"] for graph in GRAPHS]
        job.save_figure(_figure(game_name, group, state_names, action_names), f"crossval_{game_name}")
    return job.finish()


def _figure(game_name, group, state_names, action_names):
    n_states, n_actions = len(state_names), len(action_names)
    figure, axes = new_figure(len(group), 1 + n_states, width=4.0, height=3.5)
    for row, result in enumerate(group):
        datasets = {"simulation": result.simulation, **result.theories}
        plot_components(
            datasets,
            "state_fraction",
            [{"state": s} for s in range(n_states)],
            state_names,
            ax=axes[row, 0],
            legend_loc="below",
        )
        style_axes(axes[row, 0], title=f"{result.case.label}: edge states", ylabel="fraction of edges", legend=False)
        for state in range(n_states):
            ax = axes[row, 1 + state]
            plot_components(
                datasets,
                "policy",
                [{"state": state, "action": a} for a in range(n_actions)],
                action_names,
                ax=ax,
                colours=[f"C{4 + a}" for a in range(n_actions)],
                legend=state == 0,
                legend_loc="below",
            )
            style_axes(ax, title=f"policy in state '{state_names[state]}'", ylabel="P(action)", legend=False)
    runs = group[0].simulation.sizes["run"]
    figure.suptitle(
        f"Cross-validation, {game_name}: N = 100, α = 0.001, β = 1, γ = 0.8; "
        f"{runs} runs x {group[0].case.config.run.steps} steps (mean ± 1 std); theories dashed"
    )
    return figure
