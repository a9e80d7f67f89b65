"""template.yaml lints clean and every function's CodeUri holds an app.py with a `handler`."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
from stratus.local.template import load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
# SAM CLI has its own environment (make install; see requirements-sam.txt).
SAM = ROOT / ".venv-sam" / "bin" / "sam"
BIN = Path(sys.executable).parent
OFFLINE_ENV = {**os.environ, "SAM_CLI_TELEMETRY": "0", "AWS_DEFAULT_REGION": "us-east-1"}


def _functions() -> dict[str, dict[str, object]]:
    resources = load_template(TEMPLATE)["Resources"]
    return {
        logical_id: resource["Properties"]
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def _code_of(logical_id: str) -> tuple[Path, str]:
    """A function's code folder and handler: a zip function's CodeUri and Handler, an image function's
    Dockerfile folder and Command."""
    resource = load_template(TEMPLATE)["Resources"][logical_id]
    properties = resource["Properties"]
    if properties.get("PackageType") == "Image":
        metadata = resource["Metadata"]
        dockerfile = ROOT / metadata["DockerContext"] / metadata["Dockerfile"]
        return dockerfile.parent, properties["ImageConfig"]["Command"][0]
    return ROOT / str(properties["CodeUri"]), str(properties["Handler"])


@pytest.mark.parametrize(
    "command",
    [
        [str(SAM), "validate", "--lint", "--template", str(TEMPLATE)],
        [str(BIN / "cfn-lint"), str(TEMPLATE)],
    ],
    ids=["sam-validate-lint", "cfn-lint"],
)
def test_template_passes_linter(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, env=OFFLINE_ENV, cwd=ROOT, check=False)

    assert result.returncode == 0, f"{' '.join(command)}\n{result.stdout}\n{result.stderr}"


@pytest.mark.parametrize("logical_id", sorted(_functions()))
def test_function_code_uri_has_app_with_handler(logical_id: str) -> None:
    code_dir, handler = _code_of(logical_id)
    module_name, _, function_name = handler.rpartition(".")
    source = code_dir / f"{module_name}.py"

    tree = ast.parse(source.read_text(encoding="utf-8"), filename=str(source))

    names = {node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}
    assert function_name in names, f"{source} defines no {function_name}()"


def test_function_folders_match_logical_ids() -> None:
    mismatched = {
        logical_id: str(_code_of(logical_id)[0])
        for logical_id in _functions()
        if _code_of(logical_id)[0].name.capitalize() + "Function" != logical_id
    }

    assert not mismatched


@pytest.mark.parametrize("logical_id", sorted(_functions()))
def test_function_runs_python_311_with_the_core_package(logical_id: str) -> None:
    properties = _functions()[logical_id]

    if properties.get("PackageType") == "Image":
        dockerfile = (_code_of(logical_id)[0] / "Dockerfile").read_text(encoding="utf-8")
        assert "lambda/python:3.11" in dockerfile
        assert "layers/core" in dockerfile
    else:
        assert properties["Runtime"] == "python3.11"
        assert properties["Layers"] == [{"Ref": "CoreLayer"}]


def test_public_routes_match_the_apps_public_paths() -> None:
    from stratus.api.app import PUBLIC_PATHS

    events = load_template(TEMPLATE)["Resources"]["ApiFunction"]["Properties"]["Events"]

    public = {
        e["Properties"]["Path"]
        for e in events.values()
        if e["Properties"].get("Auth") == {"Authorizer": "NONE"}
    }

    assert public == PUBLIC_PATHS


def test_every_other_route_goes_through_the_authorizer() -> None:
    api = load_template(TEMPLATE)["Resources"]["HttpApi"]["Properties"]

    assert api["Auth"]["DefaultAuthorizer"] in api["Auth"]["Authorizers"]
