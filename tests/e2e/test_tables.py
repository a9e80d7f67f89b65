"""Tables through the local stack, as a client uploads them: a CSV in the request body, an XLSX through
presigned multipart and S3's ingestion, both stored as HDF5 with typed columns; a bad table REJECTED."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import h5py
import openpyxl
import pytest
from stratus.local.process import LocalStackProcess
from stratus_client import Client
from stratus_client.errors import FileRejectedError

pytestmark = pytest.mark.e2e

TENANT = "tables-e2e"
# A part size forces the presigned multipart path (S3, then the ingest function) for a small file.
MIB = 1024 * 1024


@pytest.fixture
def client(local_stack: LocalStackProcess) -> Iterator[Client]:
    with Client(local_stack.api_url, local_stack.token(TENANT), progress=False) as sdk:
        yield sdk


def _columns(path: Path, dataset: str) -> dict[str, list[object]]:
    with h5py.File(path, "r") as handle:
        table = handle[dataset][()]
    return {
        name: [v.decode() if isinstance(v, bytes) else v for v in table[name].tolist()]
        for name in table.dtype.names
    }


def test_csv_upload_downloads_as_hdf5_with_its_columns(client: Client, tmp_path: Path) -> None:
    source = tmp_path / "prices.csv"
    source.write_text("sku,price,qty\na,1.5,3\nb,2.25,4\n")

    info = client.upload(source)
    downloaded = client.download(info.file_id, tmp_path / "prices.h5")

    assert (info.status, info.name, info.source_format) == ("READY", "prices.csv", "csv")
    assert _columns(downloaded, "prices") == {"sku": ["a", "b"], "price": [1.5, 2.25], "qty": [3, 4]}


def test_xlsx_through_s3_ingestion_makes_a_dataset_per_sheet(client: Client, tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    book.active.title = "Prices"
    book.active.append(["sku", "price"])
    book.active.append(["a", 1.5])
    stock = book.create_sheet("Stock")
    stock.append(["sku", "n"])
    stock.append(["a", 3])
    source = tmp_path / "inventory.xlsx"
    book.save(source)

    info = client.upload(source, part_size=5 * MIB)
    downloaded = client.download(info.file_id, tmp_path / "inventory.h5")

    assert (info.status, info.source_format) == ("READY", "xlsx")
    assert _columns(downloaded, "Prices") == {"sku": ["a"], "price": [1.5]}
    assert _columns(downloaded, "Stock") == {"sku": ["a"], "n": [3]}


def test_bad_table_through_s3_ingestion_is_rejected_naming_row_and_column(
    client: Client, tmp_path: Path
) -> None:
    source = tmp_path / "prices.csv"
    source.write_text("sku,price\na,1.5\nb,cheap\n")

    with pytest.raises(FileRejectedError) as rejected:
        client.upload(source, part_size=5 * MIB)

    assert rejected.value.reason == "row 3, column 'price': expected a number, got 'cheap'"
