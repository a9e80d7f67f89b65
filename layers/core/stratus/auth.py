"""Who is calling: a bearer credential (an OIDC/Cognito JWT or one of our API tokens) → a tenant.

The API Gateway authorizer (functions/authorizer) runs this on AWS; the local stack's gateway invokes
that same function. The API itself only reads the identity the authorizer put in the request context.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from stratus.errors import UnauthorizedError
from stratus.services.tokens import is_api_token, owner_of

if TYPE_CHECKING:
    import jwt

    from stratus.stores.tokens import TokenStore

# Tenants prefix keys and S3 paths, so they never hold '#' or '/'.
TENANT_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$")
JWT_ALGORITHMS = ["RS256"]
# JWKS are fetched once per cold start and refreshed at most this often (keys rotate rarely).
JWKS_LIFESPAN_S = 3600
BEARER = "bearer"


@dataclass(frozen=True)
class Identity:
    """A verified caller: its tenant, who it is within it, and how it proved it."""

    tenant: str
    principal: str
    method: Literal["jwt", "token"]

    def as_context(self) -> dict[str, str]:
        """The authorizer context API Gateway passes on to the API (strings only)."""
        return {"tenant": self.tenant, "principal": self.principal, "method": self.method}


@dataclass(frozen=True)
class OidcIssuer:
    """The OIDC issuer people sign in with (the stack's Cognito user pool, or an external one)."""

    url: str
    audiences: frozenset[str]
    jwks_url: str
    tenant_claim: str

    @cached_property
    def _keys(self) -> jwt.PyJWKClient:
        import jwt  # only callers with a JWT pay for the import

        return jwt.PyJWKClient(self.jwks_url, cache_keys=True, lifespan=JWKS_LIFESPAN_S, timeout=5)

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims, checked: signature, issuer, expiry, audience. Raises UnauthorizedError."""
        import jwt

        try:
            key = self._keys.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=JWT_ALGORITHMS,
                issuer=self.url,
                options={"require": ["exp", "iss", "sub"], "verify_aud": False},
            )
        except jwt.PyJWKClientConnectionError as exc:
            raise RuntimeError(f"the issuer's keys at {self.jwks_url} could not be fetched") from exc
        except jwt.PyJWTError as exc:
            raise UnauthorizedError(f"the bearer token is not valid: {exc}") from exc
        # Cognito's ID tokens name the app client in `aud`, its access tokens in `client_id`.
        audience = claims.get("aud", claims.get("client_id"))
        audiences = {audience} if isinstance(audience, str) else set(audience or ())
        if not audiences & self.audiences:
            raise UnauthorizedError("the bearer token was issued for another application")
        return claims

    def identity(self, token: str) -> Identity:
        """The verified caller of a JWT. Raises UnauthorizedError."""
        claims = self.verify(token)
        tenant = claims.get(self.tenant_claim)
        if not isinstance(tenant, str) or not TENANT_PATTERN.match(tenant):
            raise UnauthorizedError(
                f"the token carries no valid {self.tenant_claim!r} claim (send the ID token of a user "
                "whose tenant is set)"
            )
        return Identity(tenant=tenant, principal=f"user:{claims['sub']}", method="jwt")


class Authenticator:
    """Turns an Authorization header into an Identity, or refuses it."""

    def __init__(self, tokens: TokenStore, issuer: OidcIssuer | None) -> None:
        self._tokens = tokens
        self._issuer = issuer

    def authenticate(self, authorization: str | None) -> Identity:
        """The caller of ``Authorization: Bearer …``. Raises UnauthorizedError."""
        credential = _bearer(authorization)
        if is_api_token(credential):
            owner = owner_of(credential, self._tokens)
            if owner is None:
                raise UnauthorizedError("the API token is unknown, revoked or expired")
            tenant, token_id = owner
            return Identity(tenant=tenant, principal=f"token:{token_id}", method="token")
        if self._issuer is None:
            raise UnauthorizedError("this stack accepts API tokens only")
        return self._issuer.identity(credential)


def _bearer(authorization: str | None) -> str:
    scheme, _, credential = (authorization or "").strip().partition(" ")
    if scheme.lower() != BEARER or not credential.strip():
        raise UnauthorizedError("send a credential: Authorization: Bearer <token>")
    return credential.strip()


def issuer_of(
    url: str | None, audiences: str | None, jwks_url: str | None, tenant_claim: str
) -> OidcIssuer | None:
    """The configured OIDC issuer, or None when the stack takes API tokens only."""
    if not url:
        return None
    return OidcIssuer(
        url=url.rstrip("/"),
        audiences=frozenset(a.strip() for a in (audiences or "").split(",") if a.strip()),
        jwks_url=jwks_url or f"{url.rstrip('/')}/.well-known/jwks.json",
        tenant_claim=tenant_claim,
    )
