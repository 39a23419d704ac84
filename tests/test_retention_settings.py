"""Retention and erasure settings: periods in hours or days from the environment or serve's flags, and
a bad period refused naming the setting."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from cli.settings_flags import settings_from_flags
from service.privacy_settings import parse_duration
from service.settings import Settings


@pytest.mark.parametrize(
    ("given", "seconds"),
    [("30d", 30 * 86400), ("12h", 43200), ("90m", 5400), ("45s", 45), ("2w", 1209600), (7, 7 * 86400),
     ("1.5h", 5400), (" 3D ", 3 * 86400), ("keep", None), ("forever", None), (None, None)],
)  # fmt: skip
def test_periods_read_in_units(given: object, seconds: float | None) -> None:
    assert parse_duration(given) == seconds


def test_the_environment_sets_a_default_and_per_camera_periods(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERSON_SEARCH_RETENTION__DEFAULT", "30d")
    monkeypatch.setenv("PERSON_SEARCH_RETENTION__CAMERAS", '{"gate-2": "7d", "lobby": "keep"}')
    policy = Settings().retention.policy()
    assert policy.default_s == 30 * 86400 and policy.cameras == {"gate-2": 7 * 86400, "lobby": None}


def test_serve_flags_set_retention_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERSON_SEARCH_RETENTION__DEFAULT", "30d")
    settings = settings_from_flags({"retention": "12h", "camera_retention": ["gate-2=7d", "dock=keep"]})
    assert settings.retention.default == 43200
    assert settings.retention.cameras == {"gate-2": 7 * 86400, "dock": None}


@pytest.mark.parametrize(
    ("retention", "named"),
    [({"default": "0d"}, "longer than zero"), ({"default": "ten days"}, "like 30d"),
     ({"default": True}, "like 30d"), ({"cameras": {"": "1d"}}, "camera name"),
     ({"cameras": ["gate-2"]}, "NAME=PERIOD"), ({"cameras": {"gate": "-1h"}}, "retention.cameras.gate"),
     ({"interval_s": 0}, "interval_s")],
)  # fmt: skip
def test_bad_retention_settings_are_refused_by_name(retention: dict[str, object], named: str) -> None:
    with pytest.raises(ValidationError, match=named) as refused:
        Settings(retention=retention)
    assert "retention" in str(refused.value)
