"""Settings of the inbound side: the webhook receiver and the local inbox (env prefix ``OUTPERFORM_``)."""

from __future__ import annotations

import re

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The secret travels as a URL path segment (OutPerform's dashboard holds only a URL), so it must
# need no escaping; 16+ characters keeps guessing out of reach.
_SECRET = re.compile(r"^[A-Za-z0-9._~-]{16,256}$")


class InboxSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OUTPERFORM_", env_file=".env", extra="ignore")

    webhook_secret: SecretStr | None = Field(
        None,
        description="Secret that authenticates OutPerform's webhook calls; without it the receiver is off",
    )
    webhook_max_bytes: int = Field(64 * 1024, ge=1024, le=10 * 1024 * 1024, description="Largest webhook body")
    webhook_ack_timeout: float = Field(
        8.0, gt=0, le=9.5, description="Seconds to store an event before answering 503 (OutPerform waits 10)"
    )
    inbox_retention_days: int = Field(30, ge=0, description="Days to keep inbound messages (0 keeps them forever)")
    inbox_commit_batch_max: int = Field(
        256, ge=1, le=10_000, description="Most events committed in one transaction (1 = one commit per event)"
    )
    inbox_commit_window_ms: float = Field(
        0.0, ge=0, le=50, description="Extra wait to gather events into one commit (0 = only what is queued)"
    )

    @field_validator("webhook_secret")
    @classmethod
    def _usable_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if not _SECRET.match(value.get_secret_value()):
            # Never echo the value: the message ends up in logs.
            raise ValueError(
                "must be 16-256 characters from A-Z a-z 0-9 . _ ~ - (it is used in the webhook URL); "
                'generate one with: python -c "import secrets; print(secrets.token_urlsafe(32))"'
            )
        return value

    @property
    def receiver_enabled(self) -> bool:
        return self.webhook_secret is not None
