"""Read infra/template.yaml (CloudFormation tags included) so local wiring cannot drift from deployed wiring."""

from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = ROOT / "infra" / "template.yaml"


# libyaml's C parser when the platform has it (10x faster than the pure-Python one; every test table is
# created from the template).
_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _CfnLoader(_SafeLoader):  # type: ignore[misc,valid-type]
    """Keeps intrinsic functions as {"Fn::X": value} / {"Ref": name} like CloudFormation's JSON form."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path | str = TEMPLATE_PATH) -> dict[str, Any]:
    """The template as CloudFormation's JSON form; a copy the caller may change (parsed once per version)."""
    stat = os.stat(path)
    return copy.deepcopy(_parsed(str(path), stat.st_mtime_ns, stat.st_size))


@lru_cache(maxsize=16)
def _parsed(path: str, mtime_ns: int, size: int) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass


def resources_of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in template.get("Resources", {}).items() if res.get("Type") == kind}


def table_create_args(template: dict[str, Any], logical_id: str, table_name: str) -> dict[str, Any]:
    """boto3 create_table arguments for an AWS::DynamoDB::Table of the template."""
    props = template["Resources"][logical_id]["Properties"]
    args: dict[str, Any] = {
        "TableName": table_name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if props.get("GlobalSecondaryIndexes"):
        args["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    if props.get("StreamSpecification"):
        args["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    return args


# ---------------------------------------------------------------- intrinsic resolution
PSEUDO_PARAMETERS = {
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "dropship-local",
    "AWS::NoValue": None,
}


class UnresolvedReference(KeyError):
    """A Ref/GetAtt the local runtime has no value for (a resource type it does not create)."""


class Resolver:
    """Resolves Ref / Fn::GetAtt / Fn::Sub / Fn::Join / Fn::Select / Fn::If-free values of the template.

    `refs` maps logical ids (and parameters) to their Ref value; `attrs` maps "Logical.Attr" to GetAtt values.
    """

    def __init__(self, template: dict[str, Any], parameters: dict[str, str] | None = None) -> None:
        self.template = template
        self.refs: dict[str, Any] = dict(PSEUDO_PARAMETERS)
        for name, spec in template.get("Parameters", {}).items():
            if "Default" in spec:
                self.refs[name] = str(spec["Default"])
        self.refs.update(parameters or {})
        self.attrs: dict[str, Any] = {}

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            key, arg = next(iter(value.items()))
            if key == "Ref":
                if arg not in self.refs:
                    raise UnresolvedReference(f"Ref {arg}")
                return self.refs[arg]
            if key == "Fn::GetAtt":
                name = ".".join(arg) if isinstance(arg, list) else str(arg)
                if name not in self.attrs:
                    raise UnresolvedReference(f"GetAtt {name}")
                return self.attrs[name]
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::Join":
                separator, parts = arg
                return separator.join(str(self.resolve(p)) for p in self.resolve(parts))
            if key == "Fn::Select":
                index, items = arg
                return self.resolve(items)[int(self.resolve(index))]
            if key == "Fn::Split":
                separator, text = arg
                return str(self.resolve(text)).split(separator)
        return {k: self.resolve(v) for k, v in value.items()}

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
        resolved_vars = {k: self.resolve(v) for k, v in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in resolved_vars:
                return str(resolved_vars[name])
            if "." in name:
                return str(self.resolve({"Fn::GetAtt": name.split(".", 1)}))
            return str(self.resolve({"Ref": name}))

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def try_resolve(self, value: Any, default: Any = None) -> Any:
        try:
            return self.resolve(value)
        except UnresolvedReference:
            return default


# ---------------------------------------------------------------- functions and their event sources
@dataclass(frozen=True)
class EventSource:
    name: str  # the event's key under Events
    type: str  # HttpApi, DynamoDB, SQS, ScheduleV2, Schedule, ...
    properties: dict[str, Any]


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    handler: str  # "functions.x.app.lambda_handler"
    timeout: int
    memory: int
    environment: dict[str, Any]  # unresolved (Globals merged with the function's own)
    events: tuple[EventSource, ...] = field(default_factory=tuple)

    def events_of(self, *types: str) -> list[EventSource]:
        return [e for e in self.events if e.type in types]


def function_specs(template: dict[str, Any]) -> list[FunctionSpec]:
    """Every AWS::Serverless::Function with Globals applied (the same merge SAM does for env vars)."""
    globals_ = template.get("Globals", {}).get("Function", {})
    global_env = dict(globals_.get("Environment", {}).get("Variables", {}))
    specs = []
    for name, res in resources_of_type(template, "AWS::Serverless::Function").items():
        props = res.get("Properties", {})
        env = {**global_env, **props.get("Environment", {}).get("Variables", {})}
        events = tuple(EventSource(ev_name, ev["Type"], dict(ev.get("Properties") or {}))
                       for ev_name, ev in (props.get("Events") or {}).items())
        specs.append(FunctionSpec(
            logical_id=name,
            handler=props.get("Handler", globals_.get("Handler", "")),
            timeout=int(props.get("Timeout", globals_.get("Timeout", 3))),
            memory=int(props.get("MemorySize", globals_.get("MemorySize", 128))),
            environment=env,
            events=events,
        ))
    return specs
