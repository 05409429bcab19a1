"""Files in an Amazon S3 bucket, or any S3-compatible service (``attachment.aws.*``).

Settings, as kinto-attachment's S3 storage (pyramid_storage) named them:
``bucket_name`` (required), ``access_key`` and ``secret_key`` (omit them to use
the machine's IAM role or boto3's usual sources), ``region``, ``acl`` (the
canned ACL of each file, ``public-read`` by default; empty for none, as buckets
that refuse ACLs require), and the address of a compatible service, either
``endpoint_url`` or pyramid_storage's ``host``/``port``/``is_secure``, with
``use_path_style`` for services without virtual-host buckets.

Uploads go through boto3's managed transfer: multipart above 8 MB, read from
the staged file chunk by chunk.
"""

from __future__ import annotations

from typing import Any, BinaryIO

from pyramid.exceptions import ConfigurationError
from pyramid.settings import asbool

from kinto_clone.plugins.attachment.storage import MAX_NAME_ATTEMPTS, FileStorage, numbered

PREFIX = "attachment.aws."
DEFAULT_ACL = "public-read"
NOT_FOUND_CODES = ("404", "NoSuchKey", "NotFound")


def _endpoint_url(settings: dict[str, Any]) -> str | None:
    endpoint = settings.get(PREFIX + "endpoint_url")
    if endpoint:
        return str(endpoint).strip()
    host = settings.get(PREFIX + "host")
    if not host:
        return None
    scheme = "https" if asbool(settings.get(PREFIX + "is_secure", True)) else "http"
    port = settings.get(PREFIX + "port")
    return f"{scheme}://{host}:{port}" if port else f"{scheme}://{host}"


class S3FileStorage(FileStorage):
    def __init__(self, client: Any, bucket_name: str, acl: str | None, base_url: str) -> None:
        self.client = client
        self.bucket_name = bucket_name
        self.acl = acl
        self.base_url = base_url

    @classmethod
    def from_settings(cls, settings: dict[str, Any], base_url: str) -> S3FileStorage:
        try:
            import boto3
            from botocore.config import Config
        except ImportError as error:  # pragma: no cover - boto3 is a dependency
            raise ConfigurationError("attachment.aws.* needs boto3") from error
        bucket_name = str(settings.get(PREFIX + "bucket_name") or "").strip()
        if not bucket_name:
            raise ConfigurationError(f"{PREFIX}bucket_name is required")
        config: dict[str, Any] = {}
        if asbool(settings.get(PREFIX + "use_path_style", False)):
            config["s3"] = {"addressing_style": "path"}
        client = boto3.client(
            "s3",
            endpoint_url=_endpoint_url(settings),
            region_name=settings.get(PREFIX + "region") or None,
            aws_access_key_id=settings.get(PREFIX + "access_key") or None,
            aws_secret_access_key=settings.get(PREFIX + "secret_key") or None,
            config=Config(**config),
        )
        acl = settings.get(PREFIX + "acl", DEFAULT_ACL)
        return cls(client, bucket_name, str(acl).strip() or None, base_url)

    def exists(self, location: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket_name, Key=location)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in NOT_FOUND_CODES:
                return False
            raise
        return True

    def save(self, source: BinaryIO, location: str, content_type: str) -> str:
        # S3 has no exclusive create through managed uploads: look first.  Two
        # uploads racing for one name within milliseconds could still collide;
        # names are random unless ``randomize`` is turned off.
        for attempt in range(MAX_NAME_ATTEMPTS):
            candidate = numbered(location, attempt)
            if self.exists(candidate):
                continue
            extra = {"ContentType": content_type}
            if self.acl:
                extra["ACL"] = self.acl
            self.client.upload_fileobj(source, self.bucket_name, candidate, ExtraArgs=extra)
            return candidate
        raise FileExistsError(f"no free name for {location!r} in {self.bucket_name}")

    def delete(self, location: str) -> None:
        self.client.delete_object(Bucket=self.bucket_name, Key=location)
