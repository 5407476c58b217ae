"""The ``marldyn`` command line (typer). User mistakes exit with code 2 and one line, no traceback."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

try:  # recent typer vendors click
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover
    from click import exceptions as click_exceptions

from .errors import ConfigError

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
    workers: Annotated[int, typer.Option(help="Processes for independent runs (result does not depend on it).")] = 1,
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
    method: Annotated[str, typer.Option(help="reduced | full | full-discrete | particles | sde")] = "reduced",
    output: Annotated[Path | None, typer.Option("-o", "--output", help="netCDF file to write.")] = None,
    particles: Annotated[int | None, typer.Option(help="Number of particles (particles method).")] = None,
    timescale: Annotated[str, typer.Option(help="reduced | full pair distributions (particles method).")] = "reduced",
    dt: Annotated[float, typer.Option(help="SDE time step in simulator steps (sde method).")] = 10.0,
    steps: Annotated[int | None, typer.Option(help="Override [run] steps.")] = None,
    runs: Annotated[int | None, typer.Option(help="Override [run] runs (sde ensemble members).")] = None,
    seed: Annotated[int | None, typer.Option(help="Override [run] seed.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output file.")] = False,
    progress: Annotated[bool | None, typer.Option("--progress/--no-progress", help="Progress bar.")] = None,
) -> None:
    """Predict the dynamics from theory, on the simulator's time grid, and write it as netCDF."""
    from .config import load_config
    from .io import write_dataset
    from .theory import theory as run_theory

    settings = load_config(config).with_overrides(steps=steps, runs=runs, seed=seed)
    output = output or Path(f"{config.stem}_{method}.nc")
    if output.exists() and not overwrite:
        raise ConfigError(f"output {output} exists; choose another name or pass --overwrite")
    dataset = run_theory(settings, method, particles=particles, timescale=timescale, dt=dt, progress=progress)
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


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app; turn user errors into exit code 2 and a single line on stderr."""
    from .simulation.runner import SimulationError

    try:
        app(args=argv, standalone_mode=False)
    except ConfigError as exc:
        print(f"marldyn: error: {exc}", file=sys.stderr)
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
    except SimulationError as exc:
        print(f"marldyn: error: {exc}", file=sys.stderr)
        return 1
    except typer.Exit as exc:
        return exc.exit_code
    return 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    run()
