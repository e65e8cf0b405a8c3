"""Assets under hashed names with long cache headers, pages no-store, a local favicon,
and attributes not escaped into quotes (issue 13, item 8)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from node.web.assets import CACHE_FOREVER, STATIC_DIR
from tests.node.test_web_support import Site, site_fixture  # noqa: F401

ASSET_RE = re.compile(r'(?:href|src)="(/static/([a-z]+)\.([0-9a-f]{16})\.(css|js|svg))"')


async def test_pages_name_assets_by_hash_and_only_assets_are_cached(site: Site) -> None:
    v = await site.visitor()
    status, html, resp = await v.get("/login")
    assert status == 200 and resp.headers["Cache-Control"] == "no-store"
    found = ASSET_RE.findall(html)
    assert {f"{stem}.{ext}" for _, stem, _, ext in found} == {
        "style.css",
        "exit.js",
        "pow.js",
        "favicon.svg",
    }
    assert 'rel="icon"' in html
    for url, stem, digest, ext in found:
        body = Path(STATIC_DIR / f"{stem}.{ext}").read_bytes()
        assert hashlib.sha256(body).hexdigest()[:16] == digest
        status, text, resp = await v.get(url)
        assert status == 200, url
        assert resp.headers["Cache-Control"] == CACHE_FOREVER
        assert resp.headers["X-Content-Type-Options"] == "nosniff"  # safety headers still
        assert text.encode() == body
    # A hash that is not the file's is not an asset; the plain name stays uncached.
    status, _, resp = await v.get("/static/style.0000000000000000.css")
    assert status == 404 and resp.headers["Cache-Control"] == "no-store"
    status, _, resp = await v.get("/static/style.css")
    assert status == 200 and resp.headers["Cache-Control"] == "no-store"


def test_the_favicon_is_neutral() -> None:
    svg = (STATIC_DIR / "favicon.svg").read_text()
    assert "<text" not in svg and "http" not in svg.replace("http://www.w3.org/2000/svg", "")


async def test_min_and_max_attributes_are_not_quoted_twice(site: Site) -> None:
    member = await site.member("ana")
    worker = await site.member("carl", "caseworker")
    admin = await site.member("root", "admin")
    for visitor, path in ((member, "/report"), (worker, "/review/new"), (admin, "/admin/members")):
        status, html, _ = await visitor.get(path)
        assert status == 200, path
        assert "&quot;" not in html and "&#34;2" not in html, path
        for attr in re.findall(r'\b(?:min|max)="([^"]*)"', html):
            assert re.fullmatch(r"\d{1,4}|\d{4}-\d{2}-\d{2}", attr), (path, attr)


def test_no_word_is_broken_at_an_arbitrary_letter() -> None:
    css = (STATIC_DIR / "style.css").read_text()
    assert "break-all" not in css
    # Prose wraps at hyphens or between words; only codes and fingerprints break anywhere.
    for rule in re.findall(r"([^{}]+)\{[^}]*overflow-wrap:\s*anywhere", css):
        assert set(re.findall(r"[.\w-]+", rule)) <= {
            "code",
            "pre",
            ".receipt-code",
            ".fingerprint",
        }, rule
