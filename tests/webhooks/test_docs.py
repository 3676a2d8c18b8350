"""docs/webhooks.md tells integrators how to verify a request: its code must accept a real one."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from leadloop.webhooks.payloads import assignment_payload, stage_change_payload
from leadloop.webhooks.services import webhook_deliver, webhook_stage_changed_emit
from tests.webhooks.factories import AssignmentFactory, StageChangeFactory, WebhookEndpointFactory

pytestmark = pytest.mark.django_db

DOC = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


def _documented_check():
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    (code,) = [b for b in blocks if "def leadloop_request_is_genuine" in b]
    namespace: dict[str, object] = {}
    exec(code, namespace)
    return namespace["leadloop_request_is_genuine"]


def test_the_verification_code_in_the_docs_accepts_a_real_request_and_refuses_a_forged_one(
    receiver,
):
    endpoint = WebhookEndpointFactory(url=receiver.url)
    (delivery,) = webhook_stage_changed_emit(change=StageChangeFactory())
    webhook_deliver(delivery_id=delivery.pk)
    (request,) = receiver.requests
    check = _documented_check()

    assert check(endpoint.secret, request.headers, request.body)
    assert not check(endpoint.secret, request.headers, request.body.replace(b"mql", b"sql"))
    assert not check("another secret", request.headers, request.body)


def _documented_example(event: str) -> dict[str, object]:
    for block in re.findall(r"```json\n(.*?)```", DOC.read_text(), re.S):
        if block.lstrip().startswith("{") and f'"event": "{event}"' in block:
            return json.loads(block)
    raise AssertionError(f"no example of {event} in {DOC.name}")


def test_the_documented_payloads_have_exactly_the_keys_that_are_sent():
    change, assignment = StageChangeFactory(), AssignmentFactory()

    for event, payload in [
        ("lead.stage_changed", stage_change_payload(change)),
        ("lead.assigned", assignment_payload(assignment)),
    ]:
        example = _documented_example(event)
        assert sorted(example) == sorted(payload), event
        assert sorted(example["lead"]) == sorted(payload["lead"]), event
