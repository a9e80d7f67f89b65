"""LogStore: jobs' log lines as append-only items, numbered from 0 and read from any line on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from boto3.dynamodb.conditions import Key

from stratus.models.jobs import LogLine, LogPage
from stratus.stores.base import RecordStore, from_item, to_item

if TYPE_CHECKING:
    from stratus.models.jobs import JobKind

KIND = "log"
# One item per flush (the worker batches lines): far under DynamoDB's 400 KB item limit, since a flush
# holds at most ~64 KiB and one line is cut at MAX_LINE_CHARS.
MAX_LINE_CHARS = 16 * 1024
LINE_DIGITS = 12


def log_partition(kind: JobKind, job_id: str) -> str:
    """Partition key of one job's log items."""
    return f"{KIND}#{kind}#{job_id}"


def _sort_key(first_line: int) -> str:
    return f"{first_line:0{LINE_DIGITS}d}"


class LogStore(RecordStore):
    """A job's log: chunks of consecutive lines keyed by their first line's number."""

    def put_chunk(
        self, kind: JobKind, job_id: str, first_line: int, lines: list[str], expires_at: int
    ) -> None:
        """Store lines numbered from ``first_line``; the job record allotted the numbers, so chunks of
        different writers never overlap. Writing the same chunk twice is harmless."""
        item = {
            "pk": log_partition(kind, job_id),
            "sk": _sort_key(first_line),
            "lines": [line[:MAX_LINE_CHARS] for line in lines],
            "expires_at": expires_at,
        }
        self._table.put_item(Item=to_item(item))

    def read(self, kind: JobKind, job_id: str, from_line: int, limit: int, line_count: int) -> LogPage:
        """Up to ``limit`` lines from ``from_line`` on, of the ``line_count`` the record says exist."""
        lines: list[LogLine] = []
        if from_line < line_count:
            partition = Key("pk").eq(log_partition(kind, job_id))
            # The chunk holding from_line is the last one starting at or before it.
            before = self._table.query(
                KeyConditionExpression=partition & Key("sk").lte(_sort_key(from_line)),
                ScanIndexForward=False,
                Limit=1,
                ConsistentRead=True,
            ).get("Items", [])
            start = str(before[0]["sk"]) if before else _sort_key(0)
            query = {
                "KeyConditionExpression": partition & Key("sk").gte(start),
                "ConsistentRead": True,
                # Every chunk holds a line at or after from_line, so `limit` chunks hold the page.
                "Limit": limit,
            }
            while len(lines) < limit:
                response = self._table.query(**query)  # type: ignore[arg-type]
                for item in map(from_item, response.get("Items", [])):
                    first = int(item["sk"])
                    for offset, text in enumerate(item["lines"]):
                        number = first + offset
                        if from_line <= number < line_count and len(lines) < limit:
                            lines.append(LogLine(line=number, text=text))
                if "LastEvaluatedKey" not in response:
                    break
                query["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        # Without lines: nothing new yet (ask again from the same line), or a chunk lost with a crash.
        next_line = lines[-1].line + 1 if lines else max(from_line, line_count)
        return LogPage(lines=lines, next_line=next_line)
