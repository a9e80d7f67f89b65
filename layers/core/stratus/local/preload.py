"""Imported by the local worker fork server only (stratus.local.workers): the worker's modules, and the
SDK's service data loaded into the process's boto3 session, so each forked job creates its clients in
milliseconds instead of parsing the service models again (~150 ms per job)."""

from __future__ import annotations

import gc

import gpu_worker.__main__  # noqa: F401  # torch, h5py, numpy, the core package
from stratus import aws


def _load_service_data() -> None:
    # The clients are thrown away: a job makes its own (with its own environment) from the same session,
    # whose loader has kept the parsed models. No connection is opened until a client sends a request.
    # The region only has to be some region: the fork server's environment need not name one.
    session = aws.session()
    session.resource("dynamodb", config=aws.CONFIG, region_name="us-east-1")
    session.client("s3", config=aws.CONFIG, region_name="us-east-1")


_load_service_data()
# Everything so far outlives every job: out of the collector's reach, a job's first full collection does
# not walk (and copy, page by page) the fork server's whole heap, which cost ~300 ms per job.
gc.freeze()
