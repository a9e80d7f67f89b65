"""What moto's CloudFormation cannot do for Batch and Step Functions, done by the local bootstrap."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from stratus.local.template import Resolver, TranslatedTemplate

_STATE_MACHINE = "AWS::StepFunctions::StateMachine"
# moto's Batch requires a ServiceRole on compute environments (AWS uses the service-linked role instead);
# the local stack adds this role for them.
LOCAL_BATCH_SERVICE_ROLE = "StratusLocalBatchServiceRole"
# Parameters a deploy must supply that mean nothing locally: the shim runs the worker as a subprocess,
# so no image is pulled. Network parameters are filled from moto's default VPC instead.
LOCAL_PARAMETERS = {"WorkerImageUri": "stratus-worker:local"}


def local_compute_environment(properties: Mapping[str, Any]) -> dict[str, Any]:
    """A compute environment as moto's CloudFormation can create it.

    moto (5.2.5) needs a ServiceRole, and for EC2/Spot environments an instance profile and instance
    types it knows; none of that changes how a job runs locally (the shim runs the worker as a
    subprocess), so every environment becomes a plain Fargate one with the same size and network.
    """
    compute = properties["ComputeResources"]
    return {
        "Type": "MANAGED",
        "State": properties.get("State", "ENABLED"),
        "ServiceRole": {"Fn::GetAtt": [LOCAL_BATCH_SERVICE_ROLE, "Arn"]},
        "ComputeResources": {
            "Type": "FARGATE",
            "MaxvCpus": compute["MaxvCpus"],
            "Subnets": compute["Subnets"],
            "SecurityGroupIds": compute["SecurityGroupIds"],
        },
    }


def service_role(service: str) -> dict[str, Any]:
    statement = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {"AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [statement]}},
    }


def local_parameters(ec2: Any, template: TranslatedTemplate) -> dict[str, str]:
    """Values for the parameters a real deploy must supply: moto's default VPC, a placeholder image."""
    parameters = template.cloudformation.get("Parameters", {})
    values = {name: value for name, value in LOCAL_PARAMETERS.items() if name in parameters}
    types = {spec["Type"] for spec in parameters.values()}
    if "List<AWS::EC2::Subnet::Id>" in types or "List<AWS::EC2::SecurityGroup::Id>" in types:
        vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
        in_vpc = [{"Name": "vpc-id", "Values": [vpc]}]
        subnets = ",".join(s["SubnetId"] for s in ec2.describe_subnets(Filters=in_vpc)["Subnets"][:2])
        groups = ec2.describe_security_groups(
            Filters=[*in_vpc, {"Name": "group-name", "Values": ["default"]}]
        )
        by_type = {
            "List<AWS::EC2::Subnet::Id>": subnets,
            "List<AWS::EC2::SecurityGroup::Id>": groups["SecurityGroups"][0]["GroupId"],
        }
        values.update(
            {name: by_type[spec["Type"]] for name, spec in parameters.items() if spec["Type"] in by_type}
        )
    return values


def create_state_machines(
    sfn: Any, template: TranslatedTemplate, resolver: Resolver, physical_ids: Mapping[str, str]
) -> None:
    """Create the template's state machines again, by name, where Step Functions runs them.

    moto's CloudFormation (5.2.5) registers state machines in its plain Step Functions backend, while
    with ``execute_state_machine`` the API (StartExecution included) uses the interpreter's backend.
    """
    for logical_id, resource in template.cloudformation["Resources"].items():
        if resource["Type"] != _STATE_MACHINE or logical_id not in physical_ids:
            continue
        properties = resource["Properties"]
        try:
            sfn.create_state_machine(
                name=physical_ids[logical_id].rsplit(":", 1)[-1],
                definition=resolver.resolve(properties["DefinitionString"]),
                roleArn=resolver.resolve(properties["RoleArn"]),
                type=properties.get("StateMachineType", "STANDARD"),
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "StateMachineAlreadyExists":
                raise
