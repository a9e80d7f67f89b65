"""`python -m stratus.local`'s arguments: template parameters as `sam deploy --parameter-overrides`."""

from __future__ import annotations

import pytest
from stratus.local.__main__ import _arguments, _parameters


def test_parameters_become_a_mapping_and_may_repeat() -> None:
    arguments = _arguments(["--parameter", "TenantMaxRunningJobs=50", "--parameter=Note=a=b"])

    assert _parameters(arguments.parameter) == {"TenantMaxRunningJobs": "50", "Note": "a=b"}


def test_a_parameter_without_a_value_is_a_usage_error() -> None:
    with pytest.raises(SystemExit, match="NAME=VALUE, not TenantMaxRunningJobs"):
        _parameters(_arguments(["--parameter", "TenantMaxRunningJobs"]).parameter)
