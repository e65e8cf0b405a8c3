"""Alerts: the v2 body, its validation, signing and verification (retractions, which
share its version and time rules, are in retraction.py).

Rule: only ``verify_alert`` (and ``verify_alert_envelope``, for an envelope already
parsed) makes a ``VerifiedAlert``, and it checks size, then signature, then decode,
then every field, against a ``now`` the caller passes in. Storage and relay accept
nothing else. Building goes through the same decoder, so a node can never sign what
it would refuse.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import nacl.signing

from .compact import Compact, restore
from .encoding import pack
from .errors import InvalidField, LocalProtocolError, MalformedObject
from .extensions import EMPTY, UNDERSTOOD, Extensions, read_extensions
from .fields import (
    CATEGORIES,
    DANGER_LEVELS,
    INDICATOR_KINDS,
    TLP_LABELS,
    TLP_MAX_HOPS,
    TLP_PARTNER_LABELS,
    Reader,
    check_choice,
    check_hour,
    check_lang,
    check_region,
    check_text,
    parse_date,
)
from .limits import (
    ALERT_NONCE_BYTES,
    DAY_S,
    DEFAULT_LIMITS,
    HOUR_S,
    MAX_CATEGORIES,
    MAX_CLOCK_SKEW_S,
    MAX_DESCRIPTION_CHARS,
    MAX_DESCRIPTIONS_BYTES,
    MAX_EXPIRY_S,
    MAX_HOPS,
    MAX_INCIDENT_AGE_DAYS,
    MAX_INDICATORS,
    MAX_REGION_CHARS,
    MAX_TRANSLATIONS,
    Limits,
)
from .signing import (
    ID_BYTES,
    KEY_BYTES,
    Envelope,
    Kind,
    Proof,
    Verified,
    check_envelope,
    decode_body,
    parse_envelope,
    sign,
)
from .warning import WARNING_EXT, check_warning

VERSION = 2
# Far beyond any real time, yet inside what datetime can represent (year 9999).
MAX_TIME = 2**37


# The blinding suites a receiver accepts; only suite 1 is defined (protocol.indicators).
MIN_SUITE, MAX_SUITE = 1, 255
KEY_ID_BYTES = 8
BLINDED_BYTES = 32


@dataclass(frozen=True, slots=True)
class Indicator(Compact):
    """One blinded identifier of the person an alert is about.

    On the wire: ``[kind, suite, key_id, blinded]``. ``key_id`` names the network
    blinding key it was made with, ``suite`` the algorithm; there is no hint.
    """

    kind: str
    blinded: bytes
    key_id: bytes
    # No default: the suite is what the value was blinded with, so every maker says it.
    suite: int

    def to_wire(self) -> tuple[str, int, bytes, bytes]:
        return (self.kind, self.suite, self.key_id, self.blinded)


@dataclass(frozen=True, slots=True)
class AlertBody(Compact):
    """The signed content of an alert (v2).

    ``description`` is in the original language ``lang``; ``translations`` are
    (language, text) pairs sorted by tag. ``nonce`` makes every publish a new alert.
    """

    origin: bytes
    created: int
    expires: int
    incident: str
    region: str
    categories: tuple[str, ...]
    danger: int
    indicators: tuple[Indicator, ...]
    description: str
    lang: str
    hops: int
    tlp: str
    supersedes: bytes | None = None
    nonce: bytes = field(kw_only=True)
    translations: tuple[tuple[str, str], ...] = field(default=(), kw_only=True)
    partner_checks: bool = field(default=False, kw_only=True)
    ext: Extensions = field(default=EMPTY, kw_only=True)

    def to_bytes(self) -> bytes:
        return pack(
            {
                "v": VERSION,
                "origin": self.origin,
                "nonce": self.nonce,
                "created": self.created,
                "expires": self.expires,
                "incident": self.incident,
                "region": self.region,
                "categories": self.categories,
                "danger": self.danger,
                "indicators": tuple(i.to_wire() for i in self.indicators),
                "description": self.description,
                "lang": self.lang,
                "translations": dict(self.translations),
                "hops": self.hops,
                "tlp": self.tlp,
                "partner_checks": self.partner_checks,
                "supersedes": self.supersedes,
                **self.ext.wire(),
            }
        )

    def descriptions(self) -> dict[str, str]:
        """Every language's text, the original first."""
        return {self.lang: self.description, **dict(self.translations)}

    def description_for(self, wanted: Sequence[str]) -> tuple[str, str]:
        """The (language, text) a reader who prefers ``wanted`` (best first) should see.

        An exact tag wins (ignoring case), then the same primary language; else the
        original.
        """
        texts = self.descriptions()
        by_tag = {tag.lower(): tag for tag in texts}
        for want in wanted:
            if want.lower() in by_tag:
                tag = by_tag[want.lower()]
                return tag, texts[tag]
            primary = want.lower().split("-")[0]
            for tag in texts:
                if tag.lower().split("-")[0] == primary:
                    return tag, texts[tag]
        return self.lang, self.description


class VerifiedAlert(Verified[AlertBody]):
    """An alert whose signature and fields were checked. Made only by ``verify_alert``."""

    __slots__ = ()
    made_by = "verify_alert()"

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """The whole tree (envelope, body, indicators, extensions, proof) as tuples of
        plain values, rebuilt in one call (``_restore_alert``): a pickle of nested
        objects costs a Python call for each object on each side, and the verification
        pool sends back hundreds of alerts a batch (protocol/compact.py)."""
        env, body = self.envelope, self.body
        return _restore_alert, (
            (env.signer, env.body, env.sig, env.raw, env.id),
            (body.origin, body.created, body.expires, body.incident, body.region,
             body.categories, body.danger),
            tuple((i.kind, i.blinded, i.key_id, i.suite) for i in body.indicators),
            (body.description, body.lang, body.hops, body.tlp, body.supersedes, body.nonce,
             body.translations, body.partner_checks),
            (body.ext.items, body.ext.must_understand),
        )  # fmt: skip


def _restore_alert(
    envelope_values: tuple[Any, ...],
    head: tuple[Any, ...],
    indicators: tuple[tuple[Any, ...], ...],
    tail: tuple[Any, ...],
    ext_values: tuple[Any, ...],
) -> VerifiedAlert:
    """The ``VerifiedAlert`` that ``VerifiedAlert.__reduce__`` flattened (every slot
    in its class's order: ``restore`` refuses a tuple of another length); only for
    what this node's own processes pickled."""
    envelope = restore(Envelope, (Kind.ALERT, *envelope_values))
    body = restore(
        AlertBody,
        (*head, tuple(restore(Indicator, i) for i in indicators), *tail,
         restore(Extensions, ext_values)),
    )  # fmt: skip
    verified: VerifiedAlert = restore(
        VerifiedAlert, (envelope, body, restore(Proof, (envelope, body)))
    )
    return verified


def coarsen_hour(t: int) -> int:
    """Round a Unix time down to the hour."""
    return t - t % HOUR_S


def check_times(created: int, expires: int, now: int) -> None:
    """An alert's or a retraction's times, as received at ``now``."""
    if created > now + MAX_CLOCK_SKEW_S:
        raise InvalidField("created", "is in the future")
    if expires <= created:
        raise InvalidField("expires", "must be after created")
    if expires - created > MAX_EXPIRY_S:
        raise InvalidField("expires", f"must be at most {MAX_EXPIRY_S // DAY_S} days after created")
    if expires <= now:
        raise InvalidField("expires", "has already passed")


def _read_translations(value: object, lang: str, description: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict):
        raise InvalidField("translations", "must be a map of language tag to text")
    if len(value) > MAX_TRANSLATIONS:
        raise InvalidField("translations", f"has {len(value)}, more than {MAX_TRANSLATIONS}")
    seen = {lang.lower()}
    total = len(description.encode())
    out = []
    for tag, text in value.items():
        check_lang("translations", tag)
        if tag.lower() in seen:
            raise InvalidField("translations", "repeats a language (or the original's)")
        seen.add(tag.lower())
        if not isinstance(text, str) or not 0 < len(text) <= MAX_DESCRIPTION_CHARS:
            raise InvalidField(
                "translations", f"each text is 1 to {MAX_DESCRIPTION_CHARS} characters"
            )
        check_text("translations", text)
        total += len(text.encode())
        out.append((tag, text))
    if total > MAX_DESCRIPTIONS_BYTES:
        raise InvalidField(
            "translations",
            f"the description and its translations are {total} bytes, "
            f"more than {MAX_DESCRIPTIONS_BYTES}",
        )
    return tuple(out)


def _read_alert(value: dict[str, object], understood: frozenset[str] | None) -> AlertBody:
    r = Reader(value, "alert")
    r.integer("v", VERSION, VERSION)
    origin = r.blob("origin", KEY_BYTES)
    nonce = r.blob("nonce", ALERT_NONCE_BYTES)
    created = check_hour("created", r.integer("created", 0, MAX_TIME))
    expires = r.integer("expires", 0, MAX_TIME)
    incident = r.text("incident", 10)
    incident_date = parse_date("incident", incident)
    created_date = datetime.datetime.fromtimestamp(created, datetime.UTC).date()
    if incident_date > created_date + datetime.timedelta(days=1):
        raise InvalidField("incident", "is after the alert was created")
    if (created_date - incident_date).days > MAX_INCIDENT_AGE_DAYS:
        raise InvalidField("incident", "is too long ago")
    region = check_region("region", r.text("region", MAX_REGION_CHARS))
    cats = r.items("categories", MAX_CATEGORIES)
    if not cats:
        raise InvalidField("categories", "must name at least one category")
    categories = tuple(check_choice("categories", c, CATEGORIES) for c in cats)
    if len(set(categories)) != len(categories):
        raise InvalidField("categories", "must not repeat a category")
    danger = r.integer("danger", DANGER_LEVELS[0], DANGER_LEVELS[-1])
    indicators = []
    for item in r.items("indicators", MAX_INDICATORS):
        indicators.append(_read_indicator(item))
    if len({i.to_wire() for i in indicators}) != len(indicators):
        raise InvalidField("indicators", "must not repeat an indicator")
    description = check_text("description", r.text("description", MAX_DESCRIPTION_CHARS))
    lang = check_lang("lang", r.text("lang", 16))
    translations = _read_translations(r.raw("translations"), lang, description)
    hops = r.integer("hops", 0, MAX_HOPS)
    tlp = check_choice("tlp", r.raw("tlp"), TLP_LABELS)
    if tlp == "RED" and hops != 0:
        raise InvalidField("hops", "a TLP:RED alert never leaves its node, so hops must be 0")
    if hops > TLP_MAX_HOPS[tlp]:
        raise InvalidField(
            "hops", f"a TLP:{tlp} alert reaches only direct peers, so hops must be 0 or 1"
        )
    partner_checks = r.boolean("partner_checks")
    if partner_checks and tlp not in TLP_PARTNER_LABELS:
        raise InvalidField(
            "partner_checks", f"a TLP:{tlp} alert stays inside the receiving organisation"
        )
    supersedes = r.blob("supersedes", ID_BYTES, optional=True)
    ext = read_extensions(r.raw("ext"), r.raw("must_understand"), understood)
    check_warning(
        ext.get(WARNING_EXT),
        ext.must_understand,
        indicators=len(indicators),
        categories=categories,
        partner_checks=partner_checks,
        supersedes=supersedes,
        created=created,
        expires=expires,
    )
    r.finish()
    assert origin is not None and nonce is not None
    return AlertBody(
        origin=origin,
        created=created,
        expires=expires,
        incident=incident,
        region=region,
        categories=categories,
        danger=danger,
        indicators=tuple(indicators),
        description=description,
        lang=lang,
        hops=hops,
        tlp=tlp,
        supersedes=supersedes,
        nonce=nonce,
        translations=translations,
        partner_checks=partner_checks,
        ext=ext,
    )


def _read_indicator(item: object) -> Indicator:
    if not isinstance(item, tuple) or len(item) != 4:
        raise InvalidField("indicators", "each is [kind, suite, key_id, blinded]")
    kind, suite, key_id, blinded = item
    check_choice("indicators", kind, INDICATOR_KINDS)
    if type(suite) is not int or not MIN_SUITE <= suite <= MAX_SUITE:
        raise InvalidField("indicators", f"a suite is an integer {MIN_SUITE} to {MAX_SUITE}")
    if not isinstance(key_id, bytes) or len(key_id) != KEY_ID_BYTES:
        raise InvalidField("indicators", f"a key id is {KEY_ID_BYTES} bytes")
    if not isinstance(blinded, bytes) or len(blinded) != BLINDED_BYTES:
        raise InvalidField("indicators", f"a blinded value is {BLINDED_BYTES} bytes")
    return Indicator(str(kind), blinded, key_id, suite)


def verify_alert(
    data: bytes,
    now: int,
    limits: Limits = DEFAULT_LIMITS,
    understood: frozenset[str] = UNDERSTOOD,
) -> VerifiedAlert:
    """Check an alert envelope received as ``data`` at time ``now``.

    Raises LimitExceeded, MalformedObject, BadSignature or InvalidField (its subclass
    UnsupportedExtension for a must-understand extension not in ``understood``).
    """
    return verify_alert_envelope(parse_envelope(data, limits), now, limits, understood)


def verify_alert_envelope(
    env: Envelope,
    now: int,
    limits: Limits = DEFAULT_LIMITS,
    understood: frozenset[str] = UNDERSTOOD,
) -> VerifiedAlert:
    """``verify_alert`` of an envelope ``parse_envelope`` already parsed (a receiver
    that parsed it to learn its kind does not parse it twice)."""
    check_envelope(env, Kind.ALERT)
    return _verified_alert(env, now, limits, understood)


def _verified_alert(
    env: Envelope, now: int, limits: Limits, understood: frozenset[str] = UNDERSTOOD
) -> VerifiedAlert:
    body = _read_alert(decode_body(env, limits), understood)
    if body.origin != env.signer:
        raise InvalidField("origin", "is not the key that signed the alert")
    check_times(body.created, body.expires, now)
    return VerifiedAlert(env, body, Proof(env, body))


def sign_alert(body: AlertBody, key: nacl.signing.SigningKey, now: int) -> VerifiedAlert:
    """Sign ``body`` with the origin's ``key`` and check it as a receiver would.

    Raises InvalidField (or another ProtocolError) if any receiver would refuse it.
    """
    if body.origin != bytes(key.verify_key):
        raise LocalProtocolError("the alert's origin is not the signing key")
    envelope = sign(Kind.ALERT, body.to_bytes(), key).to_bytes()
    return verify_alert(envelope, now, understood=UNDERSTOOD | set(body.ext.must_understand))


def read_stored_alert(data: bytes) -> AlertBody:
    """Decode an alert envelope this node verified when it stored it.

    The signature and times were checked on receipt (``verify_alert``); reading it back
    for display checks the framing and fields again but not the signature (the store
    seals each envelope with an authenticated cipher bound to its id, so bytes changed
    at rest never reach here; an Ed25519 verify per shown alert was most of a page's
    cost), nor the clock, nor whether its must-understand extensions are understood
    (that was decided on receipt). Never give it bytes that did not come from the store.
    Raises a ProtocolError if the bytes are not an alert.
    """
    env = parse_envelope(data)
    if env.kind is not Kind.ALERT:
        raise MalformedObject(f"expected an alert, got a {env.kind.value}")
    return _read_alert(decode_body(env, DEFAULT_LIMITS), None)
