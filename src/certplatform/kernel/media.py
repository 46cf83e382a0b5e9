"""What a user's file really is, and the headers every user file is served with.

A file served from the app's own origin runs with the signed-in user's session if the browser
renders it as a document (HTML, SVG, XML) or a script, so the type of a user's file is never
taken from its name or from what the uploader claims: `sniff` reads it from the bytes, and
only the raster images, audio and video in `INLINE_TYPES` are ever shown inline
(docs/adr/0010-media-served-by-sniffed-type.md).
"""

from __future__ import annotations

from urllib.parse import quote

# Type → the file extension it is stored under.
IMAGE_TYPES: dict[str, str] = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
}
INLINE_TYPES: dict[str, str] = {
    **IMAGE_TYPES,
    "audio/mpeg": "mp3",
    "audio/ogg": "ogg",
    "audio/wav": "wav",
    "video/mp4": "mp4",
    "video/webm": "webm",
}
ALLOWED_DESCRIPTION = "PNG, JPEG, GIF or WebP images, MP3, Ogg or WAV audio, MP4 or WebM video"

# Even a real image is kept from doing anything but being one: no scripts, no plugins, no
# same-origin rights, and no second opinion by the browser on its type.
SANDBOX_CSP = "sandbox; default-src 'none'"
SAFE_HEADERS = {"x-content-type-options": "nosniff", "content-security-policy": SANDBOX_CSP}

# MPEG audio frame header: 11 sync bits, then version (not the reserved 01) and layer (not 00).
_MPEG_VERSIONS = (0b00, 0b10, 0b11)
_MPEG_LAYERS = (0b01, 0b10, 0b11)


def sniff(data: bytes) -> str | None:
    """The type in `INLINE_TYPES` the bytes are, or None for anything else.

    Signatures follow the WHATWG MIME Sniffing standard (image, audio and video patterns).
    """
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav"
    if data.startswith(b"OggS\x00"):
        return "audio/ogg"
    if data.startswith(b"ID3") or _mpeg_frame(data):
        return "audio/mpeg"
    if _mp4(data):
        return "video/mp4"
    if _webm(data):
        return "video/webm"
    return None


def _mpeg_frame(data: bytes) -> bool:
    if len(data) < 4 or data[0] != 0xFF or data[1] & 0xE0 != 0xE0:
        return False
    version, layer = (data[1] >> 3) & 0b11, (data[1] >> 1) & 0b11
    bitrate, rate = data[2] >> 4, (data[2] >> 2) & 0b11
    return (
        version in _MPEG_VERSIONS
        and layer in _MPEG_LAYERS
        and bitrate not in (0b0000, 0b1111)
        and rate != 0b11
    )


def _mp4(data: bytes) -> bool:
    """An ISO media file whose major or a compatible brand is `mp4*` (WHATWG 6.2.1)."""
    if len(data) < 12 or data[4:8] != b"ftyp":
        return False
    size = int.from_bytes(data[:4], "big")
    if size < 12 or size % 4 or size > len(data):
        return False
    brands = [data[8:12]] + [data[i : i + 4] for i in range(16, size, 4)]
    return any(brand.startswith(b"mp4") for brand in brands)


def _webm(data: bytes) -> bool:
    """An EBML file whose DocType element (0x4282) says `webm`, not another Matroska."""
    if not data.startswith(b"\x1a\x45\xdf\xa3"):
        return False
    at = data.find(b"\x42\x82", 4, 4096)
    return at >= 0 and b"webm" in data[at + 2 : at + 12]


def inline_headers() -> dict[str, str]:
    """Headers for a file `sniff` recognised: shown inline, sandboxed."""
    return {**SAFE_HEADERS, "content-disposition": "inline"}


def attachment_headers(filename: str) -> dict[str, str]:
    """Headers that make the browser save the file instead of showing it, sandboxed."""
    ascii_name = "".join(
        c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in filename
    )
    return {
        **SAFE_HEADERS,
        "content-disposition": (
            f'attachment; filename="{ascii_name or "download"}"; '
            f"filename*=UTF-8''{quote(filename, safe='')}"
        ),
    }


def served(data: bytes, filename: str) -> tuple[str, dict[str, str]]:
    """(type, headers) for serving a stored user file, decided from its bytes now.

    Files stored before the type was checked on the way in are judged the same way: what is
    not an allowed image, audio or video file is sent as an opaque download.
    """
    kind = sniff(data)
    if kind is None:
        return "application/octet-stream", attachment_headers(filename)
    return kind, inline_headers()
