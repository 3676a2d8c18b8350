"""The form builder pages and the public form endpoints: HTML posts, JSON, CORS, spam limits."""

from __future__ import annotations

import json

import pytest
from django.core.cache import cache
from django.test import Client

from leadloop.accounts.models import Role
from leadloop.capture.models import Form, FormSubmission, Touch
from leadloop.common.database import queue_alias
from leadloop.leads.models import Lead
from leadloop.loop.intake import submissions_capture
from tests.accounts.factories import UserFactory
from tests.capture.form_factories import FormFactory
from tests.web.helpers import row, text

pytestmark = pytest.mark.django_db

SITE = "https://www.acme.test"
PAGE = f"{SITE}/pricing?utm_source=linkedin&utm_medium=paid_social&utm_campaign=x"
GOOD = {"email": "ada@analytical.example", "first_name": "Ada"}


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    cache.clear()


@pytest.fixture
def mara(client: Client) -> Client:
    client.force_login(UserFactory(username="mara", role=Role.MARKETING_OPS))
    return client


def _post_json(client: Client, slug: str, body: dict[str, object], **headers: str):
    return client.post(
        f"/f/{slug}", json.dumps(body), content_type="application/json", headers=headers
    )


# --- Builder -----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.SALES_REP, Role.SALES_MANAGER, Role.REVENUE_LEADER])
def test_only_marketing_ops_and_admins_reach_the_builder(client, role):
    form = FormFactory()
    client.force_login(UserFactory(role=role))

    pages = ["/forms/", "/forms/new/", f"/forms/{form.pk}/edit/"]

    assert [client.get(p).status_code for p in pages] == [403, 403, 403]
    assert client.post("/forms/new/", {"name": "x"}).status_code == 403


def test_the_list_shows_submissions_this_month_and_the_last_one(mara):
    FormFactory(slug="demo", name="Demo request")
    FormFactory(slug="quiet", name="Quiet form")
    for email in ("a@a.example", "b@b.example"):
        mara.post("/f/demo", {**GOOD, "email": email})
    submissions_capture()

    response = mara.get("/forms/")

    cells = row(response, "forms", "form", "demo")
    assert cells[:3] == ["Demo request /f/demo", "—", "2"]  # the public link under the name
    assert cells[3].endswith("ago")
    assert row(response, "forms", "form", "quiet")[2:4] == ["0", "never"]
    assert "Forms" in text(response)


def test_building_a_form_in_the_page_saves_rows_in_order(mara):
    response = mara.post(
        "/forms/new/",
        {
            "name": "Webinar sign-up",
            "slug": "webinar",
            "is_active": "on",
            "submit_label": "Save my seat",
            "f-0-label": "Work e-mail",
            "f-0-name": "email",
            "f-0-type": "email",
            "f-0-maps_to": "email",
            "f-0-required": "on",
            "f-3-label": "Role",
            "f-3-name": "role",
            "f-3-type": "select",
            "f-3-maps_to": "attributes",
            "f-3-attribute": "role",
            "f-3-choices": "cto | CTO\nother | Something else",
            "f-1-label": "First name",
            "f-1-name": "first_name",
            "f-1-type": "text",
            "f-1-maps_to": "first_name",
            "f-2-label": "",
            "f-2-name": "",
            "allowed_origins": "https://www.acme.test/\nhttp://localhost:8000",
        },
    )

    form = Form.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/forms/{form.pk}/edit/"
    assert [(f["name"], f["maps_to"], f["required"]) for f in form.fields] == [
        ("email", "email", True),
        ("first_name", "first_name", False),
        ("role", "attributes.role", False),
    ]
    assert form.fields[2]["choices"] == ["cto | CTO", "other | Something else"]
    assert form.allowed_origins == ["https://www.acme.test", "http://localhost:8000"]
    page = text(mara.get(response["Location"]))
    assert "http://testserver/f/webinar" in page
    assert '&lt;script src="http://testserver/f/webinar/embed.js" async&gt;' in page


def test_builder_errors_are_shown_beside_their_inputs(mara):
    response = mara.post(
        "/forms/new/",
        {
            "name": "Broken",
            "slug": "Not a slug!",
            "f-0-label": "Name",
            "f-0-name": "Full Name",
            "f-0-type": "text",
            "allowed_origins": "www.acme.test",
        },
    )

    page = text(response)
    assert response.status_code == 400
    assert "4 things to fix before saving" in page
    assert "Slug &#x27;Not a slug!&#x27; must use only a-z" in page
    assert "Field 1: name &#x27;Full Name&#x27; must start with a letter" in page
    assert "The form needs an e-mail field mapped to “E-mail”" in page
    assert "Allowed origin &#x27;www.acme.test&#x27; is not an origin" in page
    assert Form.objects.count() == 0


# --- The hosted page and HTML posts --------------------------------------------------------------


def test_the_hosted_page_carries_its_own_url_for_attribution(client):
    FormFactory(slug="demo", consent_text="ACME may e-mail me.")

    response = client.get("/f/demo?utm_source=linkedin", headers={"referer": "https://t.co/x"})

    page = text(response)
    assert response.status_code == 200
    assert 'name="page_url" value="http://testserver/f/demo?utm_source=linkedin"' in page
    assert 'name="referrer" value="https://t.co/x"' in page
    assert 'name="website" type="text" tabindex="-1" autocomplete="off"' in page
    assert "ACME may e-mail me." in page
    assert 'autocomplete="email"' in page


def test_an_html_post_redirects_or_thanks(client):
    FormFactory(slug="go", redirect_url="https://www.acme.test/thanks")
    FormFactory(slug="stay")

    redirected = client.post("/f/go", {**GOOD, "page_url": PAGE})
    thanked = client.post("/f/stay", {**GOOD, "email": "b@b.example"})

    assert (redirected.status_code, redirected["Location"]) == (302, "https://www.acme.test/thanks")
    assert "Thanks, we will be in touch within a day." in text(thanked)
    assert submissions_capture().captured == 2
    touch = Touch.objects.get(lead__email="ada@analytical.example")
    assert (touch.source, touch.utm_campaign) == ("linkedin", "x")


def test_an_html_post_with_errors_shows_them_beside_the_fields_and_keeps_values(client):
    FormFactory(slug="demo")

    response = client.post("/f/demo", {"email": "ada@", "company": "Engines"})

    page = text(response)
    assert response.status_code == 400
    assert "Please correct the 2 fields marked below." in page
    assert (
        '<p class="lf-error" id="llf-email-error">&#x27;ada@&#x27; is not an e-mail address.</p>'
        in page
    )
    assert "Please fill in “First name”." in page
    assert 'value="Engines"' in page


def test_unknown_and_inactive_forms_are_not_found(client):
    FormFactory(slug="old", is_active=False)

    assert client.get("/f/old").status_code == 404
    assert client.get("/f/nope/embed.js").status_code == 404
    assert _post_json(client, "nope", {"fields": GOOD}).json()["detail"][0]["loc"] == ["slug"]


# --- JSON, CORS, spam --------------------------------------------------------------------------


def test_json_submissions_answer_ok_or_name_each_field(client):
    FormFactory(slug="demo", thank_you_message="Merci!")

    ok = _post_json(client, "demo", {"fields": GOOD, "page_url": PAGE})
    bad = _post_json(client, "demo", {"fields": {"email": "nope"}})

    assert (ok.status_code, ok.json()) == (200, {"ok": True, "redirect": "", "message": "Merci!"})
    assert bad.status_code == 400
    assert bad.json() == {
        "detail": [
            {"loc": ["fields", "email"], "msg": "'nope' is not an e-mail address.",
             "type": "submission_invalid"},
            {"loc": ["fields", "first_name"], "msg": "Please fill in “First name”.",
             "type": "submission_invalid"},
        ]
    }  # fmt: skip
    assert _post_json(client, "demo", []).status_code == 400  # type: ignore[arg-type]


def test_an_allowed_origin_gets_cors_headers_for_preflight_and_post(client):
    FormFactory(slug="demo", allowed_origins=[SITE])

    preflight = client.options(
        "/f/demo", headers={"origin": SITE, "access-control-request-method": "POST"}
    )
    posted = _post_json(client, "demo", {"fields": GOOD, "page_url": PAGE}, origin=SITE)

    assert preflight.status_code == 204
    assert preflight["Access-Control-Allow-Origin"] == SITE
    assert "POST" in preflight["Access-Control-Allow-Methods"]
    assert "Content-Type" in preflight["Access-Control-Allow-Headers"]
    assert posted.status_code == 200
    assert posted["Access-Control-Allow-Origin"] == SITE
    assert "Origin" in posted["Vary"]
    submissions_capture()
    assert Lead.objects.filter(email="ada@analytical.example").exists()


def test_another_origin_is_refused_with_a_clear_error_and_no_cors_headers(client):
    FormFactory(slug="demo", allowed_origins=[SITE])
    evil = "https://evil.example"

    preflight = client.options("/f/demo", headers={"origin": evil})
    posted = _post_json(client, "demo", {"fields": GOOD}, origin=evil)

    assert (preflight.status_code, posted.status_code) == (403, 403)
    assert "Access-Control-Allow-Origin" not in preflight
    assert "Access-Control-Allow-Origin" not in posted
    assert posted.json()["detail"][0]["msg"] == (
        "Pages on https://evil.example may not post the form 'demo': add the origin to the "
        "form's allowed origins in Leadloop."
    )
    assert FormSubmission.objects.count() == 0


def test_the_hosted_page_posting_to_itself_needs_no_allowed_origin(client):
    FormFactory(slug="demo", allowed_origins=[])

    response = client.post("/f/demo", GOOD, headers={"origin": "http://testserver"})

    assert response.status_code == 200
    assert submissions_capture().captured == 1
    assert Lead.objects.count() == 1


def test_a_submission_is_kept_and_answered_when_the_task_queue_is_down(
    client, settings, caplog, django_capture_on_commit_callbacks
):
    settings.RQ_QUEUES = {"default": {"URL": "redis://127.0.0.1:1/0"}}  # nothing listens there
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    FormFactory(slug="demo")

    with django_capture_on_commit_callbacks(execute=True, using=queue_alias()) as kicks:
        response = _post_json(client, "demo", {"fields": GOOD})

    assert (response.status_code, response.json()["ok"]) == (200, True)
    assert FormSubmission.objects.count() == 1
    assert len(kicks) == 1
    assert "could not ask for a capture task" in caplog.text
    assert submissions_capture().captured == 1  # what the scheduler's sweep then does


def test_a_filled_honeypot_looks_like_success_and_records_nothing(client):
    FormFactory(slug="demo")

    response = _post_json(client, "demo", {"fields": {**GOOD, "website": "http://spam.example"}})

    assert (response.status_code, response.json()["ok"]) == (200, True)
    assert FormSubmission.objects.count() == 0
    assert submissions_capture().captured == 0
    assert Lead.objects.count() == 0


def test_too_many_posts_from_one_address_get_429_with_retry_after(client, settings):
    settings.LEADLOOP_FORM_RATE_LIMIT = (3, 60)
    FormFactory(slug="demo")
    FormFactory(slug="other")

    answers = [
        _post_json(client, "demo", {"fields": {**GOOD, "email": f"p{i}@a.example"}}).status_code
        for i in range(4)
    ]
    limited = _post_json(client, "demo", {"fields": GOOD})
    other_form = _post_json(client, "other", {"fields": GOOD})
    other_client = _post_json(client, "demo", {"fields": GOOD}, x_forwarded_for="9.9.9.9")

    assert answers == [200, 200, 200, 429]
    assert limited.status_code == 429
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert limited.json()["detail"][0]["msg"].startswith("Too many submissions from your address")
    assert other_form.status_code == 200
    assert other_client.status_code == 429  # X-Forwarded-For is not trusted by default
    submissions_capture()
    assert Lead.objects.count() == 4  # three before the limit, one on the other form


def test_behind_a_trusted_proxy_the_forwarded_address_is_limited(client, settings):
    settings.LEADLOOP_FORM_RATE_LIMIT = (1, 60)
    settings.LEADLOOP_TRUSTED_PROXIES = 1
    FormFactory(slug="demo")

    first = _post_json(client, "demo", {"fields": GOOD}, x_forwarded_for="1.1.1.1")
    second = _post_json(client, "demo", {"fields": GOOD}, x_forwarded_for="1.1.1.1")
    other = _post_json(client, "demo", {"fields": GOOD}, x_forwarded_for="6.6.6.6, 2.2.2.2")

    assert [first.status_code, second.status_code, other.status_code] == [200, 429, 200]


def test_the_embed_script_inlines_the_definition_safely(client):
    form = FormFactory(slug="demo")
    form.fields[1]["label"] = "</script><script>alert(1)</script>"
    form.save()

    script = client.get("/f/demo/embed.js")
    definition = client.get("/f/demo.json")

    body = text(script)
    assert script["Content-Type"].startswith("text/javascript")
    assert "alert(1)</script>" not in body
    assert '"label": "\\u003C/script\\u003E\\u003Cscript\\u003Ealert(1)' in body
    assert '"action": "http://testserver/f/demo"' in body
    assert definition.json()["fields"][1]["label"] == "</script><script>alert(1)</script>"
    assert definition.json()["honeypot"] == "website"
