"""Validate every theory against the exact simulation and write the tables of docs/validation.md.

Run from the repository root (several minutes on two cores):

    python docs/validation.py            # the full run: 10 runs x 20,000 steps per case
    python docs/validation.py --quick    # a smoke test (2 runs x 2,000 steps, sweep horizons ≤ 2,000); no docs

Cases (shared/NOTES.md 2 and 9; examples/pd_lattice.toml):

1. the paper's prisoner's dilemma (eq. 21) on the 10x10 periodic lattice from fixed tables without noise,
   Q0 = 0 and the cooperation-favouring Q0 = [[0.5, 0], [0, 0.5]]: the homogeneous point-mass theories
   (reduced, full, full-discrete) against the simulation;
2. the same from the paper's noisy initial condition (Q0 = [[0.5, 0], [0, 0.5]] + N(0, 0.1²) per agent and
   entry): the particle theory (reduced and full time scale), the SDE ensemble, the Gaussian moment closure
   (reduced and full time scale), and for scale the point mass;
3. a three-state, three-action game with symmetric transitions (below) on a random 4-regular graph of 100
   agents: reduced, particles, sde.

The Gaussian moment closure (``closure``, reduced time scale) runs on every case. Then an α sweep on the
paper's noisy start (Figure 5's settings): α = 1e-4 ... 1e-1, horizon 20/α steps (at most 200,000), 200
records; the closure (both time scales), the point mass and the SDE ensemble against the simulation.

For each theory: the largest absolute difference of the run-mean policy from the theory over the whole
trajectory, per state (max over actions and recorded times), the simulation's standard error at that time,
the range of the theory's across-agent std of Q over the simulation's (run mean), over all entries and the
records after t = 0, whether the theory warned (the closure's non-Gaussianity diagnostic) and from when, and
the wall-clock time of the theory (numba already compiled by a warm-up). The script also measures how well
eq. (9)'s independent-edge factor P(n_s ≥ 1) = 1 - (1 - p_s)^k describes the simulation.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import warnings
from pathlib import Path

import numpy as np

import marldyn
from marldyn.compare import compare
from marldyn.errors import MarldynWarning
from marldyn.theory import method_from_name, theory
from marldyn.theory.closure import KURTOSIS_WARNING, SKEWNESS_WARNING

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "validation.md"
BEGIN, END = "<!-- BEGIN GENERATED TABLES -->", "<!-- END GENERATED TABLES -->"
PD_TARGET, NOISY_TARGET = 0.02, 0.03  # the targets for cases 1 and 2
SWEEP_ALPHAS = (1e-4, 1e-3, 1e-2, 1e-1)  # the α sweep (Figure 5's settings)
SWEEP_HORIZON, SWEEP_RECORDS = 20.0, 200  # horizon 20/α steps (capped below), 200 records
SWEEP_CAP, QUICK_SWEEP_CAP = 200_000, 2_000  # the cap of the horizon in steps (full run, --quick)


def three_state_game() -> dict:
    """A three-state commons game (states rich, medium, poor; actions restrain, moderate, exploit).

    Payoff U[s, a, b] = B_s g(b) - C(a) with B = (4, 2, 1), g = (1, 0.5, 0) the share the opponent's action
    gives, C = (0.5, 0.25, 0) the cost of one's own restraint: exploiting is dominant in every state (a social
    dilemma). The edge moves one state richer with probability up(e), one poorer with down(e), else stays,
    where e = a + b is the joint exploitation (0..4): up = (0.6, 0.4, 0.2, 0.1, 0), down = (0, 0.1, 0.2, 0.4,
    0.6); at the ends the blocked move stays. T depends on (a, b) only through a + b, so T[s, a, b] = T[s, b, a].
    """
    benefit, share, cost = (4.0, 2.0, 1.0), (1.0, 0.5, 0.0), (0.5, 0.25, 0.0)
    up, down = (0.6, 0.4, 0.2, 0.1, 0.0), (0.0, 0.1, 0.2, 0.4, 0.6)
    payoff = [[[benefit[s] * share[b] - cost[a] for b in range(3)] for a in range(3)] for s in range(3)]
    transition = np.zeros((3, 3, 3, 3))
    for s in range(3):
        for a in range(3):
            for b in range(3):
                e = a + b
                transition[s, a, b, max(s - 1, 0)] += up[e]
                transition[s, a, b, min(s + 1, 2)] += down[e]
                transition[s, a, b, s] += 1.0 - up[e] - down[e]
    return {"name": "custom", "payoff": payoff, "transition": transition.tolist()}


def cases(base: marldyn.Config) -> list[dict]:
    """The validated configurations and the theories run on each."""

    def init(q, noise):
        return base.model_copy(update={"init": base.init.model_copy(update={"q": q, "q_noise": noise})})

    cooperative = [[0.5, 0.0], [0.0, 0.5]]
    three = marldyn.parse_config(
        {
            "game": three_state_game(),
            "graph": {"kind": "random_regular", "n": 100, "degree": 4, "seed": 1},
            "learning": base.learning.model_dump(),
            "init": {"q": [[0.0] * 3] * 3, "q_noise": 0.1},
            "run": base.run.model_dump(),
        }
    )
    point = [("reduced", {}), ("full", {}), ("full-discrete", {}), ("sde", {"dt": 10.0}), ("closure", {})]
    heterogeneous = [
        ("particles", {}),
        ("particles", {"timescale": "full"}),
        ("sde", {"dt": 10.0}),
        ("sde", {"dt": 1.0}),
        ("closure", {}),
        ("closure", {"timescale": "full", "dt": 10.0}),
        ("reduced", {}),
    ]
    return [
        dict(key="zero", title="PD, lattice, Q0 = 0, no noise", config=init([[0.0, 0.0], [0.0, 0.0]], 0.0),
             theories=point, target=PD_TARGET),
        dict(key="cooperative", title="PD, lattice, Q0 = [[0.5, 0], [0, 0.5]], no noise",
             config=init(cooperative, 0.0), theories=point, target=PD_TARGET),
        dict(key="noisy", title="PD, lattice, Q0 = [[0.5, 0], [0, 0.5]] + N(0, 0.1²) (the paper's)",
             config=base, theories=heterogeneous, target=NOISY_TARGET),
        dict(key="three", title="3-state 3-action commons game, random 4-regular graph, Q0 = 0 + N(0, 0.1²)",
             config=three, theories=[("reduced", {}), ("particles", {}), ("sde", {"dt": 10.0}), ("closure", {})],
             target=None),
    ]  # fmt: skip


def sweep_config(base: marldyn.Config, alpha: float, cap: int) -> marldyn.Config:
    """The base config at learning rate ``alpha``: horizon round(20/α) steps (at most ``cap``), 200 records."""
    steps = min(round(SWEEP_HORIZON / alpha), cap)
    data = base.model_dump(exclude_none=True)
    data["learning"]["alpha"] = alpha
    return marldyn.parse_config(data).with_overrides(steps=steps, record_every=max(steps // SWEEP_RECORDS, 1))


def sweep_theories(alpha: float) -> list[tuple[str, dict]]:
    """The theories of the α sweep: a step of 1 simulator step from α = 1e-2 on, 10 below."""
    step = 1.0 if alpha >= 1e-2 else 10.0
    return [
        ("closure", {}),
        ("closure", {"timescale": "full", "dt": step}),
        ("reduced", {}),
        ("sde", {"dt": step}),
    ]


def label(method: str, options: dict) -> str:
    if method == "particles":
        return f"particles ({options.get('timescale', 'reduced')} time scale, P = N)"
    if method == "sde":
        return f"sde (dt = {options['dt']:g}, one particle per agent, 10 members)"
    if method == "closure":
        if options.get("timescale", "reduced") == "full":
            return f"closure (Gaussian, full, dt = {options['dt']:g})"
        return "closure (Gaussian, reduced)"
    return {"reduced": "point mass, reduced", "full": "point mass, full", "full-discrete": "point mass, full-discrete"}[
        method
    ]


def write_generated(begin: str, end: str, stamp: str, text: str) -> None:
    """Replace what stands between the markers ``begin`` and ``end`` in docs/validation.md by ``stamp`` and
    ``text`` (an error if the markers are missing)."""
    document = DOC.read_text()
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    if not pattern.search(document):
        raise SystemExit(f"{DOC}: the markers {begin} ... {end} are missing")
    DOC.write_text(pattern.sub(lambda _: f"{begin}\n{stamp}\n\n{text}\n{end}", document))


def per_state(result: dict, n_states: int) -> list[tuple[float, float | None, int]]:
    """(max error, simulation standard error there, time) per state, over actions and times."""
    rows = []
    for state in range(n_states):
        components = [c for c in result["components"] if c["variable"] == "policy" and c["state"] == state]
        worst = max(components, key=lambda c: c["max_error"])
        index = result["time"].index(worst["time_of_max_error"])
        rows.append((worst["max_error"], worst["standard_error"][index], worst["time_of_max_error"]))
    return rows


def run_theory(config: marldyn.Config, method: str, options: dict):
    """(prediction, wall-clock seconds, the MarldynWarning messages it emitted) of one theory."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MarldynWarning)
        start = time.perf_counter()
        predicted = theory(config, method_from_name(method, **options), progress=False)
        elapsed = time.perf_counter() - start
    messages = [str(item.message) for item in caught if issubclass(item.category, MarldynWarning)]
    for item in caught:  # anything else is shown as usual
        if not issubclass(item.category, MarldynWarning):
            warnings.showwarning(item.message, item.category, item.filename, item.lineno)
    return predicted, elapsed, messages


def warning_cell(messages: list[str], predicted) -> str:
    """ "no", or when the theory warned: from which time (the closure's message) and the largest predicted
    |skewness| and |excess kurtosis| over entries and times."""
    if not messages:
        return "no"
    found = re.search(r"from t = ([0-9.eE+]+)", messages[0])
    text = f"from t = {float(found.group(1)):,.0f}" if found else "yes"
    if "q_skewness" in predicted:
        skew = float(np.abs(predicted["q_skewness"].values).max())
        kurtosis = float(np.abs(predicted["q_kurtosis"].values).max())
        text += f" (abs. skewness ≤ {skew:.1f}, excess kurtosis ≤ {kurtosis:.1f})"
    return text


def spread_ratio(simulation, predicted) -> str:
    """min-max over all entries and the records after t = 0 of the theory's q_std / the simulation's
    run-mean q_std ("—" for a point mass)."""
    if "q_std" not in predicted:
        return "—"
    theory_std = predicted["q_std"]
    theory_std = theory_std.mean("run") if "run" in theory_std.dims else theory_std
    simulated = simulation["q_std"].mean("run")
    later = simulated["time"].values > 0
    ratio = theory_std.values[later] / np.where(simulated.values[later] > 0, simulated.values[later], np.nan)
    return f"{np.nanmin(ratio):.2f}-{np.nanmax(ratio):.2f}"


def alpha_sweep(base: marldyn.Config, cap: int, workers: int) -> list[str]:
    """The α sweep on the paper's noisy start: the table's lines (simulation and theories per α)."""
    lines = [
        "",
        "### α sweep (Figure 5's settings)",
        "",
        f"The paper's noisy start (the base config) at α = {', '.join(f'{alpha:g}' for alpha in SWEEP_ALPHAS)}: "
        f"horizon round(20/α) steps (at most {cap:,}), recorded every horizon/{SWEEP_RECORDS} steps, "
        f"{base.run.runs} runs. The q_std ratio is over all entries and the records after t = 0; the closure's "
        "full time scale and the SDE step dt = 1 from α = 1e-2 on, 10 below.",
        "",
        "| α | steps (record every) | theory | max err s1 (SE) | max err s2 (SE) | at t (worst state) "
        "| final std of Q | q_std / sim (min-max over t > 0) | warned (non-Gaussian) | time |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    shapes = []
    for alpha in SWEEP_ALPHAS:
        config = sweep_config(base, alpha, cap)
        start = time.perf_counter()
        simulation = marldyn.simulate(config, workers=workers, snapshots=True, progress=False)
        simulated = time.perf_counter() - start
        steps, every = config.run.steps, config.run.record_every
        head = f"| {alpha:g} | {steps:,} ({every:,}) "
        spread = float(simulation["q_std"].isel(time=-1).mean("run").max())
        lines.append(f"{head}| simulation | — | — | — | {spread:.3f} | — | — | {simulated:.1f} s |")
        print(f"α = {alpha:g}: simulation {simulated:.1f} s", file=sys.stderr)
        for method, options in sweep_theories(alpha):
            predicted, elapsed, messages = run_theory(config, method, options)
            if method == "closure" and not options:
                shapes += population_shape(alpha, simulation, predicted)
            rows = per_state(compare(simulation, predicted), simulation.sizes["state"])
            worst = max(rows, key=lambda row: row[0])
            cells = " | ".join(f"{error:.4f} ({se:.4f})" for error, se, _ in rows)
            theory_spread = "—"
            if "q_std" in predicted:
                final_std = predicted["q_std"].isel(time=-1)
                theory_spread = f"{float((final_std.mean('run') if 'run' in final_std.dims else final_std).max()):.3f}"
            ratio, warned = spread_ratio(simulation, predicted), warning_cell(messages, predicted)
            lines.append(
                f"{head}| {label(method, options)} | {cells} | {worst[2]:,} | {theory_spread} | {ratio} | {warned} "
                f"| {elapsed:.1f} s |"
            )
            print(
                f"  {label(method, options)}: {cells}; q_std ratio {ratio}; {warned} ({elapsed:.1f} s)", file=sys.stderr
            )
    lines += [
        "",
        "### Shape of the population in the α sweep: simulation vs the closure's diagnostic",
        "",
        "Entries in the order Q(s1, a1), Q(s1, a2), Q(s2, a1), Q(s2, a2) (a1 = cooperate, a2 = defect). Simulation: "
        "skewness and excess kurtosis of each entry across the agents of a run (agent snapshots), averaged over "
        'the runs; "prefer a2": the fraction of all agents with Q(s, a2) > Q(s, a1) (X(a1 | s) < 1/2). Closure '
        "(reduced): its predicted q_skewness, q_kurtosis [C9] (first order in the departure from the Gaussian).",
        "",
        "| α | t | skewness, simulation | skewness, closure | excess kurtosis, simulation "
        "| excess kurtosis, closure | prefer a2 in s1, s2 (simulation) |",
        "|---|---|---|---|---|---|---|",
        *shapes,
    ]
    return lines


def population_shape(alpha: float, simulation, closure, fractions=(0.25, 0.5, 1.0)) -> list[str]:
    """Table rows: the simulated across-agent skewness, excess kurtosis and split against the closure's
    predicted ones, at the given fractions of the horizon."""
    from scipy.stats import kurtosis, skew

    times = simulation["time"].values
    agent_q = simulation["agent_q"].transpose("run", "time", "agent", "state", "action").values
    rows = []
    for fraction in fractions:
        index = int(np.argmin(np.abs(times - fraction * times[-1])))
        tables = agent_q[:, index].reshape(agent_q.shape[0], agent_q.shape[2], -1)  # (run, agent, entry)
        simulated_skew = skew(tables, axis=1).mean(axis=0)
        simulated_kurtosis = kurtosis(tables, axis=1).mean(axis=0)
        defect = (agent_q[:, index, :, :, 1] > agent_q[:, index, :, :, 0]).mean(axis=(0, 1))  # (state,)
        predicted_skew = closure["q_skewness"].isel(time=index).values.ravel()
        predicted_kurtosis = closure["q_kurtosis"].isel(time=index).values.ravel()

        def join(values):
            return ", ".join(f"{value:+.2f}" for value in values)

        rows.append(
            f"| {alpha:g} | {times[index]:,} | {join(simulated_skew)} | {join(predicted_skew)} "
            f"| {join(simulated_kurtosis)} | {join(predicted_kurtosis)} | "
            + ", ".join(f"{value:.3f}" for value in defect)
            + " |"
        )
    return rows


def edge_factor_check(config: marldyn.Config, times=(100, 500, 1000, 2000, 5000, 10000, 20000)) -> list[dict]:
    """Simulated P(n_s1 ≥ 1) of an agent vs eq. (9)'s 1 - (1 - p)^k with the simulated edge fraction p.

    Averaged over agents and runs at each of ``times`` (recorded snapshots of every edge's state).
    """
    graph = config.build_graph()
    data = marldyn.simulate(config, snapshots=True, progress=False)
    rows = []
    for moment in [t for t in times if t <= config.run.steps]:
        states = data["agent_edge_state"].sel(time=moment).values  # (run, edge)
        in_s1 = states == 0
        touched = np.zeros((states.shape[0], graph.n_agents))
        for end in (0, 1):
            np.add.at(touched, (slice(None), graph.edges[:, end]), in_s1)
        fraction = in_s1.mean(axis=1)  # (run,)
        rows.append(
            dict(
                time=moment,
                p=float(fraction.mean()),
                simulated=float(np.mean(touched >= 1)),
                formula=float(np.mean(1.0 - (1.0 - fraction[:, None]) ** graph.degree[None, :])),
            )
        )
    return rows


def increment_correlation(config: marldyn.Config, steps=6000, window=1001, lags=5) -> dict:
    """Temporal correlation of one agent's Q increments in the simulator (every step recorded).

    The increments ΔQ_t of every agent minus their moving average over ``window`` steps (the slowly changing
    drift); returns per entry (s, a) the lag-1 autocorrelation and the ratio of the effective diffusion
    Var + 2 Σ_{lag=1..lags} Cov(ΔQ_t, ΔQ_{t+lag}) to the one-step variance (1 for independent steps; the SDE
    of eq. 5 assumes 1). The moving average biases each lag by about -1/window.
    """
    from scipy.ndimage import uniform_filter1d

    data = marldyn.simulate(config.with_overrides(steps=steps, record_every=1, runs=4), snapshots=True, progress=False)
    q = data["agent_q"].values  # (run, time, agent, state, action)
    size = q.shape[3] * q.shape[4]
    increments = np.diff(q, axis=1).reshape(q.shape[0], q.shape[1] - 1, q.shape[2], size)
    increments = increments - uniform_filter1d(increments, size=window, axis=1, mode="nearest")
    increments = increments[:, window:-window]
    variance = np.mean(increments**2, axis=(0, 1, 2))
    total = variance.copy()
    first = None
    for lag in range(1, lags + 1):
        covariance = np.mean(increments[:, :-lag] * increments[:, lag:], axis=(0, 1, 2))
        total += 2 * covariance
        if lag == 1:
            first = covariance / variance
    return dict(lag1=first, ratio=total / variance, steps=steps, window=window, lags=lags)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 runs x 2,000 steps; print only")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    base = marldyn.load_config(ROOT / "examples" / "pd_lattice.toml")
    if args.quick:
        base = base.with_overrides(steps=2000, runs=2)

    # Warm-up: compile every numba path once, so that the timings below are run times.
    warm = base.with_overrides(steps=20, runs=2, record_every=10)
    marldyn.simulate(warm)
    for method, options in cases(warm)[2]["theories"] + cases(warm)[0]["theories"]:
        run_theory(warm, method, options)

    lines = []
    for case in cases(base):
        config = case["config"]
        start = time.perf_counter()
        simulation = marldyn.simulate(config, workers=args.workers, progress=False)
        simulated = time.perf_counter() - start
        n_states = simulation.sizes["state"]
        runs, steps = simulation.sizes["run"], int(simulation["time"][-1])
        print(f"{case['title']}: simulation {simulated:.1f} s", file=sys.stderr)
        header = " | ".join(f"max err s{s + 1} (SE)" for s in range(n_states))
        final = simulation["policy"].isel(time=-1).mean("run").values
        final_text = "; ".join(
            f"s{s + 1}: (" + ", ".join(f"{value:.3f}" for value in final[s]) + ")" for s in range(n_states)
        )
        spread = float(simulation["q_std"].isel(time=-1).mean("run").max())
        lines += [
            "",
            f"### {case['title']}",
            "",
            f"Simulation: {runs} runs x {steps:,} steps, {simulated:.0f} s (workers = {args.workers}). "
            f"Final mean policy {final_text}. Final across-agent std of Q (max over entries): {spread:.3f}.",
            "",
            f"| theory | {header} | at t (worst state) | max err edge fractions (t ≥ 100) | final std of Q "
            "| q_std / sim (min-max over t ≥ 100) | warned (non-Gaussian) | time |",
            "|---|" + "---|" * n_states + "---|---|---|---|---|---|",
        ]
        for method, options in case["theories"]:
            if method == "sde" and options.get("dt") == 1.0 and args.quick:
                continue
            predicted, elapsed, messages = run_theory(config, method, options)
            result = compare(simulation, predicted)
            rows = per_state(result, n_states)
            fractions = max(  # from the first record on: the reduced theories skip the fast relaxation at t = 0
                max(c["error"][1:]) for c in result["components"] if c["variable"] == "state_fraction"
            )
            worst = max(rows, key=lambda row: row[0])
            cells = " | ".join(f"{error:.4f} ({se:.4f})" for error, se, _ in rows)
            judged = case["target"] is not None and not (case["key"] == "noisy" and method == "reduced")
            mark = (" ✓" if worst[0] <= case["target"] else " ✗") if judged else ""
            theory_spread = 0.0  # a point mass has no spread
            if "q_std" in predicted:
                final_std = predicted["q_std"].isel(time=-1)
                theory_spread = float((final_std.mean("run") if "run" in final_std.dims else final_std).max())
            ratio, warned = spread_ratio(simulation, predicted), warning_cell(messages, predicted)
            lines.append(
                f"| {label(method, options)}{mark} | {cells} | {worst[2]:,} | {fractions:.4f} | {theory_spread:.3f} "
                f"| {ratio} | {warned} | {elapsed:.1f} s |"
            )
            print(
                f"  {label(method, options)}: {cells}; q_std ratio {ratio}; {warned} ({elapsed:.1f} s)", file=sys.stderr
            )
    lines += alpha_sweep(base, cap=QUICK_SWEEP_CAP if args.quick else SWEEP_CAP, workers=args.workers)
    checks = edge_factor_check(base.with_overrides(record_every=100))
    lines += [
        "",
        f"### Eq. (9)'s edge factor on the lattice (the paper's noisy start, {base.run.runs} runs)",
        "",
        "| t | fraction of edges in s1, p | P(n_s1 ≥ 1) of an agent, simulated | 1 - (1 - p)^4 (eq. 9) | ratio |",
        "|---|---|---|---|---|",
    ]
    for row in checks:
        lines.append(
            f"| {row['time']:,} | {row['p']:.4f} | {row['simulated']:.4f} | {row['formula']:.4f} "
            f"| {row['simulated'] / row['formula']:.4f} |"
        )
    correlation = increment_correlation(base)
    entries = [f"Q(s{s + 1}, a{a + 1})" for s in range(2) for a in range(2)]
    lines += [
        "",
        f"### Temporal correlation of an agent's increments on the lattice (the paper's noisy start, "
        f"t = {correlation['window']:,}..{correlation['steps'] - correlation['window']:,}, 4 runs)",
        "",
        "Actions a1 = cooperate, a2 = defect. Ratio = (Var + 2 Σ_{lag=1.."
        f"{correlation['lags']}}} Cov(ΔQ_t, ΔQ_t+lag)) / Var: the effective diffusion per step relative to the "
        "one-step Σ that eq. (5) uses (1 for independent steps).",
        "",
        "| entry | lag-1 autocorrelation | effective / one-step variance |",
        "|---|---|---|",
    ]
    for name, lag1, ratio in zip(entries, correlation["lag1"], correlation["ratio"], strict=True):
        lines.append(f"| {name} | {lag1:+.3f} | {ratio:.3f} |")
    text = "\n".join(lines).strip("\n")
    print(text)
    if not args.quick:
        stamp = (
            f"Generated by `python docs/validation.py` (marldyn {marldyn.__version__}); "
            "✓/✗: the issue's target (0.02 from fixed tables, 0.03 from the noisy start) met or missed. "
            "q_std / sim: the theory's across-agent std of Q over the simulation's (run means), min-max over all "
            "entries and the records after t = 0 (the closure's target: within 20 % over the whole trajectory). "
            "warned: whether the theory emitted a MarldynWarning — the closure's non-Gaussianity diagnostic, "
            f"predicted abs. skewness > {SKEWNESS_WARNING:g} or abs. excess kurtosis > {KURTOSIS_WARNING:g} in "
            "some entry — from which recorded time, and the largest predicted values over the trajectory."
        )
        write_generated(BEGIN, END, stamp, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
