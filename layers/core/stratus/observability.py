"""Powertools logger, tracer and metrics; names come from POWERTOOLS_* in the template's Globals."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from aws_lambda_powertools import Logger, Metrics, Tracer

Handler = TypeVar("Handler", bound=Callable[..., Any])


@functools.cache
def _powertools_tracer() -> Tracer | None:
    """Powertools' Tracer where tracing is on (in Lambda, unless POWERTOOLS_TRACE_DISABLED), else None."""
    # Powertools' own rule (private, but the one its Tracer applies), so ours cannot drift from it.
    if Tracer._is_tracer_disabled():
        return None
    # Auto-patching boto3 would cost cold-start time on every function; handlers opt in via capture.
    return Tracer(auto_patch=False)


class LambdaTracer:
    """Powertools' Tracer for handlers, made on the first invocation and only where tracing is on.

    Making a Tracer imports the X-Ray SDK: ~35 ms of a Lambda's import, and outside Lambda (tests, the
    local stack), where tracing is off anyway, its recorder builds two botocore clients (~150 ms).
    """

    def capture_lambda_handler(self, handler: Handler) -> Handler:
        """`Tracer.capture_lambda_handler`, applied when the handler first runs."""

        @functools.cache
        def traced() -> Callable[..., Any]:
            tracer = _powertools_tracer()
            return handler if tracer is None else tracer.capture_lambda_handler(handler)

        @functools.wraps(handler)
        def run(event: Any, context: Any) -> Any:
            return traced()(event, context)

        return cast("Handler", run)


logger = Logger()
tracer = LambdaTracer()
metrics = Metrics()

__all__ = ["logger", "metrics", "tracer"]
