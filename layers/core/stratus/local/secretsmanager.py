"""The template's generated secrets for the local stack: moto's CloudFormation neither creates
`AWS::SecretsManager::Secret` nor resolves `{{resolve:secretsmanager:...}}`, so the bootstrap makes each
secret in moto's Secrets Manager (a random value per stack, kept across restarts of that stack) and folds
its references into the template before deploying it."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from stratus.local.template import referenced_ids

if TYPE_CHECKING:
    from stratus.local.template import TranslatedTemplate

SECRET = "AWS::SecretsManager::Secret"
# The one dynamic reference the template uses: a whole secret string, by the secret's Ref.
_REFERENCE = re.compile(r"\{\{resolve:secretsmanager:\$\{(?P<logical_id>[A-Za-z0-9]+)\}:SecretString\}\}")


def create_secrets(secretsmanager: Any, stack_name: str, template: TranslatedTemplate) -> dict[str, str]:
    """Create (or read again) the template's generated secrets; logical id → secret string."""
    values: dict[str, str] = {}
    for logical_id, resource in template.cloudformation["Resources"].items():
        if resource["Type"] == SECRET:
            name = f"{stack_name}-{logical_id}"
            values[logical_id] = _read(secretsmanager, name) or _create(secretsmanager, name, resource)
    return values


def fold_secrets(body: dict[str, Any], values: dict[str, str]) -> None:
    """Take the secrets out of a CloudFormation ``body`` and write their values where it resolves them.

    Raises NotImplementedError for any other use of a secret (a Ref or GetAtt outside a reference).
    """
    resources = body["Resources"]
    for logical_id in values:
        resources.pop(logical_id, None)
    body["Resources"] = _fold(resources, values)
    left = {
        logical_id: sorted(referenced_ids(resource) & set(values))
        for logical_id, resource in body["Resources"].items()
        if referenced_ids(resource) & set(values)
    }
    if left:
        raise NotImplementedError(f"the local stack resolves secrets only as {{{{resolve:...}}}}: {left}")


def _fold(node: Any, values: dict[str, str]) -> Any:
    if isinstance(node, str):
        return _REFERENCE.sub(lambda match: values.get(match["logical_id"], match[0]), node)
    if isinstance(node, list):
        return [_fold(item, values) for item in node]
    if isinstance(node, dict):
        return {key: _fold(value, values) for key, value in node.items()}
    return node


def _read(secretsmanager: Any, name: str) -> str | None:
    try:
        value: str = secretsmanager.get_secret_value(SecretId=name)["SecretString"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ResourceNotFoundException":
            return None
        raise
    return value


def _create(secretsmanager: Any, name: str, resource: dict[str, Any]) -> str:
    properties = resource.get("Properties", {})
    generate = dict(properties.get("GenerateSecretString", {}))
    if not generate or "SecretStringTemplate" in generate:
        raise NotImplementedError(f"the local stack makes generated plain secret strings only ({name})")
    value: str = secretsmanager.get_random_password(**generate)["RandomPassword"]
    secretsmanager.create_secret(Name=name, SecretString=value, Description=properties.get("Description", ""))
    return value
