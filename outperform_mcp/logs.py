"""Logging to stderr with secrets kept out at every level, DEBUG included.

Libraries below us log at DEBUG what passes through them: ``sse_starlette`` writes every chunk
it streams, i.e. whole tool results, approval links included. Such loggers are held at INFO, and
every line that still names an approval link, a webhook URL or a bearer token is redacted.
"""

from __future__ import annotations

import logging
import re
from typing import TextIO

# Loggers that write message bodies at DEBUG.
QUIET = ("sse_starlette", "httpcore", "hpack")
_SECRETS = re.compile(
    r"(?P<keep>/approvals/[A-Za-z0-9_-]+/|/webhooks/outperform/|[Bb]earer\s+)(?P<secret>[A-Za-z0-9._~+/=-]+)"
)
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def redact(text: str) -> str:
    return _SECRETS.sub(lambda m: f"{m.group('keep')}***", text)


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if record.exc_info and record.exc_text is None and record.exc_info[0] is not None:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def configure(level: str, stream: TextIO) -> logging.Handler:
    """Root logging to ``stream`` at ``level``; returns the handler (tests remove it again)."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(RedactSecrets())
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
    for name in QUIET:
        logging.getLogger(name).setLevel(max(logging.INFO, logging.getLevelName(level)))
    return handler
