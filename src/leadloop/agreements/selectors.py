"""Reads of the agreement: the version in force (every decision applies it), versions, drafts."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from leadloop.agreements.defaults import DEFAULT_BODY, DEFAULT_PREAMBLE, DEFAULT_TITLE
from leadloop.agreements.models import (
    AgreementApproval,
    AgreementStatus,
    AgreementVersion,
    ApprovalSide,
)
from leadloop.agreements.schema import AgreementBody, ThresholdGroup
from leadloop.common.cache import ProcessCache
from leadloop.common.errors import NotFound
from leadloop.scoring.models import LeadScore
from leadloop.scoring.rules import epoch_days
from leadloop.scoring.services import GRADES, engagement_rules_active, qualify_thresholds_init

# The statuses of versions that were in force at some time.
_ONCE_IN_FORCE = (AgreementStatus.IN_FORCE, AgreementStatus.SUPERSEDED)


class AgreementVersionMissing(NotFound):
    code = "agreement_version_missing"


@dataclass(frozen=True)
class AgreementInForce:
    """The version in force, its body parsed."""

    version: AgreementVersion
    body: AgreementBody

    @property
    def number(self) -> int:
        return self.version.number


_IN_FORCE: ProcessCache[AgreementInForce] = ProcessCache("agreement in force")


def agreement_in_force() -> AgreementInForce:
    """The version in force. An installation without one gets version 1 from the defaults,
    in force at once (so every decision has a version to record).

    Every capture asks, so the answer is kept a few seconds per process (common.cache): a new
    version reaches other processes within LEADLOOP_CONFIG_CACHE_SECONDS.
    """
    cached = _IN_FORCE.get()
    if cached is not None:
        return cached
    version = AgreementVersion.objects.filter(status=AgreementStatus.IN_FORCE).first()
    if version is None:
        version = _initial_version()  # made in this transaction: not cached
        return AgreementInForce(version=version, body=AgreementBody.model_validate(version.body))
    return _IN_FORCE.set(
        AgreementInForce(version=version, body=AgreementBody.model_validate(version.body))
    )


def initial_body() -> dict[str, Any]:
    """The body of version 1: the defaults, with the first threshold group taken from
    LEADLOOP_QUALIFY_FIT and LEADLOOP_QUALIFY_ENGAGEMENT (the thresholds before any agreement)."""
    body = copy.deepcopy(DEFAULT_BODY)
    body["qualification"]["groups"][0] = {
        "fit_grade_min": getattr(settings, "LEADLOOP_QUALIFY_FIT", "B"),
        "engagement_min": getattr(settings, "LEADLOOP_QUALIFY_ENGAGEMENT", 40),
    }
    return AgreementBody.model_validate(body).model_dump(mode="json")


def _initial_version() -> AgreementVersion:
    try:
        with transaction.atomic():
            body = initial_body()
            version = AgreementVersion.objects.create(
                number=1,
                title=DEFAULT_TITLE,
                preamble=DEFAULT_PREAMBLE,
                body=body,
                status=AgreementStatus.IN_FORCE,
                effective_at=timezone.now(),
            )
            # Scoring decides `qualifies` by the agreement's thresholds from now on.
            qualify_thresholds_init(groups=body["qualification"]["groups"], agreement_version=1)
            return version
    except IntegrityError:
        # Another process made it first (unique number / one in force).
        return AgreementVersion.objects.get(status=AgreementStatus.IN_FORCE)


def agreement_versions() -> QuerySet[AgreementVersion]:
    """Every version, newest first, with its approvals and their people."""
    return AgreementVersion.objects.select_related("created_by", "based_on").prefetch_related(
        "approvals__user"
    )


def agreement_version_get(*, number: int) -> AgreementVersion:
    """Version `number` with its approvals. Raises AgreementVersionMissing."""
    version = agreement_versions().filter(number=number).first()
    if version is None:
        raise AgreementVersionMissing(f"There is no agreement version {number}.", loc=("version",))
    return version


def agreement_predecessor(version: AgreementVersion) -> AgreementVersion | None:
    """The version `version` is compared with: for a draft, the version in force; otherwise
    the version it was based on, else the latest version in force before it."""
    if version.status in (AgreementStatus.DRAFT, AgreementStatus.WITHDRAWN):
        in_force = (
            agreement_versions()
            .filter(status=AgreementStatus.IN_FORCE)
            .exclude(pk=version.pk)
            .first()
        )
        if in_force is not None:
            return in_force
    if version.based_on_id is not None and version.based_on is not None:
        return agreement_versions().get(pk=version.based_on_id)
    return (
        agreement_versions()
        .filter(number__lt=version.number, status__in=_ONCE_IN_FORCE)
        .order_by("-number")
        .first()
    )


def approval_for(version: AgreementVersion, side: ApprovalSide | str) -> AgreementApproval | None:
    """The approval of `side` on `version` (from the prefetched approvals), or None."""
    return next((a for a in version.approvals.all() if a.side == side), None)


@dataclass(frozen=True)
class QualifyingCount:
    """How many scored leads meet some thresholds now."""

    meeting: int
    scored: int


def leads_meeting_thresholds(*, groups: list[ThresholdGroup]) -> QualifyingCount:
    """How many scored leads meet any of `groups` now, counted in the database: an engagement
    threshold becomes a threshold on the stored sum (the score grows with the sum, and every
    sum decays by the same factor), so no score is recomputed."""
    scored = LeadScore.objects.count()
    condition = Q(pk__in=[])
    for group in groups:
        holds = Q()
        if group.fit_grade_min is not None:
            holds &= Q(fit_grade__in=GRADES[: GRADES.index(group.fit_grade_min) + 1])
        if group.engagement_min is not None and group.engagement_min > 0:
            holds &= _engagement_at_least(group.engagement_min)
        if group.predicted_min is not None:
            holds &= Q(predicted_probability__gte=group.predicted_min)
        condition |= holds
    meeting = LeadScore.objects.filter(condition).count() if groups else 0
    return QualifyingCount(meeting=meeting, scored=scored)


def _engagement_at_least(score: int) -> Q:
    """Engagement 100·(1 - exp(-S·2^(-t/h)/k)), rounded, is at least `score`."""
    rules = engagement_rules_active()
    if rules is None:
        return Q(pk__in=[])  # no engagement rules: every engagement is 0
    share = min((score - 0.5) / 100.0, 0.9999)
    decayed = -rules.scale * math.log(1.0 - share)
    factor = math.pow(2.0, epoch_days(timezone.now()) / rules.half_life_days)
    return Q(engagement_sum__gte=decayed * factor)
