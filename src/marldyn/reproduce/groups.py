"""Two figures of our own on group games (issue 14), each a sweep: the theory on a fine grid, the simulation at a
few of its points.

- ``groups-public-goods``: cooperation in the networked stochastic public goods game over the multiplication
  factor per group member r1/n of the rich state and the discount γ (neighbourhood groups of n = 5 on the 10x10
  lattice): the reduced point mass on a grid, the simulation on every third point of each axis.
- ``groups-ecological``: the ecological public good ("caring for the future", Barfuss et al. 2020): the share of
  prosperous groups over γ, on the lattice (neighbourhood groups of 5) and on a random 4-regular graph (groups of
  5 that overlap little, the well-mixed case the point mass describes), the point mass on a fine grid of γ, the
  simulation, the SDE ensemble (the learning noise of a finite population) and the per-agent SDE on the actual
  groups on every fourth point.
"""

from __future__ import annotations

import numpy as np

from ..analysis.sweep import parse_sweep, run_sweep
from ..io import write_dataset
from ..plots import new_figure, plot_phase_diagram, plot_sweep_curve
from .common import QUICK_RUNS, Reproduction

GROUP_SIZE = 5  # neighbourhood groups on the lattice and the 4-regular graph: a focal agent and four neighbours
ALPHA = 0.01


def _sweep(base: dict, parameters: dict, steps: int, runs: int, every: dict, window: float, sde: bool = False):
    """The reduced point mass on every point, the simulation (and with ``sde`` the SDE ensemble and the per-agent SDE
    on the groups) on ``every``."""
    tasks = [
        {"run": "theory", "method": "reduced", "steps": steps, "record_every": steps // 20},
        {"run": "simulate", "steps": steps, "runs": runs, "record_every": steps // 20, "every": every},
    ]
    if sde:
        common = {"dt": 10.0, "steps": steps, "runs": runs, "record_every": steps // 20, "every": every}
        tasks += [{"run": "theory", "method": method, **common} for method in ("sde", "sde-graph")]
    return parse_sweep(
        {
            "base": base,
            "parameters": parameters,
            "task": tasks,
            "summary": {"variables": ["policy", "state_fraction"], "window": window},
        }
    )


def public_goods_sweep(quick: bool = False):
    """The sweep of ``groups-public-goods``: r1 (so r1/n) and γ, the reduced point mass and the simulation."""
    steps, runs = (3_000, QUICK_RUNS) if quick else (30_000, 4)
    factors = {"start": 2.0, "stop": 7.0, "num": 4 if quick else 16}
    gammas = {"start": 0.5, "stop": 0.95, "num": 3 if quick else 10}
    base = {
        "game": {"name": "public_goods", "r": [3.5, 1.5]},
        "graph": {"kind": "lattice", "n": 100, "groups": "neighborhood"},
        "learning": {"alpha": ALPHA},
        "run": {"steps": steps, "runs": runs, "record_every": steps // 20, "seed": 3},
    }
    parameters = {"game.r[0]": factors, "learning.gamma": gammas}
    every = {"game.r[0]": 3, "learning.gamma": 3}
    return _sweep(base, parameters, steps, runs, every, window=0.2)


def ecological_sweeps(quick: bool = False) -> dict:
    """The sweeps of ``groups-ecological``, one per graph: γ, the reduced point mass and the simulation."""
    steps, runs = (5_000, QUICK_RUNS) if quick else (60_000, 4)
    gammas = {"start": 0.8, "stop": 0.99, "num": 5 if quick else 39}
    graphs = {
        "10x10 lattice": {"kind": "lattice", "n": 100, "groups": "neighborhood"},
        "random 4-regular graph of 100": {"kind": "random_regular", "n": 100, "degree": 4, "groups": "neighborhood"},
    }
    sweeps = {}
    for label, graph in graphs.items():
        base = {
            "game": {"name": "ecological_public_good", "collapse": 1.0},
            "graph": graph,
            "learning": {"alpha": ALPHA},
            "run": {"steps": steps, "runs": runs, "record_every": steps // 20, "seed": 4},
        }
        every = {"learning.gamma": 4}
        sweeps[label] = _sweep(base, {"learning.gamma": gammas}, steps, runs, every, window=0.2, sde=True)
    return sweeps


def reproduce_public_goods(out_dir, *, quick: bool = False, workers: int = 1, progress=None) -> dict:
    """Cooperation in the networked stochastic public goods game over r1/n and γ, into ``out_dir``."""
    job = Reproduction(
        "groups-public-goods",
        "Cooperation in the stochastic public goods game in neighbourhood groups over r1/n and γ",
        out_dir,
        quick=quick,
        workers=workers,
        progress=progress,
        provenance="marldyn's own experiment (issue 14); parameters in the module docstring",
    )
    result = run_sweep(public_goods_sweep(quick), workers=workers, progress=progress)
    result = result.assign_coords(r1_per_member=result["game.r[0]"] / GROUP_SIZE).swap_dims(
        {"game.r[0]": "r1_per_member"}
    )
    write_dataset(result, job.out_dir / "sweep.nc", overwrite=True)
    figure, axes = new_figure(1, 2, width=5.2, height=4.2)
    for state, ax in enumerate(axes[0]):
        plot_phase_diagram(
            result,
            "theory_reduced_policy",
            x="r1_per_member",
            y="learning.gamma",
            state=state,
            overlay="simulate_policy",
            ax=ax,
        )
        ax.set_title(f"cooperation in s{state + 1}")
        ax.set_xlabel("r1 / n (the rich state's factor per member)")
        ax.set_ylabel("discount γ")
    figure.suptitle(
        f"Public goods game in neighbourhood groups of {GROUP_SIZE} on a 10x10 lattice (α = {ALPHA}, r2 = 1.5, "
        "c = 1, p = (0.8, 0.3))\nreduced point mass (cells), simulation (circles), mean of the last 20 %"
    )
    job.save_figure(figure)
    _note_agreement(job, result)
    job.extra["sweeps"] = ["sweep.nc"]
    return job.finish()


def reproduce_ecological(out_dir, *, quick: bool = False, workers: int = 1, progress=None) -> dict:
    """The discount at which groups learn to avoid collapse, lattice vs random regular groups, into ``out_dir``."""
    job = Reproduction(
        "groups-ecological",
        "Caring for the future: the discount factor at which groups learn to avoid collapse",
        out_dir,
        quick=quick,
        workers=workers,
        progress=progress,
        provenance="marldyn's own experiment (issue 14); parameters in the module docstring",
    )
    figure, axes = new_figure(1, 2, width=5.0, height=4.0)
    thresholds, files = {}, []
    for ax, (label, sweep) in zip(axes[0], ecological_sweeps(quick).items(), strict=True):
        result = run_sweep(sweep, workers=workers, progress=progress)
        name = "lattice" if "lattice" in label else "random_regular"
        files.append(f"sweep_{name}.nc")
        write_dataset(result, job.out_dir / files[-1], overwrite=True)
        plot_sweep_curve(
            result,
            "theory_reduced_state_fraction",
            x="learning.gamma",
            overlay="simulate_state_fraction",
            also=("theory_sde_state_fraction", "theory_sde_graph_state_fraction"),
            ax=ax,
        )
        ax.set_title(f"neighbourhood groups of {GROUP_SIZE} on a {label}", fontsize="small")
        ax.set_xlabel("discount γ")
        ax.set_ylabel("fraction of groups prosperous (s1)")
        ax.set_ylim(-0.02, 1.02)
        thresholds[name] = _threshold(result)
        _note_agreement(job, result, variable="state_fraction")
    figure.suptitle(
        f"Ecological public good (r = 1.2, c = 5, collapse 1, impact -5, recovery 0.01), α = {ALPHA}\n"
        "lines: point mass, SDE ensemble, per-agent SDE on the groups; points: simulation (±2 s.e.); last 20 %"
    )
    job.save_figure(figure)
    for name, gamma in thresholds.items():
        job.note(
            f"{name}: the point mass's groups stay prosperous from γ = {gamma:.3f} on"
            if gamma is not None
            else f"{name}: no γ on the grid at which the point mass's groups stay prosperous"
        )
    job.extra.update(thresholds=thresholds, sweeps=files)
    return job.finish()


def _threshold(result) -> float | None:
    """The smallest γ of the grid at which the theory's share of prosperous groups exceeds one half."""
    share = result["theory_reduced_state_fraction"].sel(state=0).values
    above = np.flatnonzero(share > 0.5)
    return float(result["learning.gamma"].values[above[0]]) if above.size else None


def _note_agreement(job: Reproduction, result, variable: str = "policy") -> None:
    """One sentence: the largest gap between theory and simulation at the simulated points, and its noise."""
    theory, simulated = result[f"theory_reduced_{variable}"], result[f"simulate_{variable}"]
    if variable == "policy":
        theory, simulated = theory.sel(action=0), simulated.sel(action=0)
    gap = np.abs(theory - simulated).values
    defined = np.isfinite(gap)
    if not defined.any():
        return
    job.note(
        f"largest |theory - simulation| of the {variable.replace('_', ' ')} at the {int(defined.sum())} simulated "
        f"values: {np.nanmax(gap):.3f}"
    )
