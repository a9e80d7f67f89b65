"""Patch 18: DynamoDB transactions without copying whole tables (moto 5.2.5).

moto's `transact_write_items` deep-copies every table a transaction touches, to roll back on failure:
each transaction costs time in proportion to the table (20 ms at a few hundred records, and growing with
every job the local stack keeps). This one checks every condition first, as DynamoDB does, then writes,
keeping a copy of only the items it writes; on a failure mid-way it puts those back.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend

if TYPE_CHECKING:
    from collections.abc import Callable

    from moto.dynamodb.models.dynamo_type import Item

PATCHED_MARK = "__stratus_patch__"
OPERATIONS = frozenset({"ConditionCheck", "Put", "Delete", "Update"})
MAX_ITEMS = 100


def apply_dynamodb_patches(serialized: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    """Replace moto's transact_write_items (run under ``serialized``, the shim's write lock)."""
    if not getattr(DynamoDBBackend.transact_write_items, PATCHED_MARK, False):
        patched = serialized(_transact_write_items)
        setattr(patched, PATCHED_MARK, True)
        DynamoDBBackend.transact_write_items = patched  # type: ignore[method-assign]


def _transact_write_items(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    if len(transact_items) > MAX_ITEMS:
        raise TooManyTransactionsException()
    writes = [_parse(backend, item) for item in transact_items]
    keys = [(op["TableName"], str(sorted(key.items()))) for _, op, key in writes]
    if len(set(keys)) != len(keys):
        raise MultipleTransactionsException()
    errors = [_check(backend, op, key) for _, op, key in writes]
    if any(code is not None for code, _, _ in errors):
        raise TransactionCanceledException(errors)
    saved = [(op["TableName"], key, _copy(backend.get_item(op["TableName"], key))) for _, op, key in writes]
    try:
        for op_type, op, key in writes:
            _apply(backend, op_type, op, key)
    except Exception:
        for table_name, key, item in saved:
            _restore(backend, table_name, key, item)
        raise


def _parse(backend: DynamoDBBackend, item: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
    if len(item) > 1:
        raise TransactWriteSingleOpException
    op_type, op = next(iter(item.items()))
    if op_type not in OPERATIONS:
        raise ValueError("Unsupported transaction operation")
    if op_type != "Put":
        return op_type, op, op["Key"]
    table = backend.get_table(op["TableName"])
    key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = op["Item"][table.range_key_attr]
    return op_type, op, key


def _check(backend: DynamoDBBackend, op: dict[str, Any], key: dict[str, Any]) -> tuple[Any, Any, Any]:
    """(code, message, old item) of a write whose condition fails, else (None, None, None)."""
    expression = op.get("ConditionExpression")
    if expression is None:
        return None, None, None
    current = backend.get_item(op["TableName"], key)
    condition = get_filter_expression(
        expression, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
    )
    if condition.expr(current):
        return None, None, None
    wants_old = op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD"
    old = current.to_json()["Attributes"] if current is not None and wants_old else None
    return "ConditionalCheckFailed", str(ConditionalCheckFailed().message), old


def _apply(backend: DynamoDBBackend, op_type: str, op: dict[str, Any], key: dict[str, Any]) -> None:
    # Conditions were checked above, as one step: the writes themselves are unconditional.
    names, values = op.get("ExpressionAttributeNames") or {}, op.get("ExpressionAttributeValues") or {}
    if op_type == "Put":
        backend.put_item(op["TableName"], op["Item"])
    elif op_type == "Delete":
        backend.delete_item(op["TableName"], key)
    elif op_type == "Update":
        backend.update_item(
            op["TableName"],
            key,
            update_expression=op["UpdateExpression"],
            expression_attribute_names=names,
            expression_attribute_values=values,
        )


def _copy(item: Item | None) -> dict[str, Any] | None:
    return None if item is None else copy.deepcopy(item.to_json()["Attributes"])


def _restore(
    backend: DynamoDBBackend, table_name: str, key: dict[str, Any], item: dict[str, Any] | None
) -> None:
    if item is None:
        if backend.get_item(table_name, key) is not None:
            backend.delete_item(table_name, key)
    else:
        backend.put_item(table_name, item)
