"""File attachments on records, speaking kinto-attachment 9's HTTP API.

Turned on by ``kinto.includes = kinto_attachment`` (the name of Kinto's plugin,
mapped by :mod:`kinto_clone.core.dotted`) or ``kinto_clone.plugins.attachment``.
Its parts:

* :mod:`.settings`: the ``attachment.*`` settings and per-resource overrides;
* :mod:`.upload`: the multipart body streamed to a staged file;
* :mod:`.storage`: where files go, :mod:`.storage.local` or :mod:`.storage.s3`;
* :mod:`.files`: links from records to files, and the transaction journal
  deleting files on rollback or once obsolete;
* :mod:`.views`: ``POST``/``DELETE .../records/{id}/attachment``;
* :mod:`.listeners`: files deleted with their records, forged fields refused;
* :mod:`.serving`: the server publishing local files when ``base_url`` names it.
"""

from __future__ import annotations

import logging
from io import BytesIO
from typing import Any

from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError
from pyramid.request import Request

from kinto_clone.core.events import ACTIONS, ResourceChanged
from kinto_clone.plugins.attachment import listeners, serving
from kinto_clone.plugins.attachment.settings import AttachmentSettings, base_url
from kinto_clone.plugins.attachment.storage import FileStorage
from kinto_clone.plugins.attachment.storage.local import LocalFileStorage
from kinto_clone.plugins.attachment.storage.s3 import S3FileStorage
from kinto_clone.plugins.attachment.views import attachment

logger = logging.getLogger(__name__)

API_VERSION = "9.0.1"
"""The kinto-attachment release whose API this speaks (the capability's ``version``)."""

HEARTBEAT_LOCATION = "heartbeat-test/heartbeat.json"
HEARTBEAT_CONTENT = b'{"test": "write"}'


def file_storage(settings: dict[str, Any]) -> FileStorage:
    """The storage chosen as kinto-attachment chooses: a folder when
    ``attachment.base_path`` is set, else S3 when ``attachment.aws.bucket_name`` is."""
    url = base_url(settings)
    if str(settings.get("attachment.base_path") or "").strip():
        return LocalFileStorage.from_settings(settings, url)
    if settings.get("attachment.aws.bucket_name"):
        return S3FileStorage.from_settings(settings, url)
    if any(key.startswith("attachment.gcloud.") for key in settings):
        raise ConfigurationError(
            "attachment.gcloud.*: Google Cloud Storage is not supported; "
            "use its S3-compatible API with attachment.aws.* (endpoint_url)"
        )
    raise ConfigurationError(
        "Attachment backend is not configured. Set either `attachment.base_path` (local) "
        "or `attachment.aws.bucket_name` (S3)."
    )


def heartbeat(request: Request) -> bool:
    """Write and delete a small file (always healthy on a read-only server)."""
    if request.registry.settings["readonly"]:
        return True
    storage: FileStorage = request.registry.attachment_files
    try:
        location = storage.save(BytesIO(HEARTBEAT_CONTENT), HEARTBEAT_LOCATION, "application/json")
        storage.delete(location)
    except Exception:
        logger.exception("The attachments storage failed its heartbeat")
        return False
    return True


def includeme(config: Configurator) -> None:
    settings = config.get_settings()
    registry = config.registry
    registry.attachment_settings = AttachmentSettings(settings)
    registry.attachment_files = storage = file_storage(settings)

    # Clients prepend this to relative locations (kinto-attachment's "extra" base URL).
    advertised = base_url(settings, "extra.base_url") or storage.base_url or None
    config.add_api_capability(
        "attachments",
        version=API_VERSION,
        description="Add file attachments to records",
        url="https://github.com/Kinto/kinto-attachment/",
        base_url=advertised,
        max_size_bytes=registry.attachment_settings.defaults.max_size,
    )
    config.add_heartbeat("attachments", heartbeat)
    config.add_cornice_service(attachment)
    registry.object_validators.append(listeners.refuse_forged_attachment)
    config.add_subscriber(
        listeners.on_deleted,
        ResourceChanged,
        for_resources=("record", "collection", "bucket"),
        for_actions=(ACTIONS.DELETE,),
    )
    if isinstance(storage, LocalFileStorage):
        serving.setup_serving(config, storage)
