"""The ``marldyn`` command line (typer). User mistakes exit with code 2 and one line, no traceback."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Annotated

import typer

try:  # recent typer vendors click
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover
    from click import exceptions as click_exceptions

from .errors import ConfigError, MarldynError, MarldynWarning

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Learning dynamics of many Q-learning agents on a network: simulation and theory.",
)


@app.callback()
def _root() -> None:
    """marldyn command line."""


@app.command()
def simulate(
    config: Annotated[Path | None, typer.Argument(help="TOML configuration file (not with --resume).")] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="netCDF file to write.")] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            help="Threads for independent runs (default: one per usable core, at most one per run; "
            "the result does not depend on it)."
        ),
    ] = None,
    steps: Annotated[int | None, typer.Option(help="Override [run] steps.")] = None,
    runs: Annotated[int | None, typer.Option(help="Override [run] runs.")] = None,
    seed: Annotated[int | None, typer.Option(help="Override [run] seed.")] = None,
    snapshots: Annotated[bool, typer.Option(help="Also record every agent's Q and every edge's state.")] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output file.")] = False,
    checkpoint_every: Annotated[
        int | None, typer.Option(help="Save the full state every N steps into OUT.checkpoint/ (atomic).")
    ] = None,
    resume: Annotated[Path | None, typer.Option(help="Continue from this checkpoint directory.")] = None,
    progress: Annotated[bool | None, typer.Option("--progress/--no-progress", help="Progress bar.")] = None,
) -> None:
    """Run Algorithm 1 (exact agent-based simulation) and write the records as netCDF."""
    import shutil

    from .config import load_config
    from .io import write_dataset
    from .simulation.runner import resume as resume_simulation
    from .simulation.runner import simulate as run_simulation

    if (config is None) == (resume is None):
        raise ConfigError("give either CONFIG or --resume CHECKPOINT")
    if resume is not None:
        if any(value is not None for value in (steps, runs, seed, checkpoint_every)) or snapshots:
            raise ConfigError("--resume continues with the checkpoint's own settings; drop the other options")
        output = output or Path(resume.name.removesuffix(".checkpoint"))
        checkpoint = resume
    else:
        settings = load_config(config).with_overrides(steps=steps, runs=runs, seed=seed)
        output = output or Path(f"{config.stem}.nc")
        checkpoint = output.with_name(output.name + ".checkpoint") if checkpoint_every is not None else None
    if output.exists() and not overwrite:
        raise ConfigError(f"output {output} exists; choose another name or pass --overwrite")
    if resume is not None:
        dataset = resume_simulation(resume, workers=workers, progress=progress)
    else:
        dataset = run_simulation(
            settings,
            workers=workers,
            snapshots=snapshots,
            progress=progress,
            checkpoint=checkpoint,
            checkpoint_every=checkpoint_every or 0,
        )
    write_dataset(dataset, output, overwrite=overwrite)
    if checkpoint is not None:
        shutil.rmtree(checkpoint, ignore_errors=True)
    final = dataset["policy"].isel(time=-1).mean("run").sel(action=0).values
    cooperation = ", ".join(f"s{s + 1}: {value:.3f}" for s, value in enumerate(final))
    typer.echo(
        f"wrote {output}: {dataset.sizes['run']} runs x {int(dataset['time'][-1])} steps; "
        f"final mean probability of action 0 per state: {cooperation}"
    )


@app.command()
def theory(
    config: Annotated[Path, typer.Argument(help="TOML configuration file (the same as for simulate).")],
    method: Annotated[
        str, typer.Option(help="reduced | full | full-discrete | particles | sde | sde-graph | lna | closure")
    ] = "reduced",
    output: Annotated[Path | None, typer.Option("-o", "--output", help="netCDF file to write.")] = None,
    particles: Annotated[
        int | None, typer.Option(help="Number of particles (particles; default: one per agent, at most 512).")
    ] = None,
    timescale: Annotated[
        str | None,
        typer.Option(help="reduced | full edge-state distributions (particles, sde-graph, closure; default reduced)."),
    ] = None,
    dt: Annotated[
        float | None,
        typer.Option(
            help="Step in simulator steps (sde: default 10; sde-graph: default 1; closure, full time scale: 10)."
        ),
    ] = None,
    correlations: Annotated[
        bool | None,
        typer.Option("--correlations/--no-correlations", help="Noise shared by neighbours (closure; default on)."),
    ] = None,
    order: Annotated[
        int | None, typer.Option(help="Gauss-Hermite nodes per contrast (closure; default automatic).")
    ] = None,
    noise: Annotated[
        bool | None, typer.Option("--noise/--no-noise", help="Diffusion on or off (sde-graph; default on).")
    ] = None,
    steps: Annotated[int | None, typer.Option(help="Override [run] steps.")] = None,
    runs: Annotated[int | None, typer.Option(help="Override [run] runs (sde ensemble members).")] = None,
    seed: Annotated[int | None, typer.Option(help="Override [run] seed.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output file.")] = False,
    progress: Annotated[bool | None, typer.Option("--progress/--no-progress", help="Progress bar.")] = None,
) -> None:
    """Predict the dynamics from theory, on the simulator's time grid, and write it as netCDF.

    A method's options come from its flags (a flag the method does not take is an error); the defaults are
    those of the objects in marldyn.theory.methods.
    """
    from .config import load_config
    from .io import write_dataset
    from .theory import method_from_name
    from .theory import theory as run_theory

    given = {
        "particles": particles,
        "timescale": timescale,
        "dt": dt,
        "noise": noise,
        "correlations": correlations,
        "order": order,
    }
    chosen = method_from_name(method, **{key: value for key, value in given.items() if value is not None})
    settings = load_config(config).with_overrides(steps=steps, runs=runs, seed=seed)
    output = output or Path(f"{config.stem}_{method}.nc")
    if output.exists() and not overwrite:
        raise ConfigError(f"output {output} exists; choose another name or pass --overwrite")
    dataset = run_theory(settings, chosen, progress=progress)
    write_dataset(dataset, output, overwrite=overwrite)
    final = dataset["policy"].isel(time=-1)
    if "run" in final.dims:
        final = final.mean("run")
    cooperation = ", ".join(f"s{s + 1}: {value:.3f}" for s, value in enumerate(final.sel(action=0).values))
    typer.echo(
        f"wrote {output}: {method} theory to step {int(dataset['time'][-1])}; "
        f"final probability of action 0 per state: {cooperation}"
    )


@app.command()
def compare(
    simulation: Annotated[Path, typer.Argument(help="Simulation result (.nc).")],
    theory_result: Annotated[Path, typer.Argument(metavar="THEORY", help="Theory result (.nc).")],
    plot: Annotated[Path | None, typer.Option(help="Also draw the comparison into this PNG/PDF file.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the error table as JSON.")] = False,
) -> None:
    """Compare a simulation with a theory: max and mean absolute errors of policy and state fractions."""
    import json

    from .compare import compare as compare_datasets
    from .compare import error_table
    from .io import read_dataset

    simulated, predicted = read_dataset(simulation), read_dataset(theory_result)
    result = compare_datasets(simulated, predicted)
    typer.echo(json.dumps(result, indent=2) if as_json else error_table(result))
    if plot is not None:
        from .plots import plot_comparison

        plot_comparison(simulated, {predicted.attrs.get("method", "theory"): predicted}, path=plot)


# ----------------------------------------------------------------------------------------------
# analysis (issue 5): fixed-points, basins, sweep
# ----------------------------------------------------------------------------------------------
def _format_numbers(values, spec: str = ".4g") -> str:
    import numpy as np

    return ", ".join(format(float(v), spec) for v in np.ravel(values))


@app.command("fixed-points")
def fixed_points(
    config: Annotated[
        Path,
        typer.Argument(help="TOML configuration file (agent types or several degrees: a point mass per class)."),
    ],
    starts: Annotated[int, typer.Option(help="Sobol starts of the multi-start root finder.")] = 1024,
    seed: Annotated[int, typer.Option(help="Scrambling seed of the Sobol starts.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print everything as JSON.")] = False,
) -> None:
    """List every fixed point of the reduced point-mass dynamics with its stability, and the slow points."""
    import json

    import numpy as np

    from .analysis import ClassPointMassDynamics, action_names, find_fixed_points, point_mass_dynamics

    dynamics = point_mass_dynamics(config)
    search = find_fixed_points(dynamics, starts=starts, seed=seed)
    if as_json:
        typer.echo(json.dumps(search.as_dict(), indent=2))
        return
    names = action_names(dynamics.game)
    if isinstance(dynamics, ClassPointMassDynamics):
        typer.echo(_class_fixed_points_text(search, names))
        return
    parameters = ", ".join(f"{key} = {value}" for key, value in dynamics.parameters().items())
    counts = " / ".join(str(n) for n in search.counts)
    found = " / ".join(str(v) for v in search.counts.values())
    lines = [f"fixed points of the reduced point-mass dynamics ({dynamics.game.name}; {parameters})"]
    if dynamics.greedy:
        lines.append(
            f"search: all {search.starts} regions of fixed greedy actions, each solved exactly (δ̄ is affine there); "
            f"{search.converged} hold an equilibrium (equilibria on switching surfaces are not listed)"
        )
    else:
        lines.append(
            f"search: {search.starts} Sobol starts on [{search.box[0]:.4g}, {search.box[1]:.4g}] per entry; "
            f"distinct fixed points found by the first {counts} starts: {found}"
        )
    for index, point in enumerate(search.fixed_points):
        found_by = f"region {point.first_start}" if dynamics.greedy else f"found by {point.hits} starts"
        lines += [
            f"#{index} {point.stability}: Q* = {np.round(point.q, 4).tolist()}, "
            f"X*({names[0]}) per state = [{_format_numbers(point.policy[:, 0])}], "
            f"p* = [{_format_numbers(point.state_distribution)}]",
            f"   eigenvalues (per step): {', '.join(f'{v:.4g}' for v in point.eigenvalues)}",
            f"   relaxation times 1/|Re λ| (steps): {_format_numbers(point.relaxation_times)}",
            f"   residuals: max|μ*|/(α scale) = {point.drift_residual:.1e}, max|δ̄|/scale = {point.td_residual:.1e}; "
            f"{found_by}",
        ]
    if dynamics.greedy:
        typer.echo("\n".join(lines + ["no slow points: with ε > 0 every action is played"]))
        return
    lines.append(
        "slow points (quasi-stationary: rare actions have probability -> 0; a rare action with Δ > 0 overtakes, "
        "and any rare action leaves after ~ exp(β gap) / (β α π δ̄)):"
    )
    for point in search.slow_points:
        lines.append(
            f"  {point.label(names)}: Q(played) = {np.round(point.q, 4).tolist()}, "
            f"Δ(rare) = {np.round(point.temptation, 4).tolist()}, fast subsystem {point.stability}"
        )
    typer.echo("\n".join(lines).replace("nan", "-"))


def _class_fixed_points_text(search, names) -> str:
    """The ``fixed-points`` report of a population of classes: every fixed point, class by class."""
    import numpy as np

    dynamics = search.dynamics
    counts = " / ".join(str(n) for n in search.counts)
    found = " / ".join(str(v) for v in search.counts.values())
    classes = dynamics.describe_classes()
    lines = [
        f"fixed points of the reduced point-mass dynamics of {len(classes)} classes ({dynamics.game.name}); types:",
        *(f"  {line}" for line in dynamics.learners.describe().splitlines()),
        f"search: {search.starts} Sobol starts on [{search.box[0]:.4g}, {search.box[1]:.4g}] per entry of the moving "
        f"classes; distinct fixed points found by the first {counts} starts: {found}",
    ]
    for index, point in enumerate(search.fixed_points):
        lines.append(f"#{index} {point.stability}: found by {point.hits} starts")
        for c, entry in enumerate(classes):
            lines.append(
                f"   {entry['type']} (degree {entry['degree']}, share {entry['weight']:.4g}): "
                f"Q* = {np.round(point.q[c], 4).tolist()}, X*({names[0]}) per state = "
                f"[{_format_numbers(point.policy[c, :, 0])}], p* = [{_format_numbers(point.state_distribution[c])}]"
            )
        lines += [
            f"   eigenvalues (per step): {', '.join(f'{v:.4g}' for v in point.eigenvalues)}",
            f"   residuals: max|μ|/(α scale) = {point.drift_residual:.1e}, max|δ̄|/scale = {point.td_residual:.1e}",
        ]
    lines.append("slow points: computed for one point mass only (one kind of learners on a regular graph)")
    return "\n".join(lines)


@app.command()
def basins(
    config: Annotated[Path, typer.Argument(help="TOML configuration file (its [init] q is the base table).")],
    x: Annotated[str, typer.Option(help="Axis, e.g. 'advantage[0]=-4:4:41' or 'q[0,1]=0,1,2'.")],
    horizon: Annotated[list[float], typer.Option(help="Horizon in steps (repeat for several).")],
    y: Annotated[str | None, typer.Option(help="Second axis (same syntax).")] = None,
    threshold: Annotated[float, typer.Option(help="Probability above which a state's policy counts as pure.")] = 0.95,
    confirm: Annotated[int, typer.Option(help="Grid points per outcome to confirm by simulation.")] = 0,
    confirm_max_horizon: Annotated[float, typer.Option(help="Only confirm horizons up to this.")] = 2e5,
    runs: Annotated[int, typer.Option(help="Simulation runs per confirmed point.")] = 2,
    starts: Annotated[int, typer.Option(help="Sobol starts of the fixed-point search.")] = 256,
    plot: Annotated[Path | None, typer.Option(help="Draw the maps (one panel per horizon) into this file.")] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="netCDF file to write.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output file.")] = False,
    progress: Annotated[bool | None, typer.Option("--progress/--no-progress", help="Progress bar.")] = None,
) -> None:
    """Outcome map (basins at a horizon) of the reduced theory over a grid of initial conditions."""
    import json

    import numpy as np

    from .analysis import (
        Axis,
        PointMassDynamics,
        confirm_with_simulation,
        confirmation_points,
        find_fixed_points,
        outcome_map,
    )
    from .config import load_config
    from .io import write_dataset

    if output is not None and output.exists() and not overwrite:
        raise ConfigError(f"output {output} exists; choose another name or pass --overwrite")
    settings = load_config(config)
    dynamics = PointMassDynamics.from_config(settings)
    search = find_fixed_points(dynamics, starts=starts, slow_points=False)
    x_axis, y_axis = Axis.parse(x), (Axis.parse(y) if y is not None else None)
    dataset = outcome_map(
        dynamics,
        settings.initial_q_table(dynamics.game),
        x_axis,
        y_axis,
        horizons=horizon,
        threshold=threshold,
        fixed_points=search.fixed_points,
    )
    confirmations = None
    checked = [h for h in dataset["horizon"].values if h <= confirm_max_horizon]
    if confirm > 0 and checked:
        points = [p for h in checked for p in confirmation_points(dataset, h, confirm)]
        points = [dict(t) for t in dict.fromkeys(tuple(sorted(p.items())) for p in points)]
        confirmations = confirm_with_simulation(
            settings, dataset, points, horizons=checked, runs=runs, progress=progress
        )
        dataset = dataset.merge(confirmations, combine_attrs="override")
    labels = json.loads(dataset.attrs["outcome_labels"])
    for h in dataset["horizon"].values:
        values, counts = np.unique(dataset["outcome"].sel(horizon=h).values, return_counts=True)
        shares = ", ".join(f"{labels[v]}: {c}" for v, c in zip(values, counts, strict=True))
        agree = ""
        if confirmations is not None and h in confirmations["confirm_horizon"].values:
            hits = confirmations["agree"].sel(confirm_horizon=h).values
            agree = f"; simulation agrees at {int(hits.sum())} of {hits.size} points"
        typer.echo(f"t = {h:.3g} steps: {shares}{agree}")
    if output is not None:
        write_dataset(dataset, output, overwrite=overwrite)
        typer.echo(f"wrote {output}")
    if plot is not None:
        from .plots import outcome_map_figure

        outcome_map_figure(dataset, confirmations=confirmations, path=plot)
        typer.echo(f"wrote {plot}")


@app.command()
def sweep(
    sweep_file: Annotated[Path, typer.Argument(metavar="SWEEP", help="Sweep TOML file.")],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="netCDF file to write (parts: OUT.parts/).")
    ] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="Address of a running dask scheduler, tcp://host:port (needs dask).")
    ] = None,
    workers: Annotated[
        int,
        typer.Option(help="Worker processes: a dask LocalCluster, or a process pool without dask (1: this process)."),
    ] = 2,
    plot: Annotated[Path | None, typer.Option(help="Draw the phase diagram into this file.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output file.")] = False,
    progress: Annotated[bool | None, typer.Option("--progress/--no-progress", help="Progress bar.")] = None,
) -> None:
    """Run a parameter sweep (resumable; the result does not depend on the cluster) and gather it as netCDF."""
    import time

    from .analysis import load_sweep, phase_diagram_figure, run_sweep

    settings = load_sweep(sweep_file)
    output = output or Path(f"{sweep_file.stem}.nc")
    started = time.perf_counter()
    dataset = run_sweep(settings, output, scheduler=scheduler, workers=workers, overwrite=overwrite, progress=progress)
    elapsed = time.perf_counter() - started
    points = sum(len(settings.points(task)) for task in settings.tasks)
    typer.echo(f"wrote {output}: {points} points in {elapsed:.1f} s; {dataset.attrs['failed']} failed")
    failed = dataset.attrs["failed"]
    if plot is not None:
        try:
            phase_diagram_figure(dataset, plot)
            typer.echo(f"wrote {plot}")
        except ConfigError as exc:
            if not failed:
                raise
            typer.echo(f"no plot: {exc}", err=True)
    if failed:
        errors = [name for name in dataset.data_vars if name.endswith("_error")]
        first = next(str(v) for name in errors for v in dataset[name].values.ravel() if str(v))
        raise ConfigError(f"{failed} sweep points failed (see the *_error variables; rerun to retry them): {first}")


@app.command()
def reproduce(
    name: Annotated[str, typer.Argument(help="fig3 | fig4 | fig5 | si-beta | si-transition | crossval | all")] = "fig3",
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Output directory (default: reproduce_out/NAME; for all: reproduce_out)."),
    ] = None,
    quick: Annotated[bool, typer.Option(help="Fewer runs and steps: seconds per figure (tests, CI).")] = False,
    workers: Annotated[int, typer.Option(help="Processes for the simulations (results do not depend on it).")] = 1,
    progress: Annotated[bool | None, typer.Option("--progress/--no-progress", help="Progress bar.")] = None,
) -> None:
    """Reproduce a figure of the paper: simulation, theory, errors, figure (PNG, PDF), datasets and summary."""
    from .reproduce import check_name
    from .reproduce import reproduce as run_reproduction

    check_name(name)
    out = out or (Path("reproduce_out") if name == "all" else Path("reproduce_out") / name)
    result = run_reproduction(name, out, quick=quick, workers=workers, progress=progress)
    summaries = result["reproductions"] if name == "all" else {name: result}
    for each, summary in summaries.items():
        directory = out / each if name == "all" else out
        worst: dict[str, float] = {}
        for case in summary["cases"]:
            for label, errors in case["errors"].items():
                if errors["max_policy_error"] is not None:
                    worst[label] = max(worst.get(label, 0.0), errors["max_policy_error"])
        errors_text = ", ".join(f"{label} {value:.3g}" for label, value in worst.items())
        typer.echo(
            f"{each}: wrote {directory} ({', '.join(summary['figures'])}, summary.md) in {summary['seconds']:.1f} s"
            + (f"; largest policy error vs simulation: {errors_text}" if errors_text else "")
        )


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app and return the exit code.

    A user mistake (:class:`~marldyn.ConfigError`, a bad flag) exits with code 2 and one line
    ``marldyn: error: ...`` on stderr; a numerical failure (:class:`~marldyn.NumericalError`) or any other
    :class:`~marldyn.MarldynError` exits with code 1 and one such line. A :class:`~marldyn.MarldynWarning`
    shows as one line ``marldyn: warning: ...`` on stderr and the work goes on.
    """
    with warnings.catch_warnings():
        warnings.showwarning = _one_line_warnings(warnings.showwarning)
        return _run(argv)


def _one_line_warnings(show):
    """A ``warnings.showwarning``: marldyn's warnings as one line on stderr, the others passed on to ``show``."""

    def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
        if issubclass(category, MarldynWarning):
            print(f"marldyn: warning: {_one_line(message)}", file=sys.stderr)
        else:
            show(message, category, filename, lineno, file, line)

    return show_warning


def _one_line(message) -> str:
    return " ".join(str(message).split())


def _run(argv: list[str] | None) -> int:
    try:
        app(args=argv, standalone_mode=False)
    except ConfigError as exc:
        print(f"marldyn: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except click_exceptions.UsageError as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":
            print(exc.format_message())
            return 0
        message = " ".join(exc.format_message().split())
        print(f"marldyn: error: {message} (see --help)", file=sys.stderr)
        return 2
    except click_exceptions.ClickException as exc:
        print(f"marldyn: error: {' '.join(exc.format_message().split())}", file=sys.stderr)
        return 2
    except typer.Abort:
        print("marldyn: aborted", file=sys.stderr)
        return 130
    except MarldynError as exc:  # NumericalError (SimulationError, DivergenceError, ConvergenceError) and the rest
        print(f"marldyn: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except typer.Exit as exc:
        return exc.exit_code
    return 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    run()
