"""moto's server on loopback as the AWS endpoint, and the template's resources created in it.

Supported resource types are created (tables with streams and indexes, queues with redrive, secrets,
SES identities); anything else is skipped and listed in `Provisioned.skipped` so it is visible, not silent.
"""

from __future__ import annotations

import json
import logging
import secrets as pysecrets
import string
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from local.moto_serial import SerialMotoServer
from local.template import Resolver, UnresolvedReference, table_create_args

log = logging.getLogger("local.aws")

REGION = "us-east-1"
ACCOUNT = "123456789012"
CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
# moto 5.2.5 does not route botocore's account-based DynamoDB endpoints (see the handbook).
CLIENT_CONFIG = Config(account_id_endpoint_mode="disabled", retries={"max_attempts": 3, "mode": "standard"},
                       max_pool_connections=64)  # shared by every poller thread
QUEUE_ATTRIBUTES = {"VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "MaximumMessageSize",
                    "ReceiveMessageWaitTimeSeconds", "RedrivePolicy", "RedriveAllowPolicy", "FifoQueue",
                    "ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit"}


class MotoServer:
    """moto's server on 127.0.0.1 (`port=0`: any free port), one request at a time so that conditional
    writes are atomic as in DynamoDB (see local/moto_serial.py)."""

    def __init__(self, port: int = 0) -> None:
        self._port = port
        self._server: SerialMotoServer | None = None
        self.url = ""

    def start(self) -> MotoServer:
        # werkzeug logs every AWS call at INFO; the runtime's own output is what the operator reads.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server = SerialMotoServer("127.0.0.1", self._port).start()  # binds now: a busy port raises here
        self.url = self._server.url
        # moto's backends are per process, not per server: a stack started earlier in this process left
        # its tables and queues there. Start empty (one stack per process at a time).
        with urllib.request.urlopen(urllib.request.Request(f"{self.url}/moto-api/reset", method="POST"),  # noqa: S310
                                    timeout=10) as response:
            response.read()
        return self

    def end_long_polls(self) -> None:
        if self._server is not None:
            self._server.end_long_polls()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()


def client(service: str, endpoint: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION, config=CLIENT_CONFIG, **CREDENTIALS)


@dataclass
class Provisioned:
    tables: dict[str, str] = field(default_factory=dict)  # logical id -> table name
    streams: dict[str, str] = field(default_factory=dict)  # stream ARN -> table name
    queues: dict[str, str] = field(default_factory=dict)  # logical id -> queue URL
    queue_urls_by_arn: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)  # logical id -> ARN
    skipped: dict[str, str] = field(default_factory=dict)  # logical id -> type


def _physical_name(stack: str, logical_id: str) -> str:
    return f"{stack}-{logical_id}"


def provision(template: dict[str, Any], resolver: Resolver, endpoint: str,
              stack: str = "dropship-local") -> Provisioned:
    """Create the template's data resources in moto and register their Ref/GetAtt values in `resolver`."""
    out = Provisioned()
    resources = template.get("Resources", {})
    pending = dict(resources)
    # Queues may reference each other (redrive to a DLQ): create in passes until nothing resolves anew.
    progress = True
    while pending and progress:
        progress = False
        for logical_id, res in list(pending.items()):
            try:
                created = _create(logical_id, res, resolver, endpoint, stack, out)
            except UnresolvedReference:
                continue
            del pending[logical_id]
            progress = True
            if not created:
                out.skipped[logical_id] = res.get("Type", "?")
    for logical_id, res in pending.items():
        out.skipped[logical_id] = f"{res.get('Type')} (unresolved references)"
    return out


def _create(logical_id: str, res: dict[str, Any], resolver: Resolver, endpoint: str, stack: str,
            out: Provisioned) -> bool:
    kind = res.get("Type", "")
    props = res.get("Properties") or {}
    arn_base = f"arn:aws:{{}}:{REGION}:{ACCOUNT}"
    if kind == "AWS::DynamoDB::Table":
        name = resolver.resolve(props.get("TableName")) or _physical_name(stack, logical_id)
        ddb = client("dynamodb", endpoint)
        description = ddb.create_table(**table_create_args({"Resources": {logical_id: res}}, logical_id, name))
        table = description["TableDescription"]
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={
                "AttributeName": ttl["AttributeName"], "Enabled": True})
        resolver.refs[logical_id] = name
        resolver.attrs[f"{logical_id}.Arn"] = table["TableArn"]
        if table.get("LatestStreamArn"):
            resolver.attrs[f"{logical_id}.StreamArn"] = table["LatestStreamArn"]
            out.streams[table["LatestStreamArn"]] = name
        out.tables[logical_id] = name
        return True
    if kind == "AWS::SQS::Queue":
        name = resolver.resolve(props.get("QueueName")) or _physical_name(stack, logical_id)
        if props.get("FifoQueue") and not name.endswith(".fifo"):
            name += ".fifo"
        attributes: dict[str, str] = {}
        for key, value in props.items():
            if key not in QUEUE_ATTRIBUTES:
                continue
            value = resolver.resolve(value)
            if isinstance(value, dict):
                attributes[key] = json.dumps(value)
            else:
                attributes[key] = str(value).lower() if isinstance(value, bool) else str(value)
        url = client("sqs", endpoint).create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = f"{arn_base.format('sqs')}:{name}"
        resolver.refs[logical_id] = url
        resolver.attrs[f"{logical_id}.Arn"] = arn
        resolver.attrs[f"{logical_id}.QueueName"] = name
        resolver.attrs[f"{logical_id}.QueueUrl"] = url
        out.queues[logical_id] = url
        out.queue_urls_by_arn[arn] = url
        return True
    if kind == "AWS::SecretsManager::Secret":
        name = resolver.resolve(props.get("Name")) or _physical_name(stack, logical_id)
        value = resolver.resolve(props.get("SecretString")) if "SecretString" in props else None
        if value is None:
            value = _generated_secret(resolver.resolve(props.get("GenerateSecretString") or {}))
        sm = client("secretsmanager", endpoint)
        try:
            arn = sm.create_secret(Name=name, SecretString=value)["ARN"]
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceExistsException":
                raise
            arn = sm.describe_secret(SecretId=name)["ARN"]
        resolver.refs[logical_id] = arn  # Ref of a secret is its ARN, as in CloudFormation
        resolver.attrs[f"{logical_id}.Id"] = arn
        out.secrets[logical_id] = arn
        return True
    if kind in ("AWS::SES::EmailIdentity",):
        identity = resolver.resolve(props["EmailIdentity"])
        ses = client("ses", endpoint)
        if "@" in identity:
            ses.verify_email_identity(EmailAddress=identity)
        else:
            ses.verify_domain_identity(Domain=identity)
        resolver.refs[logical_id] = identity
        return True
    if kind == "AWS::Serverless::Function":
        resolver.refs[logical_id] = _physical_name(stack, logical_id)
        resolver.attrs[f"{logical_id}.Arn"] = f"{arn_base.format('lambda')}:function:{stack}-{logical_id}"
        return True  # run in-process by the runtime, not created in moto
    if kind in ("AWS::Serverless::HttpApi", "AWS::Serverless::Api"):
        resolver.refs.setdefault(logical_id, "local")
        return True  # served by the runtime's HTTP server
    if kind == "AWS::Logs::LogGroup":
        resolver.refs[logical_id] = resolver.try_resolve(props.get("LogGroupName"), logical_id)
        return True  # function logs go to the runtime's stdout
    # IAM roles/policies, alarms, dashboards, schedules (fired by the runtime): nothing to create locally.
    resolver.refs.setdefault(logical_id, _physical_name(stack, logical_id))
    resolver.attrs.setdefault(f"{logical_id}.Arn", f"arn:aws:local:{REGION}:{ACCOUNT}:{stack}-{logical_id}")
    return False


def _generated_secret(spec: dict[str, Any]) -> str:
    length = int(spec.get("PasswordLength", 32))
    alphabet = string.ascii_letters + string.digits
    generated = "".join(pysecrets.choice(alphabet) for _ in range(length))
    template = spec.get("SecretStringTemplate")
    if template and spec.get("GenerateStringKey"):
        data = json.loads(template)
        data[spec["GenerateStringKey"]] = generated
        return json.dumps(data)
    return generated
