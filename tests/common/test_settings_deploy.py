"""Settings as a deployment sees them: each case starts Leadloop in a fresh process."""

from __future__ import annotations

import secrets

from tests.common.conftest import RunLeadloop

_LOAD_SETTINGS = "import django; django.setup(); from django.conf import settings; print({expr})"
_PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "leadloop.example.com",
}


def test_debug_off_without_secret_key_stops_naming_secret_key(run_python: RunLeadloop) -> None:
    env = {**_PRODUCTION, "DJANGO_SETTINGS_MODULE": "leadloop.settings"}
    del env["SECRET_KEY"]

    process = run_python("-c", _LOAD_SETTINGS.format(expr="settings.SECRET_KEY"), **env)

    assert process.returncode != 0
    assert "Set the environment variable SECRET_KEY (required when DEBUG is off)" in process.stderr


def test_debug_off_without_allowed_hosts_stops_naming_allowed_hosts(
    run_python: RunLeadloop,
) -> None:
    env = {**_PRODUCTION, "DJANGO_SETTINGS_MODULE": "leadloop.settings"}
    del env["ALLOWED_HOSTS"]

    process = run_python("-c", _LOAD_SETTINGS.format(expr="settings.ALLOWED_HOSTS"), **env)

    assert process.returncode != 0
    assert "Set the environment variable ALLOWED_HOSTS (required when DEBUG is off)" in (
        process.stderr
    )


def test_allowed_hosts_is_read_as_a_list(run_python: RunLeadloop) -> None:
    process = run_python(
        "-c",
        _LOAD_SETTINGS.format(expr="settings.ALLOWED_HOSTS"),
        **{**_PRODUCTION, "ALLOWED_HOSTS": "leadloop.example.com, crm.example.com"},
        DJANGO_SETTINGS_MODULE="leadloop.settings",
    )

    assert process.returncode == 0, process.stderr
    assert process.stdout.strip() == "['leadloop.example.com', 'crm.example.com']"


def test_debug_yes_stops_naming_debug(run_python: RunLeadloop) -> None:
    process = run_python(
        "-c",
        _LOAD_SETTINGS.format(expr="settings.DEBUG"),
        DEBUG="yes",
        DJANGO_SETTINGS_MODULE="leadloop.settings",
    )

    assert process.returncode != 0
    assert "DEBUG='yes' is not a boolean" in process.stderr


def test_unknown_database_scheme_stops_naming_database_url(run_python: RunLeadloop) -> None:
    process = run_python(
        "-c",
        _LOAD_SETTINGS.format(expr="settings.DATABASES"),
        DATABASE_URL="mysql://ll:secret@db/leads",
        DJANGO_SETTINGS_MODULE="leadloop.settings",
    )

    assert process.returncode != 0
    assert "DATABASE_URL uses the scheme 'mysql'" in process.stderr


def test_check_deploy_is_clean_with_production_settings(run_python: RunLeadloop) -> None:
    process = run_python("-m", "leadloop.manage", "check", "--deploy", **_PRODUCTION)

    assert process.returncode == 0, process.stderr
    # The one silenced check is W021 (HSTS preload), an explicit opt-in: docs/configuration.md.
    assert process.stdout.strip() == "System check identified no issues (1 silenced)."
    assert process.stderr == ""


def test_check_deploy_reports_nothing_silenced_once_hsts_preload_is_chosen(
    run_python: RunLeadloop,
) -> None:
    process = run_python(
        "-m", "leadloop.manage", "check", "--deploy", **_PRODUCTION, LEADLOOP_HSTS_PRELOAD="true"
    )

    assert process.returncode == 0, process.stderr
    assert process.stdout.strip() == "System check identified no issues (0 silenced)."


def test_check_deploy_is_clean_with_the_rq_backend(run_python: RunLeadloop) -> None:
    process = run_python(
        "-m",
        "leadloop.manage",
        "check",
        "--deploy",
        **_PRODUCTION,
        LEADLOOP_TASKS_BACKEND="rq",
        LEADLOOP_REDIS_URL="redis://redis.internal:6379/2",
    )

    assert process.returncode == 0, process.stderr
    assert process.stdout.strip() == "System check identified no issues (1 silenced)."
