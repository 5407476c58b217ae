"""ε-greedy, FAQ and agent types in the theories (issue 13): closed forms, switching, types as classes."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy.integrate import solve_ivp

import marldyn
from marldyn.errors import ConfigError
from marldyn.games import Game, two_state_pd
from marldyn.policy import boltzmann
from marldyn.theory import Closure, Particles
from marldyn.theory.homogeneous import solve_full, solve_full_discrete, solve_reduced
from marldyn.theory.particles import solve_particles

PD = two_state_pd()
GREEDY = dict(policy="epsilon_greedy", epsilon=0.1)
PARAMETERS = dict(degree=4, alpha=0.01, beta=1.0, gamma=0.8)


def test_faq_reduced_theory_is_the_replicator_mutator_ode():
    """One state, γ = 0, every X(a) above faq_beta: FAQ's reduced point mass moves X by Kaisers & Tuyls'
    replicator-mutator equation ẋ_a = α' x_a [β (r_a - x·r) - ln x_a + Σ_b x_b ln x_b], α' = α faq_beta,
    r_a = Σ_b x_b U(a, b) (the neighbour plays the point mass's own policy)."""
    payoff = np.array([[[3.0, 0.0], [5.0, 1.0]]])  # a prisoner's dilemma in one state
    game = Game(payoff, np.ones((1, 2, 2, 1)))
    alpha, beta, faq_beta = 0.1, 0.5, 0.01
    q0 = np.array([[0.4, -0.3]])
    grid = np.linspace(0.0, 4000.0, 9)
    faq = solve_reduced(q0, game, grid, degree=3, alpha=alpha, beta=beta, gamma=0.0, rule="faq", faq_beta=faq_beta)
    assert faq.policy.min() > 5 * faq_beta  # min(faq_beta / X, 1) = faq_beta / X throughout

    def replicator_mutator(_, x):
        r = payoff[0] @ x
        log_x = np.log(x)
        return alpha * faq_beta * x * (beta * (r - x @ r) - log_x + x @ log_x)

    x = solve_ivp(replicator_mutator, (0.0, grid[-1]), boltzmann(q0, beta)[0], t_eval=grid, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(faq.policy[:, 0], x.y.T, rtol=1e-7, atol=1e-9)
    assert abs(faq.policy[-1, 0, 0] - faq.policy[0, 0, 0]) > 0.05  # the policy moved


@pytest.mark.parametrize("solver", [solve_reduced, solve_full_discrete])
def test_epsilon_one_is_uniform_play_in_the_theory(solver):
    q0 = [[0.5, 0.0], [0.0, 0.5]]
    grid = np.arange(0, 2001, 500)
    greedy = solver(q0, PD, grid, **PARAMETERS | {"beta": 1.0}, policy="epsilon_greedy", epsilon=1.0)
    uniform = solver(q0, PD, grid, **PARAMETERS | {"beta": 0.0})
    np.testing.assert_array_equal(greedy.policy, 0.5)
    np.testing.assert_allclose(greedy.q, uniform.q, rtol=1e-7, atol=1e-9)  # the switching restarts at (idle) ties


def test_sliding_keeps_the_tie_and_agrees_with_the_step_map():
    """From this table state s2 reaches the surface Q(s2, C) = Q(s2, D) with both sides pushing in: the reduced
    theory slides on it (the tie is kept, X(s2) a mixture); the one-step map chatters around the same path."""
    q0 = [[0.0, 0.3], [0.2, 0.0]]
    grid = np.arange(0, 20001, 2000)
    reduced = solve_reduced(q0, PD, grid, **PARAMETERS, **GREEDY)
    discrete = solve_full_discrete(q0, PD, grid, **PARAMETERS, **GREEDY)
    full = solve_full(q0, PD, grid, **PARAMETERS, **GREEDY)
    assert abs(reduced.q[-1, 1, 0] - reduced.q[-1, 1, 1]) < 1e-7  # on the surface
    assert 0.05 + 1e-3 < reduced.policy[-1, 1, 0] < 0.95 - 1e-3  # a strict mixture of the two greedy policies
    np.testing.assert_allclose(reduced.q[-1], discrete.q[-1], atol=5e-3)  # O(α) apart
    np.testing.assert_allclose(full.q[-1], reduced.q[-1], atol=2e-3)
    np.testing.assert_allclose(reduced.policy.sum(axis=-1), 1.0, rtol=1e-12)


def test_crossing_without_sliding_matches_the_step_map():
    q0 = [[0.5, 0.0], [0.0, 0.5]]
    grid = np.arange(0, 20001, 4000)
    reduced = solve_reduced(q0, PD, grid, **PARAMETERS, **GREEDY)
    discrete = solve_full_discrete(q0, PD, grid, **PARAMETERS, **GREEDY)
    np.testing.assert_allclose(reduced.q, discrete.q, atol=0.02)
    assert reduced.policy[-1, 1, 0] == pytest.approx(0.05)  # s2 switched to defection


def test_initial_ties_are_resolved_or_refused():
    """A tie the drift leaves on one side only starts in that region; a tie it leaves on both is refused."""
    resolved = solve_reduced([[1.0, 1.0], [0.0, 0.5]], PD, [0, 1000], **PARAMETERS, **GREEDY)
    assert resolved.policy[-1, 0, 0] == pytest.approx(0.95)
    with pytest.raises(ConfigError, match=r"^ε-greedy: the initial Q ties actions \[0, 1\] in unit 0"):
        solve_reduced([[0.0, 0.0], [0.0, 0.0]], PD, [0, 100], **PARAMETERS, **GREEDY)
    discrete = solve_full_discrete([[0.0, 0.0], [0.0, 0.0]], PD, [0, 100], **PARAMETERS, **GREEDY)
    np.testing.assert_array_equal(discrete.policy[0], 0.5)  # the step map shares the greedy mass at ties


def test_committed_particles_never_move_and_identical_types_change_nothing():
    game = PD
    config = {
        "graph": {"n": 36},
        "init": {"q": [[0.5, 0.0], [0.0, 0.5]], "q_noise": 0.2},
        "learning": {"alpha": 0.05},
        "run": {"steps": 400, "runs": 3, "record_every": 100},
    }
    twins = {**config, "agent_types": [{"name": "twin", "fraction": 0.5}]}
    for method in ("sde", "sde-graph"):
        xr_plain, xr_twins = marldyn.predict(config, method), marldyn.predict(twins, method)
        np.testing.assert_array_equal(xr_plain.q.values, xr_twins.q.values)
    np.testing.assert_allclose(
        marldyn.predict(twins, "full-discrete").q.values, marldyn.predict(config, "full-discrete").q.values, atol=1e-12
    )
    np.testing.assert_allclose(
        marldyn.predict(twins, "reduced").q.values,
        marldyn.predict(config, "reduced").q.values,
        rtol=1e-3,  # RK45 vs DOP853
    )
    zealots = {**config, "agent_types": [{"name": "z", "fraction": 0.25, "fixed_policy": [[1.0, 0.0], [1.0, 0.0]]}]}
    cfg = marldyn.parse_config(zealots)
    typed = cfg.learners(game, 36)
    q0 = np.broadcast_to([[0.5, 0.0], [0.0, 0.5]], (8, 2, 2)).copy()
    kind = np.array([0] * 6 + [1] * 2)
    result = solve_particles(
        q0, game, [0, 50, 100], degree=np.full(8, 4), learners=typed, particle_type=kind, timescale="full"
    )
    np.testing.assert_array_equal(result.particle_q[:, 6:], np.broadcast_to(q0[6:], (3, 2, 2, 2)))
    assert not np.array_equal(result.particle_q[-1, :6], q0[:6])


@pytest.mark.parametrize(
    "extra, method, match",
    [
        (
            {"learning": {"policy": "epsilon_greedy", "epsilon": 0.1}},
            Closure(timescale="full"),
            r"^the ε-greedy closure has the reduced time scale only",
        ),
    ],
)
def test_closure_refuses_epsilon_greedy_on_the_full_time_scale(extra, method, match):
    with pytest.raises(ConfigError, match=match):
        marldyn.predict({"graph": {"n": 16}, **extra}, method)


def test_closure_with_every_agent_committed_is_a_one_line_error():
    everyone = [{"name": "zealots", "fraction": 1.0, "fixed_policy": [[1.0, 0.0], [1.0, 0.0]]}]
    with pytest.raises(ConfigError, match="every agent is committed"):
        marldyn.predict({"graph": {"n": 16}, "agent_types": everyone}, "closure")


@pytest.mark.parametrize("method", ["reduced", "full-discrete", "particles", "sde", "sde-graph"])
def test_theories_give_each_types_means_like_the_simulator(method):
    """policy_by_type and q_by_type: the simulator's names and coordinate; the committed type's policy is its
    table; the type means weighted by the types' shares are the population mean."""
    config = {
        "graph": {"n": 36},
        "init": {"q": [[0.5, 0.0], [0.0, 0.5]], "q_noise": 0.2},
        "learning": {"alpha": 0.05},
        "run": {"steps": 200, "runs": 2, "record_every": 100},
        "agent_types": [
            {"name": "z", "fraction": 0.25, "fixed_policy": [[1.0, 0.0], [0.0, 1.0]]},
            {"name": "slow", "fraction": 0.25, "alpha": 0.01},
        ],
    }
    simulated, predicted = marldyn.simulate(config), marldyn.predict(config, method)
    assert (
        predicted["agent_type"].values.tolist() == simulated["agent_type"].values.tolist() == ["default", "z", "slow"]
    )
    assert predicted["policy_by_type"].dims[-3:] == ("agent_type", "state", "action")
    committed = predicted["policy_by_type"].sel(agent_type="z")
    np.testing.assert_allclose(committed, np.broadcast_to([[1.0, 0.0], [0.0, 1.0]], committed.shape))
    shares = xr.DataArray([0.5, 0.25, 0.25], dims="agent_type")  # round(0.25 * 36) = 9 agents of each type
    for name in ("policy", "q"):
        mixed = (predicted[f"{name}_by_type"] * shares).sum("agent_type")
        np.testing.assert_allclose(mixed, predicted[name], rtol=1e-12, atol=1e-12)
    # the slow learners have moved less from the start than the default ones
    moved = abs(predicted["q_by_type"].isel(time=-1) - predicted["q_by_type"].isel(time=0))
    if "run" in moved.dims:
        moved = moved.mean("run")
    assert float(moved.sel(agent_type="slow").sum()) < float(moved.sel(agent_type="default").sum())


def test_reduced_epsilon_greedy_particles_are_refused_with_the_alternatives():
    config = {"graph": {"n": 16}, "learning": {"policy": "epsilon_greedy", "epsilon": 0.1}}
    with pytest.raises(ConfigError, match=r"use the full time scale"):
        marldyn.predict(config, "particles")
    assert marldyn.predict(config, Particles(n=8, timescale="full")).policy.shape[-2:] == (2, 2)
