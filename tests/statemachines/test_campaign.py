"""statemachines/campaign.asl.json keeps the parent's history small: every trial is a child run with a
history of its own, so a round adds a fixed number of events and a trial a fixed number more, and a
1,000-trial campaign (the largest budget) fits a Standard execution's 25,000 events even run one trial
a round (batch_size 1).

The checks every ASL file passes (targets, substitutions, resources, error names) are in
test_execution.py, parametrized over statemachines/*.asl.json; they cover this file too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from stratus.models.campaigns import MAX_BATCH_SIZE, MAX_BUDGET

from tests.statemachines.test_training import EXECUTION_EVENTS, HISTORY_LIMIT, _cycles, _events
from tests.statemachines.test_workflow import ITERATION_EVENTS, MAP_EVENTS

ROOT = Path(__file__).resolve().parents[2]
ASL = ROOT / "statemachines" / "campaign.asl.json"
EVENTS_PER_ROUND = 11
EVENTS_PER_TRIAL = 8


def _definition() -> dict[str, Any]:
    definition: dict[str, Any] = json.loads(ASL.read_text())
    return definition


def _round_events(states: dict[str, dict[str, Any]]) -> int:
    """The events of the costliest loop, a Map counting only its own (its items are per trial)."""
    return max(
        sum(MAP_EVENTS if states[name]["Type"] == "Map" else _events(states[name]) for name in cycle)
        for cycle in _cycles(states)
    )


def _trial_events(states: dict[str, dict[str, Any]]) -> int:
    """The events one trial adds in the Map when its execution's run succeeds."""
    processor = states["RunTrials"]["ItemProcessor"]
    trial_states = processor["States"]
    name, visited = processor["StartAt"], ITERATION_EVENTS
    while name is not None:
        visited += _events(trial_states[name])
        name = trial_states[name].get("Next")
    return visited


def test_campaign_round_adds_eleven_history_events() -> None:
    assert _round_events(_definition()["States"]) == EVENTS_PER_ROUND


def test_campaign_trial_adds_eight_history_events() -> None:
    assert _trial_events(_definition()["States"]) == EVENTS_PER_TRIAL


def test_campaign_map_runs_each_trial_as_a_child_execution_run() -> None:
    states = _definition()["States"]
    run_trial = states["RunTrials"]["ItemProcessor"]["States"]["RunTrial"]

    assert run_trial["Resource"].endswith(":states:::states:startExecution.sync:2")
    assert run_trial["Parameters"]["Name.$"] == "$.trial.execution_id"
    assert states["RunTrials"]["MaxConcurrency"] == MAX_BATCH_SIZE


def test_campaign_of_the_largest_budget_fits_the_history_limit() -> None:
    states = _definition()["States"]
    in_loop = {name for cycle in _cycles(states) for name in cycle}
    once = sum(_events(state) for name, state in states.items() if name not in in_loop)

    # The worst shape: batch_size 1, so every trial needs a round of its own.
    worst = EXECUTION_EVENTS + once + MAX_BUDGET * (_round_events(states) + _trial_events(states))

    assert worst < HISTORY_LIMIT
