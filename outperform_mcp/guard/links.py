"""Approval secrets: the page link's secret and host mode's commit code, derived from a key kept
beside the store, so the same pending approval always gets the same link (a re-call must not kill
the link the human already opened), across restarts too, while the database holds no secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

log = logging.getLogger(__name__)

KEY_FILE = "approval-links.key"
_KEY_BYTES = 32


def load_key(directory: Path | None) -> bytes:
    """The link key in ``directory`` (created 0600 on first use); a per-process key without one."""
    if directory is None:
        return secrets.token_bytes(_KEY_BYTES)
    path = directory / KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_bytes()
        if len(key) >= _KEY_BYTES:
            return key
        log.warning("%s is damaged: approval links will change at the next restart", path)
        return secrets.token_bytes(_KEY_BYTES)
    key = secrets.token_bytes(_KEY_BYTES)
    try:
        os.write(fd, key)
        os.fsync(fd)
    finally:
        os.close(fd)
    return key


def link_secret(key: bytes, approval_id: str, purpose: str = "approval-link") -> str:
    """The secret for ``purpose`` (the page link, or a host-mode commit code) of one approval."""
    digest = hmac.new(key, f"{purpose}:{approval_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode().rstrip("=")
