"""Reading a list the way its client would, from a live request.

Long-polls and event streams read changes through ``GET`` on the plural
endpoint itself (a Pyramid sub-request, with every tween, hence its own
transaction): the caller's credentials, the list's permission rules, filters,
``_since`` and the ETag taken before reading (no change served twice) are all
those of the ordinary endpoint.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import urlencode

from pyramid.request import Request
from pyramid.response import Response

from kinto_clone.core.live.hub import Group
from kinto_clone.core.resource import LIST_GROUP_ENVIRON_KEY

# The plural endpoints with live changes: buckets, collections and groups of a
# bucket, records of a collection (after the version prefix).
_PLURAL_PATH = re.compile(
    r"^/buckets(/[^/]+/(collections|groups)|/[^/]+/collections/[^/]+/records)?/?$"
)
# Headers that made the request live; the sub-request is a plain JSON read.
_LIVE_HEADERS = ("HTTP_PREFER", "HTTP_ACCEPT", "HTTP_IF_NONE_MATCH", "HTTP_LAST_EVENT_ID")
_BODY_HEADERS = ("CONTENT_LENGTH", "CONTENT_TYPE", "HTTP_TRANSFER_ENCODING")


def is_plural_path(request: Request) -> bool:
    prefix = f"/{request.registry.route_prefix}"
    try:
        path = request.path_info
    except UnicodeDecodeError:
        return False  # The plain handling answers "Invalid URL path." (400).
    if not path.startswith(prefix + "/"):
        return False
    return _PLURAL_PATH.match(path[len(prefix) :]) is not None


@dataclass
class ListRead:
    """The answer of one sub-request, and the list it resolved to."""

    response: Response
    group: Group | None

    @property
    def ok(self) -> bool:
        return self.response.status_code == 200

    @property
    def etag(self) -> int | None:
        value = (self.response.headers.get("ETag") or "").strip('"')
        return int(value) if value.isdigit() else None

    @cached_property
    def objects(self) -> list[dict[str, Any]]:
        body = self.response.json_body if self.ok else {}
        data = body.get("data") if isinstance(body, dict) else None
        return data if isinstance(data, list) else []

    @property
    def has_next_page(self) -> bool:
        return "Next-Page" in self.response.headers

    @cached_property
    def events(self) -> bytes:
        """The objects as server-sent events, encoded once for every stream
        sharing this read (:class:`~kinto_clone.core.live.hub.SharedReads`)."""
        lines = []
        for obj in self.objects:
            kind = "delete" if obj.get("deleted") else "change"
            data = json.dumps(obj, separators=(",", ":"))
            lines.append(f"id: {obj['last_modified']}\nevent: {kind}\ndata: {data}\n\n")
        return "".join(lines).encode()


def read_list(
    request: Request, query: Iterable[tuple[str, str]], if_none_match: str | None = None
) -> ListRead:
    """``GET`` the list of ``request`` with ``query``, as its caller."""
    environ = {
        key: value
        for key, value in request.environ.items()
        if not key.startswith(("webob.", "pyramid.", "bfg."))
        and key not in _LIVE_HEADERS
        and key not in _BODY_HEADERS
    }
    environ.update(
        {
            "REQUEST_METHOD": "GET",
            "QUERY_STRING": urlencode(list(query)),
            "HTTP_ACCEPT": "application/json",
            "wsgi.input": io.BytesIO(b""),
        }
    )
    if if_none_match:
        environ["HTTP_IF_NONE_MATCH"] = if_none_match
    subrequest = type(request)(environ)
    with request.registry.live_hub.read_slots:
        response = request.invoke_subrequest(subrequest, use_tweens=True)
    group = subrequest.environ.get(LIST_GROUP_ENVIRON_KEY)
    return ListRead(response, tuple(group) if group else None)  # type: ignore[arg-type]


def query_items(request: Request) -> list[tuple[str, str]]:
    """The querystring of ``request`` as pairs, repeated parameters kept."""
    return list(request.GET.items())
