"""Tables and buckets from their CloudFormation properties, through the DynamoDB and S3 APIs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

# DynamoDB properties whose CloudFormation shape is the CreateTable shape.
_TABLE_PASSTHROUGH = (
    "AttributeDefinitions",
    "KeySchema",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
    "BillingMode",
    "ProvisionedThroughput",
    "Tags",
    "DeletionProtectionEnabled",
    "TableClass",
)
# Applied after creation by both paths (moto's CloudFormation ignores them), or shaped by hand.
_TABLE_CONFIGURED = ("TimeToLiveSpecification", "PointInTimeRecoverySpecification", "SSESpecification")
# Where the local stack's pages come from (its API on a loopback port), allowed by every bucket CORS rule.
LOCAL_ORIGINS = ("http://127.0.0.1:*", "http://localhost:*")


def create_table(dynamodb: Any, name: str, properties: Mapping[str, Any]) -> bool:
    """Create table ``name`` from its template properties; False if it already exists."""
    unknown = set(properties) - {"TableName", *_TABLE_PASSTHROUGH, *_TABLE_CONFIGURED}
    if unknown:
        raise NotImplementedError(f"the local stack cannot create a table with {sorted(unknown)}")
    arguments = {key: properties[key] for key in _TABLE_PASSTHROUGH if key in properties}
    if "SSESpecification" in properties:
        arguments["SSESpecification"] = table_encryption(properties["SSESpecification"])
    try:
        dynamodb.create_table(TableName=name, **arguments)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ResourceInUseException":
            return False
        raise
    return True


def table_encryption(specification: Mapping[str, Any]) -> dict[str, Any]:
    """CloudFormation's SSESpecification in CreateTable's shape."""
    shaped = {key: specification[key] for key in ("SSEType", "KMSMasterKeyId") if key in specification}
    return {"Enabled": bool(specification.get("SSEEnabled")), **shaped}


def create_bucket(s3: Any, name: str, region: str) -> bool:
    """Create bucket ``name``; False if it already exists."""
    location = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    try:
        s3.create_bucket(Bucket=name, **location)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            return False
        raise
    return True


def configure_table(dynamodb: Any, name: str, properties: Mapping[str, Any]) -> None:
    """Apply the table settings CreateTable cannot carry: TTL and point-in-time recovery."""
    ttl = properties.get("TimeToLiveSpecification")
    if ttl:
        dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
    recovery = properties.get("PointInTimeRecoverySpecification")
    if recovery:
        dynamodb.update_continuous_backups(TableName=name, PointInTimeRecoverySpecification=recovery)


def configure_bucket(s3: Any, name: str, properties: Mapping[str, Any]) -> None:
    """Apply the bucket's encryption, public access block, ownership, versioning, lifecycle, CORS and
    notifications."""
    if "BucketEncryption" in properties:
        rules = [
            {
                # CloudFormation drops the API's "Apply" prefix.
                "ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"],
                **({"BucketKeyEnabled": rule["BucketKeyEnabled"]} if "BucketKeyEnabled" in rule else {}),
            }
            for rule in properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        ]
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
    if "PublicAccessBlockConfiguration" in properties:
        s3.put_public_access_block(
            Bucket=name, PublicAccessBlockConfiguration=properties["PublicAccessBlockConfiguration"]
        )
    if "OwnershipControls" in properties:
        s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=properties["OwnershipControls"])
    if "VersioningConfiguration" in properties:
        status = properties["VersioningConfiguration"]["Status"]
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": status})
    if "LifecycleConfiguration" in properties:
        rules = [lifecycle_rule(rule) for rule in properties["LifecycleConfiguration"]["Rules"]]
        s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": rules})
    if "CorsConfiguration" in properties:
        rules = cors_rules(properties["CorsConfiguration"])
        s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": rules})
    if "NotificationConfiguration" in properties:
        s3.put_bucket_notification_configuration(
            Bucket=name,
            NotificationConfiguration=notification_configuration(properties["NotificationConfiguration"]),
        )


def cors_rules(configuration: Mapping[str, Any]) -> list[dict[str, Any]]:
    """CloudFormation's CORS rules in PutBucketCors' shape, each also allowing the local stack's own
    origins: the dashboard is served from a loopback port, not from an execute-api host."""
    renamed = {"ExposedHeaders": "ExposeHeaders", "MaxAge": "MaxAgeSeconds"}
    rules = []
    for rule in configuration["CorsRules"]:
        translated = {renamed.get(key, key): value for key, value in rule.items() if key != "Id"}
        translated["AllowedOrigins"] = [*rule["AllowedOrigins"], *LOCAL_ORIGINS]
        rules.append(translated)
    return rules


def lifecycle_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A CloudFormation lifecycle rule in PutBucketLifecycleConfiguration's shape."""
    unknown = set(rule) - {
        "Id",
        "Status",
        "Prefix",
        "TagFilters",
        "ExpirationInDays",
        "ExpiredObjectDeleteMarker",
        "NoncurrentVersionExpiration",
        "AbortIncompleteMultipartUpload",
    }
    if unknown:
        raise NotImplementedError(f"the local stack cannot apply lifecycle rule fields {sorted(unknown)}")
    tags = rule.get("TagFilters", [])
    if len(tags) > 1 or (tags and "Prefix" in rule):
        rule_filter: dict[str, Any] = {"And": {"Prefix": rule.get("Prefix", ""), "Tags": tags}}
    elif tags:
        rule_filter = {"Tag": tags[0]}
    else:
        rule_filter = {"Prefix": rule.get("Prefix", "")}
    shaped: dict[str, Any] = {"ID": rule["Id"], "Status": rule["Status"], "Filter": rule_filter}
    if "ExpirationInDays" in rule:
        shaped["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    if "ExpiredObjectDeleteMarker" in rule:
        marker = _is_true(rule["ExpiredObjectDeleteMarker"])
        shaped.setdefault("Expiration", {})["ExpiredObjectDeleteMarker"] = marker
    if "NoncurrentVersionExpiration" in rule:
        days = int(rule["NoncurrentVersionExpiration"]["NoncurrentDays"])
        shaped["NoncurrentVersionExpiration"] = {"NoncurrentDays": days}
    if "AbortIncompleteMultipartUpload" in rule:
        days = int(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])
        shaped["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": days}
    return shaped


def _is_true(value: Any) -> bool:
    """A CloudFormation boolean, which may arrive as a string."""
    return value is True or str(value).lower() == "true"


def notification_configuration(configuration: Mapping[str, Any]) -> dict[str, Any]:
    """A CloudFormation NotificationConfiguration in PutBucketNotificationConfiguration's shape."""
    unknown = set(configuration) - {"LambdaConfigurations"}
    if unknown:
        raise NotImplementedError(f"the local stack cannot apply notifications {sorted(unknown)}")
    return {
        "LambdaFunctionConfigurations": [
            {
                "LambdaFunctionArn": entry["Function"],
                "Events": [entry["Event"]],
                **(
                    {"Filter": {"Key": {"FilterRules": entry["Filter"]["S3Key"]["Rules"]}}}
                    if "Filter" in entry
                    else {}
                ),
            }
            for entry in configuration["LambdaConfigurations"]
        ]
    }
