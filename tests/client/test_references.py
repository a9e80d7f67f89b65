"""Names turned into ids: algorithms, inputs, workflow definitions (stratus_client.references)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from stratus_client.errors import InvalidInputError, NotFoundError
from stratus_client.models import Algorithm
from stratus_client.references import (
    StepSpec,
    WorkflowSpec,
    apply_workflow_needs,
    input_path,
    parse_algorithm_ref,
    pick_algorithm,
    workflow_body,
    workflow_needs,
)

if TYPE_CHECKING:
    from pathlib import Path

ID = "3f2b1c9e-8a7d-4e6f-9b1a-2c3d4e5f6a7b"


def _algorithm(name: str, major: str, builtin: bool, algorithm_id: str) -> Algorithm:
    return Algorithm(algorithm_id=algorithm_id, algorithm_name=name, algorithm_version=major, builtin=builtin)


def test_parse_algorithm_ref_reads_ids_names_and_majors() -> None:
    assert parse_algorithm_ref(ID).algorithm_id == ID
    assert (parse_algorithm_ref("threshold").name, parse_algorithm_ref("threshold").major) == (
        "threshold",
        None,
    )
    assert (parse_algorithm_ref("my.algo:2").name, parse_algorithm_ref("my.algo:2").major) == ("my.algo", 2)


def test_pick_algorithm_prefers_your_own_then_the_highest_major() -> None:
    algorithms = [
        _algorithm("threshold", "1", True, "builtin"),
        _algorithm("threshold", "1", False, "own-1"),
        _algorithm("threshold", "2", False, "own-2"),
        _algorithm("other", "9", False, "other"),
    ]

    assert pick_algorithm(algorithms, "threshold").algorithm_id == "own-2"


def test_pick_algorithm_raises_not_found_naming_the_known_ones() -> None:
    with pytest.raises(NotFoundError, match="known: \\['other'\\]"):
        pick_algorithm([_algorithm("other", "1", False, "x")], "threshold")


def test_input_path_tells_local_files_from_ids(tmp_path: Path) -> None:
    local = tmp_path / "volume.h5"
    local.write_bytes(b"x")

    assert input_path(ID) is None
    assert input_path(str(local)) == local
    assert input_path("volume.h5", base=tmp_path) == local
    with pytest.raises(InvalidInputError, match="neither"):
        input_path("missing.h5", base=tmp_path)


def test_workflow_body_accepts_models_and_bare_step_lists() -> None:
    spec = WorkflowSpec(name="w", steps=[StepSpec(id="a", algorithm="threshold")])

    assert workflow_body(spec, None)["steps"][0]["algorithm"] == "threshold"
    assert workflow_body([{"id": "a"}], "named") == {"name": "named", "steps": [{"id": "a"}]}


def test_workflow_needs_then_apply_resolve_names_and_files(tmp_path: Path) -> None:
    (tmp_path / "volume.h5").write_bytes(b"x")
    definition = {
        "name": "w",
        "steps": [
            {"id": "a", "algorithm": "threshold", "config": {"input_dataset_ids": ["volume.h5", ID]}},
            {"id": "b", "config": {"algorithm_id": ID}},
        ],
    }
    body = workflow_body(definition, None)

    needs = workflow_needs(body, tmp_path)
    applied = apply_workflow_needs(body, {"threshold": "algo-id"}, {"volume.h5": "file-id"})

    assert needs.algorithms == {"threshold"}
    assert needs.paths == {"volume.h5": tmp_path / "volume.h5"}
    assert applied["steps"][0] == {
        "id": "a",
        "task_type": "execution",
        "config": {"algorithm_id": "algo-id", "input_dataset_ids": ["file-id", ID]},
    }
    assert applied["steps"][1]["config"] == {"algorithm_id": ID}
    assert definition["steps"][0]["algorithm"] == "threshold"  # the caller's structure is untouched
