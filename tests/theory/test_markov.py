"""Edge-state Markov chain: λ (eq. 12), master-equation step and stationary distribution (eq. 18)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from marldyn.errors import ConfigError
from marldyn.games import two_state_pd
from marldyn.theory.markov import edge_transition_matrix, master_equation_step, stationary_distribution


def test_edge_transition_matrix_of_the_prisoners_dilemma_by_hand():
    p1, p2 = 0.7, 0.2
    game = two_state_pd(p=(p1, p2))
    policy = np.array([[0.9, 0.1], [0.3, 0.7]])  # cooperation 0.9 in s1, 0.3 in s2
    neighbor = np.array([[0.6, 0.4], [0.5, 0.5]])
    matrix = edge_transition_matrix(policy, neighbor, game.transition)
    both = np.array([0.9 * 0.6, 0.3 * 0.5])  # P(both cooperate) in s1, s2
    to_s1 = both * p1 + (1 - both) * p2
    np.testing.assert_allclose(matrix, np.stack([to_s1, 1 - to_s1], axis=1), rtol=0, atol=1e-15)


def test_edge_transition_matrix_is_batched_and_broadcasts():
    rng = np.random.default_rng(3)
    game = two_state_pd()
    policies = rng.dirichlet(np.ones(2), size=(5, 2))  # (5, state, action)
    neighbor = rng.dirichlet(np.ones(2), size=2)  # (state, action), broadcast
    batched = edge_transition_matrix(policies, neighbor, game.transition)
    assert batched.shape == (5, 2, 2)
    for n in range(5):
        np.testing.assert_allclose(batched[n], edge_transition_matrix(policies[n], neighbor, game.transition))
    np.testing.assert_allclose(batched.sum(axis=-1), 1.0, atol=1e-14)


def test_edge_transition_matrix_rejects_mismatched_shapes():
    with pytest.raises(ConfigError):
        edge_transition_matrix(np.full((3, 2), 0.5), np.full((3, 2), 0.5), two_state_pd().transition)


@pytest.mark.parametrize(("leave", "enter"), [(0.3, 0.2), (0.05, 0.9), (1.0, 1.0), (1e-12, 0.5)])
def test_stationary_distribution_of_two_state_chains(leave, enter):
    # λ = [[1 - a, a], [b, 1 - b]]  ->  p* = (b, a) / (a + b)
    matrix = np.array([[1 - leave, leave], [enter, 1 - enter]])
    expected = np.array([enter, leave]) / (leave + enter)
    np.testing.assert_allclose(stationary_distribution(matrix), expected, rtol=1e-13)


def test_stationary_distribution_of_a_periodic_chain_is_the_time_average():
    cycle = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    stationary = stationary_distribution(cycle)
    np.testing.assert_allclose(stationary, np.full(3, 1 / 3), rtol=1e-14)
    # The master equation oscillates forever, but its time average converges to p*.
    distribution = np.array([1.0, 0.0, 0.0])
    history = []
    for _ in range(300):
        history.append(distribution)
        distribution = master_equation_step(distribution, cycle)
    np.testing.assert_allclose(history[3], history[0])
    np.testing.assert_allclose(np.mean(history, axis=0), stationary, atol=1e-12)


def test_stationary_distribution_with_transient_states_and_one_closed_class():
    matrix = np.array([[0.5, 0.5, 0.0], [0.0, 0.2, 0.8], [0.0, 0.6, 0.4]])
    expected = np.array([0.0, 0.6, 0.8]) / 1.4
    np.testing.assert_allclose(stationary_distribution(matrix), expected, rtol=1e-14)
    # ``initial`` is irrelevant when there is one closed class.
    np.testing.assert_allclose(stationary_distribution(matrix, initial=[1, 0, 0]), expected, rtol=1e-14)


def test_stationary_distribution_of_a_reducible_chain_needs_and_uses_the_initial_distribution():
    # States 0 and 3 absorbing; from 1: to 0 w.p. 0.3, stay 0.4, to 2 w.p. 0.3; {2} -> 3.
    matrix = np.array([[1.0, 0.0, 0.0, 0.0], [0.3, 0.4, 0.3, 0.0], [0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 1.0]])
    with pytest.raises(ConfigError, match="initial"):
        stationary_distribution(matrix)
    np.testing.assert_allclose(stationary_distribution(matrix, initial=[0, 1, 0, 0]), [0.5, 0, 0, 0.5], atol=1e-15)
    np.testing.assert_allclose(
        stationary_distribution(matrix, initial=[0.2, 0.5, 0.1, 0.2]), [0.45, 0, 0, 0.55], atol=1e-15
    )
    # The Cesàro limit of the master equation from the same start.
    distribution = np.array([0.2, 0.5, 0.1, 0.2])
    for _ in range(200):
        distribution = master_equation_step(distribution, matrix)
    np.testing.assert_allclose(distribution, [0.45, 0, 0, 0.55], atol=1e-12)


def test_stationary_distribution_of_two_closed_cycles():
    swap = np.array([[0.0, 1.0], [1.0, 0.0]])
    matrix = np.zeros((4, 4))
    matrix[:2, :2] = swap
    matrix[2:, 2:] = [[0.9, 0.1], [0.3, 0.7]]
    result = stationary_distribution(matrix, initial=[0.25, 0.25, 0.5, 0.0])
    np.testing.assert_allclose(result, [0.25, 0.25, 0.375, 0.125], atol=1e-15)


def test_stationary_distribution_is_batched_with_mixed_structures():
    chains = np.array(
        [
            [[0.7, 0.3], [0.2, 0.8]],
            [[1.0, 0.0], [0.0, 1.0]],  # two closed classes
            [[0.0, 1.0], [1.0, 0.0]],  # periodic
            [[1.0, 0.0], [0.4, 0.6]],  # absorbing
        ]
    )
    result = stationary_distribution(chains, initial=[0.3, 0.7])
    np.testing.assert_allclose(result, [[0.4, 0.6], [0.3, 0.7], [0.5, 0.5], [1.0, 0.0]], atol=1e-15)


def test_stationary_distribution_is_accurate_for_nearly_reducible_chains():
    tiny = 1e-200
    matrix = np.array([[1 - tiny, tiny], [0.5, 0.5]])
    result = stationary_distribution(matrix)
    assert result[0] == 1.0 and 0 < result[1] < 1e-199


def test_transient_state_whose_only_exit_underflows_the_diagonal():
    """λ_44 = 1 - 2.5e-308 rounds to 1.0: the absorption solve must still see the exit (hypothesis found it)."""
    matrix = np.eye(5)
    matrix[4, 0] = 2.5e-308  # state 4 is transient and drains into the closed class {0}
    result = stationary_distribution(matrix, initial=np.full(5, 0.2))
    np.testing.assert_allclose(result, [0.4, 0.2, 0.2, 0.2, 0.0])


def test_stationary_distribution_rejects_non_stochastic_matrices():
    with pytest.raises(ConfigError):
        stationary_distribution([[0.5, 0.6], [0.5, 0.5]])
    with pytest.raises(ConfigError):
        stationary_distribution([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def test_master_equation_step_is_the_exact_one_step_map_of_the_edge_state_distribution():
    rng = np.random.default_rng(7)
    game = two_state_pd()
    policy = rng.dirichlet(np.ones(2), size=2)
    matrix = edge_transition_matrix(policy, policy, game.transition)
    distribution = np.array([0.5, 0.5])
    expected = np.array([sum(distribution[s] * matrix[s, t] for s in range(2)) for t in range(2)])
    np.testing.assert_allclose(master_equation_step(distribution, matrix), expected, rtol=1e-15)
    # Batched: distributions (batch, state) against one matrix.
    batch = rng.dirichlet(np.ones(2), size=4)
    np.testing.assert_allclose(master_equation_step(batch, matrix), batch @ matrix, rtol=1e-15)


@st.composite
def stochastic_matrices(draw):
    size = draw(st.integers(1, 5))
    weights = draw(
        arrays(np.float64, (size, size), elements=st.floats(0.0, 1.0, allow_nan=False, allow_subnormal=False))
    )
    weights = weights + np.eye(size) * (weights.sum(axis=1, keepdims=True) == 0)
    return weights / weights.sum(axis=1, keepdims=True)


@settings(max_examples=40, deadline=None)
@given(stochastic_matrices(), st.data())
def test_stationary_distribution_is_a_probability_vector_fixed_by_the_matrix(matrix, data):
    size = matrix.shape[0]
    initial = data.draw(arrays(np.float64, size, elements=st.floats(0.01, 1.0)))
    initial = initial / initial.sum()
    result = stationary_distribution(matrix, initial=initial)
    assert np.all(result >= 0)
    np.testing.assert_allclose(result.sum(), 1.0, atol=1e-12)
    np.testing.assert_allclose(result @ matrix, result, atol=1e-10)
