"""Every setting of the server, and the one place the environment and ``.env`` are read.

Sections are plain frozen models (one per part: API, server, guard, inbox) with the same
``OUTPERFORM_*`` names as always; ``load()`` reads the environment once and reports every problem
in one error. Everything else receives its section explicitly: constructing a section in code or
a test never reads the environment, and ``--sandbox`` derives its settings with ``model_copy``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .problems import StartProblem

PREFIX = "OUTPERFORM_"


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


# A list setting written as "a, b, c" in the environment (not JSON, which people get wrong).
CsvList = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_split_csv)]

DEFAULT_BASE_URL = "https://www.nexcrmapis.com/cloud/conversationapis/v1/"
DEFAULT_COUNTRY = "MY"
DEFAULT_DATA_DIR = Path.home() / ".local" / "share" / "outperform-mcp"

_FROZEN = ConfigDict(frozen=True, extra="ignore")


class ApiSettings(BaseModel):
    """Everything the HTTP core needs; nothing about MCP."""

    model_config = _FROZEN

    base_url: str = Field(DEFAULT_BASE_URL, description="API base URL, ending in /v1/")
    client_id: str | None = Field(None, description="OAuth client id")
    client_secret: SecretStr | None = Field(None, description="OAuth client secret")
    instance_id: str | None = Field(None, description="Default WhatsApp sending instance id")
    data_dir: Path = Field(DEFAULT_DATA_DIR, description="Where the server keeps its state")
    connect_timeout: float = Field(5.0, gt=0, description="Seconds to open a connection")
    read_timeout: float = Field(30.0, gt=0, description="Seconds to wait for an answer")
    max_connections: int = Field(100, ge=1, description="Connection pool size")
    retry_attempts: int = Field(4, ge=1, le=10, description="Attempts for a read (GET), first included")
    retry_max_seconds: float = Field(20.0, gt=0, description="Total time budget for retrying one read")
    refresh_margin: float = Field(300.0, ge=0, description="Refresh the access token this many seconds early")
    persist_refresh_token: bool = Field(True, description="Keep the refresh token in data_dir (0600)")
    default_country: str = Field(
        DEFAULT_COUNTRY,
        description="Country of phone numbers written without a country code (ISO 3166 code, e.g. MY, SG)",
    )
    path_chatbot_conversations: str = "chatbot_conversations"
    path_send_message: str = "send_message"
    path_send_template: str = "send_template"

    @field_validator("base_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value if value.endswith("/") else value + "/"

    @field_validator("default_country")
    @classmethod
    def _known_country(cls, value: str) -> str:
        code = value.strip().upper()
        if code == DEFAULT_COUNTRY:  # known good (tests/test_settings.py): start-up need not load phonenumbers
            return code
        import phonenumbers

        if code not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{value!r} is not a country code phone numbers know; use a two-letter code such as MY")
        return code

    def missing(self) -> list[str]:
        """Names of required settings that are not set, as environment variables."""
        out = []
        if not self.client_id:
            out.append("OUTPERFORM_CLIENT_ID")
        if self.client_secret is None or not self.client_secret.get_secret_value():
            out.append("OUTPERFORM_CLIENT_SECRET")
        return out


class ServerSettings(BaseModel):
    """The MCP server itself: transport, access, what it exposes."""

    model_config = _FROZEN

    mcp_token: SecretStr | None = Field(
        None, description="Bearer token HTTP clients must present; without it, HTTP serves loopback only"
    )
    allowed_hosts: CsvList = Field(
        default=(), description="Extra Host values accepted over HTTP (DNS-rebinding protection stays on)"
    )
    allowed_origins: CsvList = Field(default=(), description="Extra Origin values accepted over HTTP")
    sessions_per_client: int = Field(
        20,
        ge=1,
        le=1000,
        description="HTTP, handshake era: open sessions per client (token + address); more evict its oldest",
    )
    session_idle_timeout: float = Field(
        600.0, gt=0, le=86_400, description="HTTP, handshake era: seconds an idle session is kept"
    )
    toolsets: CsvList = Field(default=(), description="Toolsets to enable (default: all but insights, sql; 'all')")
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


ApprovalMode = Literal["auto", "host", "none"]


def _lower_labels(value: object) -> object:
    value = _split_csv(value)
    return [str(label).lower() for label in value] if isinstance(value, list | tuple) else value


class GuardSettings(BaseModel):
    """How a send is approved and what policy every send must pass."""

    model_config = _FROZEN

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
    opt_out_labels: Annotated[tuple[str, ...], NoDecode, BeforeValidator(_lower_labels)] = Field(
        default=("opt-out",), description="Contact labels that block every send"
    )
    opt_out_phrases: CsvList = Field(
        default=(),
        description="Extra phrases that mean 'stop messaging me', added to the built-in English and Malay ones",
    )
    template_allowlist: CsvList = Field(default=(), description="Templates that may be sent (empty: any)")
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

    @field_validator("templates_file")
    @classmethod
    def _exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"no such file: {value}")
        return value

    @property
    def answer_timeout(self) -> float:
        """Seconds to wait for an approval answer: an answer after the approval expired could never be used."""
        return min(self.elicitation_timeout, float(self.approval_ttl))


# The webhook secret travels as a URL path segment (OutPerform's dashboard holds only a URL), so it
# must need no escaping; 16+ characters keeps guessing out of reach.
_WEBHOOK_SECRET = re.compile(r"^[A-Za-z0-9._~-]{16,256}$")


class InboxSettings(BaseModel):
    """The inbound side: the webhook receiver and the local inbox."""

    model_config = _FROZEN

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
        if not _WEBHOOK_SECRET.match(value.get_secret_value()):
            # Never echo the value: the message ends up in logs.
            raise ValueError(
                "must be 16-256 characters from A-Z a-z 0-9 . _ ~ - (it is used in the webhook URL); "
                'generate one with: python -c "import secrets; print(secrets.token_urlsafe(32))"'
            )
        return value

    @property
    def receiver_enabled(self) -> bool:
        return self.webhook_secret is not None


class StoreSettings(BaseModel):
    """Where shared state lives: the embedded SQLite file (default) or a PostgreSQL database."""

    model_config = _FROZEN

    database_url: SecretStr | None = Field(
        None,
        description="postgresql://user:password@host:port/db — keep all state there so several processes "
        "(--workers, machines) share it; unset: SQLite in OUTPERFORM_DATA_DIR, one process",
    )
    lease_seconds: float = Field(
        15.0,
        ge=1,
        le=600,
        description="Shared database: a process that stops renewing its lease this long is "
        "taken as dead (its interrupted sends are settled, its jobs taken over)",
    )
    lock_timeout: float = Field(10.0, gt=0, le=300, description="Shared database: seconds a write waits for its turn")
    request_state_key: SecretStr | None = Field(
        None,
        description="Key sealing 2026-07-28 retry state, the same on every replica (default: one kept in the "
        "shared database; per process with SQLite)",
    )

    @field_validator("database_url", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("database_url")
    @classmethod
    def _postgres_only(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(("postgresql://", "postgres://")):
            raise ValueError(
                "must be a PostgreSQL URL, postgresql://user:password@host:5432/dbname "
                "(unset it to keep state in the embedded SQLite file)"
            )
        return value

    @field_validator("request_state_key")
    @classmethod
    def _strong_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError(
                "use at least 32 characters, e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return value

    @property
    def url(self) -> str | None:
        return self.database_url.get_secret_value() if self.database_url else None


class MirrorSettings(BaseModel):
    """The local mirror's sync (insights and sql toolsets)."""

    model_config = _FROZEN

    sync_interval: float = Field(900.0, ge=0, description="Seconds between background refreshes (0 = only on demand)")
    sync_page_size: int = Field(100, ge=1, le=1000, description="Records per API page while syncing")
    sync_concurrency: int = Field(4, ge=1, le=32, description="API pages fetched at once while syncing")
    sync_rate: float = Field(10.0, ge=0, description="Most API requests per second while syncing (0 = no limit)")
    sync_overlap: float = Field(
        7200.0, ge=0, description="Seconds a refresh re-reads before the last one started (late or shifted records)"
    )
    refresh_max_seconds: float = Field(20.0, gt=0, description="Longest a tool waits for an on-demand refresh")


class Settings(BaseModel):
    """The whole configuration of one run."""

    model_config = ConfigDict(frozen=True)

    api: ApiSettings = Field(default_factory=ApiSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    guard: GuardSettings = Field(default_factory=GuardSettings)
    inbox: InboxSettings = Field(default_factory=InboxSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    mirror: MirrorSettings = Field(default_factory=MirrorSettings)


SECTIONS: dict[str, type[BaseModel]] = {
    "api": ApiSettings,
    "server": ServerSettings,
    "guard": GuardSettings,
    "inbox": InboxSettings,
    "store": StoreSettings,
    "mirror": MirrorSettings,
}

M = TypeVar("M", bound=BaseModel)


class SettingsProblem(StartProblem):
    """Settings are missing or invalid; the message lists every problem and how to fix it."""


def _reader(section: type[M]) -> type[BaseSettings]:
    """A settings class reading ``section``'s fields from ``OUTPERFORM_*`` variables and ``.env``."""
    config = SettingsConfigDict(env_prefix=PREFIX, env_file=".env", extra="ignore", frozen=False)
    return type(f"{section.__name__}FromEnv", (BaseSettings, section), {"model_config": config})


def _read(section: type[M], problems: list[str]) -> M:
    reader = _reader(section)
    try:
        env = reader()
    except ValidationError as exc:
        bad = {str(err["loc"][0]) for err in exc.errors() if err["loc"]}
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "?"
            problems.append(f"{PREFIX}{field.upper()}: {err['msg']}")
        # Defaults in place of the invalid values, so missing ones are reported in the same message.
        defaults = {n: f.get_default(call_default_factory=True) for n, f in section.model_fields.items() if n in bad}
        try:
            env = reader(**defaults)
        except ValidationError:
            return section()
    values = dict(env)
    if section is ApiSettings and "data_dir" not in env.model_fields_set:
        values["data_dir"] = default_data_dir()
    return section.model_validate(values)


def default_data_dir() -> Path:
    xdg = os.environ.get("XDG_DATA_HOME")
    return Path(xdg) / "outperform-mcp" if xdg else DEFAULT_DATA_DIR


def load(*, sandbox: bool = False) -> Settings:
    """Read the environment and ``.env`` once: every section, or one error listing every problem.

    ``sandbox`` drops the API credentials from what must be set (the emulator has its own).
    """
    problems: list[str] = []
    sections: dict[str, BaseModel] = {}
    for name, section in SECTIONS.items():
        sections[name] = _read(section, problems)
    api = sections["api"]
    assert isinstance(api, ApiSettings)
    if not sandbox:
        problems += [f"{name}: not set" for name in api.missing()]
    if problems:
        raise SettingsProblem(
            "settings are missing or invalid:\n  "
            + "\n  ".join(problems)
            + "\nSet them in the environment or in a .env file (see README, 'Settings'),"
            " or try the server with no account: outperform-mcp --sandbox"
        )
    return Settings.model_validate(sections)
