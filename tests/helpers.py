"""Helpers shared by the tests (imported as a module: ``from helpers import random_game``)."""

from __future__ import annotations

import numpy as np

from marldyn.games import Game


def random_game(n_states: int, n_actions: int, seed: int = 0) -> Game:
    """A random symmetric stochastic game: payoffs N(0, 1); transition rows Dirichlet, symmetrised."""
    rng = np.random.default_rng(seed)
    payoff = rng.normal(size=(n_states, n_actions, n_actions))
    raw = rng.dirichlet(np.ones(n_states), size=(n_states, n_actions, n_actions))
    transition = 0.5 * (raw + raw.transpose(0, 2, 1, 3))
    return Game(payoff, transition, name=f"random{n_states}x{n_actions}")


def learners_of(game: Game, alpha: float, beta: float, gamma: float, rule="q_learning", **options):
    """One type of the game's shape, as the simulation kernels take it (``Learners.uniform``); FAQ with
    faq_beta = 0.3 unless given, so that its scaling acts."""
    from marldyn.agents import Learners

    if rule == "faq":
        options.setdefault("faq_beta", 0.3)
    return Learners.uniform(game.n_states, game.n_actions, alpha, beta, gamma, rule, **options)


def one_type(graph) -> np.ndarray:
    """Every agent of ``graph`` of type 0."""
    return np.zeros(graph.n_agents, dtype=np.int64)


LEARNING_VARIANTS = {
    # name: the learning keywords of one variant (rule, policy and their parameters), as the theory functions take them
    "q_learning": {"rule": "q_learning"},
    "sarsa": {"rule": "sarsa"},
    "expected_sarsa": {"rule": "expected_sarsa"},
    "faq": {"rule": "faq", "faq_beta": 0.3},
    "greedy_q_learning": {"rule": "q_learning", "policy": "epsilon_greedy", "epsilon": 0.2},
    "greedy_sarsa": {"rule": "sarsa", "policy": "epsilon_greedy", "epsilon": 0.2},
    "greedy_expected_sarsa": {"rule": "expected_sarsa", "policy": "epsilon_greedy", "epsilon": 0.2},
    "greedy_faq": {"rule": "faq", "faq_beta": 0.3, "policy": "epsilon_greedy", "epsilon": 0.2},
}


def without_faq(variant: dict) -> dict:
    """A variant's keywords without ``faq_beta`` (for the TD moments, which FAQ's scaling does not change)."""
    return {key: value for key, value in variant.items() if key != "faq_beta"}
