"""Write the tables of docs/validation.md's section on ε-greedy, FAQ and agent types (issue 13).

Every case is the simulation (10 runs) against every theory that takes it, on the paper's lattice; the error
is the largest absolute difference of the run-mean policy over the whole trajectory, per state, with the
simulation's standard error at that time (``marldyn.compare.compare``). The LNA, a stationary method, gets its
own tables: the within-run variance of every Q entry at a fixed point, simulated from Q* after a burn-in of
four relaxation times, against the LNA's. Run from the repository root::

    python docs/validation_learners.py            # rewrites the generated part of docs/validation.md
    python docs/validation_learners.py --quick    # a smoke test, nothing written
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from validation import per_state, three_state_game, write_generated  # noqa: E402

import marldyn  # noqa: E402
from marldyn.compare import compare  # noqa: E402
from marldyn.errors import ConfigError, ConvergenceError, MarldynWarning  # noqa: E402
from marldyn.theory import SDE, GraphSDE, Particles  # noqa: E402

BEGIN, END = "<!-- BEGIN GENERATED LEARNER TABLES -->", "<!-- END GENERATED LEARNER TABLES -->"
TABLE = [[0.5, 0.0], [0.0, 0.5]]
THREE_STATE_TABLE = [[0.3, 0.0, 0.1], [0.0, 0.2, 0.1], [0.1, 0.0, 0.3]]  # "Q3": no ties, for the point masses


def cases(steps: int) -> list[tuple[str, dict]]:
    run = {"steps": steps, "runs": 10, "record_every": steps // 100, "seed": 1}
    base = {"graph": {"kind": "lattice", "n": 100}, "init": {"q": TABLE, "q_noise": 0.0}, "run": run}
    greedy = {"alpha": 0.001, "policy": "epsilon_greedy", "epsilon": 0.1}
    three = three_state_game()
    return [
        (
            "ε-greedy (ε = 0.1, α = 0.01), PD, Q0 = [[0, 0.3], [0.2, 0]] (s1 switches to C, s2 slides on its tie)",
            {**base, "learning": greedy | {"alpha": 0.01}, "init": {"q": [[0.0, 0.3], [0.2, 0.0]], "q_noise": 0.0}},
        ),
        (
            "ε-greedy (ε = 0.1), three-state game, Q0 = Q3 + noise 0.2",
            {**base, "game": three, "learning": greedy, "init": {"q": THREE_STATE_TABLE, "q_noise": 0.2}},
        ),
        ("FAQ (faq_beta = 0.05), PD", {**base, "learning": {"alpha": 0.01, "rule": "faq", "faq_beta": 0.05}}),
        (
            "fast/slow mixture (25 % α = 0.01, the rest α = 0.001), PD",
            {**base, "learning": {"alpha": 0.001}, "agent_types": [{"name": "fast", "fraction": 0.25, "alpha": 0.01}]},
        ),
        (
            "ε-greedy (ε = 0.1) beside a committed minority (15 % always cooperate), PD, Q0 = 0 + noise 0.2",
            {
                **base,
                "learning": greedy,
                "init": {"q_noise": 0.2},
                "agent_types": [{"name": "zealots", "fraction": 0.15, "fixed_policy": [[1.0, 0.0], [1.0, 0.0]]}],
            },
        ),
        (
            "committed minority (15 % always cooperate), PD, Q0 = 0 + noise 0.2",
            {
                **base,
                "learning": {"alpha": 0.001},
                "init": {"q_noise": 0.2},
                "agent_types": [{"name": "zealots", "fraction": 0.15, "fixed_policy": [[1.0, 0.0], [1.0, 0.0]]}],
            },
        ),
    ]


THEORIES = [
    ("point mass, reduced", "reduced"),
    ("point mass, full", "full"),
    ("point mass, full-discrete", "full-discrete"),
    ("particles (64, reduced)", Particles(n=64)),
    ("particles (64, full)", Particles(n=64, timescale="full")),
    ("sde (dt = 10)", SDE(dt=10.0)),
    ("sde-graph (dt = 10)", GraphSDE(dt=10.0)),
    ("lna", "lna"),
    ("closure", "closure"),
]
LNA_CASES = [  # (title, [learning], greedy region of Q* or None (the root from TABLE), [[agent_types]])
    ("FAQ (faq_beta = 0.2, α = 0.003) at the mixed fixed point", dict(alpha=0.003, rule="faq", faq_beta=0.2), None, []),
    ("ε-greedy (ε = 0.2, α = 0.005) at the fixed point of the region C/C", dict(alpha=0.005, epsilon=0.2), [0, 0], []),
    ("ε-greedy (ε = 0.2, α = 0.005) at the fixed point of the region D/D", dict(alpha=0.005, epsilon=0.2), [1, 1], []),
    (
        "fast/slow mixture (25 % α = 0.003, the rest α = 0.001) at the mixed fixed point",
        dict(alpha=0.001),
        None,
        [{"name": "fast", "fraction": 0.25, "alpha": 0.003}],
    ),
    (
        "committed minority (15 % always cooperate, α = 0.001) at the learners' own fixed points",
        dict(alpha=0.001),
        None,
        [{"name": "zealots", "fraction": 0.15, "fixed_policy": [[1.0, 0.0], [1.0, 0.0]]}],
    ),
]
ENTRIES = ["Q(s1,a1)", "Q(s1,a2)", "Q(s2,a1)", "Q(s2,a2)"]


def table(title: str, config: dict) -> list[str]:
    start = time.perf_counter()
    simulation = marldyn.simulate(config, workers=2, progress=False)
    elapsed = time.perf_counter() - start
    n_states = simulation.sizes["state"]
    final = simulation.policy.isel(time=-1).mean("run").values
    lines = [
        f"### {title}",
        "",
        f"Simulation: 10 runs x {config['run']['steps']:,} steps, {elapsed:.0f} s. Final mean P(action 0) per "
        f"state: {', '.join(f'{x:.3f}' for x in final[:, 0])}.",
        "",
        "| theory | " + " | ".join(f"max err s{s + 1} (SE)" for s in range(n_states)) + " | time |",
        "|---|" + "---|" * (n_states + 1),
    ]
    for name, method in THEORIES:
        start = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", MarldynWarning)
                predicted = marldyn.predict(config, method, progress=False)
        except (ConfigError, ConvergenceError) as error:
            lines.append(f"| {name} | " + " | ".join(["—"] * n_states) + f" | refused: {_reason(str(error))} |")
            continue
        if name == "lna":  # a stationary method: no trajectory to compare
            lines.append(f"| {name} | " + " | ".join(["—"] * n_states) + " | stationary: the LNA tables below |")
            continue
        seconds = time.perf_counter() - start
        rows = per_state(compare(simulation, predicted), n_states)
        cells = [f"{error:.4f} ({se:.4f})" if se is not None else f"{error:.4f}" for error, se, _ in rows]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {seconds:.1f} s |")
    return lines + [""]


def _reason(message: str) -> str:
    """The gist of a refusal, for a table cell."""
    if "initial Q ties" in message:
        return "a tie at t = 0"
    if "reduced time scale" in message:
        return "ε-greedy at stationary pairs"
    if "agent types have one per type" in message:
        return "agent types"
    if "committed agents move" in message:
        return "committed agents move the fixed point"
    if "no per-agent fixed point found" in message:
        return "no per-agent fixed point found from the start table"
    if "reaches none of the" in message:
        return "no fixed point: the flow slides on a switching surface"
    if "switching surface" in message and "standard deviations" in message:
        return "Q* too near a switching surface"
    return "not for these learners"


def lna_table(title: str, learner: dict, region, agent_types: list, quick: bool) -> list[str]:
    """Within-run variance of Q at a fixed point: simulation from Q* (after 4 relaxation times) against the LNA."""
    import numpy as np

    from marldyn.games import two_state_pd
    from marldyn.theory import lna
    from marldyn.theory.switching import greedy_fixed_points

    game = two_state_pd()
    learner = dict(learner)
    alpha = learner.pop("alpha")
    if region is None:
        q_star = lna.fixed_point(TABLE, game, beta=1.0, gamma=0.8, **learner)
    else:
        learner = {"policy": "epsilon_greedy", **learner}
        found = greedy_fixed_points(game, learner["epsilon"], 0.8, "q_learning")
        q_star = next(q for choice, q in found if choice.tolist() == region)
    config = {
        "graph": {"kind": "lattice", "n": 100},
        "learning": {"alpha": alpha, **learner},
        "init": {"q": q_star.tolist(), "q_noise": 0.0},
        "run": {"steps": 1_000, "runs": 10, "record_every": 100, "seed": 5},
        "agent_types": agent_types,
    }
    predicted = marldyn.predict(config, "lna")
    tau = float(predicted.attrs["relaxation_time"])
    burn_in, measured = 4 * tau, (1 if quick else 10) * tau
    every = max(1, int(tau / 20))
    steps = int(np.ceil((burn_in + measured) / every)) * every
    config["run"].update(steps=steps, record_every=every)
    start = time.perf_counter()
    simulation = marldyn.simulate(config, workers=2, progress=False)
    elapsed = time.perf_counter() - start
    late = simulation.q_std.where(simulation.time >= burn_in, drop=True) ** 2
    per_run = late.mean("time").values.reshape(10, -1)  # (run, entry)
    mean, error = per_run.mean(axis=0), per_run.std(axis=0, ddof=1) / np.sqrt(10)
    theory = predicted.q_std.isel(time=0).values.ravel() ** 2
    margin = predicted.attrs.get("switching_margin")
    moving = [] if not agent_types else [lna.fixed_point_difference(marldyn.parse_config(config).learners(game, 100))]
    where = f"Q* = {np.round(q_star, 4).tolist()}"
    if moving and moving[0] is not None:  # each learner at its own Q*_i (theory/agent_lna.py)
        where = (
            f"every agent starts at the homogeneous Q* = {np.round(q_star, 4).tolist()}, the learners' own Q*_i "
            f"average {np.round(json.loads(predicted.attrs['fixed_point']), 4).tolist()} (committed agents included)"
        )
    lines = [
        f"#### LNA: {title}",
        "",
        f"{where}; relaxation time τ = {tau:,.0f} steps; simulation from Q*, 10 runs x "
        f"{steps:,} steps ({elapsed:.0f} s), variance averaged after 4 τ"
        + (f"; nearest switching surface {margin:.1f} standard deviations away" if margin is not None else "")
        + ".",
        "",
        "| entry | within-run variance, simulation (SE) | LNA | simulation / LNA |",
        "|---|---|---|---|",
    ]
    for name, m, e, t in zip(ENTRIES, mean, error, theory, strict=True):
        lines.append(f"| {name} | {m:.3e} ({e:.1e}) | {t:.3e} | {m / t:.3f} ± {e / t:.3f} |")
    return lines + [""]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 steps, print only")
    arguments = parser.parse_args(argv)
    steps = 1_000 if arguments.quick else 20_000
    lines = []
    for title, config in cases(steps):
        lines += table(title, config)
        print("\n".join(lines[-14:]), flush=True)
    for title, learner, region, agent_types in LNA_CASES:
        lines += lna_table(title, learner, region, agent_types, arguments.quick)
        print("\n".join(lines[-11:]), flush=True)
    if arguments.quick:
        return 0
    stamp = f"Generated by `python docs/validation_learners.py` (marldyn {marldyn.__version__})."
    write_generated(BEGIN, END, stamp, "\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
