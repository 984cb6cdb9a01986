"""Request parameters: query string or JSON body (even on GET), the query string winning.

The vendor's own clients send list filters as a JSON body on a GET with numbers as
strings, while its docs show query strings, so every operation accepts both.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_LIMIT = 100  # ASSUMPTION: the vendor's page gives no cap on `limit`
DEFAULT_LIMIT = 20


class ApiError(Exception):
    """An error the API answers as `{"error": message}` with `status`."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


class Params:
    def __init__(self, query: dict[str, Any], body: dict[str, Any]) -> None:
        self._values = {**body, **query}

    @classmethod
    async def from_request(cls, request: Request) -> Params:
        query: dict[str, Any] = {}
        for key in request.query_params:
            values = request.query_params.getlist(key)
            query[key] = values[0] if len(values) == 1 else values
        return cls(query, await _read_body(request))

    def raw(self, key: str) -> Any:
        return self._values.get(key)

    def has(self, key: str) -> bool:
        return key in self._values

    def text(self, key: str) -> str | None:
        """A scalar as a string; blank strings count as absent."""
        value = self._values.get(key)
        if value is None:
            return None
        if isinstance(value, bool):
            return "1" if value else "0"
        if isinstance(value, int | float | str):
            result = str(value).strip()
            return result or None
        raise ApiError(400, f"{key} must be a string")

    def required(self, key: str) -> str:
        value = self.text(key)
        if value is None:
            raise ApiError(400, f"missing required parameter: {key}")
        return value

    def positive_int(self, key: str, default: int) -> int:
        value = self._values.get(key)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            raise ApiError(400, f"invalid {key}: must be a positive integer")
        if isinstance(value, int):
            number = value
        elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
            number = int(value.strip())
        else:
            raise ApiError(400, f"invalid {key}: must be a positive integer, got {value!r}")
        if number < 1:
            raise ApiError(400, f"invalid {key}: must be a positive integer, got {number}")
        return number

    def paging(self) -> tuple[int, int]:
        """(limit, page); an oversize limit is clamped rather than refused, like the vendor."""
        return min(self.positive_int("limit", DEFAULT_LIMIT), MAX_LIMIT), self.positive_int("page", 1)

    def date_range(self) -> tuple[datetime | None, datetime | None]:
        """Inclusive whole-day bounds as [start, end) datetimes in UTC."""
        start = self._date("start_date")
        end = self._date("end_date")
        if start and end and start > end:
            raise ApiError(400, "invalid date range: start_date is after end_date")
        return (
            datetime.combine(start, time.min, UTC) if start else None,
            datetime.combine(end, time.min, UTC) + timedelta(days=1) if end else None,
        )

    def _date(self, key: str) -> date | None:
        value = self.text(key)
        if value is None:
            return None
        if not _DATE.match(value):
            raise ApiError(400, f"invalid {key}: expected YYYY-MM-DD, got {value!r}")
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ApiError(400, f"invalid {key}: {value!r} is not a calendar date") from None

    def flag(self, key: str) -> bool | None:
        value = self._values.get(key)
        if value is None or value == "":
            return None
        text = str(value).strip().lower()
        if text in ("1", "true"):
            return True
        if text in ("0", "false"):
            return False
        raise ApiError(400, f"invalid {key}: expected 1, 0, true or false")

    def string_list(self, key: str) -> list[str]:
        """A list given as JSON array, repeated query key, or comma-separated string."""
        value = self._values.get(key)
        if value is None:
            return []
        items = value if isinstance(value, list) else str(value).split(",")
        if not all(isinstance(item, str) for item in items):
            raise ApiError(400, f"{key} must be a list of strings")
        return [item.strip() for item in items if item.strip()]


async def _read_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    try:
        parsed = json.loads(raw)
    except ValueError:
        raise ApiError(400, "request body is not valid JSON") from None
    if not isinstance(parsed, dict):
        raise ApiError(400, "request body must be a JSON object")
    return parsed
