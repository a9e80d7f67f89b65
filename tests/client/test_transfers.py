"""Upload planning and streaming parts from disk (stratus_client.transfers)."""

from __future__ import annotations

from pathlib import Path

import pytest
from stratus_client.models import Upload, UploadPart
from stratus_client.transfers import (
    CHUNK_BYTES,
    DIRECT_UPLOAD_LIMIT,
    filename_of,
    is_direct_upload,
    is_retryable_status,
    plan_parts,
    read_range,
    retry_delays,
    upload_name,
)

MIB = 1024 * 1024


def _upload(*sizes: int) -> Upload:
    parts = [UploadPart(part_number=n, size=s, url=f"http://s3/part{n}") for n, s in enumerate(sizes, 1)]
    return Upload(file_id="f", parts=list(reversed(parts)), part_size=sizes[0])


def test_is_direct_upload_up_to_the_body_limit_unless_parts_are_asked_for() -> None:
    assert is_direct_upload(DIRECT_UPLOAD_LIMIT, None)
    assert not is_direct_upload(DIRECT_UPLOAD_LIMIT + 1, None)
    assert not is_direct_upload(1024, 5 * MIB)


def test_plan_parts_places_parts_at_their_offsets_in_order() -> None:
    plans = plan_parts(_upload(5 * MIB, 5 * MIB, 2 * MIB), 12 * MIB)

    assert [(p.number, p.offset, p.size) for p in plans] == [
        (1, 0, 5 * MIB),
        (2, 5 * MIB, 5 * MIB),
        (3, 10 * MIB, 2 * MIB),
    ]


def test_plan_parts_refuses_parts_that_do_not_cover_the_file() -> None:
    with pytest.raises(ValueError, match="cover"):
        plan_parts(_upload(5 * MIB, 5 * MIB), 11 * MIB)


def test_read_range_streams_the_range_in_bounded_chunks(tmp_path: Path) -> None:
    data = bytes(range(256)) * (3 * CHUNK_BYTES // 256 + 7)
    path = tmp_path / "data.bin"
    path.write_bytes(data)
    seen: list[int] = []

    chunks = list(read_range(path, 1000, 2 * CHUNK_BYTES + 5, seen.append))

    assert b"".join(chunks) == data[1000 : 1000 + 2 * CHUNK_BYTES + 5]
    assert max(len(c) for c in chunks) <= CHUNK_BYTES
    assert sum(seen) == 2 * CHUNK_BYTES + 5


def test_read_range_refuses_a_file_shorter_than_planned(tmp_path: Path) -> None:
    path = tmp_path / "short.bin"
    path.write_bytes(b"abc")

    with pytest.raises(ValueError, match="shorter"):
        list(read_range(path, 0, 10))


def test_retry_delays_double() -> None:
    assert retry_delays(4, 0.5) == [0.5, 1.0, 2.0]


def test_is_retryable_status_only_for_transient_answers() -> None:
    assert [is_retryable_status(s) for s in (500, 503, 429, 408, 403, 400)] == [True] * 4 + [False] * 2


def test_filename_of_keeps_only_the_name() -> None:
    assert filename_of('attachment; filename="../../x.h5"', "f.h5") == "x.h5"
    assert filename_of(None, "f.h5") == "f.h5"


@pytest.mark.parametrize(
    ("name", "sent"),
    [("prices.csv", "prices.csv"), ("a\\b.xlsx", "a_b.xlsx"), ("tab\there.json", "tab_here.json")],
)
def test_upload_name_is_the_files_own_name_with_what_the_api_refuses_replaced(name: str, sent: str) -> None:
    assert upload_name(Path(name)) == sent
