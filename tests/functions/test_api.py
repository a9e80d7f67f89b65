"""The `api` Lambda handler with real API Gateway HTTP API (v2) events."""

from __future__ import annotations

import base64
import importlib.util
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from stratus.settings import Settings

HANDLER = Path(__file__).resolve().parents[2] / "functions" / "api" / "app.py"


@pytest.fixture
def api_handler(settings: Settings) -> ModuleType:
    """The handler module, imported fresh so its module-scope app sees this test's AWS."""
    spec = importlib.util.spec_from_file_location("stratus_test_api_function", HANDLER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_handler_serves_health(api_handler: ModuleType, load_event, lambda_context) -> None:
    response = api_handler.handler(load_event("apigw/get_health"), lambda_context)

    assert response["statusCode"] == 200
    assert response["body"] == '{"status":"ok"}'


def test_handler_uploads_and_downloads_binary(
    api_handler: ModuleType, load_event: Callable[..., dict[str, Any]], lambda_context, hdf5_file
) -> None:
    body = hdf5_file(30_000)
    event = load_event("apigw/post_file", body=base64.b64encode(body).decode(), length=str(len(body)))

    uploaded = api_handler.handler(event, lambda_context)
    file_id = uploaded["body"].split('"')[3]
    downloaded = api_handler.handler(load_event("apigw/get_file", file_id=file_id), lambda_context)

    assert uploaded["statusCode"] == 200
    assert downloaded["statusCode"] == 200
    assert downloaded["isBase64Encoded"] is True
    assert base64.b64decode(downloaded["body"]) == body


def test_handler_answers_unknown_file_with_error_body(
    api_handler: ModuleType, load_event: Callable[..., dict[str, Any]], lambda_context
) -> None:
    event = load_event("apigw/delete_file", file_id="00000000-0000-4000-8000-000000000000")

    response = api_handler.handler(event, lambda_context)

    assert response["statusCode"] == 404
    assert response["body"] == '{"detail":"file not found","code":"not_found"}'


def test_handler_starts_presigned_upload(
    api_handler: ModuleType, load_event: Callable[..., dict[str, Any]], lambda_context
) -> None:
    response = api_handler.handler(load_event("apigw/post_upload"), lambda_context)

    assert response["statusCode"] == 201
    assert '"upload_url":"http' in response["body"]
