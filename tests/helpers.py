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
