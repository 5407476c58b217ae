"""Supplementary Figure 1: the inverse temperature beta = 1, 2, 5 (other settings as in Figure 3)."""

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

STEPS = 20_000
BETAS = (1.0, 2.0, 5.0)
THEORIES = (TheorySpec(Particles()), TheorySpec(Reduced()), sde_theory(PAPER["learning"]["alpha"]))


def cases(quick: bool = False) -> list[Case]:
    """One case per beta."""
    steps, runs = horizon(STEPS, quick), run_count(PAPER["run"]["runs"], quick)
    return [
        Case(
            f"beta{beta:g}",
            f"β = {beta:g}",
            make_config({"learning": {"beta": beta}}, steps=steps, runs=runs),
            THEORIES,
            varied={"beta": beta},
        )
        for beta in BETAS
    ]


def reproduce(out_dir, *, quick: bool = False, workers: int = 1, progress=None) -> dict:
    """Reproduce Supplementary Figure 1 into ``out_dir``; returns the summary."""
    job = Reproduction(
        "si-beta",
        "Supplementary Figure 1: inverse temperature β = 1, 2, 5",
        out_dir,
        quick=quick,
        workers=workers,
        progress=progress,
        base=make_config(steps=horizon(STEPS, quick), runs=run_count(PAPER["run"]["runs"], quick)),
    )
    results = list(job.run(cases(quick)).values())
    return single_row_figure(
        job,
        results,
        THEORIES,
        "Supplementary Fig. 1: β = 1, 2, 5; PD on a 10x10 lattice, α = 0.001, γ = 0.8, b = (5, 1.2), p = (0.7, 0.2)",
    )
