"""SSH public key fingerprints, exactly as ``ssh-keygen -lf`` prints them (``256 SHA256:... comment (ED25519)``).

Computed in Python from the key blob (RFC 4253 wire format): the SHA-256 of the decoded blob in
unpadded base64, the key size in bits, the comment and the type label.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

_LABELS = {
    "ssh-ed25519": "ED25519",
    "ssh-rsa": "RSA",
    "ecdsa-sha2-nistp256": "ECDSA",
    "ecdsa-sha2-nistp384": "ECDSA",
    "ecdsa-sha2-nistp521": "ECDSA",
    "sk-ssh-ed25519@openssh.com": "ED25519-SK",
    "sk-ecdsa-sha2-nistp256@openssh.com": "ECDSA-SK",
}
_CURVE_BITS = {"nistp256": 256, "nistp384": 384, "nistp521": 521}


@dataclass(frozen=True)
class KeyFingerprint:
    type: str  # ssh-ed25519, ssh-rsa, ...
    bits: int
    sha256: str  # "SHA256:..." (unpadded base64)
    comment: str

    @property
    def label(self) -> str:
        return _LABELS.get(self.type, self.type.upper())

    def line(self) -> str:
        """The line ``ssh-keygen -lf`` prints for this key."""
        return f"{self.bits} {self.sha256} {self.comment or 'no comment'} ({self.label})"

    def to_dict(self) -> dict:
        return {"type": self.type, "bits": self.bits, "fingerprint": self.sha256, "comment": self.comment,
                "label": self.label}


def _strings(blob: bytes):
    """The length-prefixed fields of an SSH wire-format blob."""
    i = 0
    while i < len(blob):
        if i + 4 > len(blob):
            raise ValueError("truncated key")
        n = int.from_bytes(blob[i:i + 4], "big")
        i += 4
        if i + n > len(blob):
            raise ValueError("truncated key")
        yield blob[i:i + n]
        i += n


def _bits(ktype: str, fields: list[bytes]) -> int:
    if ktype == "ssh-rsa":  # string type, mpint e, mpint n
        return int.from_bytes(fields[2], "big").bit_length()
    if ktype in ("ssh-ed25519", "sk-ssh-ed25519@openssh.com"):
        return 256
    curve = fields[1].decode("ascii", "replace")  # ecdsa: string type, string curve, string point
    return _CURVE_BITS.get(curve, 0)


def fingerprint(key: str) -> KeyFingerprint | None:
    """The fingerprint of an OpenSSH public key line (``TYPE BASE64 [COMMENT]``); None when it is not one."""
    parts = key.strip().split(None, 2)
    if len(parts) < 2:
        return None
    try:
        blob = base64.b64decode(parts[1], validate=True)
        fields = list(_strings(blob))
        ktype = fields[0].decode("ascii")
        if ktype != parts[0] or ktype not in _LABELS:
            return None
        bits = _bits(ktype, fields)
    except (binascii.Error, ValueError, IndexError, UnicodeDecodeError):
        return None
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return KeyFingerprint(ktype, bits, f"SHA256:{digest}", parts[2].strip() if len(parts) == 3 else "")
