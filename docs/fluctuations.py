"""Regenerate the numbers and figures of docs/fluctuations.md (issue 8: fluctuations on the graph).

Usage::

    python docs/fluctuations.py [STAGE ...] [--cache DIR] [--workers N]

Stages (default: all, in this order):

- ``fig3``    the Figure 3 case: simulation vs ``sde-graph`` (dt = 1 and 10, both time scales) vs the same
              equations without noise, vs the particle and point-mass theories;
- ``timing``  ``sde-graph`` on a 100 x 100 lattice (N = 1e4), 2e4 steps, dt = 1 and dt = 10;
- ``dt``      the error of a larger Euler step on the stationary covariance (theory);
- ``blocks``  the one-step noise blocks against single simulator steps (4x4 lattice, irregular graph);
- ``counts``  edge counts per agent at Q* in the edge chain (correlated) vs i.i.d. edge states;
- ``lna``     the acceptance case: PD, 10 x 10 lattice, α = 1e-3, at the mixed fixed point (40 runs of
              1.06e6 steps; the heavy one);
- ``alpha``   LNA / coupled-without-correlations / independent OU / simulation across α = 1e-4 ... 1e-1;
- ``degree``  the same across the degree (ring, random regular 3, 6, 8, 16, lattice) at α = 3e-3 and 1e-2;
- ``agents``  the LNA at per-agent fixed points (``marldyn.theory.agent_lna``): two committed cooperators on
              the 4 x 4 lattice, α = 1e-3 and 2.5e-4, per-agent means and variances vs the simulation;
- ``figures`` docs/figures/fluctuations_{fig3,alpha,degree}.png from the cached results.

Simulations and summaries are cached in ``--cache`` (default ``$TMPDIR/marldyn_fluctuations``), so each
heavy run happens once; delete the directory to redo them. Printed tables are the ones in the docs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
FIGURES = HERE / "figures"
ENTRIES = ["Q(s1,C)", "Q(s1,D)", "Q(s2,C)", "Q(s2,D)"]
PARAMETERS = dict(beta=1.0, gamma=0.8)
STAGES = ["fig3", "timing", "dt", "blocks", "counts", "lna", "alpha", "degree", "agents", "figures"]


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------
def base_config(alpha=1e-3, steps=20_000, runs=10, record_every=100, seed=0):
    """examples/pd_lattice.toml (the Figure 3 case) with another α and [run] section."""
    from marldyn.config import parse_config

    config = parse_config(__import__("tomllib").loads((HERE.parent / "examples" / "pd_lattice.toml").read_text()))
    data = config.model_dump(exclude_none=True)
    data["learning"]["alpha"] = alpha
    data["run"].update(steps=steps, runs=runs, record_every=record_every, seed=seed)
    return parse_config(data)


def q_star():
    from marldyn.games import two_state_pd
    from marldyn.theory import lna

    return lna.fixed_point(np.zeros((2, 2)), two_state_pd(), **PARAMETERS)


def cached(cache: Path, name: str, compute):
    """Load ``name`` (.nc or .json) from the cache, or compute and store it."""
    path = cache / name
    if path.exists():
        if path.suffix == ".json":
            return json.loads(path.read_text())
        import xarray as xr

        return xr.load_dataset(path)
    value = compute()
    if path.suffix == ".json":
        path.write_text(json.dumps(value, indent=1))
    else:
        value.to_netcdf(path)
    return value


def stationary_statistics(dataset, burn):
    """Within-run across-agent variance (time mean of q_std²) and variance of the population mean Q̄ (about
    the grand mean), per run, then mean ± standard error over the independent runs; entries in row-major
    (state, action) order. Also the shift of the grand mean from Q*."""
    part = dataset.sel(time=slice(burn, None))
    within = (part["q_std"] ** 2).mean("time").values.reshape(part.sizes["run"], -1)
    mean_q = part["q"].values.reshape(part.sizes["run"], part.sizes["time"], -1)
    grand = mean_q.mean(axis=(0, 1))
    spread = ((mean_q - grand) ** 2).mean(axis=1)
    runs = within.shape[0]
    return {
        "within": within.mean(axis=0).tolist(),
        "within_se": (within.std(axis=0, ddof=1) / np.sqrt(runs)).tolist(),
        "mean": spread.mean(axis=0).tolist(),
        "mean_se": (spread.std(axis=0, ddof=1) / np.sqrt(runs)).tolist(),
        "grand_mean": grand.tolist(),
        "grand_mean_se": (mean_q.mean(axis=1).std(axis=0, ddof=1) / np.sqrt(runs)).tolist(),
        "runs": int(runs),
        "samples_after_burn": int(part.sizes["time"]),
    }


def lna_summary(graph, alpha):
    from marldyn.games import two_state_pd
    from marldyn.theory import lna

    game = two_state_pd()
    point = q_star()
    full = lna.solve_lna(point, game, graph, alpha=alpha, **PARAMETERS)
    coupled = lna.solve_lna(point, game, graph, alpha=alpha, correlations=False, **PARAMETERS)
    return {
        "within": np.diag(full.within_covariance).tolist(),
        "mean": np.diag(full.mean_covariance).tolist(),
        "within_uncorrelated": np.diag(coupled.within_covariance).tolist(),
        "mean_uncorrelated": np.diag(coupled.mean_covariance).tolist(),
        "within_ou": np.diag(full.independent["within_covariance"]).tolist(),
        "mean_ou": np.diag(full.independent["mean_covariance"]).tolist(),
        "policy_std": full.policy_std.ravel().tolist(),
        "relaxation_time": full.relaxation_time,
        "route": full.route,
    }


def design(tau, alpha):
    """Burn-in 4 τ, then 40 τ (25 τ at α = 1e-4), records every τ/20 (τ: slowest relaxation time, steps)."""
    burn = int(4 * tau)
    length = int((25 if alpha <= 1e-4 else 40) * tau)
    every = max(int(tau / 20), 5)
    steps = (burn + length) // every * every + every
    return burn, steps, every


def table(rows, header):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def ratio_text(value, se, reference):
    return f"{value / reference:.3f} ± {se / reference:.3f}"


# ----------------------------------------------------------------------------------------------
# stages
# ----------------------------------------------------------------------------------------------
def stage_fig3(cache, workers):
    import marldyn
    from marldyn.simulation.runner import initial_state, make_problem, record_times, run_streams
    from marldyn.theory.entry import theory
    from marldyn.theory.graph_sde import solve_graph_sde

    config = base_config()
    simulation = cached(cache, "fig3_sim.nc", lambda: marldyn.simulate(config, workers=workers, progress=False))
    results, seconds = {}, {}
    for timescale in ("reduced", "full"):
        for dt in (1.0, 10.0):
            name = f"fig3_sdegraph_{timescale}_dt{int(dt)}.nc"
            start = time.perf_counter()
            results[(timescale, dt)] = cached(
                cache, name, lambda t=timescale, d=dt: theory(config, "sde-graph", timescale=t, dt=d, progress=False)
            )
            seconds[(timescale, dt)] = time.perf_counter() - start

    def deterministic():
        import xarray as xr

        game, graph = config.build_game(), config.build_graph()
        grid = record_times(config.run.steps, config.run.record_every)
        problem = make_problem(config, game, graph)
        streams = run_streams(config.run.seed, config.run.runs)
        q0 = np.stack([initial_state(problem, stream[0])[0] for stream in streams])
        run = solve_graph_sde(q0, game, graph, grid, noise=False, dt=1.0, progress=False, alpha=1e-3, **PARAMETERS)
        dims = ("run", "time", "state", "action")
        return xr.Dataset(
            {"policy": (dims, run.policy), "q": (dims, run.q), "q_std": (dims, run.q_std)},
            coords={"time": grid},
        )

    results["deterministic"] = cached(cache, "fig3_deterministic.nc", deterministic)
    results["particles"] = cached(cache, "fig3_particles.nc", lambda: theory(config, "particles"))
    results["reduced"] = cached(cache, "fig3_reduced.nc", lambda: theory(config, "reduced"))
    cooperation = simulation["policy"].sel(action=0)
    sim_mean = cooperation.mean("run")
    sim_se = cooperation.std("run") / np.sqrt(cooperation.sizes["run"])
    rows = []
    for key, label in [
        (("reduced", 1.0), "sde-graph, reduced, dt = 1"),
        (("full", 1.0), "sde-graph, full, dt = 1"),
        (("reduced", 10.0), "sde-graph, reduced, dt = 10"),
        (("full", 10.0), "sde-graph, full, dt = 10"),
        ("deterministic", "the same equations without noise (reduced, dt = 1)"),
        ("particles", "particles (pair approximation, P = 100)"),
        ("reduced", "point mass, reduced"),
    ]:
        policy = results[key]["policy"].sel(action=0)
        if "run" in policy.dims:
            policy = policy.mean("run")
        gap = np.abs(policy - sim_mean)
        worst = gap.max("time").values
        when = sim_mean["time"].values[gap.argmax("time").values]
        rows.append([label] + [f"{worst[s]:.4f} (t = {int(when[s])})" for s in range(2)])
    rows.append(["(simulation: largest standard error of the 10-run mean)"] + [f"{v:.4f}" for v in sim_se.max("time")])
    print("\n### Figure 3 case: largest |cooperation(theory) - cooperation(simulation)| over 20,000 steps\n")
    print(table(rows, ["theory", "s1", "s2"]))
    spread_rows = []
    for t in (2000, 5000, 10000, 20000):
        row = [t, np.round(simulation["q_std"].sel(time=t).mean("run").values.ravel(), 3).tolist()]
        row.append(np.round(results[("reduced", 1.0)]["q_std"].sel(time=t).mean("run").values.ravel(), 3).tolist())
        row.append(np.round(results["deterministic"]["q_std"].sel(time=t).mean("run").values.ravel(), 3).tolist())
        spread_rows.append(row)
    print("\n### Across-agent spread q_std (Q(s1,C), Q(s1,D), Q(s2,C), Q(s2,D)), mean over runs\n")
    print(table(spread_rows, ["t", "simulation", "sde-graph (dt = 1)", "without noise"]))
    print("\nseconds (0 if cached):", {f"{k[0]}/dt={k[1]}": round(v, 1) for k, v in seconds.items()})


def stage_timing(cache, workers):
    from marldyn.games import two_state_pd
    from marldyn.graphs import lattice
    from marldyn.theory.graph_sde import solve_graph_sde

    def measure():
        graph = lattice(10_000)
        start = np.array([[0.5, 0.0], [0.0, 0.5]]) + 0.1 * np.random.default_rng(0).normal(size=(1, 10_000, 2, 2))
        kwargs = dict(alpha=1e-3, progress=False, **PARAMETERS)
        solve_graph_sde(start, two_state_pd(), graph, [0, 2], **kwargs)  # compile
        out = {}
        for dt in (1.0, 10.0):
            wall, cpu = time.perf_counter(), time.process_time()
            solve_graph_sde(start, two_state_pd(), graph, np.arange(0, 20_001, 100), dt=dt, **kwargs)
            out[str(dt)] = {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}
        return out

    result = cached(cache, "timing.json", measure)
    print("\n### sde-graph, N = 1e4 (100 x 100 lattice), 2e4 steps, one member, one thread\n")
    print(table([[dt, f"{v['wall']:.1f}", f"{v['cpu']:.1f}"] for dt, v in result.items()], ["dt", "wall s", "CPU s"]))


def stage_dt(cache, workers):
    """Stationary covariance of the Euler–Maruyama map with step h: C = (I + hJ) C (I + hJ)ᵀ + h D."""
    from scipy.linalg import solve_discrete_lyapunov

    from marldyn.games import two_state_pd
    from marldyn.theory import lna

    game = two_state_pd()
    point = q_star()
    rows = []
    for alpha in (1e-3, 1e-2):
        j_self, j_nb = lna.jacobian_blocks(point, game, 4, alpha=alpha, **PARAMETERS)
        sigma = lna.noise_blocks(point, game, 4, alpha=alpha, **PARAMETERS)["self"]
        wave = 2 * np.pi * np.arange(10) / 10
        eigenvalues = (2 * np.cos(wave)[:, None] + 2 * np.cos(wave)[None, :]).ravel()

        def within(h, j_self=j_self, j_nb=j_nb, sigma=sigma, eigenvalues=eigenvalues):
            modes = [solve_discrete_lyapunov(np.eye(4) + h * (j_self + lam * j_nb), h * sigma) for lam in eigenvalues]
            total = np.sum(modes, axis=0) / 100
            return np.diag(total - modes[0] / 100)

        exact = within(1.0)
        for h in (2.0, 10.0, 50.0):
            rows.append([alpha, h, np.round(within(h) / exact - 1, 4).tolist(), f"{alpha * h:.3f}"])
    print("\n### Euler step h: relative change of the stationary within-run variance vs h = 1 (sde-graph)\n")
    print(table(rows, ["α", "dt", "Var_h / Var_1 - 1 (4 entries)", "α·dt"]))


def stage_blocks(cache, workers):
    sys.path.insert(0, str(HERE.parent / "tests" / "theory"))
    sys.path.insert(0, str(HERE.parent / "tests"))
    from test_lna import GRAPHS, single_steps

    from marldyn.games import two_state_pd
    from marldyn.theory import lna

    def compute():
        point = q_star()
        out = {}
        for name, graph in GRAPHS.items():
            samples = single_steps(point, graph, 0.5, "q_learning", copies=4000, repeats=75, seed=5)
            count = samples.shape[0]
            centred = samples - samples.mean(axis=0)
            estimate = centred.T @ centred / count
            error = np.sqrt(np.maximum((centred**2).T @ (centred**2) / count - estimate**2, 0.0) / count)
            _, noise = lna.dense_matrices(point, two_state_pd(), graph, alpha=0.5, **PARAMETERS)
            n = graph.n_agents
            adjacency = np.zeros((n, n), dtype=int)
            adjacency[tuple(np.asarray(graph.edges).T)] = 1
            adjacency += adjacency.T
            common = adjacency @ adjacency
            np.fill_diagonal(common, 0)
            categories = {
                "own (i = j)": np.eye(n, dtype=bool),
                "shared edge (i ~ j)": adjacency.astype(bool),
                "shared neighbour only": (common > 0) & (adjacency == 0),
                "distance ≥ 3": (common == 0) & (adjacency == 0) & ~np.eye(n, dtype=bool),
            }
            rows = {}
            for label, mask in categories.items():
                if not mask.any():
                    continue
                i, j = np.nonzero(mask)
                theory_values = noise.reshape(n, 4, n, 4)[i, :, j].ravel()
                mc = estimate.reshape(n, 4, n, 4)[i, :, j].ravel()
                se = error.reshape(n, 4, n, 4)[i, :, j].ravel()
                norm = np.linalg.norm(theory_values)
                rows[label] = {
                    "blocks": int(mask.sum()),
                    "max_z": float(np.max(np.abs(mc - theory_values) / np.maximum(se, 1e-300))),
                    "relative": float(np.linalg.norm(mc - theory_values) / norm) if norm > 0 else None,
                    "noise": float(np.sqrt(np.sum(se**2)) / norm) if norm > 0 else None,
                    "max_abs_over_own": float(np.abs(theory_values).max() / np.abs(np.diag(noise)).max()),
                }
            out[name] = {"samples": int(count), "rows": rows}
        return out

    result = cached(cache, "blocks.json", compute)
    print("\n### One-step noise blocks D_ij vs single simulator steps (all agents at Q*, α = 0.5)\n")
    rows = []
    for name, value in result.items():
        for label, row in value["rows"].items():
            relative = "—" if row["relative"] is None else f"{100 * row['relative']:.2f} % ({100 * row['noise']:.2f} %)"
            rows.append(
                [
                    name,
                    value["samples"],
                    label,
                    row["blocks"],
                    f"{row['max_abs_over_own']:.3f}",
                    relative,
                    f"{row['max_z']:.2f}",
                ]
            )
    print(
        table(
            rows,
            ["graph", "samples", "pair", "blocks", "largest entry / largest D_ii", "‖MC − D‖/‖D‖ (noise)", "largest z"],
        )
    )


def stage_counts(cache, workers):
    """Edge counts per agent and state at Q* frozen (α = 0 in the kernel): the chain's true stationary count
    distribution against the binomial of i.i.d. edge states that μ, Σ and the LNA assume."""
    from scipy.stats import binom

    from marldyn.games import two_state_pd
    from marldyn.policy import boltzmann
    from marldyn.simulation.kernels import run_steps
    from marldyn.theory.markov import edge_transition_matrix, stationary_distribution

    def compute():
        game, point = two_state_pd(), q_star()
        policy = boltzmann(point, 1.0)
        p = stationary_distribution(edge_transition_matrix(policy, policy, game.transition))
        payoff, cumulative = np.array(game.payoff), game.cumulative_transition()
        out = {"p_star": p.tolist()}
        for k in (2, 4, 16):
            graph = degree_graph(k)
            edges = np.array(graph.edges)
            q = np.broadcast_to(point, (100, 2, 2)).copy()
            state = np.zeros(edges.shape[0], dtype=np.int64)
            key = np.uint64(17 + k)
            run_steps(q, state, edges, payoff, cumulative, 0.0, 1.0, 0.8, 0, key, 0, 200)
            histogram = np.zeros(k + 1)
            for t in range(200, 100_200):
                run_steps(q, state, edges, payoff, cumulative, 0.0, 1.0, 0.8, 0, key, t, 1)
                first = (state == 0).astype(np.float64)
                n1 = np.bincount(edges[:, 0], first, 100) + np.bincount(edges[:, 1], first, 100)
                histogram += np.bincount(n1.astype(int), minlength=k + 1)
            histogram /= histogram.sum()
            counts = np.arange(k + 1)
            entry = {}
            for name, h in (("chain", histogram), ("binomial", binom.pmf(counts, k, p[0]))):
                rows = {}
                for s, n_s in ((0, counts), (1, k - counts)):
                    engaged = float(np.sum(h[n_s >= 1]))
                    inverse = float(np.sum(h[n_s >= 1] / n_s[n_s >= 1]))
                    variance = float(np.sum(h * n_s**2) - np.sum(h * n_s) ** 2)
                    rows[f"s{s + 1}"] = {
                        "pi": engaged,
                        "h": inverse,
                        "h_over_pi": inverse / engaged,
                        "variance": variance,
                    }
                entry[name] = {"histogram": h.tolist(), **rows}
            out[str(k)] = entry
        return out

    result = cached(cache, "counts.json", compute)
    print("\n### Edge counts n_s of an agent at Q* in the edge chain (Q frozen, 1e5 steps) vs i.i.d. edge states\n")
    rows = []
    for k in ("2", "4", "16"):
        for s in ("s1", "s2"):
            chain, iid = result[k]["chain"][s], result[k]["binomial"][s]
            rows.append(
                [
                    k,
                    s,
                    f"{chain['variance'] / iid['variance']:.3f}",
                    f"{chain['pi'] / iid['pi'] - 1:+.4f}",
                    f"{chain['h'] / iid['h'] - 1:+.4f}",
                    f"{chain['h_over_pi'] / iid['h_over_pi'] - 1:+.4f}",
                ]
            )
    print(
        table(
            rows,
            [
                "k",
                "state",
                "Var n (chain / binomial)",
                "π: chain / i.i.d. − 1",
                "h: chain / i.i.d. − 1",
                "h/π: chain / i.i.d. − 1",
            ],
        )
    )


def stage_lna(cache, workers):
    import marldyn
    from marldyn.graphs import lattice

    alpha = 1e-3
    theory_values = lna_summary(lattice(100), alpha)
    tau = theory_values["relaxation_time"]
    burn, steps, every = int(4.4 * tau) // 2000 * 2000, 1_060_000, 2000
    import xarray as xr

    from marldyn.policy import boltzmann

    start = time.perf_counter()
    batches = []
    for batch, seed in enumerate((8, 9, 10)):  # 3 x 40 runs; the first with snapshots (the policy spread)
        config = base_config(alpha=alpha, steps=steps, runs=40, record_every=every, seed=seed)
        snapshots = batch == 0
        name = "lna_sim_alpha1e-3.nc" if batch == 0 else f"lna_sim_alpha1e-3_seed{seed}.nc"
        batches.append(
            cached(
                cache,
                name,
                lambda c=config, snap=snapshots: marldyn.simulate(
                    c, initial_q=q_star(), snapshots=snap, workers=workers, progress=False
                ),
            )
        )
    elapsed = time.perf_counter() - start
    runs = 40 * len(batches)
    combined = xr.concat([b[["q", "q_std"]].drop_vars("run", errors="ignore") for b in batches], dim="run")
    stats = stationary_statistics(combined, burn)
    x = boltzmann(batches[0]["agent_q"].sel(time=slice(burn, None)).values, 1.0)  # (run, time, agent, state, action)
    policy_std = np.sqrt(x.var(axis=2).mean(axis=1)).reshape(40, -1)  # (run, state * action)
    stats["policy_std"] = policy_std.mean(axis=0).tolist()
    stats["policy_std_se"] = (policy_std.std(axis=0, ddof=1) / np.sqrt(40)).tolist()
    summary = {
        "alpha": alpha,
        "burn": burn,
        "steps": steps,
        "runs": runs,
        "every": every,
        "theory": theory_values,
        "simulation": stats,
        "seconds": elapsed,
    }
    (cache / "lna_summary.json").write_text(json.dumps(summary, indent=1))
    print(f"\n### LNA vs simulation, PD 10x10 lattice, α = 1e-3, at Q* = {np.round(q_star().ravel(), 4).tolist()}")
    print(f"{runs} runs of {steps} steps from Q*, burn-in {burn} steps (τ = {tau:.0f}), records every {every} steps;")
    print("simulation ± one standard error over the runs; ratios are simulation / theory\n")
    rows = []
    for m, entry in enumerate(ENTRIES):
        sim_w, se_w = stats["within"][m], stats["within_se"][m]
        sim_m, se_m = stats["mean"][m], stats["mean_se"][m]
        rows.append(
            [
                entry,
                f"{sim_w:.3e} ± {se_w:.1e}",
                f"{theory_values['within'][m]:.3e}",
                ratio_text(sim_w, se_w, theory_values["within"][m]),
                f"{sim_w / theory_values['within_ou'][m]:.3f}",
                f"{sim_m:.3e} ± {se_m:.1e}",
                f"{theory_values['mean'][m]:.3e}",
                ratio_text(sim_m, se_m, theory_values["mean"][m]),
                f"{sim_m / theory_values['mean_ou'][m]:.2f}",
            ]
        )
    print(
        table(
            rows,
            [
                "entry",
                "within-run var (sim)",
                "LNA",
                "sim / LNA",
                "sim / OU",
                "var of mean (sim)",
                "LNA",
                "sim / LNA",
                "sim / OU",
            ],
        )
    )
    print(
        "\npolicy spread across agents, X(C|s1), X(C|s2) (first 40 runs, from snapshots): simulation",
        [f"{v:.5f} ± {e:.1e}" for v, e in zip(stats["policy_std"][::2], stats["policy_std_se"][::2], strict=True)],
        "LNA (delta method)",
        np.round(theory_values["policy_std"][::2], 5).tolist(),
    )
    print(
        "shift of the mean from Q*:",
        np.round(np.array(stats["grand_mean"]) - q_star().ravel(), 5).tolist(),
        "±",
        np.round(stats["grand_mean_se"], 5).tolist(),
    )
    print(f"seconds: {elapsed:.0f} (0 if cached)")


ALPHAS = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1]


def stage_alpha(cache, workers):
    import marldyn
    from marldyn.graphs import lattice

    graph = lattice(100)
    out = {}
    for alpha in ALPHAS:
        theory_values = lna_summary(graph, alpha)
        if alpha == 1e-3 and (cache / "lna_summary.json").exists():
            summary = json.loads((cache / "lna_summary.json").read_text())
            out[str(alpha)] = {"theory": theory_values, "simulation": summary["simulation"]}
            continue
        burn, steps, every = design(theory_values["relaxation_time"], alpha)
        config = base_config(alpha=alpha, steps=steps, runs=10, record_every=every, seed=11)
        start = time.perf_counter()
        simulation = cached(
            cache,
            f"alpha_{alpha:g}.nc",
            lambda config=config: marldyn.simulate(config, initial_q=q_star(), workers=workers, progress=False),
        )
        out[str(alpha)] = {
            "theory": theory_values,
            "simulation": stationary_statistics(simulation, burn),
            "seconds": time.perf_counter() - start,
            "steps": steps,
            "burn": burn,
        }
    (cache / "alpha_summary.json").write_text(json.dumps(out, indent=1))
    print(
        "\n### Across α (10x10 lattice): simulation / theory for the within-run variance and the variance of the mean"
    )
    print("(LNA; in brackets the coupled system without noise correlations, i.e. sde-graph's linearisation; OU)\n")
    rows = []
    for alpha, value in out.items():
        sim, th = value["simulation"], value["theory"]
        for m in (0, 2):
            rows.append(
                [
                    alpha,
                    ENTRIES[m],
                    ratio_text(sim["within"][m], sim["within_se"][m], th["within"][m]),
                    f"{sim['within'][m] / th['within_uncorrelated'][m]:.3f}",
                    f"{sim['within'][m] / th['within_ou'][m]:.3f}",
                    ratio_text(sim["mean"][m], sim["mean_se"][m], th["mean"][m]),
                    f"{sim['mean'][m] / th['mean_uncorrelated'][m]:.2f}",
                    f"{sim['mean'][m] / th['mean_ou'][m]:.2f}",
                    f"{sim['grand_mean'][m] - q_star().ravel()[m]:+.4f}",
                    f"{th['policy_std'][m]:.3f}",
                ]
            )
    print(
        table(
            rows,
            [
                "α",
                "entry",
                "within: sim/LNA",
                "sim/uncorr.",
                "sim/OU",
                "mean: sim/LNA",
                "sim/uncorr.",
                "sim/OU",
                "shift of mean",
                "LNA policy std",
            ],
        )
    )


DEGREES = [2, 3, 4, 6, 8, 16]


def degree_graph(k):
    from marldyn.graphs import from_edges, lattice, random_regular

    if k == 2:
        return from_edges([(i, (i + 1) % 100) for i in range(100)], name="ring100")
    if k == 4:
        return lattice(100)
    return random_regular(100, k, seed=1)


def stage_degree(cache, workers):
    import marldyn

    out = {}
    for alpha in (3e-3, 1e-2):
        for k in DEGREES:
            graph = degree_graph(k)
            theory_values = lna_summary(graph, alpha)
            burn, steps, every = design(theory_values["relaxation_time"], alpha)
            config = base_config(alpha=alpha, steps=steps, runs=10, record_every=every, seed=12)
            simulation = cached(
                cache,
                f"degree_{k}_alpha_{alpha:g}.nc",
                lambda config=config, graph=graph: marldyn.simulate(
                    config, graph=graph, initial_q=q_star(), workers=workers, progress=False
                ),
            )
            out[f"{alpha:g}/{k}"] = {
                "alpha": alpha,
                "degree": k,
                "graph": graph.name,
                "theory": theory_values,
                "simulation": stationary_statistics(simulation, burn),
            }
    (cache / "degree_summary.json").write_text(json.dumps(out, indent=1))
    print("\n### Across the degree (N = 100): simulation / theory, entry Q(s1,C) and Q(s2,C)\n")
    rows = []
    for value in out.values():
        sim, th = value["simulation"], value["theory"]
        for m in (0, 2):
            rows.append(
                [
                    value["alpha"],
                    f"{value['degree']} ({value['graph']}, {th['route']})",
                    ENTRIES[m],
                    ratio_text(sim["within"][m], sim["within_se"][m], th["within"][m]),
                    f"{sim['within'][m] / th['within_ou'][m]:.3f}",
                    ratio_text(sim["mean"][m], sim["mean_se"][m], th["mean"][m]),
                    f"{sim['mean'][m] / th['mean_ou'][m]:.2f}",
                ]
            )
    print(table(rows, ["α", "k (graph, route)", "entry", "within: sim/LNA", "sim/OU", "mean: sim/LNA", "sim/OU"]))


# ----------------------------------------------------------------------------------------------
# figures
# ----------------------------------------------------------------------------------------------
AGENT_CASE = {
    "graph": {"kind": "lattice", "n": 16},
    "agent_types": [{"name": "committed", "agents": [0, 10], "fixed_policy": [[1.0, 0.0], [1.0, 0.0]]}],
}


def stage_agents(cache, workers):
    import marldyn
    from marldyn.policy import boltzmann
    from marldyn.theory.agent_lna import solve_agent_lna

    print("\n### The LNA at per-agent fixed points: two committed cooperators (agents 0, 10) on the 4 x 4 lattice\n")
    rows = []
    for alpha in (1e-3, 2.5e-4):
        config = marldyn.parse_config({**AGENT_CASE, "learning": {"alpha": alpha}, "init": {"q_noise": 0.0}})
        game, graph = config.build_game(), config.build_graph()
        learners = config.learners(game, graph.n_agents)
        kind = learners.assign(graph.n_agents, None)
        result = solve_agent_lna(game, graph, learners, kind, np.zeros((graph.n_agents, 2, 2)))
        q_star_i = result.blocks["agent_fixed_point"]
        movers = result.blocks["learners"]
        tau = result.relaxation_time
        burn, length, every = int(4 * tau), int(40 * tau), max(int(tau / 20), 5)
        steps = (burn + length) // every * every + every
        runs = 20
        data = config.model_dump(exclude_none=True)
        data["run"].update(steps=steps, runs=runs, record_every=every, seed=3)
        simulated = cached(
            cache,
            f"agents_sim_alpha{alpha:g}.nc",
            lambda d=data, q=q_star_i: marldyn.simulate(
                marldyn.parse_config(d), initial_q=q, snapshots=True, workers=workers, progress=False
            ),
        )
        part = simulated.sel(time=slice(burn, None))
        agent_q = part["agent_q"].values[:, :, movers].reshape(runs, part.sizes["time"], movers.size * 4)
        variance = agent_q.var(axis=1)  # (run, learner entry): each agent's stationary variance in time
        sim_var, sim_se = variance.mean(axis=0), variance.std(axis=0, ddof=1) / np.sqrt(runs)
        theory_var = np.diag(result.blocks["covariance"])
        ratio = sim_var / theory_var
        run_means = agent_q.mean(axis=1)  # (run, learner entry)
        offset = run_means.mean(axis=0) - q_star_i[movers].reshape(-1)
        offset_se = run_means.std(axis=0, ddof=1) / np.sqrt(runs)
        x = boltzmann(part["agent_q"].values[:, :, movers], 1.0).mean(axis=(0, 1))  # each learner's mean policy
        policy_offset = np.abs(x - result.blocks["agent_policy"][movers]).max()
        within = (part["q_std"] ** 2).mean("time").values.reshape(runs, -1)
        rows.append(
            [
                f"{alpha:g}",
                f"{tau:.0f}",
                f"{runs} x {steps}",
                f"{ratio.mean():.3f} ± {np.sqrt(np.mean((sim_se / theory_var) ** 2) / ratio.size):.3f}",
                f"{ratio.min():.2f} – {ratio.max():.2f}",
                f"{np.median(sim_se / sim_var):.3f}",
                f"{np.abs(offset).max():.4f} (z ≤ {np.abs(offset / offset_se).max():.1f})",
                f"{policy_offset:.4f}",
                " / ".join(f"{v:.4f}" for v in np.sqrt(within.mean(axis=0))),
                " / ".join(f"{v:.4f}" for v in result.q_std.ravel()),
            ]
        )
    print(
        table(
            rows,
            [
                "α",
                "τ (steps)",
                "runs x steps",
                "variance sim / LNA (mean over 56 entries)",
                "range",
                "SE per entry (rel.)",
                "largest |mean - Q*_i|",
                "largest |mean X_i - X*_i|",
                "q_std sim",
                "q_std LNA",
            ],
        )
    )


def stage_figures(cache, workers):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import xarray as xr

    from marldyn.plots import run_band

    FIGURES.mkdir(exist_ok=True)
    colors = ["tab:blue", "tab:orange", "tab:green", "tab:red"]

    # Figure 3 case
    if (cache / "fig3_sim.nc").exists():
        simulation = xr.load_dataset(cache / "fig3_sim.nc")
        noisy = xr.load_dataset(cache / "fig3_sdegraph_reduced_dt1.nc")
        quiet = xr.load_dataset(cache / "fig3_deterministic.nc")
        particles = xr.load_dataset(cache / "fig3_particles.nc")
        figure, axes = plt.subplots(3, 2, figsize=(10, 10), sharex=True)
        t = simulation["time"].values
        for s in range(2):
            coop = simulation["policy"].sel(state=s, action=0)
            mean = coop.mean("run")
            _, low, high = run_band(coop.transpose("run", "time").values, "sem")  # ±2 s.e., marldyn.plots' rule
            curves = [
                (noisy["policy"].sel(state=s, action=0).mean("run"), "tab:red", "--", "sde-graph (dt = 1)"),
                (quiet["policy"].sel(state=s, action=0).mean("run"), "tab:blue", "-", "same, without noise"),
                (particles["policy"].sel(state=s, action=0), "tab:green", ":", "particles (pair approx.)"),
            ]
            ax = axes[0, s]
            ax.fill_between(t, low, high, color="0.8", label="simulation ± 2 SE (10 runs)")
            ax.plot(t, mean, color="k", lw=1.5, label="simulation")
            for curve, color, style, label in curves:
                ax.plot(t, curve, color=color, ls=style, lw=1.2, label=label)
            ax.set_title(f"state s{s + 1}: mean cooperation")
            ax.set_ylabel("X(C)")
            ax = axes[1, s]
            ax.fill_between(t, low - mean, high - mean, color="0.8", label="± 2 SE of the simulation mean")
            for curve, color, style, label in curves:
                ax.plot(t, curve - mean, color=color, ls=style, lw=1.2, label=label)
            ax.axhline(0, color="k", lw=0.8)
            ax.set_title(f"state s{s + 1}: theory − simulation")
            ax.set_ylabel("Δ X(C)")
            ax = axes[2, s]
            for a, style in ((0, "-"), (1, "--")):
                ax.plot(
                    t,
                    simulation["q_std"].sel(state=s, action=a).mean("run"),
                    color="k",
                    ls=style,
                    label=f"simulation, Q(s{s + 1},{'CD'[a]})",
                )
                ax.plot(
                    t,
                    noisy["q_std"].sel(state=s, action=a).mean("run"),
                    color="tab:red",
                    ls=style,
                    label="sde-graph" if a == 0 else None,
                )
                ax.plot(
                    t,
                    quiet["q_std"].sel(state=s, action=a).mean("run"),
                    color="tab:blue",
                    ls=style,
                    label="without noise" if a == 0 else None,
                )
            ax.set_title(f"state s{s + 1}: across-agent spread of Q (q_std)")
            ax.set_xlabel("time (simulator steps)")
            ax.set_ylabel("std over agents")
        for ax in axes[2]:
            ax.set_xticks([0, 5000, 10000, 15000, 20000])
        axes[0, 0].legend(fontsize=8, loc="lower right")
        axes[1, 0].legend(fontsize=8, loc="lower right")
        axes[2, 0].legend(fontsize=8, loc="upper left")
        figure.suptitle("Figure 3 case (PD, 10x10 lattice, α = 1e-3): sde-graph vs simulation")
        figure.tight_layout()
        figure.savefig(FIGURES / "fluctuations_fig3.png", dpi=110)
        plt.close(figure)

    # variance vs α
    if (cache / "alpha_summary.json").exists():
        data = json.loads((cache / "alpha_summary.json").read_text())
        alphas = np.array([float(a) for a in data])
        figure, axes = plt.subplots(1, 3, figsize=(15, 4.6))
        grid = np.geomspace(alphas.min() / 1.5, alphas.max() * 1.5, 50)
        for key, ax, title in (
            ("within", axes[0], "within-run variance across agents"),
            ("mean", axes[1], "variance of the population mean (across runs)"),
        ):
            for m in range(4):
                per_alpha = np.array([data[a]["theory"][key][m] / float(a) for a in data])  # ∝ α to 1e-3
                ou = np.array([data[a]["theory"][f"{key}_ou"][m] / float(a) for a in data])
                ax.plot(
                    grid, np.interp(grid, alphas, per_alpha) * grid, color=colors[m], lw=1.3, label=f"{ENTRIES[m]}: LNA"
                )
                ax.plot(
                    grid,
                    np.interp(grid, alphas, ou) * grid,
                    color=colors[m],
                    lw=1,
                    ls=":",
                    label="independent OU" if m == 0 else None,
                )
                sim = np.array([data[a]["simulation"][key][m] for a in data])
                se = np.array([data[a]["simulation"][f"{key}_se"][m] for a in data])
                ax.errorbar(
                    alphas,
                    sim,
                    yerr=2 * se,
                    fmt="o",
                    ms=4,
                    color=colors[m],
                    capsize=2,
                    label="simulation ± 2 SE" if m == 0 else None,
                )
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("α")
            ax.set_title(title)
        axes[0].legend(fontsize=7, ncol=2)
        ax = axes[2]
        top = 1.6
        for m in range(4):
            for key, marker, offset in (("within", "o", 0.93), ("mean", "s", 1.07)):
                ratio = np.array([data[a]["simulation"][key][m] / data[a]["theory"][key][m] for a in data])
                se = np.array([data[a]["simulation"][f"{key}_se"][m] / data[a]["theory"][key][m] for a in data])
                x = alphas * offset * (1 + 0.03 * m)
                shown = ratio <= top
                ax.errorbar(
                    x[shown],
                    ratio[shown],
                    yerr=2 * se[shown],
                    fmt=marker,
                    ms=4,
                    color=colors[m],
                    capsize=2,
                    mfc="none" if key == "mean" else colors[m],
                    label=f"{ENTRIES[m]}" if key == "within" else None,
                )
                ax.plot(
                    x[~shown],
                    np.full((~shown).sum(), top - 0.03),
                    "^",
                    ms=5,
                    color=colors[m],
                    mfc="none" if key == "mean" else colors[m],
                )
        ax.text(
            0.97,
            0.03,
            "▲: off scale (α ≥ 0.03: ratios 2.4-410, see the table)",
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize=7,
        )
        ax.set_ylim(0.85, top)
        ax.axhline(1, color="k", lw=0.8)
        ax.axhspan(0.95, 1.05, color="0.9")
        ax.set_xscale("log")
        ax.set_xlabel("α")
        ax.set_ylabel("simulation / LNA")
        ax.set_title("ratio (filled: within-run, open: mean); band ±5 %")
        ax.legend(fontsize=7)
        figure.suptitle("PD on the 10x10 lattice at its mixed fixed point: stationary fluctuations vs α")
        figure.tight_layout()
        figure.savefig(FIGURES / "fluctuations_alpha.png", dpi=110)
        plt.close(figure)

    # degree
    if (cache / "degree_summary.json").exists():
        data = json.loads((cache / "degree_summary.json").read_text())
        figure, axes = plt.subplots(2, 2, figsize=(11, 7.5), sharex=True)
        top = 1.6
        for column, alpha in enumerate((3e-3, 1e-2)):
            values = [v for v in data.values() if v["alpha"] == alpha]
            degrees = np.array([v["degree"] for v in values])
            ax = axes[0, column]
            for m in range(4):
                ax.plot(
                    degrees,
                    [v["theory"]["within"][m] for v in values],
                    color=colors[m],
                    lw=1.3,
                    label=f"{ENTRIES[m]}: LNA",
                )
                ax.plot(
                    degrees,
                    [v["theory"]["within_ou"][m] for v in values],
                    color=colors[m],
                    lw=1,
                    ls=":",
                    label="independent OU" if m == 0 else None,
                )
                ax.errorbar(
                    degrees,
                    [v["simulation"]["within"][m] for v in values],
                    yerr=[2 * v["simulation"]["within_se"][m] for v in values],
                    fmt="o",
                    ms=4,
                    color=colors[m],
                    capsize=2,
                    label="simulation ± 2 SE" if m == 0 else None,
                )
            ax.set_yscale("log")
            ax.set_title(f"α = {alpha:g}: within-run variance across agents")
            ax = axes[1, column]
            for m in range(4):
                for key, marker, offset in (("within", "o", 0.95), ("mean", "s", 1.05)):
                    ratio = np.array([v["simulation"][key][m] / v["theory"][key][m] for v in values])
                    se = np.array([v["simulation"][f"{key}_se"][m] / v["theory"][key][m] for v in values])
                    x = degrees * offset * (1 + 0.025 * m)
                    shown = ratio <= top
                    ax.errorbar(
                        x[shown],
                        ratio[shown],
                        yerr=2 * se[shown],
                        fmt=marker,
                        ms=4,
                        color=colors[m],
                        capsize=2,
                        mfc="none" if key == "mean" else colors[m],
                        label=ENTRIES[m] if key == "within" else None,
                    )
                    ax.plot(
                        x[~shown],
                        np.full((~shown).sum(), top - 0.03),
                        "^",
                        ms=5,
                        color=colors[m],
                        mfc="none" if key == "mean" else colors[m],
                    )
            ax.set_ylim(0.85, top)
            ax.axhline(1, color="k", lw=0.8)
            ax.axhspan(0.95, 1.05, color="0.9")
            ax.set_title(f"α = {alpha:g}: simulation / LNA")
            ax.set_xlabel("degree k (ring, random regular; the lattice for k = 4)")
            ax.set_xscale("log", base=2)
            ax.set_xticks(DEGREES, [str(k) for k in DEGREES])
        axes[0, 0].legend(fontsize=7, ncol=2)
        axes[1, 0].legend(fontsize=7, loc="upper right")
        axes[0, 0].set_ylabel("variance")
        axes[1, 0].set_ylabel("simulation / LNA")
        figure.suptitle(
            "PD at its mixed fixed point, N = 100: stationary fluctuations vs degree\n"
            "(bottom: filled = within-run variance, open = variance of the mean, ▲ = off scale; band ±5 %)"
        )
        figure.tight_layout()
        figure.savefig(FIGURES / "fluctuations_degree.png", dpi=110)
        plt.close(figure)
    print("figures written to", FIGURES)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stages", nargs="*", default=[], help=f"any of {STAGES}")
    parser.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "marldyn_fluctuations"))
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("MARLDYN_PROGRESS", "0")
    unknown = set(args.stages) - set(STAGES)
    if unknown:
        parser.error(f"unknown stage(s) {sorted(unknown)}; choose from {STAGES}")
    for stage in args.stages or STAGES:
        globals()[f"stage_{stage}"](cache, args.workers)
        sys.stdout.flush()


if __name__ == "__main__":
    main()
