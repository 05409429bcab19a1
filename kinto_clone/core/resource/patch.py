"""The three PATCH formats: Kinto's JSON merge, RFC 7396 and RFC 6902.

Each turns ``(object data, permissions, request body)`` into the new data, the
changes it applied (for ``Response-Behavior``) and the new permissions.
"""

from __future__ import annotations

import copy
from typing import Any

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"


class PatchError(ValueError):
    """A JSON patch operation that cannot be applied (answered as a 400)."""


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396: objects merge recursively, ``null`` removes a member."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise PatchError(f"invalid JSON pointer {path!r}")
    return [_unescape(part) for part in path.split("/")[1:]] if path else []


def _container(document: Any, tokens: list[str]) -> tuple[Any, str]:
    """The parent of the location ``tokens`` point at, and the last token."""
    if not tokens:
        raise PatchError("cannot operate on the whole document")
    current = document
    for token in tokens[:-1]:
        current = _child(current, token)
    return current, tokens[-1]


def _index(container: list, token: str, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return len(container)
    if not token.isdigit() or (token != "0" and token.startswith("0")):
        raise PatchError(f"invalid array index {token!r}")
    index = int(token)
    if index > len(container) or (index == len(container) and not allow_end):
        raise PatchError(f"array index {index} out of range")
    return index


def _child(current: Any, token: str) -> Any:
    if isinstance(current, dict):
        if token not in current:
            raise PatchError(f"member {token!r} not found")
        return current[token]
    if isinstance(current, list):
        return current[_index(current, token, allow_end=False)]
    raise PatchError(f"cannot traverse into {type(current).__name__}")


def _get(document: Any, tokens: list[str]) -> Any:
    current = document
    for token in tokens:
        current = _child(current, token)
    return current


def _add(document: Any, tokens: list[str], value: Any) -> None:
    parent, token = _container(document, tokens)
    if isinstance(parent, dict):
        parent[token] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, token, allow_end=True), value)
    else:
        raise PatchError("cannot add to a scalar")


def _remove(document: Any, tokens: list[str]) -> Any:
    parent, token = _container(document, tokens)
    if isinstance(parent, dict):
        if token not in parent:
            raise PatchError(f"member {token!r} not found")
        return parent.pop(token)
    if isinstance(parent, list):
        return parent.pop(_index(parent, token, allow_end=False))
    raise PatchError("cannot remove from a scalar")


def json_patch(document: Any, operations: list[dict[str, Any]]) -> Any:
    """RFC 6902 applied to a copy of ``document``; raises :class:`PatchError`."""
    result = copy.deepcopy(document)
    for operation in operations:
        if not isinstance(operation, dict):
            raise PatchError("each operation must be an object")
        op = operation.get("op")
        tokens = _pointer(operation.get("path"))
        if op in ("add", "replace", "test") and "value" not in operation:
            raise PatchError(f"{op} needs a value")
        if op == "add":
            _add(result, tokens, copy.deepcopy(operation["value"]))
        elif op == "remove":
            _remove(result, tokens)
        elif op == "replace":
            _remove(result, tokens)
            _add(result, tokens, copy.deepcopy(operation["value"]))
        elif op in ("move", "copy"):
            source = _pointer(operation.get("from"))
            if op == "move" and tokens[: len(source)] == source and tokens != source:
                raise PatchError("cannot move a value into itself")
            value = (
                _remove(result, source) if op == "move" else copy.deepcopy(_get(result, source))
            )
            _add(result, tokens, value)
        elif op == "test":
            if _get(result, tokens) != operation["value"]:
                raise PatchError(f"test failed at {operation.get('path')}")
        else:
            raise PatchError(f"unknown operation {op!r}")
    return result


def apply_json_patch_to_object(
    data: dict[str, Any],
    permissions: dict[str, list[str]],
    operations: list[Any],
    known_permissions: tuple[str, ...] = ("read", "write"),
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Kinto's flavour of RFC 6902 on the document ``{"data", "permissions"}``.

    Permissions are exposed as ``/permissions/<perm>/<principal>`` members:
    adding one grants, removing it revokes; a whole ``/permissions/<perm>`` may
    also be replaced by a list of principals.  As in Kinto, operations on other
    top-level members apply to a scratch copy and are dropped.
    """
    document: dict[str, Any] = {
        "data": data,
        "permissions": {
            perm: {p: p for p in principals} for perm, principals in permissions.items()
        },
    }
    prepared = []
    for operation in operations:
        if not isinstance(operation, dict):
            raise PatchError("each operation must be an object")
        tokens = _pointer(operation.get("path"))
        if tokens[:1] == ["permissions"] and len(tokens) >= 2:
            if tokens[1] not in known_permissions:
                raise PatchError(f"{tokens[1]!r} is not a permission here")
            if len(tokens) == 3 and operation.get("op") == "add":
                document["permissions"].setdefault(tokens[1], {})
                operation = {**operation, "value": tokens[2]}
        prepared.append(operation)
    patched = json_patch(document, prepared)
    if not isinstance(patched.get("data"), dict) or not isinstance(
        patched.get("permissions"), dict
    ):
        raise PatchError("data and permissions must stay objects")
    new_permissions = {}
    for perm, principals in patched["permissions"].items():
        if perm not in known_permissions:
            raise PatchError(f"{perm!r} is not a permission here")
        if not isinstance(principals, dict | list) or not all(
            isinstance(principal, str) for principal in principals
        ):
            raise PatchError(f"permissions of {perm!r} must be a list of principals")
        new_permissions[perm] = sorted(set(principals))
    return patched["data"], new_permissions
