"""Drafting, approving and taking effect: the agreement's use cases."""

from __future__ import annotations

import pytest
from django.test import override_settings
from django.utils import timezone
from pydantic import ValidationError

from leadloop.accounts.models import Role, Team, TeamKind
from leadloop.agreements.models import AgreementApproval, AgreementStatus, AgreementVersion
from leadloop.agreements.schema import AgreementBody
from leadloop.agreements.selectors import agreement_in_force
from leadloop.agreements.services import (
    AgreementFrozen,
    AgreementInvalid,
    AgreementStale,
    ApprovalRefused,
    ApproverRoleRefused,
    agreement_approve,
    agreement_draft_create,
    agreement_draft_update,
    agreement_withdraw,
)
from leadloop.capture.models import TouchKind
from leadloop.common.errors import PermissionDenied
from leadloop.scoring.models import LeadScore, QualifyThresholds
from leadloop.scoring.rescore import scores_rescore
from tests.accounts.factories import TeamFactory, UserFactory
from tests.agreements.factories import (
    body,
    in_force,
    marketing_ops,
    sales_manager,
    with_groups,
)
from tests.capture.factories import TouchFactory
from tests.leads.factories import CompanyFactory, LeadFactory
from tests.scoring.factories import active_rules

pytestmark = pytest.mark.django_db

IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


def _routing(*rules: dict, **settings: object) -> dict:
    routing = body()["routing"]
    routing["rules"] = list(rules)
    routing.update(settings)
    return routing


# --- Drafting ------------------------------------------------------------------------------------


def test_a_draft_without_a_body_copies_the_version_in_force():
    current = agreement_in_force()

    draft = agreement_draft_create(actor=marketing_ops(), title="Tighter SLA")

    assert (draft.number, draft.status, draft.based_on) == (
        2,
        AgreementStatus.DRAFT,
        current.version,
    )
    assert (draft.body, draft.preamble) == (current.version.body, current.version.preamble)


def test_a_draft_with_a_country_that_is_not_a_code_names_the_rule_and_field():
    rules = [
        {"name": "Named accounts", "kind": "named_account"},
        {"name": "DACH", "kind": "territory", "countries": ["DE", "Germany"], "team": "Sales"},
    ]

    with pytest.raises(AgreementInvalid) as caught:
        agreement_draft_create(
            actor=marketing_ops(), title="DACH", body=body(routing=_routing(*rules))
        )

    assert caught.value.loc == ("body", "routing", "rules", 1, "countries")
    assert caught.value.message == (
        'Routing rule 2 ("DACH"), countries: '
        "'Germany' is not an ISO 3166-1 alpha-2 code such as DE."
    )
    assert AgreementVersion.objects.filter(status=AgreementStatus.DRAFT).count() == 0


REGION_NAMES = (
    "EMEA, EUROPE, DACH, NORDICS, BENELUX, MIDDLE_EAST, AFRICA, NA, NORTH_AMERICA, AMERICAS, "
    "LATAM, APAC"
)


def test_a_draft_with_an_unknown_region_names_the_rule_and_field():
    rules = [
        {"name": "Named accounts", "kind": "named_account"},
        {"name": "North", "kind": "territory", "regions": ["dach", "Nordic"], "team": "Sales"},
    ]

    with pytest.raises(AgreementInvalid) as caught:
        agreement_draft_create(
            actor=marketing_ops(), title="North", body=body(routing=_routing(*rules))
        )

    assert caught.value.loc == ("body", "routing", "rules", 1, "regions")
    assert caught.value.message == (
        'Routing rule 2 ("North"), regions: '
        f"'Nordic' is not a sales region (did you mean NORDICS? regions: {REGION_NAMES})."
    )
    assert AgreementVersion.objects.filter(status=AgreementStatus.DRAFT).count() == 0


def test_the_agreement_schema_refuses_an_unknown_region_at_the_rule_and_field():
    rule = {"name": "Moon", "kind": "territory", "regions": ["Atlantis"], "team": "Sales"}

    with pytest.raises(ValidationError) as caught:
        AgreementBody.model_validate({"routing": {"rules": [rule]}})

    [error] = caught.value.errors()
    assert error["loc"] == ("routing", "rules", 0, "regions")
    assert (
        error["msg"] == f"Value error, 'Atlantis' is not a sales region (regions: {REGION_NAMES})"
    )


def test_known_regions_are_accepted_in_any_case_and_spelling():
    regions = ["Nordics", "middle east", "north-america", " apac "]
    rule = {"name": "World", "kind": "territory", "regions": regions, "team": "Sales"}

    parsed = AgreementBody.model_validate({"routing": {"rules": [rule]}})

    assert parsed.routing.rules[0].regions == regions


def test_a_threshold_out_of_range_is_named_in_words():
    with pytest.raises(AgreementInvalid) as caught:
        agreement_draft_create(
            actor=marketing_ops(), title="x", body=with_groups({"engagement_min": 140})
        )

    assert caught.value.loc == ("body", "qualification", "groups", 0, "engagement_min")
    assert caught.value.message == (
        "Threshold group 1, engagement at least: Input should be less than or equal to 100."
    )


def test_a_rule_naming_an_unknown_team_is_refused_with_the_teams_there_are():
    TeamFactory(name="Enterprise")
    rules = [{"name": "Big ones", "kind": "company_size", "size_min": 500, "team": "Entreprise"}]

    with pytest.raises(AgreementInvalid) as caught:
        agreement_draft_create(
            actor=marketing_ops(), title="x", body=body(routing=_routing(*rules))
        )

    assert caught.value.loc == ("body", "routing", "rules", 0, "team")
    assert caught.value.message == (
        'Routing rule 1 ("Big ones"), team: there is no team "Entreprise" '
        "(teams: Enterprise, Marketing, Sales)."
    )


def test_a_rep_who_is_not_a_user_is_refused_naming_the_rep():
    UserFactory(username="ana", role=Role.SALES_REP)
    rules = [
        {
            "name": "Fintech",
            "kind": "sector",
            "sectors": ["Fintech"],
            "reps": [{"username": "ana"}, {"username": "bne", "weight": 2}],
        }
    ]

    with pytest.raises(AgreementInvalid) as caught:
        agreement_draft_create(
            actor=marketing_ops(), title="x", body=body(routing=_routing(*rules))
        )

    assert caught.value.loc == ("body", "routing", "rules", 0, "reps", 1, "username")
    assert caught.value.message == (
        'Routing rule 1 ("Fintech"), rep 2 ("bne"), username: there is no active user "bne".'
    )


def test_a_rule_may_name_a_queue_the_agreement_creates():
    rules = [{"name": "Everyone", "kind": "round_robin", "team": "Inside sales"}]

    draft = agreement_draft_create(
        actor=marketing_ops(),
        title="New queue",
        body=body(routing=_routing(*rules, fallback_queue="Inside sales")),
    )

    assert draft.body["routing"]["fallback_queue"] == "Inside sales"
    assert not Team.objects.filter(name="Inside sales").exists()  # made when it takes effect


def test_every_problem_of_a_draft_is_reported_at_once():
    rules = [
        {"name": "DACH", "kind": "territory", "team": "Nobody"},
        {"name": "Small", "kind": "company_size", "size_min": 50, "size_max": 10, "team": "Sales"},
    ]

    with pytest.raises(AgreementInvalid) as caught:
        agreement_draft_create(
            actor=marketing_ops(),
            title="x",
            body=body(routing=_routing(*rules, cap_per_day=10, cap_per_week=5)),
        )

    assert [e.loc[1:] for e in caught.value.errors] == [
        ("routing", "cap_per_week"),
        ("routing", "rules", 0, "team"),
        ("routing", "rules", 0, "countries"),
        ("routing", "rules", 1, "size_max"),
    ]
    assert caught.value.message.endswith("(and 3 more problems)")


def test_a_reason_code_used_twice_points_at_the_second_reason():
    reasons = [
        *body()["reasons"][:2],
        {"code": "bad_fit", "label": "Also bad", "kind": "reject", "action": "disqualify"},
    ]

    with pytest.raises(AgreementInvalid) as caught:
        agreement_draft_create(actor=marketing_ops(), title="x", body=body(reasons=reasons))

    assert caught.value.loc == ("body", "reasons", 2, "code")
    assert caught.value.message == (
        "Reason 3 (\"Also bad\"), code: the code 'bad_fit' is used by another reject reason."
    )


def test_a_recycle_reason_without_days_is_refused():
    reasons = [{"code": "later", "label": "Later", "kind": "reject", "action": "recycle"}]

    with pytest.raises(
        AgreementInvalid,
        match=r'^Reason 1 \("Later"\), recycle after \(days\): a recycle action needs the number of days\.$',
    ):
        agreement_draft_create(actor=marketing_ops(), title="x", body=body(reasons=reasons))


def test_a_hand_raiser_of_an_unknown_touch_kind_is_refused():
    qualification = body()["qualification"]
    qualification["hand_raisers"] = [{"touch_kind": "demo_request", "label": "Demo"}]

    with pytest.raises(AgreementInvalid) as caught:
        agreement_draft_create(
            actor=marketing_ops(), title="x", body=body(qualification=qualification)
        )

    assert caught.value.loc == ("body", "qualification", "hand_raisers", 0, "touch_kind")
    assert caught.value.message.startswith(
        "Hand-raiser 1 (\"Demo\"), touch kind: 'demo_request' is not a touch kind (use one of"
    )


def test_a_batched_hand_off_needs_a_real_time_zone():
    handoff = {"mode": "batched", "weekday": 0, "time": "09:00", "time_zone": "Europe/Berlim"}

    with pytest.raises(AgreementInvalid) as caught:
        agreement_draft_create(actor=marketing_ops(), title="x", body=body(handoff=handoff))

    assert caught.value.message == (
        "Hand-off, time zone: 'Europe/Berlim' is not a time zone such as Europe/Berlin."
    )


def test_a_sales_rep_cannot_draft():
    with pytest.raises(PermissionDenied, match="A sales rep cannot draft the agreement"):
        agreement_draft_create(actor=UserFactory(role=Role.SALES_REP), title="Mine")


def test_a_draft_nobody_approved_can_change():
    draft = agreement_draft_create(actor=marketing_ops(), title="First try")

    agreement_draft_update(
        version_id=draft.pk,
        actor=marketing_ops(),
        title="Second try",
        body=with_groups({"fit_grade_min": "A"}),
    )

    draft.refresh_from_db()
    assert draft.title == "Second try"
    assert draft.body["qualification"]["groups"] == [
        {"fit_grade_min": "A", "engagement_min": None, "predicted_min": None}
    ]


def test_a_draft_approved_by_one_side_is_frozen():
    draft = agreement_draft_create(actor=marketing_ops(), title="x")
    agreement_approve(version_id=draft.pk, actor=marketing_ops(first_name="Olga", last_name="Ops"))

    with pytest.raises(AgreementFrozen) as caught:
        agreement_draft_update(version_id=draft.pk, actor=marketing_ops(), title="Changed")

    assert caught.value.message == (
        "Version 2 can no longer change: version 2 has the marketing approval of Olga Ops. "
        "Start a new draft from the version in force instead."
    )


def test_the_version_in_force_cannot_change():
    current = agreement_in_force().version

    with pytest.raises(AgreementFrozen, match="version 1 is in force"):
        agreement_draft_update(version_id=current.pk, actor=marketing_ops(), title="Sneaky")


# --- Approving -----------------------------------------------------------------------------------


def test_one_side_approving_does_not_put_a_draft_in_force():
    draft = agreement_draft_create(actor=marketing_ops(), title="x")

    agreement_approve(version_id=draft.pk, actor=marketing_ops(), note="Looks right")

    draft.refresh_from_db()
    assert draft.status == AgreementStatus.DRAFT
    assert agreement_in_force().number == 1
    approval = AgreementApproval.objects.get()
    assert (approval.side, approval.note) == ("marketing", "Looks right")


def test_both_sides_approving_puts_a_draft_in_force_and_supersedes_the_previous_version():
    previous = agreement_in_force().version
    draft = agreement_draft_create(actor=marketing_ops(), title="Faster answers")
    agreement_approve(version_id=draft.pk, actor=marketing_ops())

    agreement_approve(version_id=draft.pk, actor=sales_manager())

    draft.refresh_from_db()
    previous.refresh_from_db()
    assert (draft.status, previous.status) == (AgreementStatus.IN_FORCE, AgreementStatus.SUPERSEDED)
    assert draft.effective_at is not None
    assert previous.superseded_at == draft.effective_at
    assert agreement_in_force().number == draft.number


def test_the_same_person_cannot_approve_both_sides():
    leader = UserFactory(role=Role.REVENUE_LEADER, first_name="Rita", last_name="Lead")
    draft = agreement_draft_create(actor=marketing_ops(), title="x")
    agreement_approve(version_id=draft.pk, actor=leader, side="marketing")

    with pytest.raises(ApprovalRefused) as caught:
        agreement_approve(version_id=draft.pk, actor=leader, side="sales")

    assert caught.value.message == (
        "Rita Lead approved version 2 for marketing; the sales side needs another person."
    )
    draft.refresh_from_db()
    assert draft.status == AgreementStatus.DRAFT


def test_a_sales_rep_cannot_approve():
    draft = agreement_draft_create(actor=marketing_ops(), title="x")

    with pytest.raises(ApproverRoleRefused) as caught:
        agreement_approve(version_id=draft.pk, actor=UserFactory(role=Role.SALES_REP))

    assert caught.value.message.startswith("A sales rep cannot approve the agreement:")
    assert caught.value.status == 403
    assert AgreementApproval.objects.count() == 0


def test_a_revenue_leader_says_which_side_they_approve():
    draft = agreement_draft_create(actor=marketing_ops(), title="x")

    with pytest.raises(AgreementInvalid, match="a revenue leader approves for either team"):
        agreement_approve(version_id=draft.pk, actor=UserFactory(role=Role.REVENUE_LEADER))


def test_marketing_ops_cannot_approve_for_sales():
    draft = agreement_draft_create(actor=marketing_ops(), title="x")

    with pytest.raises(ApproverRoleRefused, match="approves for marketing, not for sales"):
        agreement_approve(version_id=draft.pk, actor=marketing_ops(), side="sales")


def test_a_side_is_approved_once():
    draft = agreement_draft_create(actor=marketing_ops(), title="x")
    agreement_approve(version_id=draft.pk, actor=sales_manager(first_name="Sam", last_name="M"))

    with pytest.raises(
        ApprovalRefused, match="The sales side of version 2 was approved already, by Sam M"
    ):
        agreement_approve(version_id=draft.pk, actor=sales_manager())


def test_a_draft_made_before_another_version_took_effect_cannot_be_approved():
    late = agreement_draft_create(actor=marketing_ops(), title="Made from v1")
    in_force(body(), title="v3 wins")

    with pytest.raises(AgreementStale, match="Version 3 took effect after draft 2 was made"):
        agreement_approve(version_id=late.pk, actor=sales_manager())

    assert AgreementApproval.objects.filter(version=late).count() == 0


def test_a_withdrawn_draft_cannot_be_approved():
    draft = agreement_draft_create(actor=marketing_ops(), title="x")
    agreement_withdraw(version_id=draft.pk, actor=marketing_ops())

    with pytest.raises(AgreementFrozen, match="Version 2 is withdrawn; only a draft is approved"):
        agreement_approve(version_id=draft.pk, actor=sales_manager())


def test_taking_effect_makes_the_queues_it_names():
    routing = _routing(
        {"name": "Everyone", "kind": "round_robin", "team": "Inside sales"},
        marketing_queue="Demand gen",
        fallback_queue="Inside sales",
    )

    in_force(body(routing=routing))

    assert dict(Team.objects.values_list("name", "kind")) == {
        "Demand gen": TeamKind.MARKETING,
        "Inside sales": TeamKind.SALES,
    }


def test_taking_effect_hands_the_thresholds_to_scoring():
    version = in_force(with_groups({"fit_grade_min": "A"}, {"predicted_min": 0.4}))

    stored = QualifyThresholds.objects.get()
    assert (stored.agreement_version, stored.groups) == (
        version.number,
        [{"fit_grade_min": "A"}, {"predicted_min": 0.4}],
    )


@override_settings(LEADLOOP_QUALIFY_FIT="A", LEADLOOP_QUALIFY_ENGAGEMENT=70)
def test_the_first_version_takes_its_score_thresholds_from_the_settings():
    first = agreement_in_force()

    assert first.body.qualification.groups[0].model_dump(exclude_none=True) == {
        "fit_grade_min": "A",
        "engagement_min": 70,
    }
    assert QualifyThresholds.objects.get().groups == [
        {"fit_grade_min": "A", "engagement_min": 70},
        {"predicted_min": 0.25},
    ]


def test_after_a_version_takes_effect_a_leads_qualifies_follows_its_thresholds(
    django_capture_on_commit_callbacks,
):
    active_rules()
    lead = LeadFactory(company=CompanyFactory(sector="Retail"))  # fit grade D
    TouchFactory(lead=lead, kind=TouchKind.DEMO, occurred_at=timezone.now())
    scores_rescore()
    assert not LeadScore.objects.get(lead=lead).qualifies

    with override_settings(TASKS=IMMEDIATE), django_capture_on_commit_callbacks(execute=True):
        in_force(with_groups({"engagement_min": 20}))

    assert LeadScore.objects.get(lead=lead).qualifies
