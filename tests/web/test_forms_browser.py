"""The embedded form in a real browser, on other sites: a page on a second origin (allowed)
posts the form with its own UTM parameters; the same page on a third origin is refused.
Screenshots of the builder and the hosted form go to artifacts/screenshots/form-*.png."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.core.cache import cache
from django_tasks_db.models import DBTaskResult

from leadloop.accounts.models import Role
from leadloop.capture.models import Channel, Touch, TouchKind
from leadloop.leads.models import Lead
from leadloop.loop.intake import submissions_capture
from leadloop.loop.tasks import capture_submissions
from tests.accounts.factories import UserFactory
from tests.capture.factories import CampaignFactory
from tests.capture.form_factories import FormFactory
from tests.content.factories import ContentOfferFactory
from tests.web.conftest import SHOTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"
UTM = "?utm_source=linkedin&utm_medium=paid_social&utm_campaign=x"


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def site(tmp_path: Path) -> Iterator[callable]:
    """Start a static site serving `tmp_path` on a new localhost port; returns its origin."""
    servers: list[ThreadingHTTPServer] = []

    def start() -> str:
        server = ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(tmp_path))
        )
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _landing_page(directory: Path, leadloop: str, slug: str) -> None:
    (directory / "index.html").write_text(
        f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>ACME pricing</title>
<style>body{{font:16px/1.5 Georgia,serif;max-width:640px;margin:40px auto;padding:0 16px;color:#222}}</style>
</head><body><h1>ACME CRM pricing</h1><p>Talk to our team about a plan for yours.</p>
<div data-leadloop-form="{slug}"></div>
<script src="{leadloop}/f/{slug}/embed.js" async></script></body></html>""",
        encoding="utf-8",
    )


def _fill(page: object, email: str) -> None:
    page.get_by_label("Work e-mail").fill(email)  # type: ignore[attr-defined]
    page.get_by_label("First name").fill("Ada")  # type: ignore[attr-defined]
    page.get_by_label("Company").fill("Analytical Engines")  # type: ignore[attr-defined]
    page.get_by_label("Team size").select_option("11-50")  # type: ignore[attr-defined]
    page.get_by_label("I agree that ACME may contact me").check()  # type: ignore[attr-defined]
    page.get_by_role("button", name="Talk to sales").click()  # type: ignore[attr-defined]


def test_the_embedded_form_posts_from_an_allowed_origin_only(browser, live_server, site, tmp_path):
    SHOTS.mkdir(parents=True, exist_ok=True)
    cache.clear()
    CampaignFactory(slug="x", name="X launch", channel=Channel.PAID_SOCIAL)
    allowed, refused = site(), site()
    form = FormFactory(
        slug="pricing",
        consent_text="I agree that ACME may contact me about its products.",
        consent_required=True,
        allowed_origins=[allowed],
    )
    _landing_page(tmp_path, live_server.url, form.slug)
    page = browser.new_page(viewport={"width": 1024, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    page.goto(f"{allowed}/index.html{UTM}")
    page.get_by_role("button", name="Talk to sales").click()
    page.get_by_text("Please fill in “Work e-mail”.").wait_for()
    page.screenshot(path=str(SHOTS / "form-embedded-errors.png"), full_page=True)
    _fill(page, "ada@analytical.example")
    page.get_by_text("Thanks, we will be in touch within a day.").wait_for()
    page.screenshot(path=str(SHOTS / "form-embedded-done.png"), full_page=True)

    page.goto(f"{refused}/index.html{UTM}")
    _fill(page, "eve@elsewhere.example")
    page.get_by_text("The form could not be sent").wait_for()

    assert errors == []
    # The endpoint stored the submission and asked for a capture task; a worker runs it.
    assert DBTaskResult.objects.filter(task_path=capture_submissions.module_path).exists()
    assert Lead.objects.count() == 0
    assert submissions_capture().captured == 1
    lead = Lead.objects.get()
    assert (lead.email, lead.first_name, lead.consent_given) == (
        "ada@analytical.example",
        "Ada",
        True,
    )
    touch = Touch.objects.get()
    assert (touch.lead, touch.kind, touch.source, touch.utm_campaign, touch.campaign.slug) == (
        lead,
        TouchKind.FORM_FILL,
        "linkedin",
        "x",
        "x",
    )
    assert touch.landing_page == f"{allowed}/index.html{UTM}"
    page.close()


def test_screenshots_of_the_builder_and_the_hosted_form(browser, live_server):
    SHOTS.mkdir(parents=True, exist_ok=True)
    UserFactory(username="mara", first_name="Mara", last_name="Marketing", role=Role.MARKETING_OPS)
    offer = ContentOfferFactory(
        slug="crm-guide",
        name="The CRM buyer's guide",
        description="Twelve questions to ask before you choose a CRM, with a scoring sheet.",
    )
    form = FormFactory(
        slug="crm-guide",
        name="CRM guide download",
        content_offer=offer,
        consent_text="I agree that ACME may e-mail me about its products. I can unsubscribe at any time.",
        allowed_origins=["https://www.acme.test"],
        submit_label="Get the guide",
    )
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("mara")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Forms").click()
    page.wait_for_url(f"{live_server.url}/forms/")
    page.screenshot(path=str(SHOTS / "form-list.png"), full_page=True)
    page.get_by_role("link", name="CRM guide download").click()
    page.get_by_role("button", name="+ Add field").click()
    page.get_by_label("Label", exact=True).last.fill("Job title")
    assert page.get_by_label("Field name", exact=True).last.input_value() == "job_title"
    page.get_by_role("button", name="Move field up").last.click()
    page.screenshot(path=str(SHOTS / "form-builder.png"), full_page=True)
    page.get_by_role("button", name="Save form").click()
    page.get_by_text("Form “CRM guide download” saved.").wait_for()
    form.refresh_from_db()
    assert [f["name"] for f in form.fields][-2:] == ["job_title", "message"]

    page.goto(f"{live_server.url}/forms/new/")
    page.get_by_label("Name", exact=True).fill("Webinar sign-up")
    assert page.get_by_label("Slug").input_value() == "webinar-sign-up"
    page.get_by_label("Allowed origins, one per line").fill("www.acme.test")
    page.get_by_role("button", name="Create form").click()
    page.get_by_text("is not an origin").wait_for()
    page.screenshot(path=str(SHOTS / "form-builder-errors.png"), full_page=True)

    page.goto(f"{live_server.url}/f/crm-guide{UTM}")
    page.screenshot(path=str(SHOTS / "form-hosted.png"), full_page=True)
    page.get_by_role("button", name="Get the guide").click()
    page.screenshot(path=str(SHOTS / "form-hosted-errors.png"), full_page=True)
    page.close()

    phone = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True
    ).new_page()
    phone.goto(f"{live_server.url}/f/crm-guide")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.screenshot(path=str(SHOTS / "form-hosted-phone.png"), full_page=True)
    phone.context.close()
