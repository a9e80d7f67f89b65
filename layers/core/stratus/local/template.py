"""template.yaml for the local stack: load it, translate SAM to CloudFormation, resolve intrinsics."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import boto3
import yaml
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

# translate() points every CodeUri/ContentUri here; the bootstrap swaps in its scratch bucket.
CODE_BUCKET_PLACEHOLDER = "stratus-local-code-placeholder"
CODE_KEY = "code.zip"
IMAGE_URI_PLACEHOLDER = "000000000000.dkr.ecr.us-east-1.amazonaws.com/stratus-local:placeholder"
_SUB_VARIABLE = re.compile(r"\$\{([^!}][^}]*)\}")


class _TemplateLoader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML ships no type stubs here
    """YAML loader that reads CloudFormation's short forms (!Ref, !Sub, !GetAtt ...) as their long forms."""


def _construct_intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_TemplateLoader.add_multi_constructor("!", _construct_intrinsic)


@dataclass(frozen=True)
class TranslatedTemplate:
    """The SAM template as written and as CloudFormation, plus each function's code folder."""

    sam: dict[str, Any]
    cloudformation: dict[str, Any]
    code_paths: dict[str, Path]


def load_template(path: Path) -> dict[str, Any]:
    """Parse a SAM/CloudFormation YAML template."""
    with path.open(encoding="utf-8") as stream:
        return yaml.load(stream, Loader=_TemplateLoader)  # type: ignore[no-any-return]  # noqa: S506


def translate(path: Path, region: str) -> TranslatedTemplate:
    """Translate ``path`` with samtranslator (cached per file version; callers get their own copy)."""
    resolved = path.resolve()
    return copy.deepcopy(_translate(resolved, resolved.stat().st_mtime_ns, region))


@lru_cache(maxsize=8)
def _translate(path: Path, _mtime_ns: int, region: str) -> TranslatedTemplate:
    sam = load_template(path)
    source = copy.deepcopy(sam)
    code_paths = {}
    for logical_id, resource in source.get("Resources", {}).items():
        properties = resource.get("Properties", {})
        for uri_key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(uri_key), str):
                if resource["Type"] == "AWS::Serverless::Function":
                    code_paths[logical_id] = (path.parent / properties[uri_key]).resolve()
                # samtranslator accepts only S3 URIs; the code itself never leaves this machine.
                properties[uri_key] = f"s3://{CODE_BUCKET_PLACEHOLDER}/{CODE_KEY}"
        if resource["Type"] == "AWS::Serverless::Function" and properties.get("PackageType") == "Image":
            # An image function runs locally from its Dockerfile's folder (the handler is the image's
            # Command); `sam build` fills ImageUri on AWS, and moto only needs some URI.
            dockerfile = resource.get("Metadata", {}).get("Dockerfile", "Dockerfile")
            context = resource.get("Metadata", {}).get("DockerContext", ".")
            code_paths[logical_id] = (path.parent / context / dockerfile).resolve().parent
            properties.setdefault("ImageUri", IMAGE_URI_PLACEHOLDER)
    definitions = _inline_definitions(source, path.parent)
    translator = Translator(None, Parser(), boto_session=boto3.Session(region_name=region))
    # No managed policies are referenced by name; an empty map keeps translation offline.
    cloudformation = translator.translate(source, parameter_values={}, get_managed_policy_map=dict)
    _keep_image_commands(cloudformation)
    _fold_substitutions(cloudformation, definitions)
    return TranslatedTemplate(sam=sam, cloudformation=cloudformation, code_paths=code_paths)


def _keep_image_commands(cloudformation: dict[str, Any]) -> None:
    """moto's CloudFormation (5.2.5) drops a function's ImageConfig but keeps its Handler: an image
    function's Command goes there too, where the shim reads it."""
    for resource in cloudformation["Resources"].values():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Lambda::Function" and properties.get("PackageType") == "Image":
            properties.setdefault("Handler", properties.get("ImageConfig", {}).get("Command", [None])[0])


def _inline_definitions(source: dict[str, Any], root: Path) -> dict[str, str]:
    """Replace each state machine's local ``DefinitionUri`` with its ASL (samtranslator takes S3 URIs only).

    Returns each state machine's ASL text by logical ID.
    """
    definitions = {}
    for logical_id, resource in source.get("Resources", {}).items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::StateMachine" and isinstance(
            properties.get("DefinitionUri"), str
        ):
            text = (root / properties.pop("DefinitionUri")).read_text(encoding="utf-8")
            properties["Definition"] = json.loads(text)
            definitions[logical_id] = text
    return definitions


def _fold_substitutions(cloudformation: dict[str, Any], definitions: Mapping[str, str]) -> None:
    """Express ``DefinitionSubstitutions`` as ``Fn::Sub`` over the ASL text.

    moto's CloudFormation (5.2.5) ignores DefinitionSubstitutions and would register the ASL with its
    ``${...}`` left in; Fn::Sub with a variable map is the same substitution in a form it evaluates.
    """
    resources = cloudformation["Resources"]
    for logical_id, text in definitions.items():
        properties = resources[logical_id]["Properties"]
        substitutions = properties.pop("DefinitionSubstitutions", {})
        properties["DefinitionString"] = {"Fn::Sub": [text, substitutions]}


def parameter_values(template: Mapping[str, Any], overrides: Mapping[str, str] | None) -> dict[str, str]:
    """The template's parameter defaults with ``overrides`` applied, as CloudFormation passes them."""
    values = {
        name: str(spec["Default"])
        for name, spec in template.get("Parameters", {}).items()
        if "Default" in spec
    }
    values.update(overrides or {})
    return values


def referenced_ids(node: Any) -> set[str]:
    """Logical IDs (and parameters) that ``node`` refers to through Ref, GetAtt or Sub."""
    text = json.dumps(node)
    found = set(re.findall(r'"Ref": "([^"]+)"', text))
    found.update(re.findall(r'"Fn::GetAtt": \["([^"]+)"', text))
    found.update(match.split(".")[0] for match in _SUB_VARIABLE.findall(text))
    return found


class Resolver:
    """Evaluates the intrinsic functions the local stack meets, with values moto's CloudFormation chose."""

    NO_VALUE = object()

    def __init__(
        self,
        values: Mapping[str, Any],
        conditions: Mapping[str, Any],
        attribute: Callable[[str, str], Any],
    ) -> None:
        self._values = values
        self._conditions = conditions
        self._attribute = attribute

    def resolve(self, node: Any) -> Any:
        """Return ``node`` with every intrinsic function replaced by its value."""
        if isinstance(node, list):
            items = [self.resolve(item) for item in node]
            return [item for item in items if item is not self.NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, argument),) = node.items()
            if key == "Ref" or key.startswith("Fn::") or key == "Condition":
                return self._intrinsic(key, argument)
        resolved = {key: self.resolve(value) for key, value in node.items()}
        return {key: value for key, value in resolved.items() if value is not self.NO_VALUE}

    def with_values(self, extra: Mapping[str, Any]) -> Resolver:
        """A resolver that also knows ``extra`` (resources made outside CloudFormation)."""
        return Resolver({**self._values, **extra}, self._conditions, self._attribute)

    def is_true(self, condition: str) -> bool:
        """Evaluate the template condition ``condition``."""
        return bool(self.resolve(self._conditions[condition]))

    def _intrinsic(self, key: str, argument: Any) -> Any:  # noqa: C901  # one branch per function
        if key == "Ref":
            return self.NO_VALUE if argument == "AWS::NoValue" else self._values[argument]
        if key == "Fn::Sub":
            return self._sub(argument)
        if key == "Fn::GetAtt":
            return self._attribute(*argument)
        if key == "Fn::If":
            name, when_true, when_false = argument
            return self.resolve(when_true if self.is_true(name) else when_false)
        if key == "Condition":
            return self.is_true(argument)
        if key == "Fn::Equals":
            left, right = self.resolve(argument)
            return str(left) == str(right)
        if key == "Fn::Not":
            return not self.resolve(argument)[0]
        if key == "Fn::And":
            return all(self.resolve(argument))
        if key == "Fn::Or":
            return any(self.resolve(argument))
        if key == "Fn::Join":
            separator, parts = argument
            return separator.join(str(part) for part in self.resolve(parts))
        raise NotImplementedError(f"the local stack does not evaluate {key}; extend Resolver")

    def _sub(self, argument: str | list[Any]) -> str:
        text, extra = (argument, {}) if isinstance(argument, str) else argument
        local = {name: self.resolve(value) for name, value in extra.items()}

        def value_of(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in local:
                return str(local[name])
            if "." in name and name not in self._values:
                return str(self._attribute(*name.split(".", 1)))
            return str(self._values[name])

        return _SUB_VARIABLE.sub(value_of, text).replace("${!", "${")
