"""Media on S3-compatible storage when `S3_ENDPOINT` is set (ADR 0022).

The same content-addressed files as `LocalStorage` (the interface every context holds), as
objects `media/<2 hex>/<sha256>`, each stored with the type `sniff` read from its bytes and
inline or attachment disposition, so a presigned download URL serves it as the media route
would. Journals become one object per line (`journals/<name>/<time>-<random>`): S3 cannot
append, and one object per line keeps writers side by side from overwriting each other.

Browsers upload straight to the bucket with a presigned POST whose policy bounds the size
and fixes the declared type. That declaration is only a claim: the upload lands under
`uploads/<id>`, which nothing serves, and becomes media only when the app takes it back
(`take_upload`), checks its size and sniffs its bytes like any other file (ADR 0010).
"""

from __future__ import annotations

import contextlib
import hashlib
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from certplatform.kernel import media
from certplatform.kernel.storage import LocalStorage

UPLOAD_ID_LENGTH = 32


class UploadTooLarge(ValueError):
    pass


class S3Storage(LocalStorage):
    """Content-addressed media and journals in one bucket; `root` keeps local scratch files
    (the import wizard's waiting uploads) on this machine's disk."""

    def __init__(
        self,
        endpoint: str,
        access_key: str | None,
        secret_key: str | None,
        bucket: str,
        *,
        region: str = "us-east-1",
        scratch: Path,
    ) -> None:
        super().__init__(scratch)
        self.bucket = bucket
        self._bucket_ready = False
        self.client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name=region,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                connect_timeout=2,
                read_timeout=10,
                retries={"max_attempts": 3, "mode": "standard"},
            ),
        )

    def ensure_bucket(self) -> None:
        """Make the bucket on the first write of this process if it is missing."""
        if self._bucket_ready:
            return
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self.client.create_bucket(Bucket=self.bucket)
        self._bucket_ready = True

    @staticmethod
    def _media_key(digest: str) -> str:
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError("not a sha256 digest")
        return f"media/{digest[:2]}/{digest}"

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        self.ensure_bucket()
        if not self.exists(digest):
            kind = media.sniff(data)
            self.client.put_object(
                Bucket=self.bucket,
                Key=self._media_key(digest),
                Body=data,
                ContentType=kind or "application/octet-stream",
                ContentDisposition="inline" if kind else "attachment",
            )
        return digest

    def get(self, digest: str) -> bytes:
        try:
            reply = self.client.get_object(Bucket=self.bucket, Key=self._media_key(digest))
        except ClientError as exc:
            if _missing(exc):
                raise FileNotFoundError(digest) from exc
            raise
        data: bytes = reply["Body"].read()
        return data

    def exists(self, digest: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._media_key(digest))
        except ClientError as exc:
            if _missing(exc):
                return False
            raise
        return True

    def append_line(self, name: str, line: str) -> None:
        if "\n" in line or "\r" in line:
            raise ValueError("a journal line cannot contain a line break")
        self._journal(name)  # validates the name
        self.ensure_bucket()
        key = f"journals/{name}/{time.time_ns():020d}-{uuid.uuid4().hex}"
        self.client.put_object(Bucket=self.bucket, Key=key, Body=line.encode())

    def read_lines(self, name: str) -> list[str]:
        self._journal(name)
        keys: list[str] = []
        pages = self.client.get_paginator("list_objects_v2")
        try:
            for page in pages.paginate(Bucket=self.bucket, Prefix=f"journals/{name}/"):
                keys.extend(item["Key"] for item in page.get("Contents", []))
        except ClientError as exc:
            if _missing(exc):  # no bucket yet: nothing was ever written to the journal
                return []
            raise
        return [
            self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read().decode()
            for key in sorted(keys)
        ]

    # ---- presigned transfers -----------------------------------------------------------

    def presigned_upload(
        self, content_type: str, max_bytes: int, expires_s: int = 600
    ) -> dict[str, Any]:
        """A POST form for the browser: at most `max_bytes`, only the declared type."""
        self.ensure_bucket()
        upload_id = uuid.uuid4().hex
        form = self.client.generate_presigned_post(
            self.bucket,
            f"uploads/{upload_id}",
            Fields={"Content-Type": content_type},
            Conditions=[["content-length-range", 1, max_bytes], {"Content-Type": content_type}],
            ExpiresIn=expires_s,
        )
        return {"upload_id": upload_id, "url": form["url"], "fields": form["fields"]}

    def take_upload(self, upload_id: str, max_bytes: int) -> bytes:
        """The bytes of an upload, removed from `uploads/` (taken once). The size is checked
        again here: the policy is the bucket's word, this is ours."""
        if len(upload_id) != UPLOAD_ID_LENGTH or any(
            c not in "0123456789abcdef" for c in upload_id
        ):
            raise FileNotFoundError(upload_id)
        key = f"uploads/{upload_id}"
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key)
            if int(head["ContentLength"]) > max_bytes:
                raise UploadTooLarge(upload_id)
            data: bytes = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if _missing(exc):
                raise FileNotFoundError(upload_id) from exc
            raise
        finally:
            with contextlib.suppress(ClientError):  # a leftover under uploads/ is never served
                self.client.delete_object(Bucket=self.bucket, Key=key)
        if len(data) > max_bytes:
            raise UploadTooLarge(upload_id)
        return data

    def download_url(self, digest: str, filename: str, expires_s: int = 300) -> str:
        """A presigned GET that answers with the sniffed type and the media route's
        disposition (S3 cannot add nosniff or CSP headers: see ADR 0022)."""
        data_type = self.client.head_object(Bucket=self.bucket, Key=self._media_key(digest))[
            "ContentType"
        ]
        inline = data_type in media.INLINE_TYPES
        disposition = (
            "inline" if inline else media.attachment_headers(filename)["content-disposition"]
        )
        url: str = self.client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": self._media_key(digest),
                "ResponseContentType": data_type if inline else "application/octet-stream",
                "ResponseContentDisposition": disposition,
            },
            ExpiresIn=expires_s,
        )
        return url


def _missing(exc: ClientError) -> bool:
    code = str(exc.response.get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound", "NoSuchBucket")
