"""Figure 4 of the paper: the mechanism of cooperation — b1 = b2 = 1.2 (no incentive) vs b1 = 5, across gamma.

Every combination of the benefits (b1, b2) = (1.2, 1.2) and (5, 1.2) with the discount gamma = 0.2, 0.5,
0.8, 0.9 is simulated (40,000 steps, the paper's horizon for this figure) and predicted by the heterogeneous
``particles`` theory (the paper's), the homogeneous ``reduced`` theory and the ``sde`` ensemble (finite-population
noise). Panels per benefit setting: the fraction of edges in s1 and the cooperation in s1 and s2, one colour per
gamma.
"""

from __future__ import annotations

from ..plots import new_figure, pd_row
from ..theory.methods import Particles, Reduced
from .common import (
    PAPER,
    Case,
    Reproduction,
    TheorySpec,
    horizon,
    make_config,
    note_final_cooperation,
    run_count,
    sde_theory,
)

STEPS = 40_000
GAMMAS = (0.2, 0.5, 0.8, 0.9)
BENEFITS = ((1.2, 1.2), (5.0, 1.2))
THEORIES = (TheorySpec(Particles()), TheorySpec(Reduced()), sde_theory(PAPER["learning"]["alpha"]))


def cases(quick: bool = False) -> list[Case]:
    """One case per (b1, b2) and gamma."""
    steps, runs = horizon(STEPS, quick), run_count(PAPER["run"]["runs"], quick)
    return [
        Case(
            f"b{b1:g}_{b2:g}_gamma{gamma:g}",
            f"b = ({b1:g}, {b2:g}), γ = {gamma:g}",
            make_config(
                {"game": {"b": [b1, b2]}, "learning": {"gamma": gamma}},
                steps=steps,
                runs=runs,
            ),
            THEORIES,
            varied={"b": [b1, b2], "gamma": gamma},
        )
        for b1, b2 in BENEFITS
        for gamma in GAMMAS
    ]


def reproduce(out_dir, *, quick: bool = False, workers: int = 1, progress=None) -> dict:
    """Reproduce Figure 4 into ``out_dir``; returns the summary."""
    job = Reproduction(
        "fig4",
        "Figure 4: no cooperation without the state incentive (b1 = b2 = 1.2); cooperation with b1 = 5 and large γ",
        out_dir,
        quick=quick,
        workers=workers,
        progress=progress,
        base=make_config(steps=horizon(STEPS, quick), runs=run_count(PAPER["run"]["runs"], quick)),
    )
    results = list(job.run(cases(quick)).values())
    figure, axes = new_figure(len(BENEFITS), 3, width=4.4, height=3.6)
    labels = [spec.name for spec in THEORIES]
    for row, (b1, b2) in enumerate(BENEFITS):
        group = [r for r in results if r.case.varied["b"] == [b1, b2]]
        pd_row(
            axes[row],
            group,
            labels,
            prefix=f"b = ({b1:g}, {b2:g}): ",
            tags="abc" if row == 0 else "def",
            case_labels=[f"γ = {r.case.varied['gamma']:g}" for r in group],
        )
        note_final_cooperation(job, group)
    runs = results[0].simulation.sizes["run"]
    figure.suptitle(
        f"Figure 4: two-state PD on a 10x10 lattice, α = 0.001, β = 1, c = (0.5, 0.5), p = (0.7, 0.2); "
        f"{runs} runs x {results[0].case.config.run.steps} steps per γ"
    )
    job.save_figure(figure)
    return job.finish()
