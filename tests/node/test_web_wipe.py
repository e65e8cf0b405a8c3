"""The admin's panic-wipe button: only an admin, only with the right passphrase and a
ticked confirmation; then the keys and files are gone and the node stops."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from node.web import web_app

# The site's node is a key-file node, so the admin confirms with their own passphrase.
from tests.node.test_web_support import PASSPHRASE, Site, site_fixture  # noqa: F401


async def test_members_and_caseworkers_cannot_reach_the_button(site: Site) -> None:
    for role in ("member", "caseworker"):
        visitor = await site.member(f"someone-{role}", role)
        status, _, _ = await visitor.get("/admin/wipe")
        assert status == 403


async def test_wrong_passphrase_or_no_confirmation_changes_nothing(site: Site) -> None:
    admin = await site.member("root", "admin")
    status, html, _ = await admin.get("/admin/wipe")
    assert status == 200 and "Panic wipe" in html
    status, html, _ = await admin.post(
        "/admin/wipe", {"passphrase": "not the passphrase", "confirm": "yes"}
    )
    assert status == 400 and "not right" in html
    status, html, _ = await admin.post("/admin/wipe", {"passphrase": PASSPHRASE})
    assert status == 400 and "confirm" in html.lower()
    assert (site.node.data_dir / "keys.bin").exists() and not site.node.locked


async def test_admin_wipe_destroys_keys_and_files(site: Site) -> None:
    admin = await site.member("root", "admin")
    await admin.get("/admin/wipe")
    data = site.node.data_dir
    db = site.node.unlocked().store.db
    writer, reader = db.conn, db.reader
    assert reader is not None
    status, body, _ = await admin.post("/admin/wipe", {"passphrase": PASSPHRASE, "confirm": "yes"})
    assert status == 200 and body.strip() == "Done."
    assert site.node.stopped.is_set()
    # Both connections were closed before the files were overwritten.
    for conn in (writer, reader):
        with pytest.raises(ValueError):
            await conn.execute("SELECT 1")
    assert not (data / "keys.bin").exists() and not (data / "store.db").exists()
    assert not (data / "data.key").exists()


async def test_on_a_passphrase_node_the_node_passphrase_is_asked(make_node: Any) -> None:
    node = await make_node(passphrase="the node passphrase 1234")
    server = TestServer(web_app(node))
    await server.start_server()
    site = Site(node, server)
    try:
        admin = await site.member("root", "admin")
        await admin.get("/admin/wipe")
        # The admin's own passphrase is not enough on a node that has a passphrase.
        status, _, _ = await admin.post("/admin/wipe", {"passphrase": PASSPHRASE, "confirm": "yes"})
        assert status == 400 and (node.data_dir / "keys.bin").exists()
        status, _, _ = await admin.post(
            "/admin/wipe", {"passphrase": "the node passphrase 1234", "confirm": "yes"}
        )
        assert status == 200 and not (node.data_dir / "keys.bin").exists()
    finally:
        await site.close()
