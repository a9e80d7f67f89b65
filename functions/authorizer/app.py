"""The `authorizer` Lambda: API Gateway's Lambda authorizer (payload 2.0, simple responses) for every
route but the public ones. It verifies the bearer credential and hands the API the caller's tenant."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerEventV2,
    APIGatewayAuthorizerResponseV2,
)
from stratus import aws
from stratus.auth import Authenticator, issuer_of
from stratus.clock import system_clock
from stratus.errors import UnauthorizedError
from stratus.observability import logger
from stratus.settings import get_settings
from stratus.stores.tokens import TokenStore

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

# Built once per cold start: the token table and the issuer's signing keys (fetched on first use).
_settings = get_settings()
_authenticator = Authenticator(
    TokenStore(aws.table(_settings.table_name), system_clock),
    issuer_of(_settings.oidc_issuer, _settings.oidc_audiences, _settings.jwks_url, _settings.tenant_claim),
)


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Allow the request with the caller's identity as context, or deny it."""
    request = APIGatewayAuthorizerEventV2(event)
    try:
        identity = _authenticator.authenticate(request.headers.get("authorization"))
    except UnauthorizedError as exc:
        # The reason is logged, never the credential.
        logger.info("request refused", extra={"reason": exc.detail, "route": request.route_key})
        return APIGatewayAuthorizerResponseV2(authorize=False).asdict()
    logger.append_keys(tenant=identity.tenant, principal=identity.principal)
    return APIGatewayAuthorizerResponseV2(authorize=True, context=identity.as_context()).asdict()
