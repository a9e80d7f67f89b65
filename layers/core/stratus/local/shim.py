"""Our pinned moto patches: run the real Lambda handlers in-process, fix S3 multipart notifications, take
two costs off every moto server call (module listing, DynamoDB item serialization), and apply the Batch
and Step Functions fixes of batch.py and stepfunctions.py."""

from __future__ import annotations

import base64
import contextvars
import hashlib
import importlib.util
import json
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache, wraps
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import moto
import moto.backends
from botocore.config import Config
from moto.awslambda.models import LambdaFunction
from moto.core.base_backend import BackendDict
from moto.core.responses import ActionContext
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.responses import DynamoResult
from moto.s3 import notifications as s3_notifications
from moto.s3.models import S3Backend

from stratus import aws
from stratus.local.batch import apply_batch_patches
from stratus.local.dynamodb import apply_dynamodb_patches
from stratus.local.queues import apply_queue_patches
from stratus.local.stepfunctions import apply_stepfunctions_patches
from stratus.settings import get_settings

# Every patch below reaches into moto internals; re-check each against the new source before bumping.
MOTO_VERSION = "5.2.5"
# The bootstrap tags each function with the absolute path of its template CodeUri folder.
CODE_PATH_TAG = "stratus:code-path"

_PATCHED_MARK = "__stratus_patch__"
# Set while CompleteMultipartUpload runs, so only its own ObjectCreated event goes out.
_COMPLETING_UPLOAD: contextvars.ContextVar[bool] = contextvars.ContextVar("completing_upload", default=False)


class MotoVersionError(RuntimeError):
    """The installed moto is not the version our patches were written against."""


@dataclass(frozen=True)
class LocalLambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_seconds: int
    log_group_name: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_stream_name: str = "local"
    identity: Any = None
    client_context: Any = None
    _started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function's configured timeout."""
        elapsed = time.monotonic() - self._started
        return max(0, int((self.timeout_seconds - elapsed) * 1000))


class _SharedEnvironment:
    """The one process environment that in-process handlers share.

    Overlapping invocations (threads of the moto server, or a handler whose S3 write fires another handler
    synchronously) layer their variables; the outermost one restores the environment when it ends. Our
    functions share their variables through the template's Globals, so the layers agree. In the moto
    server nothing needs restoring: the environment stays, like a warm Lambda's, and so do the cached
    settings and boto3 clients (rebuilding those costs about 0.25 s an invocation).
    """

    def __init__(self, *, restore: bool) -> None:
        self._restore = restore
        self._lock = threading.Lock()
        self._depth = 0
        self._saved: dict[str, str] = {}

    @contextmanager
    def applied(self, variables: Mapping[str, str]) -> Iterator[None]:
        with self._lock:
            if self._depth == 0:
                self._saved = dict(os.environ)
            self._depth += 1
            _replace_environment({**os.environ, **variables})
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0 and self._restore:
                    _replace_environment(self._saved)


def _replace_environment(variables: Mapping[str, str]) -> None:
    if dict(os.environ) == dict(variables):
        return
    os.environ.clear()
    os.environ.update(variables)
    # Settings and boto3 clients are cached per process; they must follow the environment.
    get_settings.cache_clear()
    aws.clear_caches()


def _check_moto_version() -> None:
    if moto.__version__ != MOTO_VERSION:
        raise MotoVersionError(
            f"stratus.local.shim patches moto {MOTO_VERSION} internals but moto {moto.__version__} is "
            "installed: re-check each patch in stratus/local/shim.py (and its test) against the new "
            "moto source, drop the ones moto now does itself, then bump MOTO_VERSION."
        )


def apply_patches(*, restore_environment: bool = True, lambda_endpoint: str | None = None) -> None:
    """Patch moto so Lambda runs our handlers, multipart uploads notify once and Batch jobs run the
    worker; safe to call twice.

    ``restore_environment=False`` (the moto server process) leaves a function's environment in place
    after its invocation. ``lambda_endpoint`` (a moto server serving only S3) sends S3 notifications to
    that server's functions. The first call's choices stand.
    """
    _check_moto_version()
    if not getattr(LambdaFunction._invoke_lambda, _PATCHED_MARK, False):
        LambdaFunction._invoke_lambda = _in_process_invoker(  # type: ignore[method-assign]
            LambdaFunction._invoke_lambda, _SharedEnvironment(restore=restore_environment)
        )
    if not getattr(S3Backend.complete_multipart_upload, _PATCHED_MARK, False):
        S3Backend.complete_multipart_upload = _marking_completion(  # type: ignore[method-assign]
            S3Backend.complete_multipart_upload
        )
    if not getattr(s3_notifications.send_event, _PATCHED_MARK, False):
        s3_notifications.send_event = _completion_aware(s3_notifications.send_event)
    if not getattr(moto.backends.list_of_moto_modules, _PATCHED_MARK, False):
        moto.backends.list_of_moto_modules = _listed_once(moto.backends.list_of_moto_modules)
    if not getattr(BackendDict.__getitem__, _PATCHED_MARK, False):
        BackendDict.__getitem__ = _found_without_lock(BackendDict.__getitem__)  # type: ignore[method-assign]
    if lambda_endpoint and not getattr(s3_notifications._invoke_awslambda, _PATCHED_MARK, False):
        s3_notifications._invoke_awslambda = _forwarded_to(lambda_endpoint)  # type: ignore[assignment]
    for name in ATOMIC_DYNAMODB_WRITES:
        if not getattr(getattr(DynamoDBBackend, name), _PATCHED_MARK, False):
            setattr(DynamoDBBackend, name, _serialized(getattr(DynamoDBBackend, name)))
    apply_dynamodb_patches(_serialized)
    if not getattr(DynamoResult.execute_result, _PATCHED_MARK, False):
        DynamoResult.execute_result = _item_results_as_json(  # type: ignore[method-assign,assignment]
            DynamoResult.execute_result
        )
    # Patches 6, 7 and 14 (Step Functions' Batch integration, Batch jobs running the worker) live in batch.py.
    apply_batch_patches()
    # Patches 9 to 13, 15, 16 (Step Functions' interpreter: nested executions, JSONata, ...) live in
    # stepfunctions.py.
    apply_stepfunctions_patches()
    # Patch 19 (SQS event source mappings poll off the sender's thread) lives in queues.py.
    apply_queue_patches()


# --- patch 1: Lambda runs our handler in-process instead of in Docker --------------------------------


def _in_process_invoker(
    original: Callable[..., tuple[str, bool, str]], environment: _SharedEnvironment
) -> Callable[..., tuple[str, bool, str]]:

    @wraps(original)
    def invoke(self: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
        code_path = self.tags.get(CODE_PATH_TAG)
        if code_path is None:
            # Not one of ours (a test made it by hand): keep moto's own behaviour.
            return original(self, event)
        variables = _function_environment(self)
        with environment.applied(variables):
            return _run_handler(self, Path(code_path), _decode_event(event), variables)

    setattr(invoke, _PATCHED_MARK, True)
    return invoke


def _function_environment(function: LambdaFunction) -> dict[str, str]:
    # CloudFormation hands moto numbers unconverted (FILE_LIFETIME_DAYS: 1); Lambda gives strings.
    variables = {key: str(value) for key, value in function.environment_vars.items()}
    variables["AWS_REGION"] = variables["AWS_DEFAULT_REGION"] = function.region
    return variables


def _decode_event(event: Any) -> Any:
    if event is None:
        return {}
    if isinstance(event, str | bytes):
        return json.loads(event or "{}")
    return event


def _run_handler(
    function: LambdaFunction, code_path: Path, event: Any, variables: Mapping[str, str]
) -> tuple[str, bool, str]:
    context = LocalLambdaContext(
        function_name=function.function_name,
        function_version=str(function.version),
        invoked_function_arn=function.function_arn,
        memory_limit_in_mb=int(function.memory_size),
        timeout_seconds=int(function.timeout),
        log_group_name=function.logs_group_name,
    )
    try:
        handler = _load_handler(code_path, _handler_name(function), _fingerprint(variables))
        result = handler(event, context)
        return json.dumps(result), False, ""
    except Exception as exc:  # noqa: BLE001  # Lambda reports any handler error as a payload, not a crash
        return json.dumps(_error_payload(exc, context.aws_request_id)), True, ""


def _handler_name(function: LambdaFunction) -> str:
    # A zip function names its handler; an image function's is the image's Command (e.g. app.handler).
    if function.handler:
        return str(function.handler)
    return str(function.image_config.cmd[0])


def _error_payload(exc: BaseException, request_id: str) -> dict[str, Any]:
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_list(traceback.extract_tb(exc.__traceback__)),
    }


def _fingerprint(variables: Mapping[str, str]) -> str:
    return hashlib.sha1(json.dumps(sorted(variables.items())).encode(), usedforsecurity=False).hexdigest()


@lru_cache
def _load_handler(code_path: Path, handler: str, environment_fingerprint: str) -> Callable[..., Any]:
    """Import the handler's module once per code folder and environment, as a warm Lambda would."""
    module_path, _, attribute = handler.rpartition(".")
    source = code_path.joinpath(*module_path.split(".")).with_suffix(".py")
    module = _import_file(source, f"_stratus_local_{code_path.name}_{environment_fingerprint[:12]}")
    return getattr(module, attribute)  # type: ignore[no-any-return]


def _import_file(source: Path, module_name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(module_name, source)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load a handler from {source}")
    module = importlib.util.module_from_spec(spec)
    # Registered so pydantic and dataclasses can resolve the module's postponed annotations.
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def forget_handlers() -> None:
    """Drop the imported handler modules (the next invocation is a cold start)."""
    _load_handler.cache_clear()


# --- patch 2: CompleteMultipartUpload notifies ObjectCreated:CompleteMultipartUpload only -------------
# moto 5.2.5 completes an upload through put_object, which fires ObjectCreated:Put (before the object's
# tags and metadata are set) and ObjectTagging:Put, then fires ObjectCreated:CompleteMultipartUpload.
# S3 fires just the last one, so ingest would otherwise run twice, first on a half-made object.


def _marking_completion(original: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(original)
    def complete_multipart_upload(self: S3Backend, *args: Any, **kwargs: Any) -> Any:
        token = _COMPLETING_UPLOAD.set(True)
        try:
            return original(self, *args, **kwargs)
        finally:
            _COMPLETING_UPLOAD.reset(token)

    setattr(complete_multipart_upload, _PATCHED_MARK, True)
    return complete_multipart_upload


def _completion_aware(original: Callable[..., None]) -> Callable[..., None]:
    completed = s3_notifications.S3NotificationEvent.OBJECT_CREATED_COMPLETE_MULTIPART_UPLOAD_EVENT

    @wraps(original)
    def send_event(account_id: str, event_name: Any, bucket: Any, key: Any) -> None:
        if _COMPLETING_UPLOAD.get() and event_name != completed:
            return
        original(account_id, event_name, bucket, key)

    setattr(send_event, _PATCHED_MARK, True)
    return send_event


# --- patch 3: the server lists moto's modules once ---------------------------------------------------
# moto's server resolves every request's host against list_of_moto_modules(), which lists moto's package
# folder and stats each of its ~180 entries: about 0.5 ms of every AWS call. The folder never changes.


def _listed_once(original: Callable[[], Iterable[str]]) -> Callable[[], Iterable[str]]:
    modules = tuple(original())

    @wraps(original)
    def list_of_moto_modules() -> Iterable[str]:
        return iter(modules)

    setattr(list_of_moto_modules, _PATCHED_MARK, True)
    return list_of_moto_modules


# --- patch 4: DynamoDB item operations answer with plain JSON -----------------------------------------
# For item reads and writes moto's backend already returns the wire format (DynamoResult turns its
# DynamoType values into {"S": ...} dicts); moto's generic serializer then walks the output shape, trying
# every AttributeValue member of every attribute: ~0.7 ms for one 11-attribute item, half of a GetItem.
# The JSON protocol's body is exactly that dict, so these operations skip the walk. Others (describe
# calls, with timestamps to format) keep moto's serializer.
FAST_DYNAMODB_OPERATIONS = frozenset(
    {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem", "BatchWriteItem"}
)
DYNAMODB_CONTENT_TYPE = "application/x-amz-json-1.0"


def _item_results_as_json(
    original: Callable[[DynamoResult, ActionContext], Any],
) -> Callable[[DynamoResult, ActionContext], Any]:
    @wraps(original)
    def execute_result(self: DynamoResult, context: ActionContext) -> Any:
        if context.operation_model.name not in FAST_DYNAMODB_OPERATIONS or isinstance(self.result, Exception):
            return original(self, context)
        return 200, {"Content-Type": DYNAMODB_CONTENT_TYPE}, json.dumps(self.result, default=_base64)

    setattr(execute_result, _PATCHED_MARK, True)
    return execute_result


def _base64(value: object) -> str:
    # Binary attributes (B, BS) are the only non-JSON values; the wire format carries them as base64.
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


# --- patch 5: an S3-only server forwards notifications to the functions' server -----------------------
# The local stack runs S3 in a moto process of its own, so a 512 MiB upload (moto copies it twice while
# holding the GIL) cannot stall the DynamoDB reads behind every poll. Its notifications name functions
# that live in the main server: moto's _invoke_awslambda would look them up locally, fail and drop the
# event. This sends each one to the main server instead, asynchronously, as S3 does on AWS.


def _forwarded_to(lambda_endpoint: str) -> Callable[[str, Any, str, str], None]:
    def invoke_awslambda(_account_id: str, event_body: Any, fn_arn: str, region_name: str) -> None:
        thread = threading.Thread(
            target=_invoke_remote,
            args=(lambda_endpoint, fn_arn, region_name, event_body),
            name="s3-notification",
            daemon=True,
        )
        thread.start()

    setattr(invoke_awslambda, _PATCHED_MARK, True)
    return invoke_awslambda


def _invoke_remote(lambda_endpoint: str, fn_arn: str, region_name: str, event_body: Any) -> None:
    client = _lambda_client(lambda_endpoint, region_name)
    response = client.invoke(FunctionName=fn_arn, Payload=json.dumps(event_body).encode())
    if response.get("FunctionError"):
        # On AWS a failed asynchronous invocation lands in the function's logs; here, the server's.
        print(f"S3 notification to {fn_arn} failed: {response['Payload'].read().decode()}", flush=True)


@lru_cache
def _lambda_client(lambda_endpoint: str, region_name: str) -> Any:
    session: Any = boto3.Session(region_name=region_name)
    return session.client("lambda", endpoint_url=lambda_endpoint, config=Config(read_timeout=900))


# --- patch 8: conditional writes are atomic -------------------------------------------------------------
# DynamoDB evaluates a write's condition and applies it atomically; moto checks, then writes, with no lock,
# so two threads of the (threaded) server can both pass `status = RUNNING` and both win a race the store's
# conditional writes exist to settle. One lock around moto's item writes restores DynamoDB's guarantee.
# transact_write_items is patch 18's (dynamodb.py), serialized the same way.
ATOMIC_DYNAMODB_WRITES = ("put_item", "update_item", "delete_item")
_DYNAMODB_WRITE_LOCK = threading.RLock()


def _serialized(original: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(original)
    def write(*args: Any, **kwargs: Any) -> Any:
        with _DYNAMODB_WRITE_LOCK:
            return original(*args, **kwargs)

    setattr(write, _PATCHED_MARK, True)
    return write


# --- patch 17: a service's backends are found without a global lock --------------------------------
# Every request looks up its service's backends by account (often twice, the IAM one too), and every
# lookup took moto's global backend lock and compared the BackendDict with each of the ~180 registered
# ones: the server's threads queued on that lock. An account's backends, once made, stay: later
# lookups read them directly; only the first goes through moto's path.


def _found_without_lock(original: Callable[[BackendDict[Any], str], Any]) -> Callable[..., Any]:
    @wraps(original)
    def getitem(self: BackendDict[Any], account_id: str) -> Any:
        if getattr(self, "_stratus_registered", False) and dict.__contains__(self, account_id):
            return dict.__getitem__(self, account_id)
        backend = original(self, account_id)
        self._stratus_registered = True  # type: ignore[attr-defined]  # moto put it in _instances
        return backend

    setattr(getitem, _PATCHED_MARK, True)
    return getitem
