"""Reading a JSON upload: an array of row objects (one table), or an object of table name → such an array.

Rows are numbered from 1, the first object of the array (JSON has no header row). A table's columns are
the keys of its objects in the order they first appear; a key an object lacks is an empty cell.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from stratus.errors import InvalidInputError
from stratus.tables.formats import table_name
from stratus.tables.limits import MAX_TABLES
from stratus.tables.raw import RawTable, check_table_name, header_names, quote

if TYPE_CHECKING:
    from stratus.tables.limits import CellBudget


def read_json(data: bytes, name: str | None, budget: CellBudget) -> list[RawTable]:
    """The tables of a JSON file. Raises InvalidInputError naming the table, row and column."""
    if not data.strip():
        raise InvalidInputError("the file is empty; send an array of row objects")
    try:
        root = json.loads(data)
    # ValueError: malformed JSON, text that is not UTF-8/16/32, an integer of 4300+ digits; RecursionError:
    # nesting deeper than the parser's stack.
    except (ValueError, RecursionError) as exc:
        raise InvalidInputError(f"the file is not valid JSON ({str(exc)[:200]})") from exc
    if isinstance(root, list):
        return [_table(root, table_name(name), "", budget)]
    if not isinstance(root, dict):
        raise InvalidInputError(
            f"the file holds {_kind(root)}; send an array of row objects, or an object of table name → array"
        )
    if not root:
        raise InvalidInputError("the object holds no tables; send an object of table name → array of rows")
    if len(root) > MAX_TABLES:
        raise InvalidInputError(f"the object holds {len(root)} tables; at most {MAX_TABLES}")
    tables = []
    for key, rows in root.items():
        label = f"table {quote(key)}"
        check_table_name(key, label)
        if not isinstance(rows, list):
            raise InvalidInputError(f"{label}: expected an array of row objects, got {_kind(rows)}")
        tables.append(_table(rows, key, label, budget))
    return tables


def _table(rows: list[Any], name: str, label: str, budget: CellBudget) -> RawTable:
    prefix = f"{label}: " if label else ""
    if not rows:
        raise InvalidInputError(f"{prefix}the table has no rows; a table needs at least one")
    keys: dict[str, None] = {}
    for number, row in enumerate(rows, start=1):
        where = ", ".join(filter(None, [label, f"row {number}"]))
        if not isinstance(row, dict):
            raise InvalidInputError(f"{where}: expected an object of column → value, got {_kind(row)}")
        budget.spend(max(len(row), 1), where)
        keys.update(dict.fromkeys(row))
    order = list(keys)
    if not order:
        raise InvalidInputError(f"{prefix}the rows have no keys; a table needs at least one column")
    header = header_names(order, lambda index: ", ".join(filter(None, [label, f"key {quote(order[index])}"])))
    table = RawTable(name, label, header, textual=False)
    for number, row in enumerate(rows, start=1):
        table.add_row(number, [row.get(key) for key in order])
    return table


def _kind(value: Any) -> str:
    """What a JSON value is, as a message says it."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return f"the text {quote(value)}"
    return f"the value {json.dumps(value)}"
