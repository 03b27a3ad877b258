"""Destinations of ``keyledger audit export``: a folder or an S3 bucket."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol


class ExportFailed(Exception):
    """A file could not be written to the destination."""


class Destination(Protocol):
    description: str
    bucket: str | None
    prefix: str

    def write(self, key: str, body: bytes) -> bool:
        """Store ``body`` under ``key``; return False when it was already there."""


def open_destination(target: str, endpoint_url: str | None) -> Destination:
    """Open ``s3://bucket[/prefix]`` as an S3 destination, anything else as a folder."""
    if target.startswith("s3://"):
        bucket, _, prefix = target[len("s3://") :].partition("/")
        if not bucket:
            raise ValueError(f"invalid destination {target!r}: name a bucket")
        return S3Destination(bucket, prefix, endpoint_url)
    if "://" in target:
        raise ValueError(
            f"invalid destination {target!r}: use a folder or s3://bucket[/prefix]"
        )
    if endpoint_url:
        raise ValueError("--endpoint-url applies only to an s3:// destination")
    return FolderDestination(Path(target))


class FolderDestination:
    """Files under a folder, each written to a temporary name and renamed."""

    bucket: str | None = None
    prefix = ""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.description = str(root)

    def write(self, key: str, body: bytes) -> bool:
        path = self.root / key
        if path.is_file() and path.read_bytes() == body:
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        # A reader sees the old file or the whole new one, never a part.
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with temporary.open("wb") as file:
                file.write(body)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
        return True


class S3Destination:
    """Objects in an S3 bucket, put through boto3's S3 client."""

    def __init__(self, bucket: str, prefix: str, endpoint_url: str | None) -> None:
        self.bucket: str | None = bucket
        # CloudTrail's optional prefix comes before AWSLogs/.
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.description = f"s3://{bucket}/{self.prefix}"
        self._endpoint_url = endpoint_url
        self._client: Any = None

    def write(self, key: str, body: bytes) -> bool:
        # A PUT replaces an object whole, so S3 never stores a part of a file.
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._s3().put_object(
                Bucket=self.bucket,
                Key=key,
                Body=body,
                ContentType="application/gzip",
            )
        except (BotoCoreError, ClientError) as error:
            raise ExportFailed(
                f"cannot put s3://{self.bucket}/{key}: {error}"
            ) from error
        return True

    def _s3(self) -> Any:
        if self._client is None:
            # boto3 is needed only here, so other commands never import it.
            import boto3

            self._client = boto3.client("s3", endpoint_url=self._endpoint_url)
        return self._client
