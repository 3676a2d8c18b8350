"""The agreement pages: the version in force for every role, versions and their diffs, the
draft editor of marketing ops (errors beside the fields) and the approvals of both sides."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse

from leadloop.accounts.models import Role
from leadloop.agreements.models import AgreementApproval, AgreementStatus, AgreementVersion
from leadloop.agreements.selectors import agreement_in_force
from leadloop.agreements.services import agreement_approve, agreement_draft_create
from leadloop.scoring.models import LeadScore
from tests.accounts.factories import UserFactory
from tests.agreements.factories import body, in_force, marketing_ops, sales_manager, with_groups
from tests.leads.factories import LeadFactory
from tests.web.helpers import figure, table_rows, text

pytestmark = pytest.mark.django_db


def _form(
    source: dict[str, Any], *, title: str = "Next version", preamble: str = ""
) -> dict[str, str]:
    """The editor's inputs for `source`, as the page posts them."""
    data = {"title": title, "preamble": preamble}
    q, routing, slas = source["qualification"], source["routing"], source["slas"]
    for i, g in enumerate(q["groups"]):
        data[f"group-{i}-fit_grade_min"] = g.get("fit_grade_min") or ""
        data[f"group-{i}-engagement_min"] = str(g.get("engagement_min") or "")
        p = g.get("predicted_min")
        data[f"group-{i}-predicted_min"] = f"{p * 100:g}" if p else ""
    for i, r in enumerate(q["hand_raisers"]):
        key = next(k for k in ("touch_kind", "form_slug", "content_kind") if r.get(k))
        data[f"raiser-{i}-label"] = r.get("label", "")
        data[f"raiser-{i}-trigger"] = f"{key}:{r[key]}"
    for i, rule in enumerate(routing["rules"]):
        data[f"rule-{i}-name"] = rule["name"]
        data[f"rule-{i}-kind"] = rule["kind"]
        data[f"rule-{i}-team"] = rule.get("team", "")
        data[f"rule-{i}-countries"] = ", ".join(rule.get("countries", []))
        for j, rep in enumerate(rule.get("reps", [])):
            data[f"rule-{i}-rep-{j}-username"] = rep["username"]
            data[f"rule-{i}-rep-{j}-weight"] = str(rep.get("weight", 1))
    for key in ("cap_per_day", "cap_per_week", "marketing_queue", "fallback_queue"):
        data[f"routing-{key}"] = str(routing.get(key) or "")
    if routing.get("skip_out_of_office"):
        data["routing-skip_out_of_office"] = "on"
    for key, value in slas["sales"].items():
        if isinstance(value, bool):
            if value:
                data[f"sales-{key}"] = "on"
        else:
            data[f"sales-{key}"] = f"{value:g}"
    m = slas["marketing"]
    data.update(
        {
            "marketing-period": m["period"],
            "marketing-mqls_per_period": str(m["mqls_per_period"]),
            "marketing-good_fit_share": f"{m['good_fit_share'] * 100:g}",
            "marketing-accepted_share": f"{m['accepted_share'] * 100:g}",
        }
    )
    for i, r in enumerate(source["reasons"]):
        for key in ("kind", "code", "label", "action", "track"):
            data[f"reason-{i}-{key}"] = r.get(key, "")
        data[f"reason-{i}-recycle_days"] = str(r.get("recycle_days") or "")
    for key, value in source["handoff"].items():
        data[f"handoff-{key}"] = str(value)
    return data


def _error_beside(page: str, name: str) -> str:
    """The error shown in the same cell or field as the input `name`."""
    match = re.search(
        rf'name="{re.escape(name)}"[^>]*aria-invalid="true".*?<p class="field__error">([^<]*)</p>',
        page,
        re.S,
    )
    assert match, f"no error beside {name}"
    return match.group(1).replace("&quot;", '"').replace("&#x27;", "'")


@pytest.mark.parametrize(
    "role", [Role.SALES_REP, Role.SALES_MANAGER, Role.MARKETING_OPS, Role.REVENUE_LEADER]
)
def test_every_role_reads_the_agreement_in_force(client, role):
    version = in_force(body(), title="Signed by both")
    client.force_login(UserFactory(role=role))

    response = client.get("/agreement/")

    page = text(response)
    assert response.status_code == 200
    assert figure(response, "version") == str(version.number)
    assert "Signed by both" in page
    for heading in (
        "Qualification: when a lead becomes an MQL",
        "Routing: who gets an MQL",
        "SLAs: what each team promises",
        "Reasons: what follows each answer",
        "Hand-off",
    ):
        assert f">{heading}</h2>" in page
    assert 'data-approval="marketing"' in page
    assert 'data-approval="sales"' in page
    assert ("Draft a change" in page) == (role == Role.MARKETING_OPS)


def test_the_page_shows_who_approved_and_the_changes_since_the_previous_version(client):
    agreement_in_force()
    new = body()
    new["slas"]["sales"]["decision_days"] = 3
    draft = agreement_draft_create(actor=marketing_ops(), title="Quicker decisions", body=new)
    agreement_approve(version_id=draft.pk, actor=marketing_ops(first_name="Olga", last_name="Ops"))
    agreement_approve(version_id=draft.pk, actor=sales_manager(first_name="Sam", last_name="Sales"))
    client.force_login(UserFactory(role=Role.SALES_REP))

    page = text(client.get("/agreement/"))

    assert "approved by Olga Ops" in page
    assert "approved by Sam Sales" in page
    assert "Changes since version 1" in page
    assert "<del>5</del> <ins>3</ins>" in page


def test_the_address_without_a_slash_leads_to_the_agreement(client):
    client.force_login(UserFactory())

    response = client.get("/agreement")

    assert (response.status_code, response["Location"]) == (301, "/agreement/")


def test_the_history_lists_every_version_with_its_approvals(client):
    agreement_in_force()
    in_force(body(), title="Second")
    agreement_draft_create(actor=marketing_ops(), title="Third, a draft")
    client.force_login(UserFactory())

    response = client.get(reverse("web:agreement_history"))

    rows = table_rows(response, "versions")
    assert [r[0] for r in rows] == [
        "v3 Third, a draft",
        "v2 Second",
        "v1 Initial hand-off agreement",
    ]
    assert [r[1] for r in rows] == ["Draft", "In force", "Superseded"]


def test_a_sales_rep_cannot_open_the_editor(client):
    client.force_login(UserFactory(role=Role.SALES_REP))

    assert client.get(reverse("web:agreement_draft_new")).status_code == 403
    assert client.post(reverse("web:agreement_draft_new"), {"title": "x"}).status_code == 403


def test_the_editor_starts_from_the_version_in_force(client):
    agreement_in_force()
    client.force_login(marketing_ops())

    page = text(client.get(reverse("web:agreement_draft_new")))

    assert re.search(r'name="group-0-engagement_min"[^>]*value="40"', page)
    assert re.search(r'name="group-1-predicted_min"[^>]*value="25"', page)
    assert re.search(r'<option value="touch_kind:demo" selected>', page)
    assert re.search(r'name="rule-1-kind".*?<option value="round_robin" selected>', page, re.S)
    assert re.search(r'name="reason-2-recycle_days"[^>]*value="90"', page)


def test_saving_the_editor_makes_a_draft_with_the_changed_body(client):
    UserFactory(username="ana", role=Role.SALES_REP)
    agreement_in_force()
    client.force_login(marketing_ops())
    new = body()
    new["qualification"]["groups"][0]["engagement_min"] = 50
    new["routing"]["rules"].insert(
        1,
        {
            "name": "DACH",
            "kind": "territory",
            "countries": ["DE", "AT"],
            "reps": [{"username": "ana", "weight": 2}],
        },
    )
    new["handoff"] = {
        "mode": "batched",
        "weekday": 0,
        "time": "09:00",
        "time_zone": "Europe/Berlin",
    }
    data = _form(new, title="DACH territory")
    data["rule-1-countries"] = "de, AT"  # codes are upper-cased

    response = client.post(reverse("web:agreement_draft_new"), data)

    assert response.status_code == 302, text(response)
    draft = AgreementVersion.objects.get(number=2)
    assert response["Location"] == reverse("web:agreement_version", args=[2])
    assert (draft.title, draft.status) == ("DACH territory", AgreementStatus.DRAFT)
    assert draft.body["qualification"]["groups"][0]["engagement_min"] == 50
    assert draft.body["routing"]["rules"][1] == {
        "name": "DACH",
        "kind": "territory",
        "countries": ["DE", "AT"],
        "regions": [],
        "sectors": [],
        "size_min": None,
        "size_max": None,
        "team": "",
        "reps": [{"username": "ana", "weight": 2}],
    }
    assert draft.body["handoff"]["mode"] == "batched"
    assert draft.body["reasons"] == agreement_in_force().version.body["reasons"]


def test_a_refused_draft_shows_each_error_beside_its_field_and_keeps_what_was_typed(client):
    agreement_in_force()
    client.force_login(marketing_ops())
    data = _form(body())
    data.update(
        {
            "group-0-engagement_min": "140",
            "rule-2-name": "DACH",
            "rule-2-kind": "territory",
            "rule-2-countries": "Germany",
            "rule-2-team": "Sales",
            "reason-2-recycle_days": "",
            "sales-decision_days": "soon",
            "handoff-time": "9am",
        }
    )

    response = client.post(reverse("web:agreement_draft_new"), data)

    page = text(response)
    assert response.status_code == 400
    assert AgreementVersion.objects.count() == 1
    assert _error_beside(page, "group-0-engagement_min") == (
        "Threshold group 1, engagement at least: Input should be less than or equal to 100."
    )
    assert _error_beside(page, "rule-2-countries") == (
        'Routing rule 3 ("DACH"), countries: '
        "'Germany' is not an ISO 3166-1 alpha-2 code such as DE."
    )
    assert _error_beside(page, "reason-2-recycle_days") == (
        'Reason 3 ("No budget"), recycle after (days): a recycle action needs the number of days.'
    )
    assert _error_beside(page, "sales-decision_days").startswith(
        "Sales SLA, decision (business days): Input should be a valid number"
    )
    assert (
        _error_beside(page, "handoff-time")
        == "Hand-off, time: '9am' is not a time of day as HH:MM."
    )
    assert "5 things to fix before saving" in page
    assert re.search(r'name="rule-2-countries"[^>]*value="Germany"', page)


def test_an_unknown_region_is_shown_beside_the_rules_regions(client):
    agreement_in_force()
    client.force_login(marketing_ops())
    data = _form(body())
    data.update(
        {
            "rule-2-name": "North",
            "rule-2-kind": "territory",
            "rule-2-regions": "Nordics, Atlantis",
            "rule-2-team": "Sales",
        }
    )

    response = client.post(reverse("web:agreement_draft_new"), data)

    page = text(response)
    assert response.status_code == 400
    assert AgreementVersion.objects.count() == 1
    assert _error_beside(page, "rule-2-regions").startswith(
        "Routing rule 3 (\"North\"), regions: 'Atlantis' is not a sales region (regions: EMEA,"
    )
    assert re.search(r'name="rule-2-regions"[^>]*value="Nordics, Atlantis"', page)


def test_a_draft_nobody_approved_can_be_edited_and_saved_again(client):
    draft = agreement_draft_create(actor=marketing_ops(), title="First try")
    client.force_login(marketing_ops())
    data = _form(draft.body, title="Second try")

    response = client.post(reverse("web:agreement_draft_edit", args=[draft.number]), data)

    draft.refresh_from_db()
    assert response.status_code == 302
    assert draft.title == "Second try"


def test_each_role_sees_the_approve_buttons_of_its_side(client):
    draft = agreement_draft_create(actor=marketing_ops(), title="x")
    url = reverse("web:agreement_version", args=[draft.number])
    expected = {
        Role.MARKETING_OPS: ["Approve for marketing"],
        Role.SALES_MANAGER: ["Approve for sales"],
        Role.REVENUE_LEADER: ["Approve for marketing", "Approve for sales"],
        Role.SALES_REP: [],
    }
    for role, buttons in expected.items():
        client.force_login(UserFactory(role=role))

        page = text(client.get(url))

        assert re.findall(r">(Approve for \w+)</button>", page) == buttons, role


def test_both_sides_approve_in_the_browser_and_the_version_is_in_force(client):
    draft = agreement_draft_create(actor=marketing_ops(), title="x")
    url = reverse("web:agreement_approve", args=[draft.number])
    client.force_login(marketing_ops(first_name="Olga", last_name="Ops"))
    first = client.post(url, {"note": "Checked the numbers"})
    client.force_login(sales_manager())

    second = client.post(url, {})

    draft.refresh_from_db()
    assert first["Location"] == reverse("web:agreement_version", args=[draft.number])
    assert second["Location"] == reverse("web:agreement")
    assert draft.status == AgreementStatus.IN_FORCE
    assert AgreementApproval.objects.get(side="marketing").note == "Checked the numbers"


def test_a_refused_approval_is_shown_as_a_message(client):
    leader = UserFactory(role=Role.REVENUE_LEADER, first_name="Rita", last_name="Lead")
    draft = agreement_draft_create(actor=marketing_ops(), title="x")
    agreement_approve(version_id=draft.pk, actor=leader, side="marketing")
    client.force_login(leader)

    response = client.post(
        reverse("web:agreement_approve", args=[draft.number]), {"side": "sales"}, follow=True
    )

    assert (
        "Rita Lead approved version 2 for marketing; the sales side needs another person."
        in text(response)
    )
    assert AgreementApproval.objects.count() == 1


def test_a_draft_that_changes_thresholds_says_how_many_leads_would_meet_them(client):
    for i, grade in enumerate(("A", "B", "C", "D")):
        LeadScore.objects.create(lead=LeadFactory(), fit_score=90 - 20 * i, fit_grade=grade)
    agreement_in_force()
    draft = agreement_draft_create(
        actor=marketing_ops(), title="Only A", body=with_groups({"fit_grade_min": "A"})
    )
    client.force_login(UserFactory())

    response = client.get(reverse("web:agreement_version", args=[draft.number]))

    assert (figure(response, "impact-draft"), figure(response, "impact-current")) == ("1", "0")


def test_a_new_rule_without_a_name_is_refused_beside_the_name(client):
    agreement_in_force()
    client.force_login(marketing_ops())
    data = _form(body())
    data.update({"rule-2-name": "", "rule-2-kind": "round_robin", "rule-2-team": "Sales"})

    response = client.post(reverse("web:agreement_draft_new"), data)

    assert response.status_code == 400
    assert _error_beside(text(response), "rule-2-name") == (
        "Routing rule 3, name: must not be empty."
    )
