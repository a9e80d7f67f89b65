"""ObjectStore over moto's versioned bucket: reads of one version, deleting versions."""

from __future__ import annotations

import boto3
import pytest
from stratus.errors import NotFoundError
from stratus.settings import Settings
from stratus.stores import Stores


def _put(settings: Settings, key: str, body: bytes) -> str:
    version_id: str = boto3.client("s3").put_object(Bucket=settings.data_bucket, Key=key, Body=body)[
        "VersionId"
    ]
    return version_id


def _versions(settings: Settings, prefix: str) -> list[tuple[str, str]]:
    listing = boto3.client("s3").list_object_versions(Bucket=settings.data_bucket, Prefix=prefix)
    return sorted((v["Key"], v["VersionId"]) for v in listing.get("Versions", []))


def test_reads_name_one_version_whatever_was_written_since(stores: Stores, settings: Settings) -> None:
    first = _put(settings, "files/a", b"first")
    _put(settings, "files/a", b"second, longer")

    assert stores.objects.get("files/a", first) == b"first"
    assert stores.objects.head("files/a", first).size == len(b"first")
    assert stores.objects.open_ranged("files/a", 5, first).read() == b"first"
    assert stores.objects.get("files/a") == b"second, longer"


def test_read_of_a_deleted_version_is_not_found(stores: Stores, settings: Settings) -> None:
    first = _put(settings, "files/a", b"first")
    stores.objects.delete_versions("files/a")

    with pytest.raises(NotFoundError):
        stores.objects.get("files/a", first)


def test_delete_versions_keeps_the_named_version_and_other_keys(stores: Stores, settings: Settings) -> None:
    kept = _put(settings, "files/a", b"kept")
    _put(settings, "files/a", b"extra")
    other = _put(settings, "files/ab", b"a longer key with the same prefix")

    stores.objects.delete_versions("files/a", keep=kept)

    assert _versions(settings, "files/") == sorted([("files/a", kept), ("files/ab", other)])
    assert stores.objects.get("files/a") == b"kept"
