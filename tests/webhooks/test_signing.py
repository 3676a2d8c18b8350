from __future__ import annotations

import hashlib
import hmac

from leadloop.webhooks.signing import sign, verify

SECRET = "whsec-test-secret"
BODY = b'{"event":"lead.stage_changed","lead":{"id":7}}'
NOW = 1_772_445_600  # 2026-03-02 10:00:00 UTC


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body():
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()

    assert sign(SECRET, NOW, BODY) == f"v1={expected}"


def test_a_fresh_signature_verifies():
    assert verify(SECRET, str(NOW), BODY, sign(SECRET, NOW, BODY), 300, now=NOW + 299)


def test_a_changed_body_does_not_verify():
    signature = sign(SECRET, NOW, BODY)

    assert not verify(SECRET, NOW, BODY.replace(b"7", b"8"), signature, now=NOW)


def test_another_secret_does_not_verify():
    signature = sign("someone-else", NOW, BODY)

    assert not verify(SECRET, NOW, BODY, signature, now=NOW)


def test_a_signature_older_than_the_tolerance_is_refused_as_a_replay():
    signature = sign(SECRET, NOW, BODY)

    assert not verify(SECRET, NOW, BODY, signature, 300, now=NOW + 301)
    assert not verify(SECRET, NOW, BODY, signature, 300, now=NOW - 301)


def test_a_moved_timestamp_does_not_verify():
    signature = sign(SECRET, NOW, BODY)

    assert not verify(SECRET, NOW + 1, BODY, signature, now=NOW)


def test_one_matching_signature_among_several_is_enough():
    header = f"v1={'0' * 64}, {sign(SECRET, NOW, BODY)}"

    assert verify(SECRET, NOW, BODY, header, now=NOW)


def test_malformed_headers_do_not_verify():
    good = sign(SECRET, NOW, BODY)

    assert not verify(SECRET, "yesterday", BODY, good, now=NOW)
    assert not verify(SECRET, NOW, BODY, "", now=NOW)
    assert not verify(SECRET, NOW, BODY, good.replace("v1=", "v0="), now=NOW)
    assert not verify(SECRET, NOW, BODY, "v1=é", now=NOW)
