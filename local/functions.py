"""The template's functions run in-process: handler imported from its `Handler` string, a Lambda context.

Each invocation holds one "instance" (an imported copy of the handler module) for its duration, like a Lambda
execution environment serving one request at a time: Powertools resolvers and batch processors keep per-request
state on module globals, so two threads must never share one module copy. The first instance is the normal
import; more (for SQS MaximumConcurrency) are fresh copies of the handler module.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from local.output import inside_function
from local.template import FunctionSpec

log = logging.getLogger("local.functions")

Handler = Callable[[Any, Any], Any]


class FunctionError(Exception):
    """The handler raised (Lambda's "Unhandled" function error)."""

    def __init__(self, function: str, error: BaseException) -> None:
        super().__init__(f"{function}: {type(error).__name__}: {error}")
        self.error = error
        self.trace = "".join(traceback.format_exception(error))


@dataclass
class LambdaContext:
    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    timeout_seconds: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class InvocationStats:
    invocations: int = 0
    errors: int = 0
    timeouts: int = 0  # ran longer than the template's Timeout (reported, not enforced)
    total_seconds: float = 0.0


def _split_handler(handler: str) -> tuple[str, str]:
    module, _, attr = handler.rpartition(".")
    if not module or not attr:
        raise ValueError(f"Handler {handler!r} is not module.function")
    return module, attr


def _fresh_copy(module_name: str) -> ModuleType:
    spec = importlib.util.find_spec(module_name)
    if spec is None or spec.loader is None:
        raise ImportError(module_name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class LocalFunction:
    def __init__(self, spec: FunctionSpec, function_name: str, arn: str) -> None:
        self.spec = spec
        self.name = function_name
        self.arn = arn
        self.stats = InvocationStats()
        self._module_name, self._attr = _split_handler(spec.handler)
        self._idle: list[Handler] = []
        self._created = 0
        self._cond = threading.Condition()
        self._stats_lock = threading.Lock()

    @property
    def logical_id(self) -> str:
        return self.spec.logical_id

    def load(self) -> None:
        """Import now, so a broken handler fails the stack's start rather than the first event."""
        with self._cond:
            if self._created == 0:
                self._idle.append(self._new_instance())

    def _new_instance(self) -> Handler:
        module = importlib.import_module(self._module_name) if self._created == 0 else _fresh_copy(self._module_name)
        self._created += 1
        handler = getattr(module, self._attr)
        if not callable(handler):
            raise TypeError(f"{self.spec.handler} is not callable")
        return handler  # type: ignore[no-any-return]

    def _acquire(self, max_instances: int) -> Handler:
        with self._cond:
            while True:
                if self._idle:
                    return self._idle.pop()
                if self._created < max_instances:
                    return self._new_instance()
                self._cond.wait()

    def _release(self, handler: Handler) -> None:
        with self._cond:
            self._idle.append(handler)
            self._cond.notify()

    def invoke(self, event: Any, *, max_instances: int = 1) -> Any:
        """Run the handler; raises FunctionError when it raises (the caller applies retry semantics)."""
        handler = self._acquire(max_instances)
        context = LambdaContext(function_name=self.name, memory_limit_in_mb=self.spec.memory,
                                invoked_function_arn=self.arn, timeout_seconds=self.spec.timeout)
        started = time.monotonic()
        error: BaseException | None = None
        try:
            with inside_function():
                return handler(event, context)
        except Exception as exc:
            error = exc
            raise FunctionError(self.logical_id, exc) from exc
        finally:
            elapsed = time.monotonic() - started
            self._release(handler)
            with self._stats_lock:
                self.stats.invocations += 1
                self.stats.total_seconds += elapsed
                if error is not None:
                    self.stats.errors += 1
                if elapsed > self.spec.timeout:
                    self.stats.timeouts += 1
            if error is not None:
                log.warning("%s failed: %s: %s", self.logical_id, type(error).__name__, error)
            if elapsed > self.spec.timeout:
                log.warning("%s ran %.1fs, over its %ss Timeout (Lambda would have stopped it)",
                            self.logical_id, elapsed, self.spec.timeout)
