"""`stratus algorithms`: the registry (list, show, deploy, export, remove) and the author kit."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from stratus_client.cli.output import JsonOption, print_json, print_record, print_table, session, stderr

app = typer.Typer(no_args_is_help=True, help="List, inspect, deploy and export algorithms.")
ALGORITHM_COLUMNS = [
    ("name", lambda a: a.algorithm_name),
    ("major", lambda a: a.algorithm_version),
    ("minor", lambda a: a.latest_algorithm_minor_version),
    ("builtin", lambda a: "yes" if a.builtin else ""),
    ("devices", lambda a: ", ".join(a.supported_devices)),
    ("algorithm_id", lambda a: a.algorithm_id),
]
PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True}
# What the author kit's exit status 2 means: it was used wrongly (or, here, is not installed).
USAGE_EXIT = 2


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="algorithms")


@app.command("ls")
def list_algorithms(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """The built-ins and your own algorithms."""
    with session(ctx).client() as client:
        found = client.list_algorithms()
    if as_json:
        print_json(found)
    else:
        print_table(found, ALGORITHM_COLUMNS)


@app.command()
def show(
    ctx: typer.Context,
    algorithm: Annotated[str, typer.Argument(help="An id, a name, or name:major")],
    as_json: JsonOption = False,
) -> None:
    """One algorithm: versions, devices and its parameters."""
    with session(ctx).client() as client:
        found = client.get_algorithm(algorithm)
    if as_json:
        print_json(found)
        return
    print_record(found, ["algorithm_id", "algorithm_name", "algorithm_version", "algorithm_minor_versions",
                         "algorithm_type", "algorithm_description", "supported_devices", "default_device",
                         "builtin", "exportable", "removable"])  # fmt: skip
    properties = found.parameter_schema.get("properties", {})
    rows = [{"name": name, **schema} for name, schema in properties.items()]
    print_table(rows, [
        ("parameter", lambda p: p["name"]),
        ("type", lambda p: p.get("x-compox-type") or p.get("type")),
        ("default", lambda p: p.get("default")),
        ("allowed", lambda p: p.get("enum") or _bounds(p)),
        ("description", lambda p: p.get("description")),
    ])  # fmt: skip


def _bounds(schema: dict[str, object]) -> str:
    low, high = schema.get("minimum"), schema.get("maximum")
    return f"{low} .. {high}" if low is not None or high is not None else ""


@app.command()
def deploy(
    ctx: typer.Context,
    source: Annotated[Path, typer.Argument(exists=True, help="A Compox package folder, or its .zip")],
    as_json: JsonOption = False,
) -> None:
    """Zip a package folder and deploy it as your own algorithm (the next minor version)."""
    with session(ctx).client() as client:
        deployed = client.deploy_algorithm(source)
    if as_json:
        print_json(deployed)
    else:
        version = f"{deployed.algorithm_major_version}.{deployed.algorithm_minor_version}"
        print(f"{deployed.algorithm_name} {version} {deployed.algorithm_id}")


@app.command()
def export(
    ctx: typer.Context,
    algorithm: Annotated[str, typer.Argument(help="An id, a name, or name:major")],
    out: Annotated[Path, typer.Option("--out", "-o", help="A folder or a .zip path")] = Path(),
    minor: Annotated[int | None, typer.Option(help="Minor version (default: the newest)")] = None,
    checkpoint: Annotated[str | None, typer.Option(help="Put this checkpoint's trained assets in")] = None,
) -> None:
    """Save an algorithm's package zip."""
    with session(ctx).client() as client:
        print(client.export_algorithm(algorithm, out, minor, checkpoint))


@app.command("rm")
def remove(
    ctx: typer.Context,
    algorithm: Annotated[str, typer.Argument(help="An id, a name, or name:major")],
    minor: Annotated[int | None, typer.Option(help="Only this minor version")] = None,
) -> None:
    """Delete one of your own algorithms (or one minor version of it)."""
    with session(ctx).client() as client:
        client.delete_algorithm(algorithm, minor)
    stderr.print(f"deleted {algorithm}", highlight=False)


def run_kit(command: str, arguments: list[str]) -> int:
    """Run the author kit (`python -m gpu_worker.kit`) in a subprocess with this Python; its exit status.
    The kit lives in the worker package, which this client never imports."""
    if importlib.util.find_spec("gpu_worker") is None:
        stderr.print(
            "the author kit needs the worker package installed beside the client "
            "(in the repository: pip install -e layers/core -e gpu_worker)",
            highlight=False,
        )
        return USAGE_EXIT
    return subprocess.run(
        [sys.executable, "-m", "gpu_worker.kit", command, *arguments], check=False
    ).returncode


@app.command(context_settings=PASS_THROUGH)
def check(ctx: typer.Context) -> None:
    """Run every deploy-time check on a package folder locally: `check DIR [--json]` (no stack needed)."""
    raise typer.Exit(run_kit("check", ctx.args))


@app.command("try", context_settings=PASS_THROUGH)
def try_package(ctx: typer.Context) -> None:
    """Run a package folder on local files as the worker would: `try DIR --input F.h5 -p k=v [--out DIR]`."""
    raise typer.Exit(run_kit("try", ctx.args))
