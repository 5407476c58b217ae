"""Figure 5 of the paper: sensitivity to the learning rate and to the degree of the graph.

(a)-(f) alpha = 1e-4, 1e-3, 1e-2, 1e-1, each over ``20 / alpha`` steps (capped at 200,000, the paper's horizon at
alpha = 1e-4), against the time-scale-separated theories (``reduced``, ``particles``) and those that keep the
edge states dynamic (``full``, ``full-discrete``, and ``particles`` with the full time scale where alpha >= 1e-2),
the ``sde`` ensemble (finite-population noise, which grows with alpha) and the Gaussian moment ``closure`` (mean
and spatial covariance of Q, reduced time scale). Row 1 draws the point-mass theories, row 2 the population
theories. Times are drawn as alpha x time so the four learning rates share an axis.

(g)-(i) random regular graphs of degree 3, 4, 6, 10, 20 and the complete graph, N = 100: a larger degree
averages more TD errors per step (a larger batch) and learns faster; theory per degree.
"""

from __future__ import annotations

from ..plots import new_figure, pd_row
from ..theory.methods import Closure, Full, FullDiscrete, Particles, Reduced
from .common import (
    PAPER,
    QUICK_STEP_FACTOR,
    SDE_LEARNING_STEP,
    Case,
    Reproduction,
    TheorySpec,
    horizon,
    make_config,
    note_final_cooperation,
    run_count,
    sde_theory,
)

ALPHAS = (1e-4, 1e-3, 1e-2, 1e-1)
#: alpha x steps per learning-rate case (20 as in Figure 3), capped at MAX_STEPS.
LEARNING_TIME = 20.0
MAX_STEPS = 200_000
#: The full-timescale particle theory costs O(P^2) per simulator step; it is computed where alpha >= this.
PARTICLES_FULL_FROM = 1e-2
DEGREES = (3, 4, 6, 10, 20)
STEPS = 20_000
ALPHA_THEORIES = (
    TheorySpec(Reduced()),
    TheorySpec(Full()),
    TheorySpec(FullDiscrete()),
    TheorySpec(Particles()),
    TheorySpec(Closure()),
)
PARTICLES_FULL = TheorySpec(Particles(timescale="full"), label="particles-full")
#: Theories drawn in the two learning-rate rows: point masses, then heterogeneous / noisy populations.
POINT_MASS = ("reduced", "full")
POPULATION = ("particles", "particles-full", "sde", "closure")
DEGREE_THEORIES = (TheorySpec(Particles()), TheorySpec(Reduced()))


def alpha_steps(alpha: float, quick: bool = False) -> int:
    """The horizon for a learning rate: ``LEARNING_TIME / alpha`` steps, capped (and shortened in quick mode)."""
    return horizon(min(MAX_STEPS, round(LEARNING_TIME / alpha)), quick)


def cases(quick: bool = False) -> list[Case]:
    """One case per learning rate, then one per degree (and the complete graph)."""
    runs = run_count(PAPER["run"]["runs"], quick)
    result = []
    for alpha in ALPHAS:
        theories = ALPHA_THEORIES + ((PARTICLES_FULL,) if alpha >= PARTICLES_FULL_FROM else ())
        theories += (sde_theory(alpha),)
        result.append(
            Case(
                f"alpha{alpha:g}",
                f"α = {alpha:g}",
                make_config({"learning": {"alpha": alpha}}, steps=alpha_steps(alpha, quick), runs=runs),
                theories,
                varied={"alpha": alpha},
            )
        )
    graphs = [{"kind": "random_regular", "n": 100, "degree": k} for k in DEGREES] + [{"kind": "complete", "n": 100}]
    for graph in graphs:
        degree = graph.get("degree", graph["n"] - 1)
        name = f"k = {degree}" if graph["kind"] == "random_regular" else f"complete (k = {degree})"
        result.append(
            Case(
                f"degree{degree}",
                name,
                make_config({"graph": graph}, steps=horizon(STEPS, quick), runs=runs),
                DEGREE_THEORIES,
                varied={"graph": graph},
            )
        )
    return result


def reproduce(out_dir, *, quick: bool = False, workers: int = 1, progress=None) -> dict:
    """Reproduce Figure 5 into ``out_dir``; returns the summary."""
    job = Reproduction(
        "fig5",
        "Figure 5: learning rate (time-scale separation) and graph degree",
        out_dir,
        quick=quick,
        workers=workers,
        progress=progress,
        base=make_config(steps=horizon(STEPS, quick), runs=run_count(PAPER["run"]["runs"], quick)),
    )
    job.note(
        f"Learning-rate cases run for {LEARNING_TIME:g} / α steps (capped at {MAX_STEPS}; quick mode divides "
        f"by {QUICK_STEP_FACTOR}) and are drawn against α x time. The sde ensemble steps dt = "
        f"{SDE_LEARNING_STEP:g} / α (at least 1 step). The particle "
        "theory with the full time scale (every pair's edge-state distribution stepped exactly, O(P²) per step) "
        f"is computed for α >= {PARTICLES_FULL_FROM:g} only, as it would take minutes at smaller α; there the "
        "point-mass full and reduced theories (row 1) show whether the time-scale separation holds."
    )
    job.note(
        "Random regular graphs are drawn with the run seed (graph seed 0); the complete graph has degree N - 1 = 99."
    )
    results = job.run(cases(quick))
    by_alpha = [results[f"alpha{alpha:g}"] for alpha in ALPHAS]
    by_degree = [r for key, r in results.items() if key.startswith("degree")]
    note_final_cooperation(job, by_degree)
    figure, axes = new_figure(3, 3, width=4.5, height=3.8)
    learning_time = {"time_scale": lambda result: result.case.varied["alpha"]}
    pd_row(axes[0], by_alpha, POINT_MASS, prefix="α, point mass: ", **learning_time)
    pd_row(axes[1], by_alpha, POPULATION, prefix="α, population: ", tags="def", **learning_time)
    pd_row(axes[2], by_degree, [spec.name for spec in DEGREE_THEORIES], prefix="degree: ", tags="ghi")
    runs = by_alpha[0].simulation.sizes["run"]
    figure.suptitle(
        "Figure 5: PD, N = 100, β = 1, γ = 0.8, b = (5, 1.2), p = (0.7, 0.2), "
        f"{runs} runs per case (mean ± 1 std)\nrows 1-2: 10x10 lattice, α varied (time as α × t); "
        "row 3: α = 0.001, random regular graphs of degree k and the complete graph"
    )
    job.save_figure(figure)
    return job.finish()
