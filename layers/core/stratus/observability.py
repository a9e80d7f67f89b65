"""Powertools logger, tracer and metrics; names come from POWERTOOLS_* in the template's Globals."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
# Auto-patching boto3 at import would cost cold-start time on every function; handlers opt in via capture.
tracer = Tracer(auto_patch=False)
metrics = Metrics()

__all__ = ["logger", "metrics", "tracer"]
