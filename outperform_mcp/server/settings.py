"""Settings of the MCP server itself (transport, access), beside the API's own."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ..api.settings import CsvList


class ServerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OUTPERFORM_", env_file=".env", extra="ignore")

    mcp_token: SecretStr | None = Field(
        None, description="Bearer token HTTP clients must present; without it, HTTP serves loopback only"
    )
    allowed_hosts: CsvList = Field(
        default_factory=list,
        description="Extra Host values accepted over HTTP (DNS-rebinding protection stays on)",
    )
    allowed_origins: CsvList = Field(default_factory=list, description="Extra Origin values accepted over HTTP")
    toolsets: CsvList = Field(default_factory=list, description="Toolsets to enable (default: all)")
    read_only: bool = Field(False, description="Hide every tool that changes anything")
    listen_host: str = Field("127.0.0.1", description="stdio mode: host of the side listener (approval page, webhook)")
    listen_port: int = Field(0, ge=0, le=65535, description="stdio mode: its port (0 picks a free one)")
    prompts_dir: Path | None = Field(None, description="Folder of prompt files (default: the bundled prompts)")
    public_url: str | None = Field(
        None, description="Base URL people reach this server at, for approval links (default: the listener)"
    )

    @field_validator("prompts_dir")
    @classmethod
    def _is_folder(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_dir():
            raise ValueError(f"no such folder: {value} (unset it to use the bundled prompts)")
        return value

    @field_validator("mcp_token", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # `OUTPERFORM_MCP_TOKEN=` must not mean "the empty string is the token".
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("mcp_token")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError(
                "use at least 16 characters, e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return value
