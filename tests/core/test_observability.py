"""The tracer: X-Ray only where tracing is on, made when a handler first runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Decorates and calls a handler, then prints whether the X-Ray SDK was imported.
PROGRAM = """
import sys
from stratus.observability import tracer

@tracer.capture_lambda_handler
def handler(event, context):
    return event["answer"]

assert handler({"answer": 42}, None) == 42
print("aws_xray_sdk.core" in sys.modules)
"""


def run_program(**environment: str) -> str:
    base = {k: v for k, v in os.environ.items() if k not in {"LAMBDA_TASK_ROOT", "POWERTOOLS_TRACE_DISABLED"}}
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM],
        cwd=ROOT,
        env={**base, "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR", **environment},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def test_capture_lambda_handler_leaves_xray_out_where_tracing_is_off() -> None:
    imported = run_program()

    assert imported == "False"


def test_capture_lambda_handler_leaves_xray_out_when_tracing_is_disabled_in_lambda() -> None:
    imported = run_program(LAMBDA_TASK_ROOT=str(ROOT), POWERTOOLS_TRACE_DISABLED="true")

    assert imported == "False"


def test_capture_lambda_handler_traces_in_lambda() -> None:
    imported = run_program(LAMBDA_TASK_ROOT=str(ROOT))

    assert imported == "True"
