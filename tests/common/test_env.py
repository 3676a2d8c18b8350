from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from leadloop.common.env import (
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_str,
    env_time_zone,
    env_url,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("true", True), ("TRUE", True), ("1", True), ("on", True), ("false", False), ("0", False)],
)
def test_env_bool_reads_true_false_one_zero_on_off(raw: str, expected: bool) -> None:
    assert env_bool("DEBUG", not expected, environ={"DEBUG": raw}) is expected


def test_env_bool_rejects_yes_naming_the_variable() -> None:
    with pytest.raises(ImproperlyConfigured, match=r"^DEBUG='yes' is not a boolean: use true or"):
        env_bool("DEBUG", False, environ={"DEBUG": "yes"})


def test_env_bool_falls_back_to_the_default_when_unset_or_empty() -> None:
    assert env_bool("DEBUG", True, environ={}) is True
    assert env_bool("DEBUG", False, environ={"DEBUG": ""}) is False


def test_env_int_reads_a_whole_number() -> None:
    assert env_int("EMAIL_PORT", 25, environ={"EMAIL_PORT": " 587 "}) == 587


def test_env_int_rejects_a_word_naming_the_variable() -> None:
    with pytest.raises(ImproperlyConfigured, match=r"^EMAIL_PORT='smtp' is not a whole number\.$"):
        env_int("EMAIL_PORT", 25, environ={"EMAIL_PORT": "smtp"})


def test_env_int_rejects_a_value_below_the_minimum() -> None:
    with pytest.raises(ImproperlyConfigured, match=r"^EMAIL_PORT='0' must be at least 1\.$"):
        env_int("EMAIL_PORT", 25, minimum=1, environ={"EMAIL_PORT": "0"})


def test_env_list_splits_on_commas_and_strips_blanks() -> None:
    value = env_list("ALLOWED_HOSTS", [], environ={"ALLOWED_HOSTS": " a.example , b.example"})

    assert value == ["a.example", "b.example"]


def test_env_list_rejects_an_empty_item_naming_the_variable() -> None:
    with pytest.raises(ImproperlyConfigured, match=r"^ALLOWED_HOSTS='a,,b' has an empty item"):
        env_list("ALLOWED_HOSTS", [], environ={"ALLOWED_HOSTS": "a,,b"})


def test_env_list_returns_a_copy_of_the_default_when_unset() -> None:
    default = ["localhost"]

    value = env_list("ALLOWED_HOSTS", default, environ={})

    assert value == ["localhost"]
    assert value is not default


def test_env_choice_accepts_one_of_the_choices() -> None:
    environ = {"LEADLOOP_TASKS_BACKEND": "rq"}

    assert env_choice("LEADLOOP_TASKS_BACKEND", "db", ("db", "rq"), environ=environ) == "rq"


def test_env_choice_rejects_another_value_listing_the_choices() -> None:
    with pytest.raises(
        ImproperlyConfigured, match=r"^LEADLOOP_TASKS_BACKEND='celery' is not one of: db, rq\.$"
    ):
        env_choice(
            "LEADLOOP_TASKS_BACKEND",
            "db",
            ("db", "rq"),
            environ={"LEADLOOP_TASKS_BACKEND": "celery"},
        )


def test_env_str_without_default_requires_the_variable() -> None:
    with pytest.raises(ImproperlyConfigured, match=r"^Set the environment variable SECRET_KEY\.$"):
        env_str("SECRET_KEY", environ={})


def test_env_url_accepts_an_allowed_scheme() -> None:
    environ = {"LEADLOOP_REDIS_URL": "rediss://cache.internal:6380/1"}

    value = env_url("LEADLOOP_REDIS_URL", "redis://127.0.0.1", ("redis", "rediss"), environ=environ)

    assert value == "rediss://cache.internal:6380/1"


def test_env_url_rejects_a_value_without_scheme_naming_the_variable() -> None:
    with pytest.raises(
        ImproperlyConfigured,
        match=r"^LEADLOOP_BASE_URL='leads\.example\.com' is not a URL starting with http:// or https://\.$",
    ):
        env_url(
            "LEADLOOP_BASE_URL",
            "http://127.0.0.1:8000",
            ("http", "https"),
            environ={"LEADLOOP_BASE_URL": "leads.example.com"},
        )


def test_env_time_zone_accepts_an_iana_name() -> None:
    environ = {"LEADLOOP_DEFAULT_TIME_ZONE": "America/New_York"}

    assert env_time_zone("LEADLOOP_DEFAULT_TIME_ZONE", "UTC", environ=environ) == "America/New_York"


@pytest.mark.parametrize("raw", ["Europe/Berln", "CET+1", "../etc/passwd"])
def test_env_time_zone_rejects_an_unknown_zone_naming_the_variable(raw: str) -> None:
    with pytest.raises(
        ImproperlyConfigured,
        match=r"^LEADLOOP_DEFAULT_TIME_ZONE='.*' is not a time zone: use an IANA",
    ):
        env_time_zone(
            "LEADLOOP_DEFAULT_TIME_ZONE", "UTC", environ={"LEADLOOP_DEFAULT_TIME_ZONE": raw}
        )
