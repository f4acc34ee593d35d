"""Blobs in an S3 bucket (any S3-compatible service) through boto3.

The endpoint and credentials come from the usual AWS variables (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_REGION / AWS_DEFAULT_REGION), read by boto3 itself. Uploads go through
upload_fileobj (multipart past its threshold), downloads stream the body: no file is held whole.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from .blob_stores import blob_name
from .intake import CHUNK

MISSING = ("404", "NoSuchKey", "NotFound")


class S3Blobs:
    """Blobs as objects `prefix/aa/bb/<sha256>` in `bucket`; thread-safe (boto3 clients are)."""

    def __init__(self, bucket: str, prefix: str, spool_dir: Path, client=None):
        if not bucket:
            raise ValueError("MEDIA_STORE=s3:// needs a bucket name")
        self.bucket, self.prefix = bucket, prefix
        self.spool_dir = Path(spool_dir)
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        self._s3 = client or boto3.session.Session().client(
            "s3", config=Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=10, read_timeout=60))

    def _key(self, sha256: str) -> str:
        return f"{self.prefix}/{blob_name(sha256)}" if self.prefix else blob_name(sha256)

    def exists(self, sha256: str) -> bool:
        try:
            self._s3.head_object(Bucket=self.bucket, Key=self._key(sha256))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in MISSING:
                return False
            raise
        return True

    def put(self, sha256: str, spooled: Path) -> None:
        try:
            if not self.exists(sha256):  # content-addressed: the same bytes are there already
                with spooled.open("rb") as file:
                    self._s3.upload_fileobj(file, self.bucket, self._key(sha256))
        finally:
            spooled.unlink(missing_ok=True)

    def chunks(self, sha256: str) -> Iterator[bytes]:
        try:
            body = self._s3.get_object(Bucket=self.bucket, Key=self._key(sha256))["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in MISSING:
                raise FileNotFoundError(sha256) from None
            raise
        return _closing_chunks(body)

    @contextmanager
    def local_copy(self, sha256: str):
        with tempfile.NamedTemporaryFile(dir=self.spool_dir, prefix="copy-") as copy:
            for chunk in self.chunks(sha256):
                copy.write(chunk)
            copy.flush()
            yield Path(copy.name)

    def file_path(self, sha256: str) -> None:
        return None  # no local file: answers stream from the bucket

    def delete(self, sha256: str) -> None:
        self._s3.delete_object(Bucket=self.bucket, Key=self._key(sha256))


def _closing_chunks(body) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(CHUNK)
    finally:
        body.close()


