"""Tables through the files API: CSV, JSON and XLSX bodies stored as HDF5; bad ones refused by cell."""

from __future__ import annotations

import io
from typing import Any

import h5py
import pytest
from fastapi.testclient import TestClient

from tests.core.tables.readback import workbook

OCTET = {"content-type": "application/octet-stream"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _upload(client: TestClient, body: bytes, headers: dict[str, str], **params: str) -> dict[str, Any]:
    """POST the body; the file's status."""
    response = client.post("/api/v0/files", content=body, headers=headers, params=params)
    assert response.status_code == 200, response.text
    status: dict[str, Any] = client.get(f"/api/v0/files/{response.json()['file_id']}/status").json()
    return status


def _columns(client: TestClient, file_id: str, dataset: str) -> dict[str, list[Any]]:
    """A downloaded file's table, column by column (text decoded)."""
    content = client.get(f"/api/v0/files/{file_id}").content
    with h5py.File(io.BytesIO(content), "r") as handle:
        table = handle[dataset][()]
    return {
        name: [v.decode() if isinstance(v, bytes) else v for v in table[name].tolist()]
        for name in table.dtype.names
    }


def test_csv_upload_is_stored_as_hdf5_with_typed_columns(client: TestClient) -> None:
    status = _upload(client, b"sku,price,qty,on_sale\na,1.5,3,true\nb,2,4,false\n", OCTET, name="prices.csv")

    assert (status["status"], status["name"], status["source_format"]) == ("READY", "prices.csv", "csv")
    assert status["datasets"] == [
        {
            "name": "/prices",
            "shape": [2],
            "dtype": "compound(sku string, price float64, qty int64, on_sale bool)",
            "chunks": None,
            "filters": [],
        }
    ]
    assert _columns(client, status["file_id"], "prices") == {
        "sku": ["a", "b"],
        "price": [1.5, 2.0],
        "qty": [3, 4],
        "on_sale": [True, False],
    }


def test_table_content_type_picks_the_format_without_a_name(client: TestClient) -> None:
    status = _upload(client, b'[{"a": 1}, {"a": 2}]', {"content-type": "application/json"})

    assert status["source_format"] == "json"
    assert [d["name"] for d in status["datasets"]] == ["/table"]


def test_xlsx_upload_makes_a_dataset_per_sheet(client: TestClient) -> None:
    book = workbook({"Prices": [["sku", "price"], ["a", 1.5]], "Stock": [["sku", "n"], ["a", 3]]})

    status = _upload(client, book, {"content-type": XLSX}, name="inventory.xlsx")

    assert [d["name"] for d in status["datasets"]] == ["/Prices", "/Stock"]
    assert _columns(client, status["file_id"], "Stock") == {"sku": ["a"], "n": [3]}


def test_format_parameter_overrides_the_name(client: TestClient) -> None:
    status = _upload(client, b"a;b\n1;2\n", OCTET, name="export.txt", format="csv")

    assert status["datasets"][0]["name"] == "/export"


def test_bad_csv_is_refused_naming_row_and_column_and_nothing_is_stored(client: TestClient) -> None:
    response = client.post(
        "/api/v0/files", content=b"id,price\n1,2.5\n2,abc\n", headers=OCTET, params={"name": "p.csv"}
    )

    assert response.status_code == 422
    assert response.json() == {
        "detail": "row 3, column 'price': expected a number, got 'abc'",
        "code": "invalid_input",
    }
    assert client.get("/api/v0/files").json()["items"] == []


@pytest.mark.parametrize(
    "params",
    [{"format": "parquet"}, {"name": "a/b.csv"}, {"name": ""}, {"name": "x" * 256}],
    ids=["unknown-format", "name-with-folder", "empty-name", "long-name"],
)
def test_upload_refuses_bad_format_or_name_before_storing(client: TestClient, params: dict[str, str]) -> None:
    response = client.post("/api/v0/files", content=b"a\n1\n", headers=OCTET, params=params)

    assert response.status_code == 422
    assert client.get("/api/v0/files").json()["items"] == []


def test_start_upload_refuses_an_unknown_format(client: TestClient) -> None:
    response = client.post("/api/v0/files/uploads", json={"size": 10, "format": "parquet"})

    assert response.status_code == 422
    assert client.get("/api/v0/files").json()["items"] == []


def test_start_upload_of_a_table_over_its_limit_is_413(client: TestClient) -> None:
    response = client.post("/api/v0/files/uploads", json={"size": 8 * 1024 * 1024 + 1, "name": "rows.json"})

    assert response.status_code == 413
    assert response.json()["detail"].startswith("JSON uploads may be at most 8388608 bytes")
    assert client.get("/api/v0/files").json()["items"] == []


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"name": "prices.csv"}, ("prices.csv", "csv")),
        ({"format": "xlsx"}, (None, "xlsx")),
        ({"name": "scan.h5"}, ("scan.h5", "hdf5")),
    ],
)
def test_start_upload_keeps_the_name_and_format_on_the_pending_file(
    client: TestClient, fields: dict[str, str], expected: tuple[str | None, str]
) -> None:
    upload = client.post("/api/v0/files/uploads", json={"size": 10, **fields}).json()

    status = client.get(f"/api/v0/files/{upload['file_id']}/status").json()

    assert (status["status"], status["name"], status["source_format"]) == ("PENDING", *expected)
