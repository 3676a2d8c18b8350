from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from hypothesis import given, settings
from hypothesis import strategies as st

from leadloop.accounts.models import Role
from leadloop.capture.models import Touch
from leadloop.leads.models import DuplicateDismissal, Lead, LeadMerge, Seniority, Stage
from leadloop.lifecycle.models import StageChange
from leadloop.lifecycle.services import lead_transition
from leadloop.loop.merge import (
    MergeChoiceInvalid,
    MergeLeadMissing,
    MergeSameLead,
    lead_merge,
    merge_preview,
    merge_survivor_default,
)
from tests.accounts.factories import UserFactory
from tests.capture.factories import TouchFactory
from tests.leads.factories import CompanyFactory, LeadFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC
T0 = dt.datetime(2026, 1, 5, 9, tzinfo=UTC)


def _at(days: float) -> dt.datetime:
    return T0 + dt.timedelta(days=days)


def _merge(survivor: Lead, duplicate: Lead, **kwargs: object) -> LeadMerge:
    merge = lead_merge(
        survivor_id=survivor.pk,
        duplicate_id=duplicate.pk,
        actor=kwargs.pop("actor", None),
        **kwargs,
    )
    survivor.refresh_from_db()
    return merge


def test_every_touch_moves_to_the_survivor_with_its_external_id():
    survivor, duplicate = LeadFactory(), LeadFactory()
    kept = TouchFactory(lead=survivor, external_id="form-1")
    moved = [TouchFactory(lead=duplicate, external_id=f"visit-{n}") for n in range(3)]

    _merge(survivor, duplicate)

    assert sorted(Touch.objects.filter(lead=survivor).values_list("external_id", flat=True)) == [
        "form-1",
        "visit-0",
        "visit-1",
        "visit-2",
    ]
    assert {t.pk for t in Touch.objects.all()} == {kept.pk, *(t.pk for t in moved)}


def test_every_stage_change_moves_to_the_survivor_and_none_is_written():
    survivor, duplicate = LeadFactory(), LeadFactory()
    lead_transition(lead_id=survivor.pk, to=Stage.MQL, actor=None, at=_at(1))
    lead_transition(lead_id=duplicate.pk, to=Stage.MQL, actor=None, at=_at(2))
    lead_transition(lead_id=duplicate.pk, to=Stage.SAL, actor=None, at=_at(3))
    ids = set(StageChange.objects.values_list("pk", flat=True))

    _merge(survivor, duplicate)

    assert set(StageChange.objects.filter(lead=survivor).values_list("pk", flat=True)) == ids
    assert StageChange.objects.count() == 3


def test_the_duplicate_row_is_deleted():
    survivor, duplicate = LeadFactory(), LeadFactory()

    _merge(survivor, duplicate)

    assert not Lead.objects.filter(pk=duplicate.pk).exists()


def test_empty_survivor_fields_are_filled_and_its_own_values_win():
    acme = CompanyFactory()
    rep = UserFactory(role=Role.SALES_REP)
    survivor = LeadFactory(first_name="Ada", title="", phone="", company=None, owner=None)
    duplicate = LeadFactory(
        first_name="Adelaide",
        title="CTO",
        phone="+49 30 1234567",
        company=acme,
        owner=rep,
        seniority=Seniority.CXO,
    )

    _merge(survivor, duplicate)

    assert (survivor.first_name, survivor.title, survivor.phone) == ("Ada", "CTO", "+49 30 1234567")
    assert (survivor.company, survivor.owner, survivor.seniority) == (acme, rep, Seniority.CXO)


def test_keep_duplicate_takes_its_value_and_records_the_replaced_one():
    survivor = LeadFactory(first_name="Ada", title="Engineer")
    duplicate = LeadFactory(first_name="Adelaide", title="CTO")

    merge = _merge(survivor, duplicate, keep={"title": "duplicate", "first_name": "survivor"})

    assert (survivor.first_name, survivor.title) == ("Ada", "CTO")
    assert merge.snapshot["replaced"] == {"title": "Engineer"}


def test_keep_duplicate_never_empties_a_survivor_field():
    survivor, duplicate = LeadFactory(title="Engineer"), LeadFactory(title="")

    _merge(survivor, duplicate, keep={"title": "duplicate"})

    assert survivor.title == "Engineer"


def test_custom_attributes_merge_and_the_survivor_wins_unless_kept_otherwise():
    survivor = LeadFactory(attributes={"plan": "pro", "seats": 10, "region": "north"})
    duplicate = LeadFactory(attributes={"plan": "free", "seats": 25, "crm": "hubspot"})

    merge = _merge(survivor, duplicate, keep={"attributes.seats": "duplicate"})

    assert survivor.attributes == {"plan": "pro", "seats": 25, "region": "north", "crm": "hubspot"}
    assert merge.snapshot["replaced"] == {"attributes.seats": 10}


def test_stage_entries_keep_the_earliest_first_and_the_latest_last_times():
    survivor = LeadFactory(mql_first_at=_at(5), mql_last_at=_at(5), sal_first_at=None)
    duplicate = LeadFactory(mql_first_at=_at(1), mql_last_at=_at(3), sal_first_at=_at(2))

    _merge(survivor, duplicate)

    assert (survivor.mql_first_at, survivor.mql_last_at, survivor.sal_first_at) == (
        _at(1),
        _at(5),
        _at(2),
    )


def test_the_survivor_keeps_its_stage_and_cycles_add_up():
    survivor = LeadFactory(stage=Stage.SAL, stage_changed_at=_at(4), cycle=1)
    duplicate = LeadFactory(stage=Stage.NURTURE, stage_changed_at=_at(6), cycle=2)

    _merge(survivor, duplicate)

    assert (survivor.stage, survivor.stage_changed_at, survivor.cycle) == (Stage.SAL, _at(4), 3)


def test_the_older_leads_creation_time_and_first_touch_source_are_kept():
    survivor = LeadFactory(created_at=_at(10), source="paid_search", source_detail="brand")
    duplicate = LeadFactory(created_at=_at(1), source="webinar", source_detail="Q1 webinar")

    merge = _merge(survivor, duplicate)

    assert (survivor.created_at, survivor.source, survivor.source_detail) == (
        _at(1),
        "webinar",
        "Q1 webinar",
    )
    assert merge.snapshot["replaced"]["source"] == "paid_search"


def test_the_newer_leads_source_fills_in_when_the_older_has_none():
    survivor = LeadFactory(created_at=_at(1), source="")
    duplicate = LeadFactory(created_at=_at(2), source="referral", source_detail="partner.example")

    _merge(survivor, duplicate)

    assert (survivor.created_at, survivor.source) == (_at(1), "referral")


def test_consent_given_by_the_duplicate_comes_with_its_text_and_time():
    survivor = LeadFactory(consent_given=False)
    duplicate = LeadFactory(consent_given=True, consent_text="Yes, e-mail me", consent_at=_at(2))

    _merge(survivor, duplicate)

    assert (survivor.consent_given, survivor.consent_text, survivor.consent_at) == (
        True,
        "Yes, e-mail me",
        _at(2),
    )


def test_the_survivor_keeps_its_own_email():
    survivor = LeadFactory(email="ada@acme.example")
    duplicate = LeadFactory(email="ada.lovelace@acme.example")

    merge = _merge(survivor, duplicate)

    assert survivor.email == "ada@acme.example"
    assert merge.snapshot["lead"]["email"] == "ada.lovelace@acme.example"


def test_a_survivor_without_email_takes_the_duplicates():
    survivor = LeadFactory(email=None, external_id="crm-17")
    duplicate = LeadFactory(email="ada@acme.example", external_id=None)

    _merge(survivor, duplicate)

    assert (survivor.email, survivor.external_id) == ("ada@acme.example", "crm-17")


def test_the_merge_record_holds_the_whole_duplicate_who_and_when(time_machine):
    time_machine.move_to(_at(30), tick=False)
    ops = UserFactory(role=Role.MARKETING_OPS)
    survivor = LeadFactory()
    duplicate = LeadFactory(
        first_name="Ada",
        mql_first_at=_at(
            1,
        ),
        attributes={"plan": "pro"},
    )
    touch = TouchFactory(lead=duplicate)

    merge = _merge(survivor, duplicate, actor=ops)

    assert (merge.survivor, merge.merged_lead_id, merge.actor, merge.at) == (
        survivor,
        duplicate.pk,
        ops,
        _at(30),
    )
    lead = merge.snapshot["lead"]
    assert set(lead) == {f.attname for f in Lead._meta.concrete_fields}
    assert (lead["id"], lead["first_name"], lead["company_id"]) == (
        duplicate.pk,
        "Ada",
        duplicate.company_id,
    )
    assert lead["mql_first_at"] == "2026-01-06T09:00:00+00:00"
    assert lead["attributes"] == {"plan": "pro"}
    assert merge.snapshot["touch_ids"] == [touch.pk]


def test_earlier_merges_into_the_duplicate_follow_it_to_the_survivor():
    survivor, duplicate, older = LeadFactory(), LeadFactory(), LeadFactory()
    first = _merge(duplicate, older)

    second = _merge(survivor, duplicate)

    assert set(survivor.merges.all()) == {first, second}
    assert second.snapshot["merge_ids"] == [first.pk]


def test_dismissals_of_the_duplicate_go_with_it():
    survivor, duplicate, other = LeadFactory(), LeadFactory(), LeadFactory()
    DuplicateDismissal.objects.create(lead_low=survivor, lead_high=other)
    DuplicateDismissal.objects.create(lead_low=duplicate, lead_high=other)

    _merge(survivor, duplicate)

    assert list(DuplicateDismissal.objects.values_list("lead_low", "lead_high")) == [
        (survivor.pk, other.pk)
    ]


def test_a_lead_cannot_be_merged_with_itself():
    lead = LeadFactory()

    with pytest.raises(MergeSameLead, match=f"Lead {lead.pk} cannot be merged with itself"):
        lead_merge(survivor_id=lead.pk, duplicate_id=lead.pk, actor=None)


def test_merging_a_lead_that_was_merged_already_says_into_which():
    survivor, duplicate, third = LeadFactory(), LeadFactory(), LeadFactory()
    _merge(survivor, duplicate)

    with pytest.raises(
        MergeLeadMissing,
        match=f"Lead {duplicate.pk} no longer exists: it was merged into lead {survivor.pk}",
    ):
        lead_merge(survivor_id=third.pk, duplicate_id=duplicate.pk, actor=None)

    assert Lead.objects.filter(pk=third.pk).exists()


def test_merging_into_a_lead_that_never_existed_is_refused():
    duplicate = LeadFactory()

    with pytest.raises(MergeLeadMissing, match="No lead with id 999999"):
        lead_merge(survivor_id=999999, duplicate_id=duplicate.pk, actor=None)

    assert Lead.objects.filter(pk=duplicate.pk).exists()


@pytest.mark.parametrize(
    ("keep", "message"),
    [
        ({"email": "duplicate"}, "'email' cannot be chosen in a merge"),
        ({"stage": "duplicate"}, "'stage' cannot be chosen in a merge"),
        ({"title": "both"}, "Keep 'title': 'both' is neither 'survivor' nor 'duplicate'"),
    ],
)
def test_an_unknown_choice_is_refused_naming_the_field(keep, message):
    survivor, duplicate = LeadFactory(), LeadFactory()

    with pytest.raises(MergeChoiceInvalid, match=message):
        lead_merge(survivor_id=survivor.pk, duplicate_id=duplicate.pk, actor=None, keep=keep)

    assert Lead.objects.filter(pk=duplicate.pk).exists()


def test_the_default_survivor_is_further_in_the_funnel_then_older():
    old_lead = LeadFactory(stage=Stage.LEAD, created_at=_at(1))
    new_sql = LeadFactory(stage=Stage.SQL, created_at=_at(9))
    new_lead = LeadFactory(stage=Stage.LEAD, created_at=_at(9))

    assert merge_survivor_default(old_lead, new_sql) == new_sql
    assert merge_survivor_default(new_lead, old_lead) == old_lead


def test_the_preview_shows_counts_reasons_and_conflicting_fields():
    acme = CompanyFactory()
    a = LeadFactory(first_name="Ada", last_name="King", company=acme, title="CTO", phone="")
    b = LeadFactory(
        first_name="ADA", last_name="King", company=acme, title="CEO", phone="0301234567"
    )
    TouchFactory.create_batch(2, lead=b)

    preview = merge_preview(a_id=a.pk, b_id=b.pk)

    assert (preview.a.touches, preview.b.touches) == (0, 2)
    assert preview.reasons == ("same name and company",)
    conflicts = {f.key: f.values for f in preview.fields if f.conflict}
    assert conflicts == {"first_name": ("Ada", "ADA"), "title": ("CTO", "CEO")}


# --- Property: a merge loses nothing ------------------------------------------------------------

_TEXT = st.sampled_from(["", "Ada", "Grace", "CTO", "+49 30 1234567"])
_LEAD = st.fixed_dictionaries(
    {
        "first_name": _TEXT,
        "last_name": _TEXT,
        "title": _TEXT,
        "phone": _TEXT,
        "country": st.sampled_from(["", "DE", "FR"]),
        "source": st.sampled_from(["", "webinar", "paid_search"]),
        "with_email": st.booleans(),
        "with_company": st.booleans(),
        "attributes": st.dictionaries(st.sampled_from(["plan", "seats"]), _TEXT, max_size=2),
        "days": st.integers(min_value=0, max_value=30),
        "touches": st.integers(min_value=0, max_value=3),
        "mql": st.booleans(),
    }
)


def _make(spec: dict, n: int) -> Lead:
    lead = LeadFactory(
        email=f"p{n}@acme.example" if spec["with_email"] else None,
        external_id=f"crm-{n}",
        first_name=spec["first_name"],
        last_name=spec["last_name"],
        title=spec["title"],
        phone=spec["phone"],
        country=spec["country"],
        source=spec["source"],
        company=CompanyFactory() if spec["with_company"] else None,
        attributes=spec["attributes"],
        created_at=_at(spec["days"]),
    )
    TouchFactory.create_batch(spec["touches"], lead=lead)
    if spec["mql"]:
        lead_transition(lead_id=lead.pk, to=Stage.MQL, actor=None, at=_at(spec["days"] + 1))
        lead.refresh_from_db()
    return lead


def _empty(value: object) -> bool:
    return value in (None, "", {})


@settings(max_examples=30, deadline=None)
@given(
    survivor_spec=_LEAD, duplicate_spec=_LEAD, keep_title=st.sampled_from(["survivor", "duplicate"])
)
def test_a_merge_loses_no_touch_no_stage_change_and_no_value(
    survivor_spec, duplicate_spec, keep_title
):
    # Each example runs in its own transaction, rolled back, so examples do not see each other.
    with transaction.atomic():
        survivor, duplicate = _make(survivor_spec, 1), _make(duplicate_spec, 2)
        touches = set(Touch.objects.values_list("pk", flat=True))
        changes = set(StageChange.objects.values_list("pk", flat=True))
        before = {f.attname: getattr(duplicate, f.attname) for f in Lead._meta.concrete_fields}

        merge = _merge(survivor, duplicate, keep={"title": keep_title})

        assert set(Touch.objects.filter(lead=survivor).values_list("pk", flat=True)) == touches
        assert (
            set(StageChange.objects.filter(lead=survivor).values_list("pk", flat=True)) == changes
        )
        assert Touch.objects.count() == len(touches)
        assert StageChange.objects.count() == len(changes)
        for attname, value in before.items():
            if _empty(value):
                continue
            stored = value.isoformat() if isinstance(value, dt.datetime) else value
            assert getattr(survivor, attname) == value or merge.snapshot["lead"][attname] == stored
        for key, value in duplicate_spec["attributes"].items():
            if value:
                assert survivor.attributes.get(key) == value or (
                    merge.snapshot["lead"]["attributes"][key] == value
                )
        transaction.set_rollback(True)
