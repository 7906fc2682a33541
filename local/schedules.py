"""`ScheduleV2` (EventBridge Scheduler) and `Schedule` (EventBridge rule) events, fired at their times.

`fire(..., scheduled_time=…)` plays one run now as if it were that time (e.g. the 12:00 UTC sync at any moment).
Event shape: the template's `Input` (Scheduler context attributes such as <aws.scheduler.scheduled-time>
substituted) or, without Input, EventBridge's "Scheduled Event" with `time` = the scheduled time.
Failed runs are retried like an asynchronous invocation (RetryPolicy.MaximumRetryAttempts, default 2).
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from local.cron import Schedule
from local.functions import FunctionError, LocalFunction

log = logging.getLogger("local.schedules")


@dataclass
class ScheduledTarget:
    name: str  # "<FunctionLogicalId>.<EventName>"
    function: LocalFunction
    schedule: Schedule
    input: str | None
    max_retries: int
    enabled: bool
    kind: str  # ScheduleV2 | Schedule
    dead_letter_arn: str | None = None
    dead_letter: Callable[[str, str], None] | None = None  # (queue arn, message body) once retries are spent
    runs: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_event(cls, function: LocalFunction, event_name: str, kind: str, props: dict[str, Any]
                   ) -> ScheduledTarget:
        if kind == "ScheduleV2":
            expression = props["ScheduleExpression"]
            timezone = props.get("ScheduleExpressionTimezone", "UTC")
            retries = int((props.get("RetryPolicy") or {}).get("MaximumRetryAttempts", 2))
            enabled = props.get("State", "ENABLED") != "DISABLED"
        else:
            expression, timezone, retries = props["Schedule"], "UTC", 2
            enabled = bool(props.get("Enabled", True)) and props.get("State", "ENABLED") != "DISABLED"
        raw_input = props.get("Input")
        if raw_input is not None and not isinstance(raw_input, str):
            raw_input = json.dumps(raw_input)
        dead_letter_arn = (props.get("DeadLetterConfig") or {}).get("Arn")
        return cls(f"{function.logical_id}.{event_name}", function, Schedule.parse(expression, timezone),
                   raw_input, min(retries, 5), enabled, kind, dead_letter_arn)

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
        """One scheduled run (with the async-invoke retries); returns what happened."""
        outcome: dict[str, Any] = {"schedule": self.name, "scheduled_time": scheduled_time.isoformat(),
                                   "attempts": 0, "ok": False}
        for attempt in range(1, self.max_retries + 2):
            outcome["attempts"] = attempt
            try:
                outcome["result"] = self.function.invoke(self.event(scheduled_time, attempt))
                outcome["ok"] = True
                break
            except FunctionError as error:
                outcome["error"] = str(error)
                if stop is not None and stop.wait(retry_delay * attempt):
                    break
        if not outcome["ok"] and self.dead_letter_arn and self.dead_letter is not None:
            # EventBridge Scheduler puts the undeliverable event on the schedule's DLQ.
            self.dead_letter(self.dead_letter_arn, json.dumps(self.event(scheduled_time, outcome["attempts"])))
            outcome["dead_lettered"] = True
        self.runs.append(outcome)
        return outcome


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
        when = scheduled_time or datetime.now(UTC).replace(second=0, microsecond=0)
        with self._fire_lock:
            return [t.fire(when, retry_delay=self._retry_delay, stop=self._stop) for t in targets]

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
