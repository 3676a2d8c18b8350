from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.db.models import F, Max, Q

from leadloop.accounts.models import Team, User
from leadloop.agreements.models import AgreementVersion
from leadloop.capture.forms import SUBMISSION_PREFIX, form_list
from leadloop.capture.models import Campaign, Channel, Form, Touch, TouchKind
from leadloop.content.models import ContentOffer
from leadloop.demo.forms import demo_forms_ensure
from leadloop.demo.generator import demo_generate, demo_reset
from leadloop.demo.pools import FREE_MAIL_DOMAINS
from leadloop.leads.models import Company, Lead, Stage
from leadloop.lifecycle.models import StageChange
from leadloop.loop.intake import submissions_capture
from leadloop.scoring.models import QualifyThresholds

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 10, 30, tzinfo=dt.UTC)
REJECT_REASONS = {"not_now", "no_budget", "wrong_contact", "no_response", "no_decision"}
OUT_REASONS = {"bad_fit", "competitor", "duplicate", "spam"}
LOST_REASONS = {"price", "timing", "competitor", "no_decision"}


@pytest.fixture(scope="module")
def demo(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """One generated business shared by this module's read-only tests, removed afterwards."""
    with django_db_blocker.unblock():
        demo_generate(leads=400, seed=3, now=NOW, batch_size=150)
    yield
    with django_db_blocker.unblock():
        demo_reset()
        # The demo's agreement (approved by its people) and the thresholds it set in scoring.
        AgreementVersion.objects.all().delete()
        QualifyThresholds.objects.all().delete()
        Form.objects.all().delete()  # forms outlive a reset (they are never deleted in use)
        User.objects.all().delete()
        Team.objects.all().delete()


def test_a_small_run_reaches_every_stage(demo):
    reached = set(StageChange.objects.values_list("to_stage", flat=True))

    assert reached == set(Stage)


def test_rejections_and_losses_carry_their_reasons(demo):
    nurtured = StageChange.objects.filter(
        to_stage=Stage.NURTURE, from_stage__in=[Stage.MQL, Stage.SAL, Stage.SQL]
    )
    lost = StageChange.objects.filter(from_stage=Stage.OPPORTUNITY, to_stage=Stage.NURTURE)
    out = StageChange.objects.filter(to_stage=Stage.DISQUALIFIED)

    assert set(nurtured.values_list("reason", flat=True)) <= REJECT_REASONS
    assert set(lost.values_list("reason", flat=True)) == LOST_REASONS
    assert set(out.values_list("reason", flat=True)) == OUT_REASONS


def test_sales_answers_have_a_rep_and_rules_act_alone(demo):
    answers = StageChange.objects.filter(from_stage=Stage.MQL)
    by_rule = StageChange.objects.filter(actor__isnull=True)

    assert not answers.filter(actor__isnull=True).exists()
    assert set(answers.values_list("actor__team__name", flat=True)) == {
        "Sales EMEA",
        "Sales Americas",
    }
    assert not by_rule.filter(rule="").exists()


def test_some_leads_are_recycled_into_a_second_cycle(demo):
    recycled = Lead.objects.filter(cycle__gte=2)

    assert recycled.exists()
    assert not recycled.filter(mql_last_at__lte=F("mql_first_at")).exists()


def test_nothing_happens_after_now_and_touches_come_before_the_changes_they_cause(demo):
    assert not Touch.objects.filter(occurred_at__gt=NOW).exists()
    assert not StageChange.objects.filter(at__gt=NOW).exists()
    assert not Lead.objects.filter(created_at__gt=NOW).exists()
    first_touch = Lead.objects.annotate(first=Max("touches__occurred_at")).filter(
        Q(lead_first_at__lt=F("created_at")) | Q(first__isnull=True)
    )
    assert not first_touch.exists()
    for change in StageChange.objects.filter(to_stage=Stage.MQL)[:50]:
        assert Touch.objects.filter(lead_id=change.lead_id, occurred_at__lt=change.at).exists()


def test_every_lead_has_an_owner_or_a_queue(demo):
    assert not Lead.objects.filter(owner__isnull=True, queue__isnull=True).exists()
    assert not Lead.objects.filter(owner__isnull=False, queue__isnull=False).exists()


def test_companies_have_unique_business_domains(demo):
    domains = list(Company.objects.values_list("domain", flat=True))
    emails = Lead.objects.values_list("email", "company__domain")

    assert len(domains) == len(set(domains))
    assert not set(domains) & FREE_MAIL_DOMAINS
    assert all(email.endswith("@" + domain) for email, domain in emails)


def test_campaigns_cover_every_channel_with_costs(demo):
    channels = set(Campaign.objects.filter(cost_amount__gt=0).values_list("channel", flat=True))

    assert channels == set(Channel)
    assert set(Campaign.objects.values_list("cost_currency", flat=True)) == {"EUR", "USD"}


def test_conversion_rates_look_like_b2b(demo):
    leads = Lead.objects.count()
    mqls = Lead.objects.filter(mql_first_at__isnull=False).count()
    sqls = Lead.objects.filter(sql_first_at__isnull=False).count()

    assert 0.08 <= mqls / leads <= 0.25
    assert 0.2 <= sqls / mqls <= 0.5


def test_the_demo_has_the_forms_a_b2b_site_has_and_they_capture(demo, client):
    forms = {f.slug: f for f in Form.objects.select_related("content_offer", "created_by")}
    downloads = [f for f in forms.values() if f.content_offer is not None]

    assert {"contact-sales", "request-a-demo"} <= set(forms)
    assert len(downloads) == 3
    assert all(f.content_offer.is_gated and f.consent_required for f in downloads)
    assert all(f.redirect_url == f.content_offer.url for f in downloads)
    assert {f.created_by.username for f in forms.values()} == {"marketing"}
    ensured = demo_forms_ensure(
        marketing=User.objects.get(username="marketing"),
        offers=list(ContentOffer.objects.all()),
        today=NOW.date(),
    )
    assert (len(ensured), Form.objects.count()) == (5, len(forms))  # again: the same five
    assert ensured.request_demo == forms["request-a-demo"]
    assert set(ensured.gated.values()) == set(downloads)

    response = client.post(
        "/f/contact-sales",
        {"email": "ada@analytical.example", "first_name": "Ada", "last_name": "Lovelace",
         "company": "Analytical Engines", "message": "Pricing for 40 seats?"},
        HTTP_ACCEPT="application/json",
    )  # fmt: skip
    assert response.status_code == 200, response.content
    assert submissions_capture().captured == 1
    lead = Lead.objects.get(email="ada@analytical.example")
    assert lead.attributes["message"] == "Pricing for 40 seats?"


def test_the_demos_form_fills_are_filed_under_its_forms(demo):
    forms = {f.slug: f for f in Form.objects.all()}
    rows = {row.form.slug: row for row in form_list(since=NOW - dt.timedelta(days=800))}
    filed = Touch.objects.filter(external_id__startswith=SUBMISSION_PREFIX)

    assert rows["contact-sales"].submissions_since > 0
    assert rows["request-a-demo"].submissions_since > 0
    assert sum(r.submissions_since for r in rows.values()) == filed.count()
    for touch in filed.select_related("content_offer"):
        form = forms[touch.properties["form"]]
        assert touch.properties == {"form": form.slug, "form_id": form.pk}
        assert touch.external_id.startswith(f"{SUBMISSION_PREFIX}{form.pk}:")
        if form.content_offer_id:
            assert touch.content_offer_id == form.content_offer_id
            assert touch.kind in {TouchKind.CONTENT_DOWNLOAD, TouchKind.WEBINAR}
        else:
            assert touch.kind == TouchKind.FORM_FILL
    unfiled = Touch.objects.filter(kind=TouchKind.FORM_FILL).exclude(pk__in=filed)
    assert unfiled.exists()  # newsletter sign-ups: no demo form stands for them
