"""The bootstrap creates template.yaml's resources in moto, including what moto's CloudFormation ignores."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from stratus.local.bootstrap import LocalStack, bootstrap
from stratus.local.shim import CODE_PATH_TAG

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"


@pytest.fixture(params=[False, True], ids=["full", "data_only"])
def local_stack(aws: None, request: pytest.FixtureRequest) -> LocalStack:
    return bootstrap(TEMPLATE, data_only=request.param)


@pytest.fixture
def full_stack(aws: None) -> LocalStack:
    return bootstrap(TEMPLATE)


def test_bootstrap_creates_table_with_gsi_ttl_and_recovery(local_stack: LocalStack) -> None:
    dynamodb = boto3.client("dynamodb")

    table = dynamodb.describe_table(TableName=local_stack.table_name)["Table"]
    ttl = dynamodb.describe_time_to_live(TableName=local_stack.table_name)["TimeToLiveDescription"]
    backups = dynamodb.describe_continuous_backups(TableName=local_stack.table_name)

    assert {key["AttributeName"]: key["KeyType"] for key in table["KeySchema"]} == {
        "pk": "HASH",
        "sk": "RANGE",
    }
    (index,) = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "gsi1"
    assert [key["AttributeName"] for key in index["KeySchema"]] == ["gsi1pk", "gsi1sk"]
    assert index["Projection"]["ProjectionType"] == "ALL"
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["SSEDescription"]["Status"] == "ENABLED"
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    recovery = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert recovery["PointInTimeRecoveryStatus"] == "ENABLED"


def test_bootstrap_makes_bucket_private_and_encrypted(local_stack: LocalStack) -> None:
    s3 = boto3.client("s3")

    block = s3.get_public_access_block(Bucket=local_stack.data_bucket)["PublicAccessBlockConfiguration"]
    ownership = s3.get_bucket_ownership_controls(Bucket=local_stack.data_bucket)["OwnershipControls"]
    encryption = s3.get_bucket_encryption(Bucket=local_stack.data_bucket)["ServerSideEncryptionConfiguration"]

    assert all(block.values()) and len(block) == 4
    assert ownership["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert encryption["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_bootstrap_applies_the_lifecycle_rules(local_stack: LocalStack) -> None:
    rules = boto3.client("s3").get_bucket_lifecycle_configuration(Bucket=local_stack.data_bucket)["Rules"]

    by_id = {rule["ID"]: rule for rule in rules}
    temporary = by_id["ExpireTemporaryObjects"]
    assert temporary["Filter"] == {"Tag": {"Key": "stratus-lifetime", "Value": "temporary"}}
    assert temporary["Expiration"]["Days"] == 1
    assert by_id["AbortIncompleteMultipartUploads"]["AbortIncompleteMultipartUpload"] == {
        "DaysAfterInitiation": 1
    }


def test_bootstrap_versions_the_bucket_and_expires_what_versioning_keeps(local_stack: LocalStack) -> None:
    s3 = boto3.client("s3")

    versioning = s3.get_bucket_versioning(Bucket=local_stack.data_bucket)
    rules = s3.get_bucket_lifecycle_configuration(Bucket=local_stack.data_bucket)["Rules"]

    assert versioning["Status"] == "Enabled"
    noncurrent = {rule["ID"]: rule for rule in rules}["ExpireNoncurrentVersions"]
    assert noncurrent["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}
    assert noncurrent["Expiration"] == {"ExpiredObjectDeleteMarker": True}


def test_bootstrap_uses_file_lifetime_parameter(aws: None) -> None:
    stack = bootstrap(TEMPLATE, parameters={"FileLifetimeDays": "7"}, data_only=True)

    rules = boto3.client("s3").get_bucket_lifecycle_configuration(Bucket=stack.data_bucket)["Rules"]

    assert {rule["ID"]: rule.get("Expiration") for rule in rules}["ExpireTemporaryObjects"] == {"Days": 7}
    assert stack.environment["FILE_LIFETIME_DAYS"] == "7"


def test_bootstrap_notifies_ingest_function_of_uploads(full_stack: LocalStack) -> None:
    configuration = boto3.client("s3").get_bucket_notification_configuration(Bucket=full_stack.data_bucket)

    (entry,) = configuration["LambdaFunctionConfigurations"]
    assert entry["LambdaFunctionArn"].endswith(f":function:{full_stack.functions['IngestFunction']}")
    assert entry["Events"] == ["s3:ObjectCreated:*"]
    assert entry["Filter"]["Key"]["FilterRules"] == [{"Name": "prefix", "Value": "uploads/"}]


def test_bootstrap_gives_functions_the_global_environment(full_stack: LocalStack) -> None:
    configuration = boto3.client("lambda").get_function(FunctionName=full_stack.functions["ApiFunction"])

    variables = configuration["Configuration"]["Environment"]["Variables"]
    assert variables["TABLE_NAME"] == full_stack.table_name
    assert variables["DATA_BUCKET"] == full_stack.data_bucket
    assert variables["POWERTOOLS_SERVICE_NAME"] == "stratus"


def test_bootstrap_tags_functions_with_their_code_folder(full_stack: LocalStack) -> None:
    function = boto3.client("lambda").get_function(FunctionName=full_stack.functions["IngestFunction"])

    assert function["Tags"][CODE_PATH_TAG] == str(ROOT / "functions" / "ingest")


def test_bootstrap_runs_an_image_function_from_its_dockerfile_folder_with_its_command(
    full_stack: LocalStack,
) -> None:
    # moto's CloudFormation drops ImageConfig: the template's translation keeps the Command as Handler.
    function = boto3.client("lambda").get_function(FunctionName=full_stack.functions["CampaignsFunction"])

    assert function["Tags"][CODE_PATH_TAG] == str(ROOT / "functions" / "campaigns")
    assert function["Configuration"]["Handler"] == "app.handler"


def test_bootstrap_environment_names_the_bucket_after_the_stack(aws: None) -> None:
    stack = bootstrap(TEMPLATE, stack_name="stratus-other", data_only=True)

    assert stack.data_bucket == "stratus-other-data-123456789012-us-east-1"
    assert stack.environment["DATA_BUCKET"] == stack.data_bucket
    assert stack.environment["STAGE"] == "dev"


def test_bootstrap_twice_returns_the_existing_stack(full_stack: LocalStack) -> None:
    again = bootstrap(TEMPLATE)

    assert again == full_stack


def test_bootstrap_generates_the_cursor_secret(local_stack: LocalStack) -> None:
    secret = local_stack.secrets["CursorSecret"]

    assert len(secret) == 64 and secret.isalnum()
    assert secret not in repr(local_stack)


def test_bootstrap_keeps_a_stacks_secret_and_gives_another_stack_its_own(aws: None) -> None:
    first = bootstrap(TEMPLATE, data_only=True).secrets["CursorSecret"]

    again = bootstrap(TEMPLATE, data_only=True).secrets["CursorSecret"]
    other = bootstrap(TEMPLATE, stack_name="stratus-other", data_only=True).secrets["CursorSecret"]

    assert again == first != other


def test_bootstrap_gives_the_api_function_its_cursor_secret(full_stack: LocalStack) -> None:
    configuration = boto3.client("lambda").get_function(FunctionName=full_stack.functions["ApiFunction"])

    variables = configuration["Configuration"]["Environment"]["Variables"]
    assert variables["CURSOR_SECRET"] == full_stack.secrets["CursorSecret"]


def test_bootstrap_applies_the_bucket_cors_rule_with_the_local_origins(local_stack: LocalStack) -> None:
    rules = boto3.client("s3").get_bucket_cors(Bucket=local_stack.data_bucket)["CORSRules"]

    assert len(rules) == 1
    assert rules[0]["ExposeHeaders"] == ["ETag"] and set(rules[0]["AllowedMethods"]) == {"GET", "PUT"}
    assert {"http://127.0.0.1:*", "http://localhost:*"} <= set(rules[0]["AllowedOrigins"])
