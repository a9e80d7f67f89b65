"""Local sign-in (stratus.local.identity.sign_in) against moto's Cognito."""

from __future__ import annotations

from typing import Any

import boto3
from stratus.local.identity import LOGICAL_ID_TAG, STACK_TAG, local_password, sign_in

STACK = "stratus-local"


def _user_pool() -> Any:
    cognito = boto3.client("cognito-idp")
    pool = cognito.create_user_pool(
        PoolName="users",
        UserPoolTags={STACK_TAG: STACK, LOGICAL_ID_TAG: "UserPool"},
        Schema=[{"Name": "tenant", "AttributeDataType": "String", "Mutable": True}],
    )["UserPool"]
    cognito.create_user_pool_client(
        UserPoolId=pool["Id"], ClientName="app", ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH"]
    )
    return cognito


class _RacedOnce:
    """A Cognito client whose first sign-in is raced: another sign-in as the same user sets its own
    password between this one's password and its authentication (as the launcher's banner can)."""

    def __init__(self, cognito: Any) -> None:
        self._cognito = cognito
        self.exceptions = cognito.exceptions
        self.raced = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cognito, name)

    def admin_initiate_auth(self, **kwargs: Any) -> Any:
        if not self.raced:
            self.raced = True
            sign_in(self._cognito, STACK, "local")
        return self._cognito.admin_initiate_auth(**kwargs)


def test_sign_in_returns_an_id_token_of_the_tenants_user(aws: None) -> None:
    cognito = _user_pool()

    token = sign_in(cognito, STACK, "local")

    assert token.count(".") == 2


def test_sign_in_raced_by_another_sign_in_as_the_same_user_still_signs_in(aws: None) -> None:
    raced = _RacedOnce(_user_pool())

    token = sign_in(raced, STACK, "local")

    assert raced.raced
    assert token.count(".") == 2


def test_local_password_has_every_class_a_pool_can_require() -> None:
    # Cognito's symbols; a password drawn without one failed a default pool's policy about a third of
    # the time (CI hit it).
    symbols = set("^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+-")
    for _ in range(50):
        password = local_password()
        assert any(c.isupper() for c in password) and any(c.islower() for c in password)
        assert any(c.isdigit() for c in password) and set(password) & symbols
