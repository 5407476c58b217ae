"""What the Gaussian closure leaves out, measured on the simulation (docs/closure.md, section 5).

At several times of the paper's Figure 3 case (10 runs, every agent's Q recorded), take the simulated
population's own first two moments — the mean m, one agent's covariance C0 and two neighbours' C1 — and
compare what the exact population gives with what a Gaussian of those moments gives (the closure's terms,
:func:`marldyn.theory.closure.moment_terms`):

- the mean policy E[X] (the output);
- the mean drift E[μ] (dm/dt), the per-agent μ computed on the actual graph with each agent's actual
  neighbours (:func:`marldyn.theory.graph_sde.graph_moments`, stationary pairs);
- the drift's share of dC0/dt, 2 sym E[(Q_i - m) μ_iᵀ], against the closure's 2 sym (C0 Ā_selfᵀ + k C1 Ā_nbᵀ).

The differences are what the cumulants beyond the second are worth in each equation. Also printed: the
measured skewness and excess kurtosis across agents. Run from the repository root:
``python docs/closure_analysis.py`` (about a minute); the numbers go into docs/closure.md by hand.
"""

from __future__ import annotations

import sys
import warnings

import numpy as np
from scipy.stats import kurtosis, skew

import marldyn
from marldyn.theory.closure import gaussian_mean_policy, moment_terms
from marldyn.theory.graph_sde import graph_moments

TIMES = (2000, 4000, 6000, 8000, 10000, 12000, 16000, 20000)


def main() -> int:
    config = marldyn.load_config("examples/pd_lattice.toml")
    game, graph = config.build_game(), config.build_graph()
    learning = config.learning
    parameters = dict(alpha=learning.alpha, beta=learning.beta, gamma=learning.gamma)
    simulation = marldyn.simulate(config, snapshots=True, progress=False)
    edges = np.asarray(graph.edges)
    k = int(graph.degree[0])
    rows = []
    for t in TIMES:
        q = simulation.agent_q.sel(time=t).values  # (run, agent, state, action)
        runs, agents = q.shape[:2]
        flat = q.reshape(runs, agents, -1)
        mean = flat.mean(axis=(0, 1))
        deviation = flat - mean
        own = np.einsum("rai,raj->ij", deviation, deviation) / (runs * agents)
        pair = np.einsum("rei,rej->ij", deviation[:, edges[:, 0]], deviation[:, edges[:, 1]]) / (runs * len(edges))
        neighbor = 0.5 * (pair + pair.T)
        policy = marldyn.policy.boltzmann(q, learning.beta).reshape(runs * agents, -1).mean(axis=0)
        gaussian_policy = gaussian_mean_policy(mean.reshape(game.n_states, -1), own, learning.beta).ravel()
        mu = np.stack([graph_moments(q[r], graph, game, **parameters)["mu"].reshape(agents, -1) for r in range(runs)])
        drift = mu.mean(axis=(0, 1))
        spread_rate = np.einsum("rai,raj->ij", deviation, mu - drift) / (runs * agents)
        spread_rate = spread_rate + spread_rate.T
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            terms = moment_terms(mean, own, neighbor, game, k, **parameters)
        stein = own @ terms["jacobian_self"].T + k * neighbor @ terms["jacobian_neighbor"].T
        stein = stein + stein.T
        # Third order, per entry i along its own axis: 2 E[(x - m) μ(x)] gains κ3 E[∂²μ_i/∂Q_i²]; E[∂²μ/∂Q²] is
        # ∂Ā_self[i, i]/∂m_i (the Gaussian smoothing identity), by a central difference of the closure's terms.
        third = np.zeros(4)
        for i in range(4):
            step = np.zeros(4)
            step[i] = 1e-3
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                up = moment_terms(mean + step, own, neighbor, game, k, **parameters)["jacobian_self"][i, i]
                down = moment_terms(mean - step, own, neighbor, game, k, **parameters)["jacobian_self"][i, i]
            curvature = (up - down) / 2e-3
            third[i] = np.mean(deviation[..., i] ** 3) * curvature
        within = deviation - deviation.mean(axis=1, keepdims=True)
        rows.append(
            {
                "t": t,
                "policy": policy[[0, 2]],
                "gaussian_policy": gaussian_policy[[0, 2]],
                "drift": drift,
                "gaussian_drift": terms["drift"],
                "spread": np.diag(spread_rate),
                "gaussian_spread": np.diag(stein),
                "third": np.diag(stein) + third,
                "skew": skew(within.reshape(-1, 4), axis=0),
                "kurtosis": kurtosis(within.reshape(-1, 4), axis=0),
            }
        )
    print(
        "| t | X(C|s1) sim / Gaussian | X(C|s2) sim / Gaussian | dm/dt of Q(s1,C), Q(s2,C): sim / Gaussian (1e-4) "
        "| drift part of dVar/dt of Q(s1,C), Q(s2,C): sim / Gaussian / + 3rd order (1e-4) "
        "| skewness, excess kurtosis of Q(s1,C) |"
    )
    print("|---|---|---|---|---|---|")
    for row in rows:
        p, g = row["policy"], row["gaussian_policy"]
        d, gd = row["drift"] * 1e4, row["gaussian_drift"] * 1e4
        s, gs, g3 = row["spread"] * 1e4, row["gaussian_spread"] * 1e4, row["third"] * 1e4
        print(
            f"| {row['t']:,} | {p[0]:.4f} / {g[0]:.4f} | {p[1]:.4f} / {g[1]:.4f} "
            f"| {d[0]:.3f} / {gd[0]:.3f}, {d[2]:.3f} / {gd[2]:.3f} "
            f"| {s[0]:+.3f} / {gs[0]:+.3f} / {g3[0]:+.3f}, {s[2]:+.3f} / {gs[2]:+.3f} / {g3[2]:+.3f} "
            f"| {row['skew'][0]:+.2f}, {row['kurtosis'][0]:+.1f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
