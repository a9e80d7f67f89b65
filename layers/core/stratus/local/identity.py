"""Sign-in for the local stack: the template's Cognito user pool made in moto (its CloudFormation has no
Cognito), and ID tokens for a tenant's user (`python -m stratus.local token`)."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stratus.local.template import Resolver, TranslatedTemplate

USER_POOL = "AWS::Cognito::UserPool"
USER_POOL_CLIENT = "AWS::Cognito::UserPoolClient"
COGNITO_TYPES = frozenset({USER_POOL, USER_POOL_CLIENT})
# The tags CloudFormation puts on what it creates; the bootstrap finds its pools by them again.
STACK_TAG = "aws:cloudformation:stack-name"
LOGICAL_ID_TAG = "aws:cloudformation:logical-id"
TENANT_ATTRIBUTE = "custom:tenant"
# Sign-ins as one user race each other's passwords (the launcher's banner, a second `token`): each
# sets its own and tries again, up to this often.
SIGN_IN_ATTEMPTS = 5


def create_user_pools(
    cognito: Any, stack_name: str, template: TranslatedTemplate, resolver: Resolver
) -> dict[str, str]:
    """Create (or find again) the template's user pools and their clients; logical id → physical id."""
    resources = template.cloudformation["Resources"]
    existing = _stack_pools(cognito, stack_name)
    physical: dict[str, str] = {}
    for logical_id, resource in resources.items():
        if resource["Type"] != USER_POOL or not _is_created(resource, resolver):
            continue
        if logical_id in existing:
            physical[logical_id] = existing[logical_id]
            continue
        properties = resolver.resolve(resource.get("Properties", {}))
        physical[logical_id] = cognito.create_user_pool(
            PoolName=properties.pop("UserPoolName", f"{stack_name}-{logical_id}"),
            UserPoolTags={STACK_TAG: stack_name, LOGICAL_ID_TAG: logical_id},
            **{k: v for k, v in properties.items() if k in _POOL_PROPERTIES},
        )["UserPool"]["Id"]
    with_pools = resolver.with_values(physical)
    for logical_id, resource in resources.items():
        if resource["Type"] == USER_POOL_CLIENT and _is_created(resource, resolver):
            physical[logical_id] = _client_id(cognito, with_pools.resolve(resource["Properties"]))
    return physical


# CreateUserPool takes these of the resource's properties as they are.
_POOL_PROPERTIES = frozenset(
    {"AdminCreateUserConfig", "UsernameConfiguration", "Schema", "Policies", "DeletionProtection"}
)
_CLIENT_PROPERTIES = frozenset(
    {"GenerateSecret", "ExplicitAuthFlows", "PreventUserExistenceErrors", "ReadAttributes", "WriteAttributes"}
)


def _is_created(resource: Mapping[str, Any], resolver: Resolver) -> bool:
    condition = resource.get("Condition")
    return condition is None or resolver.is_true(condition)


def _client_id(cognito: Any, properties: dict[str, Any]) -> str:
    pool_id = properties["UserPoolId"]
    name = properties["ClientName"]
    for client in cognito.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]:
        if client["ClientName"] == name:
            return str(client["ClientId"])
    created = cognito.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName=name,
        **{k: v for k, v in properties.items() if k in _CLIENT_PROPERTIES},
    )
    return str(created["UserPoolClient"]["ClientId"])


def _stack_pools(cognito: Any, stack_name: str) -> dict[str, str]:
    """This stack's pools, by logical id."""
    found = {}
    for pool in cognito.list_user_pools(MaxResults=60)["UserPools"]:
        tags = cognito.describe_user_pool(UserPoolId=pool["Id"])["UserPool"].get("UserPoolTags", {})
        if tags.get(STACK_TAG) == stack_name:
            found[tags[LOGICAL_ID_TAG]] = pool["Id"]
    return found


def local_password() -> str:
    """A fresh random password that meets any pool's policy: every class Cognito can require
    (upper, lower, digit, symbol) is there whatever the random part holds. The local user exists only
    to be signed in as."""
    return secrets.token_urlsafe(24) + "Aa1!"


def sign_in(cognito: Any, stack_name: str, tenant: str) -> str:
    """An ID token of the stack's user for ``tenant`` (created on first use): a real JWT moto signed.

    Raises LookupError when the stack has no user pool (it signs people in through another issuer).
    """
    pools = _stack_pools(cognito, stack_name)
    if not pools:
        raise LookupError(f"stack {stack_name} has no user pool")
    pool_id = next(iter(pools.values()))
    clients = cognito.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]
    client_id = clients[0]["ClientId"]
    username = f"{tenant}-developer"
    with contextlib.suppress(cognito.exceptions.UsernameExistsException):
        cognito.admin_create_user(
            UserPoolId=pool_id,
            Username=username,
            UserAttributes=[{"Name": TENANT_ATTRIBUTE, "Value": tenant}],
            MessageAction="SUPPRESS",
        )
    for attempt in range(1, SIGN_IN_ATTEMPTS + 1):
        password = local_password()
        cognito.admin_set_user_password(
            UserPoolId=pool_id, Username=username, Password=password, Permanent=True
        )
        try:
            answer = cognito.admin_initiate_auth(
                UserPoolId=pool_id,
                ClientId=client_id,
                AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": username, "PASSWORD": password},
            )
            return str(answer["AuthenticationResult"]["IdToken"])
        except cognito.exceptions.NotAuthorizedException:
            if attempt == SIGN_IN_ATTEMPTS:
                raise
    raise LookupError(f"no sign-in as {username}")  # not reached: the last attempt returns or raises
