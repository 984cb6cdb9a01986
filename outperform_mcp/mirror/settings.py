"""Settings of the local mirror's sync (env prefix ``OUTPERFORM_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class MirrorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OUTPERFORM_", env_file=".env", extra="ignore")

    sync_interval: float = Field(900.0, ge=0, description="Seconds between background refreshes (0 = only on demand)")
    sync_page_size: int = Field(100, ge=1, le=1000, description="Records per API page while syncing")
    sync_concurrency: int = Field(4, ge=1, le=32, description="API pages fetched at once while syncing")
    sync_rate: float = Field(10.0, ge=0, description="Most API requests per second while syncing (0 = no limit)")
    sync_overlap: float = Field(
        7200.0, ge=0, description="Seconds a refresh re-reads before the last one started (late or shifted records)"
    )
    refresh_max_seconds: float = Field(20.0, gt=0, description="Longest a tool waits for an on-demand refresh")
