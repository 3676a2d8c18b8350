"""Agreement bodies and the people who draft and approve them."""

from __future__ import annotations

import copy
from typing import Any

from leadloop.accounts.models import Role, User
from leadloop.agreements.defaults import DEFAULT_BODY
from leadloop.agreements.models import AgreementVersion
from leadloop.agreements.services import agreement_approve, agreement_draft_create
from tests.accounts.factories import UserFactory


def body(**sections: Any) -> dict[str, Any]:
    """The default body with whole sections replaced, e.g. ``body(handoff={...})``."""
    out = copy.deepcopy(DEFAULT_BODY)
    out.update(copy.deepcopy(sections))
    return out


def with_groups(*groups: dict[str, Any]) -> dict[str, Any]:
    """The default body with these qualification threshold groups."""
    out = body()
    out["qualification"]["groups"] = list(groups)
    return out


def marketing_ops(**kwargs: Any) -> User:
    return UserFactory(role=Role.MARKETING_OPS, **kwargs)


def sales_manager(**kwargs: Any) -> User:
    return UserFactory(role=Role.SALES_MANAGER, **kwargs)


def in_force(new_body: dict[str, Any], *, title: str = "Next version") -> AgreementVersion:
    """A draft of `new_body`, approved by both sides: the version in force."""
    draft = agreement_draft_create(actor=marketing_ops(), title=title, body=new_body)
    agreement_approve(version_id=draft.pk, actor=marketing_ops())
    return agreement_approve(version_id=draft.pk, actor=sales_manager())
