"""Supplementary Figure 2: several transition probabilities (p1, p2) at alpha = 1e-4.

The supplement does not list the pairs; we take the authors' (0.7, 0.2) and the corners of
p1 in {0.5, 0.9} x p2 in {0.1, 0.4}: cooperation should grow with p1 and fall with p2. At alpha = 1e-4 the
horizon is 200,000 steps (alpha x steps = 20, as in Figure 3).
"""

from __future__ import annotations

from ..theory.methods import Particles, Reduced
from .common import (
    PAPER,
    Case,
    Reproduction,
    TheorySpec,
    horizon,
    make_config,
    run_count,
    sde_theory,
    single_row_figure,
)

ALPHA = 1e-4
STEPS = 200_000
PAIRS = ((0.7, 0.2), (0.9, 0.1), (0.9, 0.4), (0.5, 0.1), (0.5, 0.4))
THEORIES = (TheorySpec(Particles()), TheorySpec(Reduced()), sde_theory(ALPHA))


def cases(quick: bool = False) -> list[Case]:
    """One case per (p1, p2)."""
    steps, runs = horizon(STEPS, quick), run_count(PAPER["run"]["runs"], quick)
    return [
        Case(
            f"p{p1:g}_{p2:g}",
            f"p = ({p1:g}, {p2:g})",
            make_config({"game": {"p": [p1, p2]}, "learning": {"alpha": ALPHA}}, steps=steps, runs=runs),
            THEORIES,
            varied={"p": [p1, p2], "alpha": ALPHA},
        )
        for p1, p2 in PAIRS
    ]


def reproduce(out_dir, *, quick: bool = False, workers: int = 1, progress=None) -> dict:
    """Reproduce Supplementary Figure 2 into ``out_dir``; returns the summary."""
    job = Reproduction(
        "si-transition",
        "Supplementary Figure 2: transition probabilities (p1, p2) at α = 1e-4",
        out_dir,
        quick=quick,
        workers=workers,
        progress=progress,
        base=make_config(
            {"learning": {"alpha": ALPHA}}, steps=horizon(STEPS, quick), runs=run_count(PAPER["run"]["runs"], quick)
        ),
    )
    job.note(
        "The supplement does not list its (p1, p2) pairs; these are the authors' (0.7, 0.2) and the corners of "
        "p1 in {0.5, 0.9} x p2 in {0.1, 0.4}."
    )
    results = list(job.run(cases(quick)).values())
    return single_row_figure(
        job,
        results,
        THEORIES,
        "Supplementary Fig. 2: (p1, p2) at α = 1e-4; PD on a 10x10 lattice, β = 1, γ = 0.8, b = (5, 1.2)",
    )
