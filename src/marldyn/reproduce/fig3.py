"""Figure 3 of the paper: the two-state prisoner's dilemma on the 10x10 lattice, simulation vs theory.

Panels: (a) the edge-state fraction with the theoretical stationary distribution as marks, also on a
logarithmic time axis where the one-step relaxation of the edge states shows (the ``full-discrete`` theory
follows it); (b), (c) cooperation in s1 and s2 against the heterogeneous ``particles`` theory (the paper's),
the homogeneous ``reduced`` and ``full`` theories, the ``sde`` ensemble and the Gaussian moment ``closure``
(mean and spatial covariance of Q on the lattice; its non-Gaussianity warnings go to the summary). Extra
rows: the same from Q = 0 without noise, and the long-horizon continuation of the theories (what becomes of
"full cooperation", NOTES.md 2).
"""

from __future__ import annotations

import numpy as np

from ..plots import (
    cooperation_components,
    new_figure,
    plot_components,
    plot_series,
    plot_stationary_marks,
    style_axes,
)
from ..theory.methods import Closure, Full, FullDiscrete, Particles, Reduced
from .common import (
    PAPER,
    Case,
    Reproduction,
    TheorySpec,
    compact_errors,
    horizon,
    make_config,
    merge_in_time,
    run_count,
    sde_theory,
)

STEPS = 20_000
EARLY_STEPS = 1_000
LONG_STEPS = 10_000_000
#: Quick mode keeps a horizon past the end of "full cooperation" (the theories are cheap).
LONG_STEPS_QUICK = 2_500_000
LONG_RECORDS = 2_000
THEORIES = (
    TheorySpec(Particles()),
    TheorySpec(Reduced()),
    TheorySpec(Full()),
    sde_theory(PAPER["learning"]["alpha"]),
    TheorySpec(Closure()),
    TheorySpec(FullDiscrete()),
)
POLICY_THEORIES = ("particles", "reduced", "full", "sde", "closure")
#: Colour and dash of each theory of :data:`POLICY_THEORIES` in the cooperation panels.
POLICY_COLOURS = ("C1", "C2", "C4", "C5", "C3")
POLICY_DASHES = ("--", (0, (6, 2)), ":", "-.", (0, (3, 1, 1, 1, 1, 1)))
STATE_COLOURS = ("C0", "C3")
ZERO_Q = {"init": {"q": [[0.0, 0.0], [0.0, 0.0]], "q_noise": 0.0}}
#: Cooperation in s2 below this counts as "full cooperation lost" in the long-horizon summary.
COOPERATION_LEVEL = 0.9
#: Steps of the edge-state relaxation reported in the summary.
RELAXATION_STEPS = 3


def cases(quick: bool = False) -> list[Case]:
    """The cases of Figure 3: main, its dense start, Q = 0, and the theory-only long horizon."""
    steps, runs = horizon(STEPS, quick), run_count(PAPER["run"]["runs"], quick)
    early = min(EARLY_STEPS, steps)
    long_steps = LONG_STEPS_QUICK if quick else LONG_STEPS
    long_particles = 25 if quick else None
    return [
        Case("main", "paper's initial Q", make_config(steps=steps, runs=runs), THEORIES),
        Case(
            "early",
            "paper's initial Q, every step",
            make_config(steps=early, runs=runs, record_every=1),
            (TheorySpec(FullDiscrete()), TheorySpec(Particles())),
        ),
        Case(
            "zero",
            "Q = 0, no noise",
            make_config(ZERO_Q, steps=steps, runs=runs),
            THEORIES,
            varied={"initial_q": [[0.0, 0.0], [0.0, 0.0]], "q_noise": 0.0},
        ),
        Case(
            "long",
            "long horizon (theory only)",
            make_config(steps=long_steps, runs=runs, record_every=max(1, long_steps // LONG_RECORDS)),
            (TheorySpec(Reduced()), TheorySpec(Full()), TheorySpec(Particles(n=long_particles))),
            simulate=False,
            varied={"steps": long_steps},
        ),
    ]


def reproduce(out_dir, *, quick: bool = False, workers: int = 1, progress=None) -> dict:
    """Reproduce Figure 3 into ``out_dir``; returns the summary (see :mod:`marldyn.reproduce.common`)."""
    job = Reproduction(
        "fig3",
        "Figure 3: two-state prisoner's dilemma on a 10x10 lattice, simulation vs theory",
        out_dir,
        quick=quick,
        workers=workers,
        progress=progress,
        base=make_config(steps=horizon(STEPS, quick), runs=run_count(PAPER["run"]["runs"], quick)),
    )
    results = job.run(cases(quick))
    main, early, zero, long = (results[key] for key in ("main", "early", "zero", "long"))
    job.extra["edge_state_relaxation"] = _relaxation(main, early)
    job.extra["long_horizon"] = _long_horizon(long)
    sde_dt = next(spec.method.dt for spec in THEORIES if spec.method.name == "sde")
    job.extra["sde"] = {"dt": sde_dt, "seconds": round(main.seconds["sde"], 3)}
    job.note(
        f"The sde ensemble (exact Σ, Euler–Maruyama with dt = {sde_dt:g} steps) is included: it took "
        f"{main.seconds['sde']:.1f} s for {main.simulation.sizes['run']} members of {main.case.config.run.steps} "
        "steps; unlike the deterministic theories it has the finite population's run-to-run noise."
    )
    job.note(
        "The reduced-timescale theories (reduced, particles, sde) put the edge states at their stationary "
        "distribution from t = 0, so their edge-state error peaks at t = 0; the simulation starts 50/50 and "
        "relaxes within a few steps, which full-discrete follows (see edge_state_relaxation and the log-time panel)."
    )
    job.extra["closure"] = _closure_summary({"main": main, "zero": zero})
    job.note(_closure_note(job.extra["closure"]))
    relaxation, lost = job.extra["edge_state_relaxation"], job.extra["long_horizon"]
    steps_text = ", ".join(
        f"t = {t}: {s:.3f} ± {e:.3f} (full-discrete {d:.3f})"
        for t, s, e, d in zip(
            relaxation["times"],
            relaxation["simulation"],
            relaxation["simulation_standard_error"],
            relaxation["full-discrete"],
            strict=True,
        )
    )
    job.note(
        f"Fast relaxation of the edge states: fraction of edges in s1 (simulation run-mean ± standard error) "
        f"{steps_text}; stationary for the initial policies: {relaxation['stationary']:.3f}."
    )
    for label, info in lost.items():
        when = info["cooperation_s2_below_level_at"]
        final = info["final_cooperation"]
        job.note(
            f"Long horizon ({label}): cooperation in s2 "
            + (
                f"rises above and then falls below {COOPERATION_LEVEL} at t = {when:g} steps"
                if when is not None
                else f"does not fall back below {COOPERATION_LEVEL}"
            )
            + f"; at t = {info['horizon']:g}: cooperation s1 = {final[0]:.4f}, s2 = {final[1]:.4f}"
            + (" ('full cooperation' is a long-lived transient)." if when is not None else ".")
        )
    job.save_figure(_figure(main, early, zero, long))
    return job.finish()


def _relaxation(main, early) -> dict:
    """The fraction of edges in s1 over the first steps: simulation (run-mean, standard error), full-discrete,
    and the stationary value for the initial policies (particles theory at t = 0)."""
    first = early.simulation["state_fraction"].sel(state=0).isel(time=slice(0, RELAXATION_STEPS + 1))
    runs = first.sizes["run"]
    error = first.std("run", ddof=1) / np.sqrt(runs) if runs > 1 else first.mean("run") * np.nan
    discrete = early.theories["full-discrete"]["state_fraction"].sel(state=0).values[: RELAXATION_STEPS + 1]
    stationary = float(main.theories["particles"]["state_fraction"].sel(state=0).values[0])
    return {
        "times": [int(t) for t in first["time"].values],
        "simulation": [float(v) for v in first.mean("run").values],
        "simulation_standard_error": [float(v) for v in error.values],
        "full-discrete": [float(v) for v in discrete],
        "stationary": stationary,
    }


def _closure_summary(results: dict) -> dict:
    """Per case: the closure's and the sde's wall times, their largest errors per state against the simulation
    (cooperation and edge-state fraction, from the summary's comparisons), and the closure's non-Gaussianity
    diagnostic (the largest predicted skewness and excess kurtosis in absolute value; the warnings it raised)."""
    summary = {}
    for key, result in results.items():
        closure = result.theories["closure"]
        summary[key] = {
            "label": result.case.label,
            "seconds": round(result.seconds["closure"], 3),
            "sde_seconds": round(result.seconds["sde"], 3),
            **{
                f"{label}_max_error": _errors_per_state(compact_errors(result.comparisons[label]))
                for label in ("closure", "sde")
            },
            "max_abs_skewness": float(np.abs(closure["q_skewness"]).max()),
            "max_abs_kurtosis": float(np.abs(closure["q_kurtosis"]).max()),
            "warnings": list(result.theory_warnings.get("closure", [])),
        }
    return summary


def _errors_per_state(errors: dict) -> dict:
    """Largest error over time per state: cooperation (policy of action 0) and the fraction of edges."""
    components = errors["components"]
    cooperation = sorted(
        (c["state"], c["max_error"]) for c in components if c["variable"] == "policy" and c["action"] == 0
    )
    fraction = sorted((c["state"], c["max_error"]) for c in components if c["variable"] == "state_fraction")
    return {"cooperation": [error for _, error in cooperation], "state_fraction": [error for _, error in fraction]}


def _closure_note(closure: dict) -> str:
    """One sentence per case on the closure: wall time against the sde's, errors per state, diagnostic."""

    def per_state(values):
        return ", ".join(f"s{state + 1} {value:.3f}" for state, value in enumerate(values))

    parts = []
    for info in closure.values():
        errors, sde = info["closure_max_error"], info["sde_max_error"]
        warned = (
            f"its non-Gaussianity warning fired ({len(info['warnings'])} message(s), recorded in the case's "
            f"theories.closure.warnings: {'; '.join(info['warnings'])})"
            if info["warnings"]
            else "its non-Gaussianity warning did not fire"
        )
        parts.append(
            f"{info['label']}: closure {info['seconds']:.2f} s vs sde {info['sde_seconds']:.2f} s; largest error vs "
            f"the simulation, cooperation {per_state(errors['cooperation'])} (sde {per_state(sde['cooperation'])}), "
            f"edges {per_state(errors['state_fraction'])} (sde {per_state(sde['state_fraction'])}); predicted "
            f"|skewness| up to {info['max_abs_skewness']:.2f}, |excess kurtosis| up to "
            f"{info['max_abs_kurtosis']:.2f}, {warned}"
        )
    return (
        "The Gaussian moment closure (reduced time scale; deterministic, one solve per case; wall times of this "
        "run, where the first case's include compiling or loading each theory's numba functions and the later "
        "cases' do not) — " + ". ".join(parts) + "."
    )


def _long_horizon(long) -> dict:
    """Per long-horizon theory: when cooperation in s2 drops below the level after reaching it; final values."""
    summary = {}
    for label, dataset in long.theories.items():
        cooperation = dataset["policy"].sel(action=0).transpose("time", "state").values
        below = np.flatnonzero(cooperation[:, 1] < COOPERATION_LEVEL)
        high = np.flatnonzero(cooperation[:, 1] >= COOPERATION_LEVEL)
        after = below[below > high[0]] if high.size else below[:0]
        summary[label] = {
            "horizon": float(dataset["time"].values[-1]),
            "level": COOPERATION_LEVEL,
            "cooperation_s2_below_level_at": float(dataset["time"].values[after[0]]) if after.size else None,
            "final_cooperation": [float(v) for v in cooperation[-1]],
            "final_q": dataset["q"].isel(time=-1).values.tolist(),
        }
    return summary


def _figure(main, early, zero, long):
    figure, axes = new_figure(3, 4, width=4.2, height=3.7)
    states = [{"state": 0}, {"state": 1}]
    names = ["edges in s1", "edges in s2"]
    fraction = {"variable": "state_fraction", "components": states, "names": names, "colours": STATE_COLOURS}
    # Row 1: the paper's Figure 3, and the edge states on a symmetric-log time axis (t = 0 included).
    _marks(axes[0, 0], main.theories["particles"])
    plot_components({"simulation": main.simulation, "particles": main.theories["particles"]}, ax=axes[0, 0], **fraction)
    style_axes(axes[0, 0], title="(a) edge states, stationary as marks", ylabel="fraction of edges", legend=False)
    simulation = merge_in_time(early.simulation, main.simulation)
    merged = {
        label: merge_in_time(early.theories[label], main.theories[label]) for label in ("full-discrete", "particles")
    }
    plot_components({"simulation": simulation, **merged}, ax=axes[0, 1], log_time="symlog", **fraction)
    style_axes(
        axes[0, 1], title="(a′) log time: fast relaxation", ylabel="fraction of edges", log_time="symlog", legend=False
    )
    _policies(axes[0, 2:], main, "(b)", "(c)")
    # Row 2: from Q = 0 without noise.
    _marks(axes[1, 0], zero.theories["particles"])
    plot_components({"simulation": zero.simulation, "particles": zero.theories["particles"]}, ax=axes[1, 0], **fraction)
    style_axes(axes[1, 0], title="(d) Q = 0: edge states", ylabel="fraction of edges", legend=False)
    _policies(axes[1, 1:3], zero, "(e) Q = 0:", "(f) Q = 0:")
    plot_components(
        {
            "simulation": zero.simulation,
            "particles": zero.theories["particles"],
            "sde": zero.theories["sde"],
            "closure": zero.theories["closure"],
        },
        "q_std",
        [{"state": 0, "action": 0}, {"state": 1, "action": 0}],
        ["Q(s1, C)", "Q(s2, C)"],
        ax=axes[1, 3],
        colours=STATE_COLOURS,
    )
    style_axes(
        axes[1, 3], title="(g) Q = 0: spread of Q across agents", ylabel="std of Q", probability=False, legend=False
    )
    # Row 3: the long horizon, theory only (joined to the main horizon's theory), with the simulation.
    labels = tuple(long.theories)
    continued = {label: merge_in_time(main.theories[label], long.theories[label]) for label in labels}
    plot_components({"simulation": main.simulation, **continued}, ax=axes[2, 0], log_time=True, **fraction)
    style_axes(
        axes[2, 0], title="(h) long horizon: edge states", ylabel="fraction of edges", log_time=True, legend=False
    )
    for ax, state, tag in ((axes[2, 1], 0, "(i)"), (axes[2, 2], 1, "(j)")):
        where = {"state": state, "action": 0, "log_time": True}
        plot_series(main.simulation, "policy", ax=ax, color="0.2", label="simulation (mean ± 1 std)", **where)
        for label, colour, dash in zip(labels, ("C1", "C2", "C4"), ("--", "-.", ":"), strict=True):
            plot_series(
                continued[label], "policy", ax=ax, color=colour, linestyle=dash, label=f"theory: {label}", **where
            )
        style_axes(ax, title=f"{tag} long horizon: cooperation in s{state + 1}", ylabel="P(cooperate)", log_time=True)
    entries = [(state, action) for state in range(2) for action in range(2)]
    plot_components(
        {"reduced": continued["reduced"]},
        "q",
        [{"state": state, "action": action} for state, action in entries],
        [f"Q(s{state + 1}, {'CD'[action]})" for state, action in entries],
        ax=axes[2, 3],
        colours=("C0", "C9", "C3", "C1"),
        dashes=("-",),
        log_time=True,
    )
    style_axes(
        axes[2, 3], title="(k) long horizon: Q-values", ylabel="Q", log_time=True, probability=False, legend=False
    )
    runs, steps = main.simulation.sizes["run"], main.case.config.run.steps
    figure.suptitle(
        f"Figure 3: two-state PD on a 10x10 lattice, N = 100, α = 0.001, β = 1, γ = 0.8, b = (5, 1.2), "
        f"p = (0.7, 0.2); simulation: {runs} runs x {steps} steps (mean ± 1 std)\n"
        "row 1: initial Q from the authors' code; row 2: from Q = 0 (no noise); row 3: long horizon (theory)"
    )
    return figure


def _policies(axes, result, first: str, second: str) -> None:
    """Cooperation in s1 and s2: the simulation and the theories of :data:`POLICY_THEORIES`."""
    for ax, where, tag in zip(axes, cooperation_components(), (first, second), strict=True):
        plot_series(result.simulation, "policy", ax=ax, color="0.2", label="simulation (mean ± 1 std)", **where)
        for label, colour, dash in zip(POLICY_THEORIES, POLICY_COLOURS, POLICY_DASHES, strict=True):
            theory = result.theories[label]
            plot_series(theory, "policy", ax=ax, color=colour, linestyle=dash, label=f"theory: {label}", **where)
        style_axes(ax, title=f"{tag} cooperation in s{where['state'] + 1}", ylabel="P(cooperate)")


def _marks(ax, theory, count: int = 10) -> None:
    """The theory's stationary edge-state distribution (for its current policies) as open circles."""
    plot_stationary_marks(theory, ax=ax, colours=STATE_COLOURS, count=count, label="stationary (particles)")
