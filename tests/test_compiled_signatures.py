"""One compiled signature per kernel: no payoff-shape or literal-constant variants (docs/design.md).

Each variant is a full numba compile (seconds each); these were compiled twice or three times before: the
simulation kernels and the theory cores for (state, action, action) and (state, action, action, state)
payoffs, and the callees of constants passed between compiled functions (``Literal[bool](True)``,
``Literal[int](0)``).
"""

from __future__ import annotations

import numpy as np
from numba.core import types

import marldyn
from marldyn.simulation import kernels
from marldyn.theory import euler_maruyama, homogeneous, markov, one_step


def _literal_free(dispatcher) -> bool:
    return all(not isinstance(t, types.Literal) for signature in dispatcher.signatures for t in signature)


def test_every_game_reaches_the_kernels_with_one_payoff_type():
    pd = marldyn.two_state_pd()
    next_state = marldyn.Game(np.repeat(pd.payoff[..., None], 2, axis=-1), pd.transition)
    assert pd.arrays()[0].shape == next_state.arrays()[0].shape == (2, 2, 2, 2)
    np.testing.assert_array_equal(pd.arrays()[0], next_state.arrays()[0])
    base = {"graph": {"n": 9}, "run": {"steps": 4, "runs": 1, "record_every": 2}}
    custom = {"name": "custom", "payoff": next_state.payoff.tolist(), "transition": pd.transition.tolist()}
    marldyn.simulate(base)
    marldyn.simulate({**base, "game": custom})
    assert kernels._run_steps_jit.signatures
    assert all(signature[3].ndim == 4 for signature in kernels._run_steps_jit.signatures)


def test_no_core_is_compiled_for_a_literal_constant():
    config = {"graph": {"n": 9}, "run": {"steps": 20, "runs": 2, "record_every": 10}}
    for method in ("reduced", "full-discrete", "particles", "sde", "sde-graph"):
        marldyn.predict(config, method)
    for dispatcher in (
        markov.stationary_into,
        markov.advance_edges,
        euler_maruyama.agent_step,
        homogeneous.reduced_rate_at,
        one_step.outcome_into,
        one_step.success_count_into,
    ):
        assert _literal_free(dispatcher), (dispatcher.py_func.__name__, dispatcher.signatures)
