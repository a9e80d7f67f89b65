"""Create template.yaml's resources in moto (decorator mode or a moto server), as CloudFormation would."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from stratus.algorithms.requirements import python_tag
from stratus.local import identity, orchestration, secretsmanager, storage
from stratus.local.shim import CODE_PATH_TAG
from stratus.local.template import (
    CODE_BUCKET_PLACEHOLDER,
    CODE_KEY,
    Resolver,
    TranslatedTemplate,
    parameter_values,
    referenced_ids,
    translate,
)

DEFAULT_STACK_NAME = "stratus-local"
# Types moto's CloudFormation cannot create, dropped (with whatever refers to them) before create_stack:
# the HTTP API (uvicorn serves the app locally) and the bucket policy (moto has no model for it, and its
# deny-non-TLS statement would refuse the plain-HTTP local endpoint if it were ever enforced).
UNSUPPORTED_TYPES = frozenset({"AWS::ApiGatewayV2::Api", "AWS::ApiGatewayV2::Stage", "AWS::S3::BucketPolicy"})
_TABLE = "AWS::DynamoDB::Table"
_BUCKET = "AWS::S3::Bucket"
_FUNCTION = "AWS::Lambda::Function"
_STATE_MACHINE = "AWS::StepFunctions::StateMachine"
_COMPUTE_ENVIRONMENT = "AWS::Batch::ComputeEnvironment"
_JOB_QUEUE = "AWS::Batch::JobQueue"
_JOB_DEFINITION = "AWS::Batch::JobDefinition"
_SCHEDULING_POLICY = "AWS::Batch::SchedulingPolicy"
_QUEUE = "AWS::SQS::Queue"
# Parameter values of the local stack unless the caller gives others: its tests' webhook receivers listen
# on loopback, and a failed delivery is retried after a second (doubling), not half a minute; the worker
# is this interpreter, so environments of declared dependencies are built for it.
LOCAL_PARAMETERS = {
    "AllowPrivateWebhookTargets": "true",
    "WebhookRetryBaseSeconds": "1",
    "WorkerPythonTag": python_tag(),
}


@dataclass(frozen=True)
class LocalStack:
    """Names of the bootstrapped resources and the environment a process needs to use them."""

    stack_name: str
    region: str
    table_name: str
    data_bucket: str
    environment: dict[str, str]
    functions: dict[str, str] = field(default_factory=dict)
    endpoint_url: str | None = None
    state_machines: dict[str, str] = field(default_factory=dict)
    # The template's parameter values the stack was made with (defaults filled in).
    parameters: dict[str, str] = field(default_factory=dict)
    # Its generated secrets' values by logical id (the API's CURSOR_SECRET is CursorSecret's).
    secrets: dict[str, str] = field(default_factory=dict, repr=False)
    # Its queues' URLs by logical id (the API's WEBHOOK_QUEUE_URL is WebhookQueue's).
    queues: dict[str, str] = field(default_factory=dict)
    # Its Batch job queues' and job definitions' ARNs by logical id (the API submits environment builds).
    batch: dict[str, str] = field(default_factory=dict)


@dataclass
class _Target:
    """Where the bootstrap creates things, with one client per service."""

    stack_name: str
    region: str
    endpoint_url: str | None
    s3_endpoint_url: str | None = None
    clients: dict[str, Any] = field(default_factory=dict)
    pseudo_parameters: dict[str, str] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        if service not in self.clients:
            session: Any = _session(self.region)  # Any: boto3-stubs type clients by literal service name
            self.clients[service] = session.client(service, endpoint_url=self.endpoint_url)
        return self.clients[service]


@lru_cache
def _session(region: str) -> boto3.Session:
    # One session per process: a fresh one reloads botocore's endpoint and service JSON (about 0.1 s each).
    return boto3.Session(region_name=region)


def bootstrap(
    template_path: Path | str,
    *,
    stack_name: str = DEFAULT_STACK_NAME,
    parameters: Mapping[str, str] | None = None,
    endpoint_url: str | None = None,
    s3_endpoint_url: str | None = None,
    region: str | None = None,
    data_only: bool = False,
) -> LocalStack:
    """Create the template's resources at the current boto3 endpoint (or ``endpoint_url``).

    The full path deploys the translated template with moto's CloudFormation, functions included.
    ``data_only`` creates just the tables and buckets, straight from their template properties: no
    CloudFormation import (about a second, once per process), for tests that need only storage.
    Bootstrapping a stack that already exists returns it unchanged. ``s3_endpoint_url`` names a second
    moto server that holds the data buckets (the local stack keeps S3 load apart from everything else).
    """
    target = _Target(stack_name, region or _session_region(), endpoint_url, s3_endpoint_url)
    template = translate(Path(template_path), target.region)
    values = parameter_values(template.cloudformation, {**LOCAL_PARAMETERS, **(parameters or {})})
    # Data of both paths (the API's cursor key), made in moto's Secrets Manager: its CloudFormation cannot.
    secrets = secretsmanager.create_secrets(target.client("secretsmanager"), stack_name, template)
    if data_only:
        physical_ids = _create_data_resources(target, template, values)
    else:
        values = {**orchestration.local_parameters(target.client("ec2"), template), **values}
        physical_ids = _deploy_stack(target, template, values, secrets)
    resolver = _resolver(target, template, values, physical_ids)
    environment = {name: str(value) for name, value in resolver.resolve(_global_variables(template)).items()}
    if endpoint_url:
        environment["AWS_ENDPOINT_URL"] = endpoint_url
    if s3_endpoint_url:
        environment["AWS_ENDPOINT_URL_S3"] = s3_endpoint_url
    functions = {
        logical_id: physical_ids[logical_id]
        for logical_id, resource in template.cloudformation["Resources"].items()
        if resource["Type"] == _FUNCTION and logical_id in physical_ids
    }
    state_machines = {
        logical_id: physical_ids[logical_id]
        for logical_id, resource in template.cloudformation["Resources"].items()
        if resource["Type"] == _STATE_MACHINE and logical_id in physical_ids
    }
    return LocalStack(
        stack_name=stack_name,
        region=target.region,
        table_name=environment["TABLE_NAME"],
        data_bucket=environment["DATA_BUCKET"],
        environment=environment,
        functions=functions,
        endpoint_url=endpoint_url,
        state_machines=state_machines,
        parameters=dict(values),
        secrets=secrets,
        queues={
            logical_id: physical_ids[logical_id]
            for logical_id, resource in template.cloudformation["Resources"].items()
            if resource["Type"] == _QUEUE and logical_id in physical_ids
        },
        batch={
            logical_id: physical_ids[logical_id]
            for logical_id, resource in template.cloudformation["Resources"].items()
            if resource["Type"] in (_JOB_QUEUE, _JOB_DEFINITION) and logical_id in physical_ids
        },
    )


def _session_region() -> str:
    # The region the current boto3 configuration names (AWS_DEFAULT_REGION or a profile).
    return boto3.Session().region_name or "us-east-1"


def _global_variables(template: TranslatedTemplate) -> dict[str, Any]:
    function_globals = template.sam.get("Globals", {}).get("Function", {})
    return dict(function_globals.get("Environment", {}).get("Variables", {}))


def _pseudo_parameters(target: _Target) -> dict[str, str]:
    if target.pseudo_parameters:
        return target.pseudo_parameters
    account_id = target.client("sts").get_caller_identity()["Account"]
    partition = _session(target.region).get_partition_for_region(target.region)
    target.pseudo_parameters.update(
        {
            "AWS::StackName": target.stack_name,
            "AWS::AccountId": account_id,
            "AWS::Region": target.region,
            "AWS::Partition": partition,
            "AWS::URLSuffix": "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com",
        }
    )
    return target.pseudo_parameters


def _resolver(
    target: _Target, template: TranslatedTemplate, values: Mapping[str, str], physical_ids: Mapping[str, str]
) -> Resolver:
    def attribute(logical_id: str, name: str) -> Any:
        resource_type = template.cloudformation["Resources"][logical_id]["Type"]
        if name == "Arn" and resource_type == _FUNCTION:
            function = target.client("lambda").get_function(FunctionName=physical_ids[logical_id])
            return function["Configuration"]["FunctionArn"]
        if name == "Arn" and resource_type == "AWS::IAM::Role":
            return target.client("iam").get_role(RoleName=physical_ids[logical_id])["Role"]["Arn"]
        if name == "Name" and resource_type == _STATE_MACHINE:
            return physical_ids[logical_id].rpartition(":")[2]  # its Ref is the ARN, ending in the name
        raise NotImplementedError(f"the local stack does not evaluate GetAtt {logical_id}.{name}")

    return Resolver(
        {**_pseudo_parameters(target), **values, **physical_ids},
        template.cloudformation.get("Conditions", {}),
        attribute,
    )


# --- the full path: moto's CloudFormation ------------------------------------------------------------


def _deploy_stack(
    target: _Target, template: TranslatedTemplate, values: Mapping[str, str], secrets: dict[str, str]
) -> dict[str, str]:
    cloudformation = target.client("cloudformation")
    # moto's CloudFormation has no Cognito: the pools are made first and passed in as parameters, so
    # every Ref and Sub of them resolves to their ids as on AWS.
    user_pools = identity.create_user_pools(
        target.client("cognito-idp"), target.stack_name, template, _resolver(target, template, values, {})
    )
    if not _stack_exists(cloudformation, target.stack_name):
        body = _local_cloudformation(target, template, user_pools)
        secretsmanager.fold_secrets(body, secrets)
        cloudformation.create_stack(
            StackName=target.stack_name,
            TemplateBody=json.dumps(body),
            Parameters=[
                {"ParameterKey": key, "ParameterValue": value}
                for key, value in {**values, **user_pools}.items()
            ],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
        )
        physical_ids = {**_physical_ids(cloudformation, target.stack_name), **user_pools}
        resolver = _resolver(target, template, values, physical_ids)
        _configure_data_resources(target, template, resolver, physical_ids, with_notifications=True)
        if target.s3_endpoint_url:
            _create_data_buckets(target, template, resolver, physical_ids)
        _tag_functions(target, template, physical_ids)
        orchestration.create_state_machines(target.client("stepfunctions"), template, resolver, physical_ids)
        return physical_ids
    return {**_physical_ids(cloudformation, target.stack_name), **user_pools}


def _stack_exists(cloudformation: Any, stack_name: str) -> bool:
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ValidationError":
            return False
        raise
    return any(stack["StackStatus"] == "CREATE_COMPLETE" for stack in stacks)


def _physical_ids(cloudformation: Any, stack_name: str) -> dict[str, str]:
    pages = cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name)
    return {
        summary["LogicalResourceId"]: summary["PhysicalResourceId"]
        for page in pages
        for summary in page["StackResourceSummaries"]
        if summary.get("PhysicalResourceId")
    }


def _local_cloudformation(
    target: _Target, template: TranslatedTemplate, user_pools: Mapping[str, str]
) -> dict[str, Any]:
    """The translated template as moto can deploy it: code in a scratch bucket, unsupported types out,
    the user pools made beforehand as parameters."""
    body = template.cloudformation
    resources = body["Resources"]
    for logical_id in [i for i, r in resources.items() if r["Type"] in identity.COGNITO_TYPES]:
        del resources[logical_id]
    body.setdefault("Parameters", {}).update({logical_id: {"Type": "String"} for logical_id in user_pools})
    for logical_id in _unsupported(resources):
        del resources[logical_id]
    _drop_scheduling_policies(resources)
    # Outputs may name dropped resources; the bootstrap reads names from the stack's resources instead.
    body.pop("Outputs", None)
    if any(resource["Type"] == _COMPUTE_ENVIRONMENT for resource in resources.values()):
        resources[orchestration.LOCAL_BATCH_SERVICE_ROLE] = orchestration.service_role("batch.amazonaws.com")
    code_bucket = _upload_placeholder_code(target)
    for resource in resources.values():
        properties = resource.get("Properties", {})
        for code_key in ("Code", "Content"):
            if properties.get(code_key, {}).get("S3Bucket") == CODE_BUCKET_PLACEHOLDER:
                properties[code_key]["S3Bucket"] = code_bucket
        if resource["Type"] == _TABLE and "SSESpecification" in properties:
            # moto's CloudFormation passes SSESpecification on as if it were CreateTable's shape.
            properties["SSESpecification"] = storage.table_encryption(properties["SSESpecification"])
        if resource["Type"] == _COMPUTE_ENVIRONMENT:
            resource["Properties"] = orchestration.local_compute_environment(resource["Properties"])
        if resource["Type"] == _FUNCTION and target.endpoint_url:
            _point_at_local(properties, target, user_pools)
    return body


def _drop_scheduling_policies(resources: dict[str, Any]) -> None:
    """moto's CloudFormation has no Batch scheduling policy: the local queues are plain FIFO ones (the
    local stack orders a tenant's queued jobs itself, services/quotas.py), and moto ignores the shares."""
    for logical_id in [i for i, r in resources.items() if r["Type"] == _SCHEDULING_POLICY]:
        del resources[logical_id]
    for resource in resources.values():
        if resource["Type"] == _JOB_QUEUE:
            resource.get("Properties", {}).pop("SchedulingPolicyArn", None)


def _point_at_local(properties: dict[str, Any], target: _Target, user_pools: Mapping[str, str]) -> None:
    """Give a function the local endpoints (and, for the authorizer, where moto serves the pool's keys)."""
    assert target.endpoint_url is not None  # noqa: S101  # only called for a moto server
    variables = properties.setdefault("Environment", {}).setdefault("Variables", {})
    variables["AWS_ENDPOINT_URL"] = target.endpoint_url
    if target.s3_endpoint_url:
        variables["AWS_ENDPOINT_URL_S3"] = target.s3_endpoint_url
    if "OIDC_ISSUER" in variables and "UserPool" in user_pools:
        # The issuer in moto's tokens is Cognito's real URL; its keys are served by moto.
        variables["JWKS_URL"] = f"{target.endpoint_url}/{user_pools['UserPool']}/.well-known/jwks.json"


def _unsupported(resources: Mapping[str, Any]) -> set[str]:
    dropped = {
        logical_id for logical_id, resource in resources.items() if resource["Type"] in UNSUPPORTED_TYPES
    }
    while True:
        dependents = {
            logical_id
            for logical_id, resource in resources.items()
            if logical_id not in dropped and (referenced_ids(resource) | set(_depends_on(resource))) & dropped
        }
        if not dependents:
            return dropped
        dropped |= dependents


def _depends_on(resource: Mapping[str, Any]) -> list[str]:
    depends_on = resource.get("DependsOn", [])
    return [depends_on] if isinstance(depends_on, str) else list(depends_on)


def _upload_placeholder_code(target: _Target) -> str:
    # The shim runs handlers from their source folders; moto only needs some zip to exist.
    bucket = f"{target.stack_name}-code"
    s3 = target.client("s3")
    storage.create_bucket(s3, bucket, target.region)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("README.txt", "stratus.local runs handlers from their CodeUri folders\n")
    s3.put_object(Bucket=bucket, Key=CODE_KEY, Body=archive.getvalue())
    return bucket


def _tag_functions(target: _Target, template: TranslatedTemplate, physical_ids: Mapping[str, str]) -> None:
    lambda_client = target.client("lambda")
    for logical_id, code_path in template.code_paths.items():
        arn = lambda_client.get_function(FunctionName=physical_ids[logical_id])["Configuration"][
            "FunctionArn"
        ]
        lambda_client.tag_resource(Resource=arn, Tags={CODE_PATH_TAG: str(code_path)})


def _create_data_buckets(
    target: _Target, template: TranslatedTemplate, resolver: Resolver, physical_ids: Mapping[str, str]
) -> None:
    """Create the buckets (with their notifications) again in the separate S3 server, where data goes.

    CloudFormation made them in the main server too; those copies stay empty.
    """
    s3 = _Target(target.stack_name, target.region, target.s3_endpoint_url).client("s3")
    for logical_id, resource in template.cloudformation["Resources"].items():
        if resource["Type"] == _BUCKET and logical_id in physical_ids:
            storage.create_bucket(s3, physical_ids[logical_id], target.region)
            properties = resolver.resolve(_data_properties(resource, with_notifications=True))
            storage.configure_bucket(s3, physical_ids[logical_id], properties)


# --- the data-only path: tables and buckets straight from their properties ---------------------------


def _create_data_resources(
    target: _Target, template: TranslatedTemplate, values: Mapping[str, str]
) -> dict[str, str]:
    resolver = _resolver(target, template, values, {})
    physical_ids: dict[str, str] = {}
    created = False
    for logical_id, resource in template.cloudformation["Resources"].items():
        if resource["Type"] not in (_TABLE, _BUCKET):
            continue
        properties = resolver.resolve(_data_properties(resource, with_notifications=False))
        if resource["Type"] == _TABLE:
            name = properties.get("TableName", f"{target.stack_name}-{logical_id}")
            created |= storage.create_table(target.client("dynamodb"), name, properties)
            physical_ids[logical_id] = name
        elif resource["Type"] == _BUCKET:
            name = properties.get("BucketName", f"{target.stack_name}-{logical_id}".lower())
            created |= storage.create_bucket(target.client("s3"), name, target.region)
            physical_ids[logical_id] = name
    if created:
        resolver = _resolver(target, template, values, physical_ids)
        _configure_data_resources(target, template, resolver, physical_ids, with_notifications=False)
    return physical_ids


# --- what moto's CloudFormation ignores: applied by both paths ---------------------------------------


def _configure_data_resources(
    target: _Target,
    template: TranslatedTemplate,
    resolver: Resolver,
    physical_ids: Mapping[str, str],
    *,
    with_notifications: bool,
) -> None:
    for logical_id, resource in template.cloudformation["Resources"].items():
        if logical_id not in physical_ids:
            continue
        properties = _data_properties(resource, with_notifications=with_notifications)
        if resource["Type"] == _TABLE:
            storage.configure_table(
                target.client("dynamodb"), physical_ids[logical_id], resolver.resolve(properties)
            )
        elif resource["Type"] == _BUCKET:
            storage.configure_bucket(
                target.client("s3"), physical_ids[logical_id], resolver.resolve(properties)
            )


def _data_properties(resource: Mapping[str, Any], *, with_notifications: bool) -> dict[str, Any]:
    properties = dict(resource.get("Properties", {}))
    if not with_notifications:
        # Notifications name functions, which the data-only path does not create.
        properties.pop("NotificationConfiguration", None)
    return properties
