"""services/dags.py: a workflow's steps as a graph (pure functions, no AWS)."""

from __future__ import annotations

from typing import Any

import pytest
from stratus.errors import InvalidInputError
from stratus.models.workflows import WorkflowStepDefinition
from stratus.services import dags

ALGORITHM = "3f2b1c9e-8a7d-4e6f-9b1a-2c3d4e5f6a7b"


def _step(step_id: str, *upstream: str, **fields: Any) -> WorkflowStepDefinition:
    mappings = [
        {"from_step": u, "from_field": "output_dataset_ids[0]", "to_field": "input_dataset_ids"}
        for u in upstream
    ]
    return WorkflowStepDefinition.model_validate(
        {
            "id": step_id,
            "task_type": "execution",
            "config": {"algorithm_id": ALGORITHM},
            "depends_on": list(upstream),
            "input_mappings": mappings,
            **fields,
        }
    )


def test_check_orders_steps_after_their_dependencies() -> None:
    steps = [_step("d", "b", "c"), _step("b", "a"), _step("c", "a"), _step("a")]

    order = dags.check(steps)

    assert order.index("a") < order.index("b") < order.index("d")
    assert order.index("c") < order.index("d")


def test_check_names_every_step_of_a_cycle() -> None:
    steps = [_step("a", "c"), _step("b", "a"), _step("c", "b")]

    with pytest.raises(InvalidInputError, match="form a cycle") as raised:
        dags.check(steps)

    assert all(name in raised.value.detail for name in "abc")


def test_check_accepts_a_mapping_from_a_step_further_upstream() -> None:
    far = _step("c", "b")
    far.input_mappings[0].from_step = "a"

    assert dags.check([_step("a"), _step("b", "a"), far]) == ["a", "b", "c"]


def test_downstream_of_follows_dependencies_transitively() -> None:
    steps = [_step("a"), _step("b", "a"), _step("c", "b"), _step("d")]

    assert dags.downstream_of(["a"], {s.id: s for s in steps}) == {"b", "c"}


def test_final_steps_are_those_nothing_depends_on() -> None:
    assert dags.final_steps([_step("a"), _step("b", "a"), _step("c", "a")]) == ["b", "c"]


def test_apply_mappings_appends_list_fields_in_order_and_overrides_config() -> None:
    step = _step("c", "a", "b", config={"algorithm_id": ALGORITHM, "input_dataset_ids": ["given"]})

    body = dags.apply_mappings(
        step, {"a": {"output_dataset_ids": ["x", "y"]}, "b": {"output_dataset_ids": ["z"]}}
    )

    assert body["input_dataset_ids"] == ["x", "z"]
    assert body["algorithm_id"] == ALGORITHM


def test_apply_mappings_refuses_a_missing_output_naming_the_step() -> None:
    with pytest.raises(InvalidInputError, match="step b: a gave no output_dataset_ids"):
        dags.apply_mappings(_step("b", "a"), {"a": {"output_dataset_ids": []}})
