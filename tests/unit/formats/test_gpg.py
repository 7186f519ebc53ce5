"""Matching ``output.gpg.recipient`` against a key's user ids and fingerprint (pure logic)."""

from __future__ import annotations

import pytest

from airflow_batchtasks.formats.gpg import DEFAULT_COMPRESS_LEVEL, GpgSpec, key_id_matches, uid_matches

FPR = "9BD866DB5A1FDC9FBAFEA28D1AAD691DDF15D09D"


@pytest.mark.parametrize(
    ("recipient", "uids", "match"),
    [
        ("vendor@example.com", ["Vendor Ltd <vendor@example.com>"], True),
        ("Vendor@Example.COM", ["Vendor Ltd <vendor@example.com>"], True),
        ("<vendor@example.com>", ["vendor@example.com"], True),
        ("vendor@example.com", ["Other <other@example.com>", "Vendor <vendor@example.com>"], True),
        ("vendor@example.com", ["Vendor <vendor@example.com.evil>"], False),
        ("endor@example.com", ["Vendor <vendor@example.com>"], False),
        ("vendor@example.com", ["vendor@example.com (comment) <x@y.z>"], False),
        ("vendor@example.com", [], False),
    ],
)
def test_recipient_must_be_an_address_of_the_key(recipient: str, uids: list[str], match: bool) -> None:
    assert uid_matches(recipient, uids) is match


@pytest.mark.parametrize(
    ("recipient", "match"),
    [(FPR, True), (FPR.lower(), True), ("0x1AAD691DDF15D09D", True), ("DF15D09D", True),
     ("DF15 D09D", True), ("15D09D", False), ("vendor@example.com", False), ("1AAD691DDF15D09E", False)],
)
def test_recipient_may_be_the_fingerprint_or_a_key_id(recipient: str, match: bool) -> None:
    assert key_id_matches(recipient, FPR) is match


def test_spec_defaults_to_fast_compression() -> None:
    spec = GpgSpec.from_dict({"recipient": " v@example.com ", "key_variable": "k"})
    assert (spec.recipient, spec.key_conn_id, spec.compress_level) == ("v@example.com", None, DEFAULT_COMPRESS_LEVEL)
    assert spec.key_source == "variable `k`"
    assert GpgSpec.from_dict({"recipient": "v", "key_conn_id": "c", "compress_level": 0}).compress_level == 0
