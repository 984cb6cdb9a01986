"""Fault injection: added latency, random 500s and one-shot rules per operation."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Literal

from .operations import OPERATIONS

FaultKind = Literal["429", "500", "503", "malformed", "drop", "drop_after_write"]
FAULT_KINDS: tuple[FaultKind, ...] = ("429", "500", "503", "malformed", "drop", "drop_after_write")


@dataclass(slots=True)
class FaultRule:
    operation: str
    kind: FaultKind
    remaining: int = 1
    # Seconds; fractions are allowed so client retry tests stay fast.
    retry_after: float = 1.0

    def retry_after_header(self) -> str:
        return str(int(self.retry_after)) if self.retry_after.is_integer() else f"{self.retry_after:g}"

    def to_wire(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "kind": self.kind,
            "count": self.remaining,
            "retry_after": self.retry_after,
        }

    @classmethod
    def parse(cls, raw: object) -> FaultRule:
        if not isinstance(raw, dict):
            raise ValueError("each rule must be an object")
        operation = str(raw.get("operation", "*"))
        if operation != "*" and operation not in OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}; expected '*' or one of {', '.join(OPERATIONS)}")
        kind = str(raw.get("kind", ""))
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {', '.join(FAULT_KINDS)}")
        count = _int(raw.get("count", 1), "count", minimum=1)
        retry_after = _seconds(raw.get("retry_after", 1))
        return cls(operation, kind, count, retry_after)


class FaultPlan:
    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self.latency_ms = 0
        self.error_rate = 0.0
        self.rules: list[FaultRule] = []

    def clear(self) -> None:
        self.latency_ms = 0
        self.error_rate = 0.0
        self.rules = []

    def configure(self, payload: dict[str, Any]) -> None:
        """Apply the keys present; "rules" replaces the rule list. Validates before applying."""
        latency = _int(payload["latency_ms"], "latency_ms", minimum=0) if "latency_ms" in payload else None
        rate = None
        if "error_rate" in payload:
            try:
                rate = float(payload["error_rate"])
            except (TypeError, ValueError):
                raise ValueError("error_rate must be a number between 0 and 1") from None
            if not 0.0 <= rate <= 1.0:
                raise ValueError("error_rate must be a number between 0 and 1")
        rules = None
        if "rules" in payload:
            if not isinstance(payload["rules"], list):
                raise ValueError("rules must be a list")
            rules = [FaultRule.parse(raw) for raw in payload["rules"]]
        if latency is not None:
            self.latency_ms = latency
        if rate is not None:
            self.error_rate = rate
        if rules is not None:
            self.rules = rules

    def pick(self, operation: str) -> FaultRule | None:
        """The fault for this request, consuming one use of the first matching rule."""
        for index, rule in enumerate(self.rules):
            if rule.operation in ("*", operation):
                rule.remaining -= 1
                if rule.remaining <= 0:
                    del self.rules[index]
                return rule
        if self.error_rate and self._rng.random() < self.error_rate:
            return FaultRule(operation, "500")
        return None

    def to_wire(self) -> dict[str, Any]:
        return {
            "latency_ms": self.latency_ms,
            "error_rate": self.error_rate,
            "rules": [rule.to_wire() for rule in self.rules],
        }


def _seconds(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("retry_after must be a number of seconds")
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError("retry_after must be a number of seconds") from None
    if not 0 <= seconds <= 3600:
        raise ValueError("retry_after must be between 0 and 3600 seconds")
    return seconds


def _int(value: object, name: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{name} must be an integer")
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"{name} must be an integer") from None
    if number < minimum:
        raise ValueError(f"{name} must be >= {minimum}")
    return number
