"""StateMachineStore: the runs of one Step Functions state machine, named by the record they work on."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from stratus.errors import AlreadyExistsError

if TYPE_CHECKING:
    from collections.abc import Mapping


class StateMachineStore:
    """Start and stop runs of one state machine; a run's name is the id of its record."""

    def __init__(self, client: Any, state_machine_arn: str) -> None:
        self._client = client
        self._arn = state_machine_arn

    def start(self, name: str, payload: Mapping[str, Any]) -> None:
        """Start the run ``name``; starting a running one again with the same payload does nothing.

        Raises AlreadyExistsError (the name was used with another payload, or its run has ended).
        """
        try:
            self._client.start_execution(
                stateMachineArn=self._arn, name=name, input=json.dumps(payload, separators=(",", ":"))
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ExecutionAlreadyExists":
                raise AlreadyExistsError(f"state machine run {name} already exists") from exc
            raise

    def stop(self, name: str, cause: str) -> bool:
        """Stop the run ``name``; False when there is no such run (never started, or long gone)."""
        try:
            self._client.stop_execution(executionArn=self.execution_arn(name), cause=cause)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ExecutionDoesNotExist":
                return False
            raise
        return True

    def execution_arn(self, name: str) -> str:
        """The ARN of the run ``name``: arn:…:stateMachine:M becomes arn:…:execution:M:name."""
        return f"{self._arn.replace(':stateMachine:', ':execution:', 1)}:{name}"
