"""Groups: their ``members`` become principals of those users.

Membership is kept in the permission backend as user -> group URI edges, so
that the principals of a request are one backend call.
"""

from __future__ import annotations

from typing import Any

import colander

from kinto_clone.core.events import ACTIONS
from kinto_clone.core.resource import ObjectSchema
from kinto_clone.views import BucketChild


def _validate_member(node: colander.SchemaNode, member: str) -> None:
    if member.startswith("/buckets/") or member == "system.Everyone":
        raise colander.Invalid(node, f"'{member}' is not a valid user ID.")


class GroupSchema(ObjectSchema):
    members = colander.SchemaNode(
        colander.Sequence(),
        colander.SchemaNode(colander.String(), validator=_validate_member),
        missing=[],
    )


class Group(BucketChild):
    name = "group"
    plural_path = "/buckets/{bucket_id}/groups"
    object_path = "/buckets/{bucket_id}/groups/{id}"
    schema = GroupSchema

    def on_changed(
        self,
        action: ACTIONS,
        new_objects: list[dict[str, Any]],
        old_objects: list[dict[str, Any] | None],
    ) -> None:
        if action is ACTIONS.READ:
            return
        permission = self.request.registry.permission
        for new, old in zip(new_objects, old_objects, strict=True):
            group_uri = f"{self.get_parent_id()}/groups/{new['id']}"
            if action is ACTIONS.DELETE:
                permission.remove_principal(group_uri)
                continue
            before = set((old or {}).get("members", []))
            after = set(new.get("members", []))
            for member in after - before:
                permission.add_user_principal(member, group_uri)
            for member in before - after:
                permission.remove_user_principal(member, group_uri)


RESOURCE = Group
