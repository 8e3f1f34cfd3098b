"""``pctl registry update``: copy a source into the local cache.

* git: ``git clone --depth 1 [--branch REF]`` the first time, ``git fetch`` + ``reset --hard`` after
  that; git runs without a shell, with ``GIT_TERMINAL_PROMPT=0``, a timeout and only the
  https/ssh/file (and loopback http/git) transports.
* index: download ``index.json`` and every template it lists (relative paths only), check each
  file against the index's sha256, and only then replace the cache: a mismatch caches nothing.
* dir: copy the folder's templates.

The new tree is built next to the old one and swapped in at the end, so a failed update leaves the
previous cache as it was.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from pctl.errors import PctlError
from pctl.registry import store
from pctl.registry.paths import source_dir
from pctl.registry.sources import check_url

GIT_TIMEOUT = float(os.environ.get("PCTL_GIT_TIMEOUT", "120"))
HTTP_TIMEOUT = float(os.environ.get("PCTL_HTTP_TIMEOUT", "30"))
MAX_INDEX_BYTES = 4 * 1024 * 1024
MAX_TEMPLATES = 2000
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._+-]*$")


class UpdateError(PctlError):
    pass


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


# ---------------------------------------------------------------- git


def _git_env() -> dict:
    env = dict(os.environ)
    env.update({
        "GIT_TERMINAL_PROMPT": "0",
        "GCM_INTERACTIVE": "never",
        "GIT_ALLOW_PROTOCOL": "https:ssh:file:http:git",
        "GIT_LFS_SKIP_SMUDGE": "1",
        "LC_ALL": "C",
    })
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
    return env


def git(args: list[str], *, cwd: Path | None = None, timeout: float | None = None) -> str:
    """Run git (no shell); return stdout. Raises UpdateError with git's own message."""
    exe = shutil.which("git")
    if exe is None:
        raise UpdateError("git is not installed; a git registry source needs it", hint="install git (apt install git)")
    try:
        proc = subprocess.run([exe, "-c", "core.hooksPath=/dev/null", "-c", "credential.interactive=never", *args],
                              cwd=cwd, env=_git_env(), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout or GIT_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise UpdateError(f"git {args[0]} took longer than {int(timeout or GIT_TIMEOUT)} s; is the server reachable?",
                          hint="set PCTL_GIT_TIMEOUT to wait longer") from None
    except OSError as exc:
        raise UpdateError(f"cannot run git: {exc}") from None
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr or proc.stdout).strip().splitlines() if ln.strip()]
        msg = next((ln for ln in lines if ln.startswith(("fatal:", "error:"))), lines[-1] if lines else "failed")
        raise UpdateError(f"git {args[0]} failed: {msg.removeprefix('fatal: ').removeprefix('error: ')}")
    return proc.stdout


def _update_git(cfg, tree: Path, new_tree: Path) -> dict:
    """Fetch into the existing clone, or clone into new_tree. Returns meta fields.

    The ref is checked again here (whoever built ``cfg``) and every ref and URL follows ``--``: nothing
    from the config file can reach git as an option (``--upload-pack=...`` runs a command)."""
    from pctl.registry.sources import ref_problem

    if cfg.ref is not None and ref_problem(cfg.ref):
        raise UpdateError(f"invalid git ref {cfg.ref!r}: {ref_problem(cfg.ref)}",
                          hint=f"fix the ref of [registry.sources.{cfg.name}] in pctl's config.toml")
    meta = store.read_meta(cfg.name) or {}
    same = meta.get("location") == cfg.location and meta.get("ref") == cfg.ref and (tree / ".git").is_dir()
    if same:
        try:
            git(["fetch", "--depth", "1", "--force", "--no-tags", "--", "origin", cfg.ref or "HEAD"], cwd=tree)
            git(["reset", "--hard", "--quiet", "FETCH_HEAD"], cwd=tree)
            git(["clean", "-ffdxq"], cwd=tree)
            commit = git(["rev-parse", "HEAD"], cwd=tree).strip()
            return {"commit": commit, "tree": tree}
        except UpdateError:
            pass  # e.g. a history rewrite: start again from a fresh clone below
    args = ["clone", "--quiet", "--depth", "1", "--no-tags"]
    if cfg.ref:
        args += [f"--branch={cfg.ref}"]
    git(args + ["--", cfg.location, str(new_tree)])
    commit = git(["rev-parse", "HEAD"], cwd=new_tree).strip()
    return {"commit": commit, "tree": new_tree}


# ---------------------------------------------------------------- https index


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        check_url(newurl, what="redirect to")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def download(url: str, limit: int) -> bytes:
    """GET url (https, or http on loopback) with a timeout and a size limit."""
    from pctl import __version__
    from pctl.registry.sources import is_loopback

    check_url(url)
    handlers: list = [_CheckedRedirects()]
    if is_loopback(urllib.parse.urlsplit(url).hostname):
        handlers.append(urllib.request.ProxyHandler({}))  # never send loopback traffic to a proxy
    opener = urllib.request.build_opener(*handlers)
    req = urllib.request.Request(url, headers={"User-Agent": f"pctl/{__version__}", "Accept": "*/*"})
    try:
        with opener.open(req, timeout=HTTP_TIMEOUT) as resp:
            data = resp.read(limit + 1)
    except urllib.error.HTTPError as exc:
        raise UpdateError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        raise UpdateError(f"cannot reach {url}: {getattr(reason, 'strerror', None) or reason}") from None
    except (TimeoutError, OSError) as exc:
        raise UpdateError(f"cannot download {url}: {exc}") from None
    if len(data) > limit:
        raise UpdateError(f"{url} is larger than {limit:,} bytes")
    return data


def _check_rel_path(path) -> str | None:
    if not isinstance(path, str) or not path or path.startswith("/") or "\\" in path:
        return "must be a relative path"
    parts = path.split("/")
    if any(not _SEGMENT.match(p) or p in (".", "..") for p in parts):
        return "may contain only letters, digits and . _ + - in its parts (no '..')"
    if not path.endswith((".yaml", ".yml")):
        return "must name a .yaml file"
    return None


def parse_index(raw: bytes, url: str) -> list[dict]:
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise UpdateError(f"{url} is not a JSON index: {exc}") from None
    items = doc.get("templates") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise UpdateError(f"{url}: an index is a JSON object with a \"templates\" list")
    if len(items) > MAX_TEMPLATES:
        raise UpdateError(f"{url} lists more than {MAX_TEMPLATES} templates")
    out, names = [], set()
    for i, t in enumerate(items):
        where = f"{url}: templates[{i}]"
        if not isinstance(t, dict):
            raise UpdateError(f"{where} is not an object")
        problem = _check_rel_path(t.get("path"))
        if problem:
            raise UpdateError(f"{where}.path {t.get('path')!r} {problem}")
        name = t.get("name") or t["path"].rsplit(".", 1)[0]
        if not isinstance(name, str) or _check_rel_path(name + ".yaml"):
            raise UpdateError(f"{where}.name {name!r} is not a template name (letters, digits, . _ + - and /)")
        sha = t.get("sha256")
        if not isinstance(sha, str) or not _SHA256.match(sha.lower()):
            raise UpdateError(f"{where} ({name}) has no valid sha256 (64 hex digits)")
        if name in names:
            raise UpdateError(f"{where}: template {name!r} is listed twice")
        names.add(name)
        out.append({**t, "name": name, "sha256": sha.lower()})
    return out


def _update_index(cfg, new_tree: Path) -> dict:
    raw = download(cfg.location, MAX_INDEX_BYTES)
    items = parse_index(raw, cfg.location)
    from pctl.template.load import MAX_BYTES

    base = cfg.location
    for t in items:
        url = urllib.parse.urljoin(base, t["path"])
        data = download(url, MAX_BYTES)
        got = hashlib.sha256(data).hexdigest()
        if got != t["sha256"]:
            raise UpdateError(
                f"{t['name']}: the downloaded file does not match the index's sha256 (expected {t['sha256'][:16]}..., "
                f"got {got[:16]}...); refused, nothing was cached",
                hint="the file changed after the index was written, or was tampered with; ask the source's "
                     "maintainers to re-run 'pctl registry index'")
        dest = new_tree / t["path"]
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
    (new_tree.parent / "index.json.new").write_bytes(raw)
    return {"tree": new_tree, "index": items}


# ---------------------------------------------------------------- folder


def _update_dir(cfg, new_tree: Path) -> dict:
    from pctl.template.load import MAX_BYTES

    root = Path(cfg.location)
    if not root.is_dir():
        raise UpdateError(f"{root}: no such directory")
    n = 0
    refused: list[str] = []
    for p in store.template_files(root, refused):
        if p.stat().st_size > MAX_BYTES:
            continue
        dest = new_tree / p.relative_to(root)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(p, dest)
        n += 1
        if n > MAX_TEMPLATES:
            raise UpdateError(f"{root} holds more than {MAX_TEMPLATES} templates")
    return {"tree": new_tree, "refused": refused}


# ---------------------------------------------------------------- update


def update(cfg) -> dict:
    """Refresh one configured source (SourceConfig) into its cache; return its new meta.json."""
    d = source_dir(cfg.name)
    d.mkdir(parents=True, exist_ok=True)
    tree = d / "tree"
    work = Path(tempfile.mkdtemp(prefix=".update-", dir=d))
    new_tree = work / "tree"
    try:
        if cfg.kind == "git":
            res = _update_git(cfg, tree, new_tree)
        elif cfg.kind == "index":
            new_tree.mkdir()
            res = _update_index(cfg, new_tree)
        elif cfg.kind == "dir":
            new_tree.mkdir()
            res = _update_dir(cfg, new_tree)
        else:  # pragma: no cover - load_sources refuses other kinds
            raise UpdateError(f"unknown source kind {cfg.kind!r}")
        if res["tree"] == new_tree:  # swap the new tree in
            old = work / "old"
            if tree.exists():
                os.replace(tree, old)
            os.replace(new_tree, tree)
        if cfg.kind == "index":
            os.replace(work / "index.json.new", d / "index.json")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if cfg.kind == "index":
        entries = []
        skipped = []
        for t in res["index"]:
            desc = store.describe(tree / t["path"], t["name"])
            if desc is None or "error" in desc:
                skipped.append(desc["error"] if desc else f"{t['path']}: not a template")
                continue
            for k in ("title", "description", "version"):  # the index's words when the file has none
                if not desc.get(k) and isinstance(t.get(k), str):
                    desc[k] = t[k]
            if not desc.get("tags") and isinstance(t.get("tags"), list):
                desc["tags"] = [x for x in t["tags"] if isinstance(x, str)]
            desc["path"] = t["path"]
            entries.append(desc)
    else:
        entries, skipped = store.scan(tree)
        skipped = list(res.get("refused") or []) + skipped
    meta = {"name": cfg.name, "kind": cfg.kind, "location": cfg.location, "ref": cfg.ref, "updated": _now(),
            "commit": res.get("commit"), "templates": len(entries), "skipped": skipped}
    store.write_cache_files(cfg.name, meta, entries)
    return meta


def remove_cache(name: str) -> None:
    shutil.rmtree(source_dir(name), ignore_errors=True)
