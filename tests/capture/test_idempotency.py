from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from leadloop.accounts.models import ApiToken
from leadloop.accounts.services import token_create
from leadloop.capture.idempotency import (
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
    StoredResponse,
    idempotency_prune,
    idempotent_run,
    request_hash,
)
from leadloop.capture.models import IdempotencyRecord
from leadloop.common.errors import LeadloopError
from leadloop.leads.models import Lead
from tests.accounts.factories import UserFactory
from tests.leads.factories import LeadFactory

pytestmark = pytest.mark.django_db

HASH = request_hash(method="POST", path="/api/v1/leads", body=b'{"email": "a@b.example"}')


@pytest.fixture
def token() -> ApiToken:
    return token_create(user=UserFactory(), name="test").token


def _work() -> StoredResponse:
    lead = LeadFactory()
    return StoredResponse(201, {"id": lead.pk})


def test_the_work_runs_once_per_key_and_a_retry_gets_the_stored_answer(token: ApiToken) -> None:
    first = idempotent_run(token=token, key="k-1", request_hash=HASH, work=_work)

    again = idempotent_run(token=token, key="k-1", request_hash=HASH, work=_work)

    assert again == first
    assert Lead.objects.count() == 1
    record = IdempotencyRecord.objects.get()
    assert (record.key, record.status_code, record.response) == ("k-1", 201, first.body)


def test_without_a_key_the_work_runs_every_time(token: ApiToken) -> None:
    idempotent_run(token=token, key=None, request_hash=HASH, work=_work)
    idempotent_run(token=token, key=None, request_hash=HASH, work=_work)

    assert (Lead.objects.count(), IdempotencyRecord.objects.count()) == (2, 0)


def test_a_key_reused_for_another_request_is_refused(token: ApiToken) -> None:
    idempotent_run(token=token, key="k-1", request_hash=HASH, work=_work)
    other = request_hash(method="POST", path="/api/v1/leads", body=b'{"email": "c@d.example"}')

    with pytest.raises(IdempotencyKeyReused, match="'k-1' was already used") as caught:
        idempotent_run(token=token, key="k-1", request_hash=other, work=_work)

    assert caught.value.loc == ("header", "Idempotency-Key")
    assert Lead.objects.count() == 1


def test_the_same_body_on_another_endpoint_is_another_request() -> None:
    body = b'{"email": "a@b.example"}'

    assert request_hash(method="POST", path="/api/v1/leads", body=body) != request_hash(
        method="POST", path="/api/v1/touches", body=body
    )


def test_a_failed_request_stores_nothing_and_rolls_its_work_back(token: ApiToken) -> None:
    def failing() -> StoredResponse:
        LeadFactory()
        raise LeadloopError("No.", loc=("email",))

    with pytest.raises(LeadloopError):
        idempotent_run(token=token, key="k-1", request_hash=HASH, work=failing)

    assert (Lead.objects.count(), IdempotencyRecord.objects.count()) == (0, 0)


def test_an_empty_or_overlong_key_is_refused(token: ApiToken) -> None:
    for key in ("  ", "k" * 201):
        with pytest.raises(IdempotencyKeyInvalid, match="must be 1 to 200 characters"):
            idempotent_run(token=token, key=key, request_hash=HASH, work=_work)

    assert Lead.objects.count() == 0


def test_pruning_deletes_only_old_answers(token: ApiToken) -> None:
    idempotent_run(token=token, key="old", request_hash=HASH, work=_work)
    IdempotencyRecord.objects.update(created_at=timezone.now() - dt.timedelta(days=2))
    idempotent_run(token=token, key="new", request_hash=HASH, work=_work)

    deleted = idempotency_prune(before=timezone.now() - dt.timedelta(days=1))

    assert deleted == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]
