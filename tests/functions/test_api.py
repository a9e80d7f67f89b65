"""The `api` Lambda handler with real API Gateway HTTP API (v2) events."""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
# What the cold start leaves to the first request (bench/cold_start.py has the figures; issue 9).
DEFERRED_MODULES = ("fastapi", "boto3", "h5py", "numpy", "aws_xray_sdk.core")


def test_handler_serves_health(function_handler, load_event, lambda_context) -> None:
    response = function_handler("api")(load_event("apigw/get_health"), lambda_context)

    assert response["statusCode"] == 200
    assert response["body"] == '{"status":"ok"}'


def test_handler_uploads_and_downloads_binary(
    function_handler, load_event: Callable[..., dict[str, Any]], lambda_context, hdf5_file
) -> None:
    body = hdf5_file(30_000)
    event = load_event("apigw/post_file", body=base64.b64encode(body).decode(), length=str(len(body)))

    uploaded = function_handler("api")(event, lambda_context)
    file_id = uploaded["body"].split('"')[3]
    downloaded = function_handler("api")(load_event("apigw/get_file", file_id=file_id), lambda_context)

    assert uploaded["statusCode"] == 200
    assert downloaded["statusCode"] == 200
    assert downloaded["isBase64Encoded"] is True
    assert base64.b64decode(downloaded["body"]) == body


def test_handler_answers_unknown_file_with_error_body(
    function_handler, load_event: Callable[..., dict[str, Any]], lambda_context
) -> None:
    event = load_event("apigw/delete_file", file_id="00000000-0000-4000-8000-000000000000")

    response = function_handler("api")(event, lambda_context)

    assert response["statusCode"] == 404
    assert response["body"] == '{"detail":"file not found","code":"not_found"}'


def test_handler_starts_presigned_upload(
    function_handler, load_event: Callable[..., dict[str, Any]], lambda_context
) -> None:
    response = function_handler("api")(load_event("apigw/post_upload"), lambda_context)

    assert response["statusCode"] == 201
    assert '"upload_url":"http' in response["body"]


def test_handler_import_leaves_app_to_first_request() -> None:
    program = "import sys; from functions.api.app import handler; print(*sys.modules, sep=chr(10))"

    result = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, check=True
    )

    assert not set(DEFERRED_MODULES) & set(result.stdout.splitlines())
