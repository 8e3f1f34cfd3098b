"""Source names and locations, and the URL policy.

A LOCATION is one of

* a **git repository**: any URL git accepts (``https://``, ``ssh://``, ``git@host:path``,
  ``file://``), optionally with ``--ref BRANCH_OR_TAG``;
* an **HTTPS index**: an ``https://.../index.json`` (what ``pctl registry index`` writes);
* a **local directory** of templates.

Plain ``http://`` (and ``git://``) are refused except for loopback hosts (local tests and mirrors):
templates decide what runs on a cluster, so they are fetched over an authenticated channel.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from urllib.parse import urlsplit

from pctl.errors import PctlError, UsageError

NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
LIBRARY = "library"
KINDS = ("git", "index", "dir")
_SCP_LIKE = re.compile(r"^[A-Za-z0-9._~-]+@[A-Za-z0-9.-]+:(?!//)\S+$")


def check_name(name: str) -> str:
    if name == LIBRARY:
        raise UsageError("'library' is the bundled library's name; choose another source name")
    if not NAME_RE.match(name or ""):
        raise UsageError(f"invalid source name {name!r}: a lowercase letter, then lowercase letters, digits or '-' "
                         "(at most 31 characters)", hint="e.g. pctl registry add team https://github.com/org/templates")
    return name


MAX_REF = 255
_REF_BAD_CHARS = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")


def ref_problem(ref: str) -> str | None:
    """Why ``ref`` is not a usable git branch or tag name (git check-ref-format, and never an option), else
    None. Checked wherever a ref is read: ``registry add --ref``, config.toml, and right before git runs."""
    if not isinstance(ref, str) or not ref:
        return "a git ref must be a non-empty branch or tag name"
    if len(ref) > MAX_REF:
        return f"a git ref is at most {MAX_REF} characters"
    if ref.startswith("-"):
        return "a git ref must not start with '-' (git would read it as an option)"
    if _REF_BAD_CHARS.search(ref) or any(0x80 <= ord(c) <= 0x9F for c in ref):
        return "a git ref may not contain spaces, control characters or any of ~ ^ : ? * [ \\"
    if ".." in ref or "@{" in ref or ref == "@" or "//" in ref:
        return "a git ref may not contain '..', '@{' or '//', nor be '@'"
    if ref.startswith("/") or ref.endswith(("/", ".", ".lock")):
        return "a git ref may not start with '/' nor end with '/', '.' or '.lock'"
    if any(part.startswith(".") or part.endswith(".lock") for part in ref.split("/")):
        return "no part of a git ref may start with '.' or end with '.lock'"
    return None


def check_ref(ref: str, *, where: str = "") -> str:
    """``ref`` when it is a usable branch or tag name; raises UsageError (message + hint) otherwise."""
    problem = ref_problem(ref)
    if problem:
        raise UsageError(f"{where}invalid git ref {ref!r}: {problem}",
                         hint="give a branch or tag name such as main or v2.0")
    return ref


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    h = host.strip("[]").lower()
    if h == "localhost" or h.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def check_url(url: str, *, what: str = "URL") -> None:
    """Refuse anything but https (and http for loopback hosts). Raises PctlError."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "https" and parts.hostname:
        return
    if scheme == "http" and is_loopback(parts.hostname):
        return
    if scheme == "http":
        raise PctlError(f"{what} {url} uses plain http://; pctl fetches templates over https:// only "
                        "(http:// is accepted for loopback addresses such as 127.0.0.1)",
                        hint="use the https:// address of the same server")
    raise PctlError(f"{what} {url!r} is not an https:// URL")


def check_git_location(url: str) -> None:
    """Refuse git locations that are options, remote helpers or unencrypted non-loopback URLs."""
    if url.startswith("-"):
        raise UsageError(f"invalid git location {url!r}")
    if "::" in url.split("/", 1)[0]:
        raise UsageError(f"git remote helpers ({url.split('::')[0]}::) are not allowed as a registry location")
    if _SCP_LIKE.match(url):
        return
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("https", "ssh", "git+ssh", "ssh+git", "file"):
        if scheme != "file" and not parts.hostname:
            raise UsageError(f"git location {url!r} has no host")
        return
    if scheme in ("http", "git"):
        if is_loopback(parts.hostname):
            return
        raise PctlError(f"git location {url} is unencrypted ({scheme}://); use https:// or ssh",
                        hint=f"{scheme}:// is accepted only for loopback addresses such as 127.0.0.1")
    raise UsageError(f"unsupported git location {url!r} (use https://, ssh://, git@host:path or file://)")


def classify(location: str, kind: str | None = None) -> tuple[str, str]:
    """(kind, normalized location). Raises UsageError/PctlError for what cannot be a source."""
    loc = (location or "").strip()
    if not loc:
        raise UsageError("empty location")
    if any(ord(c) < 0x20 for c in loc):
        raise UsageError("the location contains control characters")
    if kind is not None and kind not in KINDS:
        raise UsageError(f"unknown source kind {kind!r}; choose one of {', '.join(KINDS)}")
    parts = urlsplit(loc)
    scheme = parts.scheme.lower() if len(parts.scheme) > 1 else ""  # "C:" is a drive, not a scheme
    if scheme in ("http", "https") and (kind == "index" or kind is None and parts.path.endswith(".json")):
        check_url(loc, what="index URL")
        return "index", loc
    if kind == "index":
        raise UsageError(f"an index location must be an https://.../index.json URL, got {loc!r}")
    if scheme or _SCP_LIKE.match(loc) or kind == "git" and not Path(loc).expanduser().is_dir():
        if kind == "dir":
            raise UsageError(f"a directory source needs a local folder, got {loc!r}")
        check_git_location(loc)
        return "git", loc
    p = Path(loc).expanduser()
    if not p.is_dir():
        raise UsageError(f"{loc}: no such directory (a location is a git URL, an https://.../index.json or a folder)")
    p = p.resolve()
    if kind == "git" or kind is None and (p / "HEAD").is_file() and (p / "objects").is_dir():
        return "git", p.as_uri()  # a bare repository
    return "dir", str(p)


def describe_location(kind: str, location: str, ref: str | None) -> str:
    if kind == "git":
        return f"git {location}" + (f" @ {ref}" if ref else "")
    if kind == "index":
        return f"index {location}"
    return f"folder {location}"
