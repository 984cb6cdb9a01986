"""Settings for talking to the OutPerform API (env prefix ``OUTPERFORM_``, ``.env`` supported)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic import BeforeValidator, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


# A list setting written as "a, b, c" in the environment (not JSON, which people get wrong).
CsvList = Annotated[list[str], NoDecode, BeforeValidator(_split_csv)]

DEFAULT_BASE_URL = "https://www.nexcrmapis.com/cloud/conversationapis/v1/"


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "outperform-mcp"


class ApiSettings(BaseSettings):
    """Everything the HTTP core needs; nothing about MCP."""

    model_config = SettingsConfigDict(env_prefix="OUTPERFORM_", env_file=".env", extra="ignore")

    base_url: str = Field(DEFAULT_BASE_URL, description="API base URL, ending in /v1/")
    client_id: str | None = Field(None, description="OAuth client id")
    client_secret: SecretStr | None = Field(None, description="OAuth client secret")
    instance_id: str | None = Field(None, description="Default WhatsApp sending instance id")
    data_dir: Path = Field(default_factory=default_data_dir, description="Where the server keeps its state")
    connect_timeout: float = Field(5.0, gt=0, description="Seconds to open a connection")
    read_timeout: float = Field(30.0, gt=0, description="Seconds to wait for an answer")
    max_connections: int = Field(100, ge=1, description="Connection pool size")
    retry_attempts: int = Field(4, ge=1, le=10, description="Attempts for a read (GET), first included")
    retry_max_seconds: float = Field(20.0, gt=0, description="Total time budget for retrying one read")
    refresh_margin: float = Field(300.0, ge=0, description="Refresh the access token this many seconds early")
    persist_refresh_token: bool = Field(True, description="Keep the refresh token in data_dir (0600)")
    path_chatbot_conversations: str = "chatbot_conversations"
    path_send_message: str = "send_message"
    path_send_template: str = "send_template"

    @field_validator("base_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value if value.endswith("/") else value + "/"

    def missing(self) -> list[str]:
        """Names of required settings that are not set, as environment variables."""
        out = []
        if not self.client_id:
            out.append("OUTPERFORM_CLIENT_ID")
        if self.client_secret is None or not self.client_secret.get_secret_value():
            out.append("OUTPERFORM_CLIENT_SECRET")
        return out
