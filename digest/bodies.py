"""Message bodies encoded once for the wire: quoted-printable with per-reader slots.

A variant's body is encoded once; each reader's copy only encodes the values that go
into its slots (a signed token, the address, the greeting) and joins the bytes. The
content stage measures a body against the size budget with the same encoder the
sender uses (`part_size`), so nothing above this module builds a whole message to
learn how big one part is.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Mapping
from functools import lru_cache

from digest.models import SLOT_NAMES, slot_text

# A body part, encoded once: quoted-printable bytes of the literal text, with the name
# of each per-reader slot where its value goes.
EncodedPart = tuple[bytes | str, ...]
SOFT_BREAK = b"=\r\n"
_QP_LINE = 76  # RFC 2045's limit, the soft break's "=" included


@lru_cache(maxsize=64)
def _slots(marker: str) -> tuple[re.Pattern[str], dict[str, str]]:
    """The pattern that finds a variant's per-reader slots, and each slot's name."""
    texts = {slot_text(marker, name): name for name in SLOT_NAMES}
    return re.compile("(" + "|".join(map(re.escape, texts)) + ")"), texts


def encode_body(body: str, marker: str, head: bytes = b"") -> EncodedPart:
    """Encode a body once, leaving each slot (see `models.slot_text`) as its name.

    Every literal run is quoted-printable encoded on its own and closed with a soft line
    break, so a value put in later starts a fresh line and never pushes one past 76
    columns; soft breaks vanish when the part is decoded. ``head`` (the MIME part's
    boundary and headers) goes first, as it is.
    """
    data = body.replace("\r\n", "\n").replace("\n", "\r\n")
    pieces: list[bytes | str] = [head] if head else []
    pattern, name_of = _slots(marker)
    for i, piece in enumerate(pattern.split(data)):
        if i % 2:
            pieces.append(name_of[piece])
        elif piece:
            pieces.append(quoted_printable(piece) + SOFT_BREAK)
    pieces.append(b"\r\n")  # ends the part's last line before the next boundary
    return tuple(pieces)


def fill(part: EncodedPart, values: Mapping[str, str]) -> list[bytes]:
    """The part's bytes with each slot's value, itself quoted-printable, in its place."""
    return [p if isinstance(p, bytes) else quoted_printable(values[p]) + SOFT_BREAK for p in part]


def part_size(body: str, marker: str, values: Mapping[str, str]) -> int:
    """Bytes of ``body`` as it travels, with ``values`` in its slots (quoted-printable,
    soft breaks and all): what Gmail's clipping counts for the HTML part."""
    return sum(len(b) for b in fill(encode_body(body, marker), values))


def quoted_printable(text: str) -> bytes:
    """Quoted-printable that is ready for SMTP DATA as it is: CRLF line ends only, and
    no line starting with "." (a leading dot is written =2E).

    So the whole message needs neither line-ending repair nor dot-stuffing on the wire
    (see `smtpwire`): every line of it is either a header, a MIME boundary or part
    header, or comes from here. The C codec keeps a lone CR as is and copies the
    input's line ends, hence the normalisation first.
    """
    plain = text.replace("\r\n", "\n").replace("\r", "\n")
    encoded = _no_leading_dots(binascii.b2a_qp(plain.encode("utf-8")))
    return encoded.replace(b"\n", b"\r\n")


def _no_leading_dots(encoded: bytes) -> bytes:
    """Each line that starts with "." starts with "=2E" instead, re-broken with soft
    breaks where that pushes it past 76 columns."""
    if not encoded.startswith(b".") and b"\n." not in encoded:
        return encoded
    out: list[bytes] = []
    for line in encoded.split(b"\n"):
        while line.startswith(b"."):
            line = b"=2E" + line[1:]
            if len(line) <= _QP_LINE:
                break
            cut = _QP_LINE - 1  # room for the soft break's "="
            while b"=" in line[cut - 2 : cut]:  # never split an =XX escape
                cut -= 1
            out.append(line[:cut] + b"=")
            line = line[cut:]
        out.append(line)
    return b"\n".join(out)
