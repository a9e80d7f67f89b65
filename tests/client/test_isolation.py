"""The client stands alone: it never imports the server core (`stratus`) or the worker (`gpu_worker`)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import stratus_client

SERVER_PACKAGES = {"stratus", "gpu_worker"}
CLIENT_ROOT = Path(stratus_client.__file__).resolve().parent


def test_importing_the_sdk_and_cli_loads_no_server_package() -> None:
    probe = (
        "import sys, stratus_client, stratus_client.cli; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'stratus', 'gpu_worker'}))"
    )

    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)

    assert result.stdout.strip() == "[]"


def test_no_client_module_imports_a_server_package() -> None:
    offenders = []
    for path in CLIENT_ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in SERVER_PACKAGES]

    assert offenders == []
