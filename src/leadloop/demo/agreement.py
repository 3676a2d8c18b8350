"""The demo's hand-off agreement: version 1, approved by the demo's marketing lead and sales
manager when the story begins, with routing by territory over the demo's two sales teams."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from django.db import transaction

from leadloop.agreements.defaults import DEFAULT_BODY, DEFAULT_PREAMBLE
from leadloop.agreements.models import (
    AgreementApproval,
    AgreementStatus,
    AgreementVersion,
    ApprovalSide,
)
from leadloop.agreements.schema import AgreementBody
from leadloop.demo.staff import MARKETING, SALES_AMERICAS, SALES_EMEA, Staff
from leadloop.scoring.services import qualify_thresholds_set


def demo_agreement_body() -> dict[str, Any]:
    """The default agreement with the demo's teams, and the reasons its story uses."""
    body = copy.deepcopy(DEFAULT_BODY)
    body["routing"] = {
        "rules": [
            {"name": "Named accounts", "kind": "named_account"},
            {
                "name": "Americas",
                "kind": "territory",
                "regions": ["AMERICAS"],
                "team": SALES_AMERICAS,
            },
            {"name": "EMEA and the rest of the world", "kind": "round_robin", "team": SALES_EMEA},
        ],
        "cap_per_day": 10,
        "cap_per_week": 40,
        "skip_out_of_office": True,
        "marketing_queue": MARKETING,
        "fallback_queue": SALES_EMEA,
    }
    reasons = [r for r in body["reasons"] if (r["kind"], r["code"]) != ("reject", "competitor")]
    reasons[1:1] = [
        {"code": "competitor", "label": "Uses a competitor", "kind": "reject",
         "action": "disqualify"},
        {"code": "no_response", "label": "No response", "kind": "reject", "action": "nurture",
         "track": "stay-in-touch"},
    ]  # fmt: skip
    body["reasons"] = reasons
    return AgreementBody.model_validate(body).model_dump(mode="json")


@transaction.atomic
def demo_agreement_ensure(*, staff: Staff, since: datetime) -> AgreementVersion:
    """Put the demo's agreement in force (once) as of `since`, approved by both sides."""
    existing = AgreementVersion.objects.filter(status=AgreementStatus.IN_FORCE).first()
    if existing is not None:
        return existing
    version = AgreementVersion.objects.create(
        number=(
            AgreementVersion.objects.order_by("-number").values_list("number", flat=True).first()
            or 0
        )
        + 1,
        title="Marketing and sales hand-off",
        preamble=DEFAULT_PREAMBLE,
        body=demo_agreement_body(),
        status=AgreementStatus.IN_FORCE,
        created_by=staff.users["marketing"],
        effective_at=since,
    )
    for side, username in ((ApprovalSide.MARKETING, "marketing"), (ApprovalSide.SALES, "manager")):
        AgreementApproval.objects.create(
            version=version, side=side, user=staff.users[username], at=since
        )
    body = AgreementBody.model_validate(version.body)
    qualify_thresholds_set(
        groups=[g.model_dump() for g in body.qualification.groups],
        agreement_version=version.number,
        rescore=False,  # the demo rescores every lead itself
    )
    return version
