"""`ScheduleV2` (EventBridge Scheduler) and `Schedule` (EventBridge rule) events, fired at their times.

`fire(..., scheduled_time=…)` plays one run now as if it were that time (e.g. the 12:00 UTC sync at any moment).
Event shape: the template's `Input` (Scheduler context attributes such as <aws.scheduler.scheduled-time>
substituted) or, without Input, EventBridge's "Scheduled Event" with `time` = the scheduled time.

Failures are modelled as AWS has them. The scheduler invokes the function asynchronously: its RetryPolicy and
DeadLetterConfig cover only a delivery that fails (Lambda refusing the invoke), which cannot happen here. An
error the function raises is Lambda's to handle: retried `EventInvokeConfig.MaximumRetryAttempts` times (default
2), then the invocation record (event + error) goes to `EventInvokeConfig.DestinationConfig.OnFailure`, or the
event alone to the function's `DeadLetterQueue`, or nowhere.
"""

from __future__ import annotations

import json
import logging
import threading
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from local.cron import Schedule
from local.functions import FunctionError, LocalFunction

log = logging.getLogger("local.schedules")

LAMBDA_ASYNC_DEFAULT_RETRIES = 2


@dataclass(frozen=True)
class AsyncInvokeConfig:
    """What Lambda does with an asynchronous invocation that raised (the function's EventInvokeConfig)."""

    max_retries: int = LAMBDA_ASYNC_DEFAULT_RETRIES  # 0-2
    on_failure: str | None = None  # destination ARN: gets the invocation record
    dead_letter: str | None = None  # DeadLetterQueue TargetArn: gets the event alone (when no destination)

    @classmethod
    def from_function(cls, properties: dict[str, Any]) -> AsyncInvokeConfig:
        """From a function's (resolved) Properties."""
        invoke = properties.get("EventInvokeConfig") or {}
        destination = ((invoke.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        retries = int(invoke.get("MaximumRetryAttempts", LAMBDA_ASYNC_DEFAULT_RETRIES))
        dead_letter = (properties.get("DeadLetterQueue") or {}).get("TargetArn")
        return cls(max(0, min(retries, 2)), destination, dead_letter)


def invocation_record(function: LocalFunction, event: Any, attempts: int, error: FunctionError) -> dict[str, Any]:
    """What Lambda sends an OnFailure destination for an asynchronous invocation that kept failing."""
    cause = error.error
    return {
        "version": "1.0",
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "requestContext": {"requestId": str(uuid.uuid4()), "functionArn": f"{function.arn}:$LATEST",
                           "condition": "RetriesExhausted", "approximateInvokeCount": attempts},
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorMessage": str(cause), "errorType": type(cause).__name__,
                            "stackTrace": traceback.format_tb(cause.__traceback__)},
    }


@dataclass
class ScheduledTarget:
    name: str  # "<FunctionLogicalId>.<EventName>"
    function: LocalFunction
    schedule: Schedule
    input: str | None
    enabled: bool
    kind: str  # ScheduleV2 | Schedule
    async_config: AsyncInvokeConfig = field(default_factory=AsyncInvokeConfig)
    # The schedule's own DLQ: only for failed deliveries (never locally), kept so status shows the wiring.
    delivery_dead_letter_arn: str | None = None
    send_to_queue: Callable[[str, str], None] | None = None  # (queue arn, message body)
    runs: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_event(cls, function: LocalFunction, event_name: str, kind: str, props: dict[str, Any],
                   async_config: AsyncInvokeConfig | None = None) -> ScheduledTarget:
        if kind == "ScheduleV2":
            expression = props["ScheduleExpression"]
            timezone = props.get("ScheduleExpressionTimezone", "UTC")
            enabled = props.get("State", "ENABLED") != "DISABLED"
        else:
            expression, timezone = props["Schedule"], "UTC"
            enabled = bool(props.get("Enabled", True)) and props.get("State", "ENABLED") != "DISABLED"
        raw_input = props.get("Input")
        if raw_input is not None and not isinstance(raw_input, str):
            raw_input = json.dumps(raw_input)
        delivery_dead_letter = (props.get("DeadLetterConfig") or {}).get("Arn")
        return cls(f"{function.logical_id}.{event_name}", function, Schedule.parse(expression, timezone),
                   raw_input, enabled, kind, async_config or AsyncInvokeConfig(), delivery_dead_letter)

    @property
    def arn(self) -> str:
        return f"arn:aws:scheduler:us-east-1:123456789012:schedule/default/{self.name}"

    def event(self, scheduled_time: datetime, attempt: int = 1) -> Any:
        when = scheduled_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if self.input is not None:
            text = (self.input.replace("<aws.scheduler.scheduled-time>", when)
                    .replace("<aws.scheduler.execution-id>", str(uuid.uuid4()))
                    .replace("<aws.scheduler.attempt-number>", str(attempt))
                    .replace("<aws.scheduler.schedule-arn>", self.arn))
            return json.loads(text)
        return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event",
                "source": "aws.scheduler" if self.kind == "ScheduleV2" else "aws.events",
                "account": "123456789012", "time": when, "region": "us-east-1",
                "resources": [self.arn], "detail": {}}

    def fire(self, scheduled_time: datetime, *, retry_delay: float = 0.5,
             stop: threading.Event | None = None) -> dict[str, Any]:
        """One scheduled run: delivered once, retried by "Lambda" on errors, then sent to the failure destination."""
        outcome: dict[str, Any] = {"schedule": self.name, "scheduled_time": scheduled_time.isoformat(),
                                   "attempts": 0, "ok": False}
        event = self.event(scheduled_time)  # Lambda retries the same payload the scheduler delivered
        failure: FunctionError | None = None
        for attempt in range(1, self.async_config.max_retries + 2):
            outcome["attempts"] = attempt
            try:
                outcome["result"] = self.function.invoke(event)
                outcome["ok"] = True
                break
            except FunctionError as error:
                failure = error
                outcome["error"] = str(error)
                if stop is not None and stop.wait(retry_delay * attempt):
                    break
        if failure is not None and not outcome["ok"]:
            self._record_failure(event, outcome, failure)
        self.runs.append(outcome)
        return outcome

    def _record_failure(self, event: Any, outcome: dict[str, Any], failure: FunctionError) -> None:
        config = self.async_config
        if self.send_to_queue is None:
            return
        if config.on_failure:
            record = invocation_record(self.function, event, outcome["attempts"], failure)
            self.send_to_queue(config.on_failure, json.dumps(record))
            outcome["failure_destination"] = config.on_failure
        elif config.dead_letter:
            self.send_to_queue(config.dead_letter, json.dumps(event))
            outcome["failure_destination"] = config.dead_letter
        else:
            log.warning("%s: failed asynchronous invocation dropped (no OnFailure destination or DLQ)", self.name)


class Scheduler:
    """One thread sleeping until the next fire time of any enabled schedule."""

    def __init__(self, targets: list[ScheduledTarget], *, retry_delay: float = 0.5,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC), max_wait: float = 60.0) -> None:
        self.targets = targets
        self._retry_delay = retry_delay
        self._clock = clock
        self._max_wait = max_wait  # waits are capped so a clock change is noticed
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._fire_lock = threading.Lock()  # the timer and `fire_now` never overlap runs

    def next_runs(self, now: datetime | None = None) -> dict[str, datetime | None]:
        moment = now or datetime.now(UTC)
        return {t.name: t.schedule.next_after(moment) for t in self.targets if t.enabled}

    def start(self) -> None:
        if not any(t.enabled for t in self.targets):
            return
        self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def find(self, name: str | None) -> list[ScheduledTarget]:
        """Targets by full name, function logical id, or all when name is None."""
        if name is None:
            return list(self.targets)
        return [t for t in self.targets if name in (t.name, t.function.logical_id, t.name.split(".", 1)[1])]

    def fire_now(self, name: str | None, scheduled_time: datetime | None = None) -> list[dict[str, Any]]:
        targets = self.find(name)
        if not targets:
            raise KeyError(f"no schedule named {name!r}; known: {[t.name for t in self.targets]}")
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        with self._fire_lock:
            # Without a time, each target fires for its latest slot (what a delivery now would name).
            return [t.fire(scheduled_time or latest_slot(t, now), retry_delay=self._retry_delay, stop=self._stop)
                    for t in targets]

    def _run(self) -> None:
        last = self._clock()
        while not self._stop.is_set():
            upcoming = [(when, t) for t in self.targets if t.enabled
                        and (when := t.schedule.next_after(last)) is not None]
            if not upcoming:
                return
            when = min(w for w, _ in upcoming)
            delay = (when - self._clock()).total_seconds()
            if delay > 0 and self._stop.wait(min(delay, self._max_wait)):
                return
            if self._clock() < when:
                continue  # woke early
            for due, target in upcoming:
                if due == when:
                    with self._fire_lock:
                        log.info("schedule %s fires for %s", target.name, when.isoformat())
                        target.fire(when, retry_delay=self._retry_delay, stop=self._stop)
            last = when


def latest_slot(target: ScheduledTarget, now: datetime, lookback: timedelta = timedelta(days=8)) -> datetime:
    """The target's most recent scheduled time at or before `now` (`now` itself if none in the lookback)."""
    latest: datetime | None = None
    moment = target.schedule.next_after(now - lookback - timedelta(minutes=1))
    while moment is not None and moment <= now:
        latest = moment
        moment = target.schedule.next_after(moment)
    return latest or now
