"""shared.settings: the environment, validated once; a missing required variable is named."""

from __future__ import annotations

import pytest

from shared.settings import MissingSetting, load_settings


def test_values_come_from_the_environment_as_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TABLE_NAME", "orders-prod")
    monkeypatch.setenv("PUSH_MAX_ATTEMPTS", "7")
    monkeypatch.setenv("SOMETHING_ELSE", "ignored")
    settings = load_settings()
    assert settings.table_name == "orders-prod" and settings.push_max_attempts == 7
    assert settings.shop_settings_max_age_seconds == 60  # a default


def test_a_missing_required_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TABLE_NAME", raising=False)
    with pytest.raises(MissingSetting, match="TABLE_NAME"):
        load_settings()


def test_a_bad_value_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TABLE_NAME", "t")
    monkeypatch.setenv("PUSH_MAX_ATTEMPTS", "0")  # at least 1
    with pytest.raises(ValueError, match="PUSH_MAX_ATTEMPTS"):
        load_settings()
