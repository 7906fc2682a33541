"""Injected faults: a queue of "the next N calls (of one method) fail like this", consumed by the gateway."""

from __future__ import annotations

from dataclasses import dataclass, replace

from simulators.aliexpress.protocol import ControlError


@dataclass
class Fault:
    remaining: int
    method: str | None = None
    error_code: str | None = None
    message: str | None = None
    http_status: int | None = None
    stall: float | None = None
    when: str = "before"  # before: fail instead of processing; after: process, then fail the response
    envelope: str | None = None

    @property
    def fails(self) -> bool:
        """Whether the call ends in an error (a stall alone only delays it)."""
        return bool(self.error_code or self.http_status)


class FaultQueue:
    """Pending faults, oldest first. Not locked: SimState holds its lock around every call."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        if fault.when not in ("before", "after"):
            raise ControlError("when must be before or after")
        if fault.error_code is None and fault.http_status is None and fault.stall is None:
            raise ControlError("give error_code, http_status or stall")
        self._faults.append(fault)

    def clear(self) -> None:
        self._faults.clear()

    def take(self, method: str) -> Fault | None:
        """Use up one call of the oldest fault that applies to `method`; a copy of it, or None."""
        for fault in self._faults:
            if fault.remaining > 0 and (fault.method is None or fault.method == method):
                fault.remaining -= 1
                taken = replace(fault)
                self._faults = [f for f in self._faults if f.remaining > 0]
                return taken
        return None
