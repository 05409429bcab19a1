"""Which ``callback`` URLs may receive the tokens of a login.

The token endpoint sends the provider's tokens to the callback given at login:
an attacker's URL there would steal them.  A callback is accepted when it
matches one of the provider's ``trusted_callback_urls`` patterns, where ``*``
is the only wildcard (in the host, the port and the rest of the URL).  Without
patterns, local clients (``http://localhost:*/*``, ``http://127.0.0.1:*/*``,
what command-line clients listen on) and the admin page are trusted, as in
Kinto 26.5.0.

URLs are compared the way a browser would go to them: anything a browser reads
differently from :func:`urllib.parse.urlsplit` (user info, backslashes, odd
host characters, dot segments, spaces) makes the URL untrusted.
"""

from __future__ import annotations

import fnmatch
import string
from typing import NamedTuple
from urllib.parse import urlsplit

LOCAL_CLIENTS = ("http://localhost:*/*", "http://127.0.0.1:*/*")
DEFAULT_PORTS = {"http": "80", "https": "443"}
HOST_CHARACTERS = frozenset(string.ascii_lowercase + string.digits + ".-*")
IPV6_CHARACTERS = frozenset(string.hexdigits.lower() + ":.")
PORT_CHARACTERS = frozenset(string.digits + "*")


class UrlParts(NamedTuple):
    scheme: str
    host: str
    port: str
    rest: str
    """Path, query and fragment, as written."""


def url_parts(url: str) -> UrlParts:
    """``url`` split for comparison; ``ValueError`` when it is malformed or ambiguous."""
    if any(c.isspace() or not c.isprintable() for c in url):
        raise ValueError("spaces or control characters")
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS:
        raise ValueError("not http(s)")
    if "@" in parts.netloc:
        raise ValueError("user info")
    host = parts.hostname or ""
    allowed = IPV6_CHARACTERS if parts.netloc.startswith("[") else HOST_CHARACTERS
    if not host or not set(host) <= allowed:
        raise ValueError("empty host or unexpected characters in it")
    # The port as text: ``parts.port`` refuses wildcards.
    _, _, port = parts.netloc.rsplit("]", 1)[-1].partition(":")
    if not set(port) <= PORT_CHARACTERS:
        raise ValueError("unexpected characters in the port")
    path = parts.path.lower().replace("%2e", ".").replace("\\", "/")
    if any(segment in (".", "..") for segment in path.split("/")):
        raise ValueError("dot segments")
    rest = url[len(parts.scheme) + len("://") + len(parts.netloc) :] or "/"
    return UrlParts(parts.scheme, host, port or DEFAULT_PORTS[parts.scheme], rest)


def _matches(value: str, pattern: str) -> bool:
    """Shell-like match where ``*`` is the only special character."""
    literal = pattern.replace("[", "[[]").replace("?", "[?]")
    return fnmatch.fnmatchcase(value, literal)


def is_trusted_callback(callback: str, patterns: list[str]) -> bool:
    try:
        wanted = url_parts(callback)
    except ValueError:
        return False
    for pattern in patterns:
        try:
            trusted = url_parts(pattern)
        except ValueError:
            continue
        if wanted.scheme == trusted.scheme and all(
            _matches(getattr(wanted, part), getattr(trusted, part))
            for part in ("host", "port", "rest")
        ):
            return True
    return False
