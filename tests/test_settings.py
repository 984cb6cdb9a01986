"""Settings: read once by ``load()``, every problem in one error, sandbox derived without the environment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from outperform_mcp.sandbox.templates import TEMPLATES_PATH
from outperform_mcp.sandbox_wiring import sandbox_settings
from outperform_mcp.settings import ApiSettings, GuardSettings, ServerSettings, Settings, SettingsProblem, load


def test_load_reads_every_section_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OUTPERFORM_CLIENT_ID", "cid")
    monkeypatch.setenv("OUTPERFORM_CLIENT_SECRET", "secret")
    monkeypatch.setenv("OUTPERFORM_TOOLSETS", "contacts, inbox")
    monkeypatch.setenv("OUTPERFORM_MAX_SENDS_PER_HOUR", "7")
    monkeypatch.setenv("OUTPERFORM_WEBHOOK_SECRET", "w" * 20)
    monkeypatch.setenv("OUTPERFORM_OPT_OUT_LABELS", "STOP, No-Contact")
    (tmp_path / ".env").write_text("OUTPERFORM_INSTANCE_ID=from-dotenv\n")
    monkeypatch.chdir(tmp_path)
    s = load()
    assert s.api.client_id == "cid"
    assert s.api.instance_id == "from-dotenv"
    assert s.server.toolsets == ("contacts", "inbox")
    assert s.guard.max_sends_per_hour == 7
    assert s.guard.opt_out_labels == ("stop", "no-contact")
    assert s.inbox.receiver_enabled


def test_load_lists_every_problem_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTPERFORM_BASE_URL", "ftp://nope")
    monkeypatch.setenv("OUTPERFORM_MCP_TOKEN", "short")
    monkeypatch.setenv("OUTPERFORM_MAX_SENDS_PER_DAY", "many")
    monkeypatch.setenv("OUTPERFORM_WEBHOOK_SECRET", "has space in it!!!!")
    monkeypatch.setenv("OUTPERFORM_DEFAULT_COUNTRY", "XX")
    with pytest.raises(SettingsProblem) as caught:
        load()
    text = str(caught.value)
    for name in (
        "OUTPERFORM_BASE_URL",
        "OUTPERFORM_MCP_TOKEN",
        "OUTPERFORM_MAX_SENDS_PER_DAY",
        "OUTPERFORM_WEBHOOK_SECRET",
        "OUTPERFORM_DEFAULT_COUNTRY",
        "OUTPERFORM_CLIENT_ID: not set",
        "OUTPERFORM_CLIENT_SECRET: not set",
    ):
        assert name in text
    assert "has space" not in text  # a secret is never echoed


def test_sandbox_needs_no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load(sandbox=True).api.client_id is None
    with pytest.raises(SettingsProblem, match="OUTPERFORM_CLIENT_ID: not set"):
        load()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"XDG_DATA_HOME": "/xdg"}, Path("/xdg/outperform-mcp")),
        ({"XDG_DATA_HOME": "/xdg", "OUTPERFORM_DATA_DIR": "/explicit"}, Path("/explicit")),
        ({}, Path.home() / ".local" / "share" / "outperform-mcp"),
    ],
)
def test_data_dir_default(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: Path) -> None:
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert load(sandbox=True).api.data_dir == expected


def test_sections_built_in_code_ignore_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTPERFORM_READ_ONLY", "true")
    monkeypatch.setenv("OUTPERFORM_CLIENT_ID", "from-env")
    assert ServerSettings().read_only is False
    assert ApiSettings().client_id is None


def test_bundle_and_sections_are_frozen() -> None:
    s = Settings()
    with pytest.raises(ValueError, match="frozen"):
        s.guard.sending_enabled = False  # type: ignore[misc]
    with pytest.raises(ValueError, match="frozen"):
        s.api = ApiSettings()  # type: ignore[misc]


def test_answer_timeout_never_outlives_the_approval() -> None:
    assert GuardSettings(approval_ttl=60, elicitation_timeout=300).answer_timeout == 60
    assert GuardSettings(approval_ttl=600, elicitation_timeout=30).answer_timeout == 30


def test_sandbox_derives_settings_without_touching_the_environment(tmp_path: Path) -> None:
    before = dict(os.environ)
    loaded = Settings(api=ApiSettings(data_dir=tmp_path))
    with sandbox_settings(loaded) as sandboxed:
        assert sandboxed.guard.templates_file == TEMPLATES_PATH
        assert sandboxed.api.base_url.startswith("http://127.0.0.1:")
        assert sandboxed.api.client_id
        assert sandboxed.api.data_dir == tmp_path / "sandbox"
    assert dict(os.environ) == before
    assert loaded.guard.templates_file is None


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        (
            {"OUTPERFORM_DATABASE_URL": "mysql://u:p@h/db"},
            "OUTPERFORM_DATABASE_URL: Value error, must be a PostgreSQL URL",
        ),
        ({"OUTPERFORM_REQUEST_STATE_KEY": "short"}, "OUTPERFORM_REQUEST_STATE_KEY: Value error, use at least 32"),
        ({"OUTPERFORM_LEASE_SECONDS": "0"}, "OUTPERFORM_LEASE_SECONDS"),
    ],
)
def test_store_settings_are_checked(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], problem: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsProblem) as caught:
        load(sandbox=True)
    assert problem in str(caught.value)
    assert "u:p@" not in str(caught.value)


def test_a_blank_database_url_means_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTPERFORM_DATABASE_URL", "  ")
    assert load(sandbox=True).store.url is None


def test_the_default_country_is_one_phonenumbers_knows() -> None:
    # ApiSettings accepts it without asking phonenumbers (start-up time), so it must be right.
    import phonenumbers

    from outperform_mcp.settings import DEFAULT_COUNTRY

    assert DEFAULT_COUNTRY in phonenumbers.SUPPORTED_REGIONS
    assert ApiSettings().default_country == DEFAULT_COUNTRY
