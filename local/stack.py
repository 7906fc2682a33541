"""The whole system in one process: moto (AWS), the template's functions and their event sources, simulators.

    with Stack(StackConfig(api_port=0, ...)) as stack:
        stack.api_url, stack.moto_url, stack.shopbase.url, stack.aliexpress.url
        stack.fire_schedule("SyncStatusFunction", scheduled_time=...)
        stack.wait_idle()
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlencode

from local import aws
from local.api import ApiServer, RouteTable
from local.functions import LocalFunction
from local.output import restore_stdout, route_function_output
from local.queues import QueueMapping, QueueMappingConfig
from local.schedules import AsyncInvokeConfig, ScheduledTarget, Scheduler
from local.state_file import read_json, write_json_atomic
from local.streams import StreamMapping, StreamMappingConfig
from local.template import ROOT, TEMPLATE_PATH, FunctionSpec, Resolver, function_specs, load_template

log = logging.getLogger("local.stack")

STATE_DIR = ROOT / ".local-state"
API_SENTINEL = "local-http-api-"
# Template parameters without a default that a local stack still needs a value for.
LOCAL_PARAMETER_DEFAULTS = {
    "SenderIdentityArn": "arn:aws:ses:us-east-1:123456789012:identity/demo-store.example.com",
}
SIM_APP_KEY = "sim-app-key"
SIM_APP_SECRET = "sim-app-secret"


@dataclass
class StackConfig:
    template_path: Path = TEMPLATE_PATH
    api_port: int = 8100
    moto_port: int = 8101
    aliexpress_port: int = 8102
    shopbase_port: int = 8103
    parameters: dict[str, str] = field(default_factory=dict)
    log_level: str | None = None  # override the template's POWERTOOLS_LOG_LEVEL
    simulators: bool = True
    webhook_duplicate_rate: float = 0.0
    webhook_reorder: bool = False
    seed: int | None = 7
    poll_interval: float = 0.2
    retry_delay: float = 0.2  # first backoff of a failed stream batch / schedule run
    sqs_wait_seconds: int = 5  # long polls (woken by local.moto_serial on a send); 0: short polls, poll_interval apart
    state_dir: Path | None = STATE_DIR  # None: write no state file
    extra_env: dict[str, str] = field(default_factory=dict)
    # Where the functions' stdout (Powertools JSON logs, EMF metrics) goes, like CloudWatch Logs; None: stdout.
    function_log: Path | None = None


@dataclass
class Wiring:
    """What the stack built from the template (for status output and tests)."""

    functions: dict[str, LocalFunction] = field(default_factory=dict)
    routes: RouteTable = field(default_factory=RouteTable)
    streams: list[StreamMapping] = field(default_factory=list)
    queues: list[QueueMapping] = field(default_factory=list)
    schedules: list[ScheduledTarget] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    env_conflicts: dict[str, list[str]] = field(default_factory=dict)
    skipped_resources: dict[str, str] = field(default_factory=dict)
    unsupported_events: list[str] = field(default_factory=list)


class Stack:
    def __init__(self, config: StackConfig | None = None) -> None:
        self.config = config or StackConfig()
        self.template = load_template(self.config.template_path)
        self.wiring = Wiring()
        self.moto: aws.MotoServer | None = None
        self.api: ApiServer | None = None
        self.shopbase: Any = None
        self.aliexpress: Any = None
        self.scheduler: Scheduler | None = None
        self.resolver: Resolver | None = None
        self.provisioned: aws.Provisioned | None = None
        self._saved_env: dict[str, str | None] = {}
        self._function_log: IO[str] | None = None
        self._started = False
        self._lock = threading.Lock()
        self._state_lock = threading.Lock()

    # ------------------------------------------------------------------ urls
    @property
    def api_url(self) -> str:
        assert self.api is not None
        return self.api.url

    def page_url(self, shop: str | None = None) -> str:
        """The seller's Manage Orders page, served by the API itself (GET /app; GET / redirects there)."""
        return f"{self.api_url}/app" + (f"?{urlencode({'shop': shop})}" if shop else "")

    @property
    def moto_url(self) -> str:
        assert self.moto is not None
        return self.moto.url

    def client(self, service: str) -> Any:
        return aws.client(service, self.moto_url)

    # ------------------------------------------------------------------ start / stop
    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> Stack:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        cfg = self.config
        self.moto = aws.MotoServer(cfg.moto_port).start()
        self._set_env({
            "AWS_ENDPOINT_URL": self.moto.url,
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
            "AWS_DEFAULT_REGION": aws.REGION,
            "AWS_REGION": aws.REGION,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_SESSION_TOKEN": "local",
            "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here
        })
        self._started = True
        if cfg.function_log is not None:
            cfg.function_log.parent.mkdir(parents=True, exist_ok=True)
            self._function_log = open(cfg.function_log, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
            route_function_output(self._function_log)
        parameters = dict(cfg.parameters)
        if cfg.simulators:
            self._start_simulators()
            parameters.setdefault("AliExpressGatewayUrl", self.aliexpress.url)
            parameters.setdefault("ShopBaseBaseUrl", f"{self.shopbase.url}/shops/{{shop}}")
        self.api = ApiServer(self.wiring.routes, port=cfg.api_port, control=self._control)
        for name, value in LOCAL_PARAMETER_DEFAULTS.items():
            if name in self.template.get("Parameters", {}):
                parameters.setdefault(name, value)
        self.resolver = Resolver(self.template, parameters)
        self._name_http_apis()
        self.provisioned = aws.provision(self.template, self.resolver, self.moto.url)
        self.wiring.skipped_resources = dict(self.provisioned.skipped)
        if cfg.simulators:
            self._point_app_secret_at_simulator()
        specs = function_specs(self.template)
        self._set_function_env(specs)
        self._reset_shared_caches()
        self._build(specs)
        self.api.start()
        for mapping in self.wiring.streams:
            mapping.start()
        for queue in self.wiring.queues:
            queue.start()
        self.scheduler = Scheduler(self.wiring.schedules, retry_delay=cfg.retry_delay)
        self.scheduler.start()
        self.write_state()

    def stop(self) -> None:
        """Idempotent; every thread is joined or daemon, moto's server is shut down, env restored."""
        with self._lock:
            # Signal every poller first, then join: they wind down in parallel.
            sources: list[StreamMapping | QueueMapping] = [*self.wiring.streams, *self.wiring.queues]
            for source in sources:
                source.signal_stop()
            if self.moto is not None:
                self.moto.end_long_polls()  # queue pollers return now, not at the end of their long poll
            if self.scheduler is not None:
                self.scheduler.stop()
            for source in sources:
                source.stop()
            if self.api is not None:
                self.api.stop()
                self.api = None
            for sim in (self.shopbase, self.aliexpress):
                if sim is not None:
                    sim.stop()
            self.shopbase = self.aliexpress = None
            if self.moto is not None:
                self.moto.stop()
                self.moto = None
            if self._function_log is not None:
                restore_stdout()
                self._function_log.close()
                self._function_log = None
            for key, value in self._saved_env.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            self._saved_env.clear()
            if self._started:
                self._reset_shared_caches()
            if self._started and self.config.state_dir is not None:
                (self.config.state_dir / "stack.json").unlink(missing_ok=True)
            self._started = False

    # ------------------------------------------------------------------ pieces
    def _set_env(self, values: dict[str, str]) -> None:
        for key, value in values.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value

    def _start_simulators(self) -> None:
        from simulators.aliexpress.server import AliExpressSimulator
        from simulators.shopbase.server import ShopBaseSimulator

        cfg = self.config
        self.aliexpress = AliExpressSimulator("127.0.0.1", cfg.aliexpress_port, SIM_APP_KEY, SIM_APP_SECRET,
                                              seed=cfg.seed).start()
        self.shopbase = ShopBaseSimulator("127.0.0.1", cfg.shopbase_port, delivery="background",
                                          duplicate_rate=cfg.webhook_duplicate_rate, reorder=cfg.webhook_reorder,
                                          max_delivery_attempts=3, retry_delay=0.2, seed=cfg.seed).start()

    def _name_http_apis(self) -> None:
        assert self.resolver is not None
        for logical_id, res in self.template.get("Resources", {}).items():
            if res.get("Type") in ("AWS::Serverless::HttpApi", "AWS::Serverless::Api"):
                self.resolver.refs[logical_id] = f"{API_SENTINEL}{logical_id.lower()}"

    def _localise(self, value: str) -> str:
        """A deployed API URL in an env value (e.g. an OAuth redirect URI) becomes the local API URL."""
        assert self.api is not None
        stage = str(self.resolver.try_resolve({"Ref": "Stage"}, "")) if self.resolver else ""
        pattern = rf"https://{re.escape(API_SENTINEL)}[\w-]+\.execute-api\.[^/]+(/{re.escape(stage)})?" \
            if stage else rf"https://{re.escape(API_SENTINEL)}[\w-]+\.execute-api\.[^/]+"
        return re.sub(pattern, self.api.url, value)

    def _point_app_secret_at_simulator(self) -> None:
        """The app secret's AliExpress key/secret must be the simulator's, or every signature fails."""
        sm = self.client("secretsmanager")
        assert self.provisioned is not None
        for arn in self.provisioned.secrets.values():
            raw = sm.get_secret_value(SecretId=arn)["SecretString"]
            try:
                data = json.loads(raw)
            except ValueError:
                continue
            if isinstance(data, dict) and "aliexpress_app_key" in data:
                data.update(aliexpress_app_key=SIM_APP_KEY, aliexpress_app_secret=SIM_APP_SECRET)
                sm.put_secret_value(SecretId=arn, SecretString=json.dumps(data))

    def _set_function_env(self, specs: list[FunctionSpec]) -> None:
        """Functions share this process, so their variables are merged; a clash is reported, not hidden."""
        assert self.resolver is not None and self.api is not None
        merged: dict[str, str] = {}
        seen: dict[str, dict[str, str]] = {}
        for spec in specs:
            for key, raw in spec.environment.items():
                value = self.resolver.try_resolve(raw)
                if value is None:
                    log.warning("%s: env %s has an unresolved value; left unset", spec.logical_id, key)
                    continue
                value = self._localise(str(value))
                seen.setdefault(key, {})[spec.logical_id] = value
                merged.setdefault(key, value)
        for key, per_function in seen.items():
            if len(set(per_function.values())) > 1 and key != "POWERTOOLS_SERVICE_NAME":
                self.wiring.env_conflicts[key] = sorted(per_function)
                log.warning("env %s differs between functions %s; using %r", key, sorted(per_function), merged[key])
        merged.pop("POWERTOOLS_SERVICE_NAME", None)  # one process, several services: keep the default name
        if self.config.log_level:
            merged["POWERTOOLS_LOG_LEVEL"] = self.config.log_level
        if self.config.simulators:
            merged["ALIEXPRESS_GATEWAY_URL"] = self.aliexpress.url
            merged["SHOPBASE_BASE_URL"] = f"{self.shopbase.url}/shops/{{shop}}"
        if not merged.get("ALIEXPRESS_REDIRECT_URI"):
            # Deployed, the function derives it from the request's (https) domain; locally it is plain http.
            merged["ALIEXPRESS_REDIRECT_URI"] = f"{self.api.url}/connect/aliexpress/callback"
        merged.update(self.config.extra_env)
        self.wiring.env = merged
        self._set_env(merged)

    @staticmethod
    def _reset_shared_caches() -> None:
        """Like fresh Lambda containers: no client, setting or repository cached against another endpoint
        (an earlier stack in this process, or whatever was imported before the endpoint was set)."""
        from shared import wiring

        wiring.reset()

    def _build(self, specs: list[FunctionSpec]) -> None:
        assert self.resolver is not None and self.provisioned is not None
        streams = self.client("dynamodbstreams")
        sqs = self.client("sqs")
        for spec in specs:
            name = f"dropship-local-{spec.logical_id}"
            function = LocalFunction(spec, name, f"arn:aws:lambda:{aws.REGION}:{aws.ACCOUNT}:function:{name}")
            function.load()
            self.wiring.functions[spec.logical_id] = function
            for event in spec.events:
                props = self.resolver.resolve(event.properties)
                label = f"{spec.logical_id}.{event.name}"
                if event.type == "HttpApi":
                    self.wiring.routes.add(str(props.get("Method", "ANY")), str(props.get("Path", "/")), function)
                elif event.type == "DynamoDB":
                    config = StreamMappingConfig.from_properties(props)
                    if config.enabled:
                        self.wiring.streams.append(StreamMapping(
                            label, function, config, streams, sqs, self.provisioned.queue_urls_by_arn,
                            poll_interval=self.config.poll_interval, retry_delay=self.config.retry_delay))
                elif event.type == "SQS":
                    url = self.provisioned.queue_urls_by_arn.get(props["Queue"])
                    if url is None:
                        self.wiring.unsupported_events.append(f"{label} (queue {props['Queue']} not created)")
                        continue
                    queue_config = QueueMappingConfig.from_properties(props, url)
                    if queue_config.enabled:
                        self.wiring.queues.append(QueueMapping(label, function, queue_config, sqs,
                                                               wait_seconds=self.config.sqs_wait_seconds,
                                                               poll_interval=self.config.poll_interval))
                elif event.type in ("ScheduleV2", "Schedule"):
                    # The scheduler invokes asynchronously: the function's EventInvokeConfig says where errors go.
                    target = ScheduledTarget.from_event(function, event.name, event.type, props,
                                                        self._async_invoke_config(spec.logical_id))
                    target.send_to_queue = self._send_to_queue
                    self.wiring.schedules.append(target)
                else:
                    self.wiring.unsupported_events.append(f"{label} ({event.type})")
        for label in self.wiring.unsupported_events:
            log.warning("event source not run locally: %s", label)

    def _async_invoke_config(self, logical_id: str) -> AsyncInvokeConfig:
        assert self.resolver is not None
        properties = self.template["Resources"][logical_id].get("Properties") or {}
        wanted = {key: properties[key] for key in ("EventInvokeConfig", "DeadLetterQueue") if key in properties}
        return AsyncInvokeConfig.from_function(self.resolver.resolve(wanted))

    def _send_to_queue(self, arn: str, body: str) -> None:
        assert self.provisioned is not None
        url = self.provisioned.queue_urls_by_arn.get(arn)
        if url is None:
            log.error("dead-letter target %s is not a local queue", arn)
            return
        self.client("sqs").send_message(QueueUrl=url, MessageBody=body)

    # ------------------------------------------------------------------ operations
    def fire_schedule(self, name: str | None = None, scheduled_time: datetime | None = None) -> list[dict[str, Any]]:
        assert self.scheduler is not None
        return self.scheduler.fire_now(name, scheduled_time)

    def wait_idle(self, timeout: float = 30.0, settle: float = 0.3) -> bool:
        """Until webhooks, streams and queues have nothing left to deliver (twice in a row), or timeout."""
        deadline = time.monotonic() + timeout
        calm = 0
        while time.monotonic() < deadline:
            if self._quiet():
                calm += 1
                if calm >= 2:
                    return True
            else:
                calm = 0
            time.sleep(settle)
        return False

    def _quiet(self) -> bool:
        if self.shopbase is not None:
            deliverer = self.shopbase.deliverer
            # pending() is 0 while a taken batch is still being sent: its send lock says so.
            sending = getattr(deliverer, "_send_lock", None)
            if deliverer.pending() or (sending is not None and sending.locked()):
                return False
        if not all(m.is_idle() for m in self.wiring.streams):
            return False
        if not all(q.is_idle() for q in self.wiring.queues):
            return False
        sqs = self.client("sqs")
        for queue in self.wiring.queues:
            attrs = sqs.get_queue_attributes(QueueUrl=queue.config.queue_url, AttributeNames=[
                "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed"])["Attributes"]
            if any(int(v) for v in attrs.values()):
                return False
        return True

    def status(self) -> dict[str, Any]:
        w = self.wiring
        return {
            "api": self.api.url if self.api else None,
            "moto": self.moto.url if self.moto else None,
            "shopbase": self.shopbase.url if self.shopbase else None,
            "aliexpress": self.aliexpress.url if self.aliexpress else None,
            "page": f"{self.api.url}/app" if self.api else None,
            "functions": {k: vars(f.stats) for k, f in w.functions.items()},
            "routes": [r.route_key + " -> " + r.function.logical_id for r in w.routes.routes],
            "streams": {m.name: {k: v for k, v in vars(m.stats).items() if k != "batch_sizes"}
                        | {"batch_sizes": m.stats.batch_sizes[-50:]} for m in w.streams},
            "queues": {q.name: {"invocations": q.invocations, "failed_invocations": q.failed_invocations,
                                "messages_deleted": q.messages_deleted, "max_parallel": q.max_parallel,
                                "max_concurrency": q.config.max_concurrency} for q in w.queues},
            "schedules": {t.name: {"expression": t.schedule.expression, "timezone": str(t.schedule.timezone),
                                   "runs": len(t.runs), "on_failure": t.async_config.on_failure}
                          for t in w.schedules},
            "next_runs": {k: v.isoformat() if v else None
                          for k, v in (self.scheduler.next_runs() if self.scheduler else {}).items()},
            "queues_by_resource": dict(self.provisioned.queues) if self.provisioned else {},
            "tables": dict(self.provisioned.tables) if self.provisioned else {},
            "skipped_resources": w.skipped_resources,
            "unsupported_events": w.unsupported_events,
            "env_conflicts": w.env_conflicts,
        }

    def _control(self, method: str, path: str, args: dict[str, Any]) -> tuple[int, Any]:
        """/_local/… on the API port: what the CLI's commands use to reach a running stack."""
        if method == "GET" and path == "/_local/status":
            return 200, self.status()
        if method == "POST" and path == "/_local/schedules/fire":
            when = datetime.fromisoformat(args["time"].replace("Z", "+00:00")) if args.get("time") else None
            try:
                return 200, {"runs": self.fire_schedule(args.get("name"), when)}
            except KeyError as error:
                return 404, {"error": str(error)}
        if method == "POST" and path == "/_local/wait":
            return 200, {"idle": self.wait_idle(float(args.get("timeout", 30)))}
        return 404, {"error": f"no control endpoint {method} {path}"}

    def write_state(self, extra: dict[str, Any] | None = None) -> Path | None:
        if self.config.state_dir is None:
            return None
        path = self.config.state_dir / "stack.json"
        with self._state_lock:  # one writer at a time in this process; readers see whole files (atomic rename)
            current = (read_json(path) or {}) if extra else {}
            current.update({"pid": os.getpid(), "api": self.api_url, "moto": self.moto_url,
                            "shopbase": self.shopbase.url if self.shopbase else None,
                            "aliexpress": self.aliexpress.url if self.aliexpress else None,
                            "page": self.page_url(), **(extra or {})})
            return write_json_atomic(path, current)
