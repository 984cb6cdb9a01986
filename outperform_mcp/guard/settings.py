"""Settings of the sending guard (env prefix ``OUTPERFORM_``, ``.env`` supported)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ..api.settings import CsvList

ApprovalMode = Literal["auto", "host", "none"]


class GuardSettings(BaseSettings):
    """How a send is approved and what policy every send must pass."""

    model_config = SettingsConfigDict(env_prefix="OUTPERFORM_", env_file=".env", extra="ignore")

    approval_mode: ApprovalMode = Field(
        "auto",
        description="auto: ask the human (elicitation, else the approval page); host: prepare + commit_send; "
        "none: no approval (trusted automations only)",
    )
    approval_ttl: int = Field(600, ge=1, le=86_400, description="Seconds an approval stays valid")
    elicitation_timeout: float = Field(
        300.0, gt=0, le=3600, description="Seconds to wait for the human's answer to an approval question"
    )
    sending_enabled: bool = Field(True, description="Kill switch: false refuses every send")
    max_sends_per_hour: int = Field(100, ge=0, description="Messages per rolling hour (0 = no limit)")
    max_sends_per_day: int = Field(1000, ge=0, description="Messages per rolling 24 hours (0 = no limit)")
    opt_out_labels: CsvList = Field(
        default_factory=lambda: ["opt-out"], description="Contact labels that block every send"
    )
    opt_out_phrases: CsvList = Field(
        default_factory=list,
        description="Extra phrases that mean 'stop messaging me', added to the built-in English and Malay ones",
    )
    template_allowlist: CsvList = Field(default_factory=list, description="Templates that may be sent (empty: any)")
    templates_file: Path | None = Field(
        None, description="JSON list of templates (name, body with {{1}}…, parameters) used to render previews"
    )
    repeat_window: int = Field(
        86_400, ge=0, description="Seconds during which the same message to the same contact counts as a repeat"
    )
    max_batch: int = Field(50, ge=1, le=200, description="Most recipients of one template send")
    approval_page_browser_only: bool = Field(
        True, description="Approval page: accept decisions only from a browser form post (Sec-Fetch/Origin checks)"
    )

    @field_validator("opt_out_labels")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return [label.lower() for label in value]

    @field_validator("templates_file")
    @classmethod
    def _exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"no such file: {value}")
        return value

    @model_validator(mode="after")
    def _timeout_within_ttl(self) -> GuardSettings:
        if self.elicitation_timeout > self.approval_ttl:
            # An answer that arrives after the approval expired could never be used.
            self.elicitation_timeout = float(self.approval_ttl)
        return self
