"""The stylesheet, scripts and icon, served under names that carry their content's hash.

Rule: a page names an asset only through ``Assets.url`` (the template global
``asset``), which gives ``/static/NAME.HASH.EXT``; that URL is answered with a
year-long ``immutable`` cache header, because its bytes can never change under it (a
new file is a new hash). Pages stay ``no-store``. The plain names (``/static/style.css``)
are still answered, uncached, for anything that links to them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
CACHE_FOREVER = "public, max-age=31536000, immutable"
HASH_HEX_CHARS = 16
CONTENT_TYPES = {
    ".css": "text/css",
    ".js": "text/javascript",
    ".svg": "image/svg+xml",
}


@dataclass(frozen=True, slots=True)
class Asset:
    url: str
    content_type: str
    body: bytes


class Assets:
    """Every file of ``folder`` with a known type, read once, by plain name and by URL."""

    def __init__(self, folder: Path = STATIC_DIR) -> None:
        self._by_name: dict[str, Asset] = {}
        for path in sorted(folder.iterdir()):
            content_type = CONTENT_TYPES.get(path.suffix)
            if content_type is None or not path.is_file():
                continue
            body = path.read_bytes()
            digest = hashlib.sha256(body).hexdigest()[:HASH_HEX_CHARS]
            url = f"/static/{path.stem}.{digest}{path.suffix}"
            self._by_name[path.name] = Asset(url, content_type, body)
        self._by_url = {a.url: a for a in self._by_name.values()}

    def url(self, name: str) -> str:
        """The hashed URL of ``name`` (like ``style.css``). Raises KeyError for a file
        that is not there, so a template naming one fails when it is first shown."""
        return self._by_name[name].url

    async def serve(self, request: web.Request) -> web.Response:
        asset = self._by_url.get(request.path)
        if asset is None:
            raise web.HTTPNotFound()
        return web.Response(
            body=asset.body,
            content_type=asset.content_type,
            charset="utf-8" if asset.content_type.startswith("text/") else None,
            headers={"Cache-Control": CACHE_FOREVER},
        )

    def add_routes(self, router: web.UrlDispatcher) -> None:
        """One route per hashed URL; register before the plain ``/static/`` folder."""
        for asset in self._by_url.values():
            router.add_get(asset.url, self.serve)
