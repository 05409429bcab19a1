"""The three PATCH formats: Kinto's JSON merge, RFC 7396 and RFC 6902.

Each turns ``(object data, permissions, request body)`` into the new data and
the new permissions.  RFC 6902 operations are applied by the ``jsonpatch``
library, as in Kinto; this module only checks their shape the way Kinto's
request schema does, and maps Kinto's ``/data`` and ``/permissions`` document
onto the object.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import jsonpatch
import jsonpointer

from kinto_clone.core.json_values import count_values

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"

OPERATIONS = ("test", "add", "remove", "replace", "move", "copy")
OPERATION_MEMBERS = ("op", "path", "from", "value")
# Kinto's pattern for ``path`` and ``from``, matched at the start of the string:
# in effect, a pointer that starts with ``/``.
_POINTER_START = re.compile(r"(/\w*)+")
# Copies may add at most this many JSON values to a document, or as many as the
# document and the patch hold, if more: without a bound, thirty operations each
# copying a member into itself would build a document of a billion values.
MIN_COPY_BUDGET = 10_000


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


def _string_member(operation: dict[str, Any], member: str) -> tuple[str | None, str | None]:
    """``(value, error)`` for a string member, with Kinto's (colander's) wording."""
    value = operation.get(member)
    if not value:  # absent, null, "" and other empty values count as missing
        return None, None if member == "from" else "Required"
    if not isinstance(value, str):
        return None, f"{value} is not a string: {{'{member}': ''}}"
    if member == "op" and value not in OPERATIONS:
        return None, f'"{value}" is not one of {", ".join(OPERATIONS)}'
    if member in ("path", "from") and not _POINTER_START.match(value):
        return None, "String does not match expected pattern"
    return value, None


def check_operations(body: list[Any]) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """The operations as Kinto's request schema accepts them, and the errors found.

    Errors are ``(name, description)`` pairs naming the operation's index and
    member (``"0.path"``), worded as Kinto words them.  As in Kinto, an empty
    ``from`` is dropped (jsonpatch then reports it missing) and ``value`` is kept
    whatever it is, ``null`` included.
    """
    operations, errors = [], []
    for index, operation in enumerate(body):
        if not isinstance(operation, dict):
            reason = "Does not implement dict-like functionality."
            errors.append((str(index), f'"{operation}" is not a mapping type: {reason}'))
            continue
        unknown = {key: value for key, value in operation.items() if key not in OPERATION_MEMBERS}
        if unknown:
            errors.append((str(index), f'Unrecognized keys in mapping: "{unknown}"'))
            continue
        checked: dict[str, Any] = {}
        for member in ("op", "path", "from"):
            value, error = _string_member(operation, member)
            if error:
                errors.append((f"{index}.{member}", error))
            elif value is not None:
                checked[member] = value
        if "value" in operation:
            checked["value"] = operation["value"]
        operations.append(checked)
    return operations, errors


def json_patch(document: Any, operations: list[dict[str, Any]]) -> Any:
    """RFC 6902 applied to a copy of ``document``; raises :class:`PatchError`.

    Operations are applied one at a time so that copies can be budgeted
    (:data:`MIN_COPY_BUDGET`): every other operation costs at most the size of
    the request, so the whole patch costs time linear in its input.
    """
    result = copy.deepcopy(document)
    budget = max(MIN_COPY_BUDGET, count_values(document) + count_values(operations))
    for operation in operations:
        try:
            if operation.get("op") == "copy" and isinstance(operation.get("from"), str):
                source = jsonpointer.resolve_pointer(result, operation["from"], None)
                budget -= count_values(source, budget)
                if budget < 0:
                    raise PatchError("copies would make the object too large")
            result = jsonpatch.JsonPatch([operation]).apply(result, in_place=True)
        except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as error:
            raise PatchError(str(error)) from None
    return result


def _principal(path: str) -> str:
    """The principal a ``/permissions/<perm>/<principal>`` path names."""
    return jsonpointer.JsonPointer(path).parts[-1]


def apply_json_patch_to_object(
    data: dict[str, Any],
    permissions: dict[str, list[str]],
    operations: list[dict[str, Any]],
    known_permissions: tuple[str, ...] = ("read", "write"),
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Kinto's flavour of RFC 6902 on the document ``{"data", "permissions"}``.

    Permissions are exposed as ``/permissions/<perm>/<principal>`` members whose
    value is the principal itself, so that adding one (no ``value`` needed)
    grants and removing it revokes; a whole ``/permissions/<perm>`` may also be
    replaced by a list of principals.  As in Kinto, operations on other
    top-level members apply to a scratch copy and are dropped.  Kinto maps only
    ``read`` and ``write`` this way; here every permission of the object is.
    """
    document: dict[str, Any] = {
        "data": data,
        "permissions": {
            perm: {principal: principal for principal in permissions.get(perm, [])}
            for perm in known_permissions
        },
    }
    prepared = []
    for operation in operations:
        path = operation["path"]
        tokens = path.split("/")
        if len(tokens) >= 3 and tokens[1] == "permissions":
            if tokens[2] not in known_permissions:
                raise PatchError(f"{tokens[2]!r} is not a permission here")
            if len(tokens) == 4:
                try:
                    operation = {**operation, "value": _principal(path)}
                except jsonpointer.JsonPointerException as error:
                    raise PatchError(str(error)) from None
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
