"""User files are typed by their bytes: allowed images, audio and video, nothing else."""

from __future__ import annotations

import pytest

from certplatform.kernel import media

SIGNATURES = [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "image/jpeg"),
    (b"GIF89a\x01\x00\x01\x00", "image/gif"),
    (b"GIF87a\x01\x00\x01\x00", "image/gif"),
    (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
    (b"RIFF\x24\x00\x00\x00WAVEfmt ", "audio/wav"),
    (b"OggS\x00\x02\x00\x00", "audio/ogg"),
    (b"ID3\x04\x00\x00\x00\x00\x00\x00", "audio/mpeg"),
    (b"\xff\xfb\x90\x64\x00\x00", "audio/mpeg"),  # MPEG-1 layer III, 128 kbit/s, 44.1 kHz
    (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00isommp42", "video/mp4"),
    (b"\x00\x00\x00\x1cftypM4A \x00\x00\x00\x00M4A mp42isom", "video/mp4"),
    (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm\x42\x87", "video/webm"),
]

REFUSED = [
    b"<!DOCTYPE html><script>alert(1)</script>",
    b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>',
    b"fetch('/api/v1/users', {method: 'POST'})",
    b"%PDF-1.7\n",
    b"PK\x03\x04",
    b"RIFF\x24\x00\x00\x00AVI LIST",
    b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska",
    b"\x00\x00\x00\x18ftypqt  \x00\x00\x00\x00qt  qt  ",
    b"\xff\xfe<\x00h\x00t\x00m\x00l\x00",  # UTF-16 HTML starting like an MPEG frame sync
    b"",
]


@pytest.mark.parametrize(("data", "kind"), SIGNATURES)
def test_allowed_files_are_recognised_from_their_bytes(data: bytes, kind: str) -> None:
    assert media.sniff(data) == kind
    assert kind in media.INLINE_TYPES


@pytest.mark.parametrize("data", REFUSED)
def test_documents_scripts_and_other_files_are_not_media(data: bytes) -> None:
    assert media.sniff(data) is None


def test_an_unknown_stored_file_is_served_as_a_sandboxed_download() -> None:
    kind, headers = media.served(b"<html><script>alert(1)</script>", "파일 1.png")
    assert kind == "application/octet-stream"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-security-policy"] == "sandbox; default-src 'none'"
    assert headers["content-disposition"] == (
        "attachment; filename=\"___1.png\"; filename*=UTF-8''%ED%8C%8C%EC%9D%BC%201.png"
    )


def test_a_stored_image_is_served_inline_by_its_bytes_whatever_its_name() -> None:
    kind, headers = media.served(b"\x89PNG\r\n\x1a\n", "page.html")
    assert kind == "image/png"
    assert headers["content-disposition"] == "inline"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-security-policy"] == "sandbox; default-src 'none'"
