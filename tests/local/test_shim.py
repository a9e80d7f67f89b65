"""The local shim's pinned moto patches: one test (or a few) per patch."""

from __future__ import annotations

import base64
import io
import json
import os
import threading
import zipfile
from pathlib import Path

import boto3
import moto
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.base_backend import backend_lock
from moto.dynamodb.models import dynamodb_backends
from stratus.local.shim import CODE_PATH_TAG, MotoVersionError, apply_patches, forget_handlers

HANDLER_DIR = Path(__file__).parent / "handlers" / "recorder"
BUCKET = "shim-test-data"
TABLE = "shim-test-table"
ROLE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


def _zip() -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("app.py", "")
    return archive.getvalue()


@pytest.fixture
def recorder(aws: None) -> str:
    """The recorder handler deployed as a moto function the shim runs; returns its ARN."""
    apply_patches()
    forget_handlers()
    role = boto3.client("iam").create_role(
        RoleName="recorder", AssumeRolePolicyDocument=json.dumps(ROLE_POLICY)
    )
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    function = boto3.client("lambda").create_function(
        FunctionName="recorder",
        Runtime="python3.11",
        Role=role["Role"]["Arn"],
        Handler="app.handler",
        Code={"ZipFile": _zip()},
        Timeout=29,
        MemorySize=512,
        Environment={"Variables": {"TABLE_NAME": TABLE, "DATA_BUCKET": BUCKET}},
        Tags={CODE_PATH_TAG: str(HANDLER_DIR)},
    )
    return function["FunctionArn"]


def _invoke(payload: dict[str, object]) -> tuple[dict[str, object], str | None]:
    response = boto3.client("lambda").invoke(FunctionName="recorder", Payload=json.dumps(payload).encode())
    return json.loads(response["Payload"].read()), response.get("FunctionError")


def _seen_events() -> list[dict[str, object]]:
    s3 = boto3.client("s3")
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix="seen/").get("Contents", [])
    return [json.loads(s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()) for item in listing]


def _notify_recorder_on_uploads(function_arn: str) -> None:
    boto3.client("s3").put_bucket_notification_configuration(
        Bucket=BUCKET,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {
                    "LambdaFunctionArn": function_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "uploads/"}]}},
                }
            ]
        },
    )


def test_apply_patches_rejects_other_moto_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(moto, "__version__", "0.0.1")

    with pytest.raises(MotoVersionError, match="5.2.5"):
        apply_patches()


def test_apply_patches_is_idempotent() -> None:
    apply_patches()
    from moto.awslambda.models import LambdaFunction

    patched = LambdaFunction._invoke_lambda

    apply_patches()

    assert LambdaFunction._invoke_lambda is patched


def test_invoke_runs_the_handler_with_function_environment_and_context(recorder: str) -> None:
    result, error = _invoke({})

    assert error is None
    assert result["table_name"] == TABLE
    assert result["function_name"] == "recorder"
    assert result["memory_limit_in_mb"] == 512
    assert 0 < int(str(result["remaining_ms"])) <= 29_000


def test_invoke_runs_an_image_functions_command_from_its_code_folder(aws: None) -> None:
    apply_patches()
    forget_handlers()
    role = boto3.client("iam").create_role(RoleName="image", AssumeRolePolicyDocument=json.dumps(ROLE_POLICY))
    boto3.client("lambda").create_function(
        FunctionName="image",
        Role=role["Role"]["Arn"],
        PackageType="Image",
        Code={"ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/image:latest"},
        ImageConfig={"Command": ["app.handler"]},
        Environment={"Variables": {"TABLE_NAME": TABLE, "DATA_BUCKET": BUCKET}},
        Tags={CODE_PATH_TAG: str(HANDLER_DIR)},
    )
    boto3.client("s3").create_bucket(Bucket=BUCKET)

    response = boto3.client("lambda").invoke(FunctionName="image", Payload=b"{}")

    assert response.get("FunctionError") is None
    assert json.loads(response["Payload"].read())["function_name"] == "image"


def test_invoke_restores_the_process_environment(recorder: str) -> None:
    before = dict(os.environ)

    _invoke({})

    assert dict(os.environ) == before


def test_invoke_reports_handler_errors_as_lambda_does(recorder: str) -> None:
    result, error = _invoke({"fail": True})

    assert error == "Handled"
    assert result["errorType"] == "ValueError"
    assert result["errorMessage"] == "asked to fail"
    assert isinstance(result["stackTrace"], list)


def test_invoke_logs_tail_is_valid_base64(recorder: str) -> None:
    response = boto3.client("lambda").invoke(FunctionName="recorder", Payload=b"{}", LogType="Tail")

    assert base64.b64decode(response["LogResult"]) == b""


def test_put_object_notifies_the_handler_synchronously(recorder: str) -> None:
    _notify_recorder_on_uploads(recorder)

    boto3.client("s3").put_object(Bucket=BUCKET, Key="uploads/a.h5", Body=b"data")

    assert [event["Records"][0]["eventName"] for event in _seen_events()] == ["ObjectCreated:Put"]


def test_complete_multipart_upload_notifies_once_as_complete_multipart_upload(recorder: str) -> None:
    _notify_recorder_on_uploads(recorder)
    s3 = boto3.client("s3")
    upload = s3.create_multipart_upload(
        Bucket=BUCKET, Key="uploads/big.h5", Tagging="stratus-lifetime=temporary"
    )
    part = s3.upload_part(
        Bucket=BUCKET, Key="uploads/big.h5", UploadId=upload["UploadId"], PartNumber=1, Body=b"x" * 1024
    )

    s3.complete_multipart_upload(
        Bucket=BUCKET,
        Key="uploads/big.h5",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]},
    )

    events = _seen_events()
    assert [event["Records"][0]["eventName"] for event in events] == ["ObjectCreated:CompleteMultipartUpload"]


def test_list_of_moto_modules_is_listed_once(aws: None) -> None:
    apply_patches()

    listed = list(moto.backends.list_of_moto_modules())

    assert "dynamodb" in listed and "s3" in listed
    assert listed == list(moto.backends.list_of_moto_modules())


ALL_TYPES_ITEM = {
    "pk": {"S": "file#1"},
    "sk": {"S": "file"},
    "n": {"N": "1795602000.125"},
    "b": {"B": base64.b64decode(base64.b64encode(b"\x00\x01bytes"))},
    "ss": {"SS": ["a", "b"]},
    "ns": {"NS": ["1", "2.5"]},
    "bs": {"BS": [b"x", b"y"]},
    "m": {"M": {"inner": {"L": [{"S": "x"}, {"N": "3"}, {"BOOL": True}, {"NULL": True}]}}},
    "flag": {"BOOL": False},
    "nothing": {"NULL": True},
}


@pytest.fixture
def item_table(aws: None) -> object:
    apply_patches()
    client = boto3.client("dynamodb")
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    client.put_item(TableName=TABLE, Item=ALL_TYPES_ITEM)
    return client


def test_fast_dynamodb_results_round_trip_every_attribute_type(item_table) -> None:
    key = {"pk": ALL_TYPES_ITEM["pk"], "sk": ALL_TYPES_ITEM["sk"]}

    got = item_table.get_item(TableName=TABLE, Key=key, ConsistentRead=True)["Item"]
    queried = item_table.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "file#1"}},
        Limit=1,
    )
    updated = item_table.update_item(
        TableName=TABLE,
        Key=key,
        UpdateExpression="SET flag = :t",
        ExpressionAttributeValues={":t": {"BOOL": True}},
        ReturnValues="ALL_NEW",
    )["Attributes"]

    assert got == ALL_TYPES_ITEM
    assert queried["Items"] == [ALL_TYPES_ITEM] and queried["Count"] == 1
    assert updated == {**ALL_TYPES_ITEM, "flag": {"BOOL": True}}


def test_fast_dynamodb_body_matches_motos_serializer(item_table) -> None:
    from moto.core.responses import ActionContext
    from moto.core.serialize import get_serializer_class
    from moto.core.utils import get_service_model
    from moto.dynamodb.responses import DynamoResult

    service_model = get_service_model("dynamodb")
    operation = service_model.operation_model("GetItem")
    context = ActionContext(service_model, operation, get_serializer_class("dynamodb", "json"), response=None)
    result = DynamoResult({"Item": ALL_TYPES_ITEM})

    _, _, fast_body = result.execute_result(context)
    _, _, moto_body = DynamoResult.execute_result.__wrapped__(result, context)

    assert json.loads(fast_body) == json.loads(moto_body)


def test_fast_dynamodb_path_leaves_errors_and_describes_to_moto(item_table) -> None:
    with pytest.raises(item_table.exceptions.ResourceNotFoundException):
        item_table.get_item(TableName="missing", Key={"pk": {"S": "x"}, "sk": {"S": "y"}})

    description = item_table.describe_table(TableName=TABLE)["Table"]

    assert description["TableName"] == TABLE
    assert description["CreationDateTime"].year >= 2024


def test_conditional_writes_racing_in_threads_have_one_winner(item_table) -> None:
    # Unpatched moto lets two threads win about one round in five: ten rounds make that visible.
    winners_per_round = [_race_to_claim(item_table, f"race#{n}") for n in range(10)]

    assert winners_per_round == [1] * 10


def _race_to_claim(item_table, pk: str, threads: int = 8) -> int:
    item_table.put_item(TableName=TABLE, Item={"pk": {"S": pk}, "sk": {"S": "race"}})
    barrier = threading.Barrier(threads)
    winners: list[int] = []

    def claim(worker: int) -> None:
        barrier.wait()
        try:
            item_table.update_item(
                TableName=TABLE,
                Key={"pk": {"S": pk}, "sk": {"S": "race"}},
                UpdateExpression="SET owner_id = :me",
                ConditionExpression="attribute_not_exists(owner_id)",
                ExpressionAttributeValues={":me": {"N": str(worker)}},
            )
            winners.append(worker)
        except item_table.exceptions.ConditionalCheckFailedException:
            pass

    started = [threading.Thread(target=claim, args=(n,)) for n in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join()
    return len(winners)


def test_backend_lookup_does_not_queue_on_the_global_lock(aws: None) -> None:
    apply_patches()
    first = dynamodb_backends[DEFAULT_ACCOUNT_ID]
    found: list[object] = []

    with backend_lock:  # another thread (a request of the server) holds moto's global lock
        lookup = threading.Thread(target=lambda: found.append(dynamodb_backends[DEFAULT_ACCOUNT_ID]))
        lookup.start()
        lookup.join(5)

    assert found == [first]


def _put(pk: str) -> dict:
    return {"Put": {"TableName": TABLE, "Item": {"pk": {"S": pk}, "sk": {"S": "t"}}}}


def _update_requiring(pk: str, value: str) -> dict:
    return {
        "Update": {
            "TableName": TABLE,
            "Key": {"pk": {"S": pk}, "sk": {"S": "t"}},
            "UpdateExpression": "SET v = :v",
            "ConditionExpression": "attribute_exists(pk)",
            "ExpressionAttributeValues": {":v": {"S": value}},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }


def test_transaction_with_a_failed_condition_writes_nothing(item_table) -> None:
    with pytest.raises(item_table.exceptions.TransactionCanceledException) as cancelled:
        item_table.transact_write_items(TransactItems=[_put("tx#new"), _update_requiring("tx#missing", "x")])

    reasons = [r["Code"] for r in cancelled.value.response["CancellationReasons"]]
    assert reasons == ["None", "ConditionalCheckFailed"]
    assert "Item" not in item_table.get_item(TableName=TABLE, Key={"pk": {"S": "tx#new"}, "sk": {"S": "t"}})


def test_transaction_writes_every_item_when_conditions_hold(item_table) -> None:
    item_table.put_item(TableName=TABLE, Item={"pk": {"S": "tx#old"}, "sk": {"S": "t"}})

    item_table.transact_write_items(TransactItems=[_put("tx#made"), _update_requiring("tx#old", "y")])

    made = item_table.get_item(TableName=TABLE, Key={"pk": {"S": "tx#made"}, "sk": {"S": "t"}})
    old = item_table.get_item(TableName=TABLE, Key={"pk": {"S": "tx#old"}, "sk": {"S": "t"}})
    assert "Item" in made and old["Item"]["v"] == {"S": "y"}


def test_transaction_failing_mid_write_puts_back_what_it_wrote(item_table) -> None:
    item_table.put_item(
        TableName=TABLE, Item={"pk": {"S": "tx#keep"}, "sk": {"S": "t"}, "v": {"S": "before"}}
    )
    bad_update = _update_requiring("tx#keep2", "z")
    item_table.put_item(TableName=TABLE, Item={"pk": {"S": "tx#keep2"}, "sk": {"S": "t"}})
    bad_update["Update"]["UpdateExpression"] = "SET v = v + :v"  # a string plus a string fails as it writes

    with pytest.raises(item_table.exceptions.ClientError):
        item_table.transact_write_items(TransactItems=[_update_requiring("tx#keep", "after"), bad_update])

    kept = item_table.get_item(TableName=TABLE, Key={"pk": {"S": "tx#keep"}, "sk": {"S": "t"}})
    assert kept["Item"]["v"] == {"S": "before"}


def test_transaction_does_not_copy_the_table(item_table, monkeypatch: pytest.MonkeyPatch) -> None:
    import copy

    copied: list[str] = []
    deepcopy = copy.deepcopy
    monkeypatch.setattr(
        copy, "deepcopy", lambda value, *a: copied.append(type(value).__name__) or deepcopy(value, *a)
    )

    item_table.transact_write_items(TransactItems=[_put("tx#cheap")])

    assert "Table" not in copied
