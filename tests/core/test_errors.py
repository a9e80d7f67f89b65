"""The error hierarchy's codes are a contract: unique and snake_case."""

from __future__ import annotations

import re

from stratus import errors
from stratus.algorithms import runtime  # noqa: F401 (its InputDataError is a domain error too)


def _all_errors() -> list[type[errors.StratusError]]:
    found = [errors.StratusError]
    for cls in found:
        found.extend(cls.__subclasses__())
    return found


def test_error_codes_are_unique_snake_case() -> None:
    codes = [cls.code for cls in _all_errors()]

    assert len(codes) == len(set(codes))
    assert all(re.fullmatch(r"[a-z]+(_[a-z]+)*", code) for code in codes)


def test_error_keeps_detail_for_humans() -> None:
    error = errors.NotFoundError("file not found")

    assert error.detail == "file not found"
    assert str(error) == "file not found"
