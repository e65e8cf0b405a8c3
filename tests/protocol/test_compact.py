"""Compact pickling between the node's own processes (protocol/compact.py): what a
verification worker sends back is rebuilt whole, with the proof still naming its own
envelope and body, and a verified alert travels as one flat tuple of plain values."""

from __future__ import annotations

import pickle
import pickletools
from typing import Any

import pytest

from protocol.alert import Indicator, VerifiedAlert, sign_alert
from protocol.compact import Compact
from protocol.extensions import Extensions
from protocol.retraction import RetractionBody, sign_retraction
from protocol.signing import proven
from protocol.warning import WARNING_EXT

from . import BLINDED_1, BLINDED_2, CREATED, EXPIRES, KEY_A, KEY_ID, KEY_ID_2, NOW, alert_body
from .test_warning import warning_body


def round_trip(obj: object) -> Any:
    """``obj`` pickled and unpickled, as a worker's answer is (our own bytes only)."""
    return pickle.loads(pickle.dumps(obj))  # noqa: S301


def _slots(obj: object) -> dict[str, Any]:
    names = [
        name
        for klass in type(obj).__mro__
        for name in (klass.__dict__.get("__slots__", ()) or ())
        if name not in ("__weakref__", "__dict__")
    ]
    return {name: getattr(obj, name) for name in names}


def assert_same_tree(a: object, b: object) -> None:
    """``a`` and ``b`` are the same classes all the way down, with equal values."""
    assert type(a) is type(b)
    if isinstance(a, Compact):
        left, right = _slots(a), _slots(b)
        assert left.keys() == right.keys()
        for name in left:
            assert_same_tree(left[name], right[name])
    elif isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same_tree(x, y)
    else:
        assert a == b


ALERTS = {
    "plain": alert_body(),
    "two indicators, translations, supersedes": alert_body(
        indicators=(
            Indicator("phone", BLINDED_1, KEY_ID, 1),
            Indicator("email", BLINDED_2, KEY_ID_2, 2),
        ),
        translations=(("fr", "un client violent"),),
        supersedes=bytes(range(32)),
        partner_checks=True,
    ),
    "area warning (an extension)": warning_body(),
}


@pytest.mark.parametrize("body", ALERTS.values(), ids=ALERTS.keys())
def test_a_verified_alert_comes_back_whole_and_still_proven(body: Any) -> None:
    alert = sign_alert(body, KEY_A, NOW)
    back = round_trip(alert)
    assert_same_tree(alert, back)
    assert back.id == alert.id and back.envelope.to_bytes() == alert.envelope.to_bytes()
    assert back.envelope.raw == alert.envelope.raw is not None
    # The proof names the very envelope and body it came back with.
    assert proven(back._proof, back.envelope, back.body)
    assert back._proof.envelope is back.envelope and back._proof.body is back.body
    if body.ext.must_understand:
        assert back.body.ext.get(WARNING_EXT) == alert.body.ext.get(WARNING_EXT)
        assert back.body.ext.must_understand == (WARNING_EXT,)


def test_a_verified_alert_is_rebuilt_in_one_call() -> None:
    """Its pickle calls one function (the flat rebuild), not one for each object."""
    alert = sign_alert(ALERTS["two indicators, translations, supersedes"], KEY_A, NOW)
    data = pickle.dumps(alert, protocol=pickle.DEFAULT_PROTOCOL)
    calls = [op for op, _, _ in pickletools.genops(data) if op.name in ("REDUCE", "NEWOBJ")]
    assert len(calls) == 1
    assert isinstance(pickle.loads(data), VerifiedAlert)  # noqa: S301


def test_a_verified_retraction_comes_back_whole_and_still_proven() -> None:
    body = RetractionBody(bytes(KEY_A.verify_key), bytes(32), "mistaken", CREATED, EXPIRES)
    retraction = sign_retraction(body, KEY_A, NOW)
    back = round_trip(retraction)
    assert_same_tree(retraction, back)
    assert proven(back._proof, back.envelope, back.body)


def test_an_extension_survives_apart_from_its_alert() -> None:
    ext = Extensions.of({WARNING_EXT: "police"}, (WARNING_EXT,))
    assert_same_tree(ext, round_trip(ext))
