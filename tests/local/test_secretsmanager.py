"""The template's generated secrets in the local stack: made once per stack, folded where referenced."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from stratus.local.secretsmanager import fold_secrets

SECRET = {
    "Type": "AWS::SecretsManager::Secret",
    "Properties": {"GenerateSecretString": {"PasswordLength": 8}},
}
REFERENCE = {"Fn::Sub": "{{resolve:secretsmanager:${KeySecret}:SecretString}}"}
LAMBDA = "AWS::Lambda::Function"


def _body(**resources: Any) -> dict[str, Any]:
    return {"Resources": {"KeySecret": copy.deepcopy(SECRET), **resources}}


def test_fold_secrets_writes_the_value_where_it_is_resolved() -> None:
    function = {"Type": LAMBDA, "Properties": {"Environment": {"Variables": {"KEY": REFERENCE}}}}
    body = _body(Function=function)

    fold_secrets(body, {"KeySecret": "s3cr3t"})

    assert body["Resources"] == {
        "Function": {
            "Type": LAMBDA,
            "Properties": {"Environment": {"Variables": {"KEY": {"Fn::Sub": "s3cr3t"}}}},
        }
    }


def test_fold_secrets_refuses_other_uses_of_a_secret() -> None:
    body = _body(Policy={"Type": "AWS::IAM::Policy", "Properties": {"Resource": {"Ref": "KeySecret"}}})

    with pytest.raises(NotImplementedError, match="Policy"):
        fold_secrets(body, {"KeySecret": "s3cr3t"})
