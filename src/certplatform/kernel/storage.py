"""Object storage for media: content-addressed files on local disk (S3 when configured:
`kernel/s3.py`, which keeps this class's interface)."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from certplatform.kernel.settings import Settings

# Named journals live beside the content-addressed files, whose folders are two hex digits.
JOURNAL_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{2,}/[a-z0-9][a-z0-9_.-]*\.jsonl")


class LocalStorage:
    """Files named by their SHA-256 under `root`; writing the same bytes twice is free.

    Besides them, append-only journals (`folder/name.jsonl`): one JSON record per line,
    for records that must live outside the database, such as audit checkpoints.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, digest: str) -> Path:
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError("not a sha256 digest")
        return self.root / digest[:2] / digest

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        path = self._path(digest)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            # Write then rename, so a crash never leaves a truncated file under the hash.
            fd, tmp = tempfile.mkstemp(dir=path.parent)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        return digest

    def get(self, digest: str) -> bytes:
        return self._path(digest).read_bytes()

    def exists(self, digest: str) -> bool:
        return self._path(digest).exists()

    def _journal(self, name: str) -> Path:
        if not JOURNAL_NAME.fullmatch(name):
            raise ValueError(f"not a journal name: {name!r}")
        return self.root / name

    def append_line(self, name: str, line: str) -> None:
        """Append one line to a journal and flush it to disk before returning."""
        if "\n" in line or "\r" in line:
            raise ValueError("a journal line cannot contain a line break")
        path = self._journal(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_APPEND writes one line in one call, so writers side by side never interleave.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, (line + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def read_lines(self, name: str) -> list[str]:
        """A journal's lines in the order written; none when it does not exist yet."""
        path = self._journal(name)
        if not path.exists():
            return []
        return path.read_text(encoding="utf-8").splitlines()


def make_storage(settings: Settings) -> LocalStorage:
    """The media store of this process: S3 when `S3_ENDPOINT` is set, else the local disk."""
    if not settings.s3_endpoint:
        return LocalStorage(settings.media_dir)
    from certplatform.kernel.s3 import S3Storage

    return S3Storage(
        settings.s3_endpoint,
        settings.s3_access_key,
        settings.s3_secret_key,
        settings.s3_bucket,
        region=settings.s3_region,
        scratch=settings.media_dir,
    )
