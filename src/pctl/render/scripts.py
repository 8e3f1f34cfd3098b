"""Template -> node bootstrap scripts (bash), rendered from Jinja2 templates in ``scripts/``.

Pure: no I/O besides reading the ``.j2`` files, no clock, no randomness; the same template and
options always give byte-identical scripts.

What ParallelCluster runs (``OnNodeConfigured``, fetched from S3):

* ``head.sh`` (Args ``head``): groups and users (home directories, SSH keys, sudo), S3 mounts,
  module wiring and, in ``boot`` mode, the Spack software install into ``software_root``.
* ``compute.sh`` (Args ``compute <queue>``): groups and users (no home directories: /home is
  shared from the head node), S3 mounts and module wiring.

Safety rules (tested): every template value placed in shell goes through the ``q`` filter
(:func:`shlex.quote`) or the strict integer filter ``n``; values placed in a systemd unit go
through ``sdq`` (systemd quoting); values placed in YAML go through ``yq`` (a JSON string, which
is a YAML double-quoted scalar). Files the scripts write (units, spack.yaml, profile.d) are
rendered here and embedded as one quoted word each. No shell is built by string concatenation
in Python. The scripts re-check names, ids, paths and keys at run time against the same grammar
as the template model, so a value that slipped past validation fails a step instead of running.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from pctl.spack import PINNED_PACKAGES_RELEASE, PINNED_SPACK_RELEASE
from pctl.template import rules

SCRIPTS_DIR = Path(__file__).with_name("scripts")
MODES = ("boot", "ami", "none")

#: Where Spack writes Lmod modulefiles (``modules:default:roots:lmod``); ``arch_folder: false``
#: and ``core_compilers`` matching every compiler put every module under ``<root>/Core``.
MODULES_SUBDIR = "modules"
#: ``<software_root>/lmod`` is a symlink to Spack's Lmod (``<prefix>/lmod/lmod``) when Spack
#: installed it; ``<software_root>/lmod/init/profile`` then initialises it.
LMOD_LINK = "lmod"
SYSTEM_LMOD_DIR = "/usr/share/lmod"
PROFILE_SH = "/etc/profile.d/z00-pctl-modules.sh"
PROFILE_CSH = "/etc/profile.d/z00-pctl-modules.csh"
ENV_SUBDIR = "environments/pctl"
KEYS_ENV_SUBDIR = "environments/pctl-keys"
S3_UNIT_PREFIX = "pctl-s3-"
MOUNT_S3 = "/usr/bin/mount-s3"
FUSERMOUNT = "/usr/bin/fusermount"
MOUNT_S3_URL = "https://s3.amazonaws.com/mountpoint-s3-release/latest"
SPACK_GIT = "https://github.com/spack/spack"
SPACK_PACKAGES_GIT = "https://github.com/spack/spack-packages"
#: Compilers whose modules go in ``Core`` (all of them: pctl offers a flat view of one compiler
#: world; with ``hierarchical`` only MPI adds a level). Spack reads each as ``%<name>``; a
#: package without a compiler dependency also lands in Core.
CORE_COMPILERS = ("gcc", "llvm", "intel-oneapi-compilers", "aocc", "nvhpc")
#: Open MPI variants of the ParallelCluster build cache (Slurm + libfabric/EFA); a preference.
OPENMPI_VARIANTS = ("~atomics ~cuda ~cxx ~cxx_exceptions ~internal-hwloc ~java +legacylaunchers ~lustre "
                    "~memchecker +pmi +romio +vt +wrapper-rpath fabrics=ofi schedulers=slurm")
#: Commands Spack needs on the head node: (command, dnf package, apt package).
SPACK_PREREQS = (
    ("git", "git", "git"), ("python3", "python3", "python3"), ("gcc", "gcc", "gcc"),
    ("g++", "gcc-c++", "g++"), ("gfortran", "gcc-gfortran", "gfortran"), ("make", "make", "make"),
    ("patch", "patch", "patch"), ("bzip2", "bzip2", "bzip2"), ("xz", "xz", "xz-utils"),
    ("unzip", "unzip", "unzip"), ("file", "file", "file"), ("gpg", "gnupg2", "gnupg"),
    ("curl", "curl", "curl"), ("tar", "tar", "tar"), ("gzip", "gzip", "gzip"),
)
MOUNT_PREREQS = (("curl", "curl", "curl"),)

_OPT_PATH_RE = re.compile(r"^/[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*$")
_RELEASE_RE = re.compile(r"^v[0-9]+(?:\.[0-9]+){1,3}$")
_VERSION_RE = re.compile(r"^[0-9]+(?:\.[0-9]+)*$")
_UNIT_RE = re.compile(r"^pctl-s3-[A-Za-z0-9:_.\\-]+\.service$")
_PLAIN_SD_ARG = re.compile(r"^[A-Za-z0-9._/:=+@,-]+$")


# ------------------------------------------------------------------------------------ options

@dataclass(frozen=True)
class ScriptOptions:
    software_mode: str  # "boot" | "ami" | "none"
    software_root: str = rules.SOFTWARE_ROOT
    spack_release: str = PINNED_SPACK_RELEASE
    packages_release: str = PINNED_PACKAGES_RELEASE
    log_dir: str = "/var/log/pctl"
    state_dir: str = "/var/lib/pctl"

    def __post_init__(self) -> None:
        if self.software_mode not in MODES:
            raise ValueError(f"software_mode must be one of {', '.join(MODES)}, not {self.software_mode!r}")
        for name in ("software_root", "log_dir", "state_dir"):
            value = getattr(self, name)
            if not isinstance(value, str) or not _OPT_PATH_RE.match(value) or value.endswith("\n") \
                    or any(p in (".", "..") for p in value.split("/")):
                raise ValueError(f"{name} must be a plain absolute path, not {value!r}")
        for name in ("spack_release", "packages_release"):
            value = getattr(self, name)
            if not isinstance(value, str) or not _RELEASE_RE.match(value) or value.endswith("\n"):
                raise ValueError(f"{name} must be a release tag such as v1.2.0, not {value!r}")

    @property
    def modules_root(self) -> str:
        return f"{self.software_root}/{MODULES_SUBDIR}"

    @property
    def modules_core(self) -> str:
        """The one MODULEPATH entry pctl adds (flat and hierarchical alike)."""
        return f"{self.modules_root}/Core"

    @property
    def env_dir(self) -> str:
        return f"{self.software_root}/{ENV_SUBDIR}"

    @property
    def keys_env_dir(self) -> str:
        """The environment that trusts signing keys: it lists the signed mirrors only."""
        return f"{self.software_root}/{KEYS_ENV_SUBDIR}"


@dataclass(frozen=True)
class SpackSite:
    """What a node offers Spack, detected at run time by the install script (``/opt/slurm``,
    ``/opt/amazon/efa``, ``/opt/pmix``, a system Lmod). :func:`render_spack_yaml` with the same
    values gives byte-for-byte the spack.yaml the script writes on that node."""

    slurm_version: str | None = None
    pmix_version: str | None = None
    libfabric_version: str | None = None
    lmod: bool = True  # add Spack's lmod to the environment (no /usr/share/lmod on the node)

    def __post_init__(self) -> None:
        for name in ("slurm_version", "pmix_version", "libfabric_version"):
            value = getattr(self, name)
            if value is not None and (not _VERSION_RE.match(value) or value.endswith("\n")):
                raise ValueError(f"{name} must look like 24.05.7, not {value!r}")


# ------------------------------------------------------------------------------------ filters

def _q(value: Any) -> str:
    """shlex.quote for the shell; refuses what bash cannot hold (NUL) and non-scalars."""
    if isinstance(value, bool) or value is None:
        raise TypeError(f"refusing to place {value!r} in a shell script")
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str):
        raise TypeError(f"refusing to place a {type(value).__name__} in a shell script")
    if "\x00" in value:
        raise ValueError("refusing to place a NUL byte in a shell script")
    return shlex.quote(value)


def _n(value: Any) -> str:
    """A non-negative integer, strictly (no bool, no string, no float): safe unquoted in shell."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"expected a non-negative integer, got {value!r}")
    return str(value)


def _yq(value: Any) -> str:
    """A YAML double-quoted scalar (JSON string syntax; newlines and quotes escaped)."""
    if not isinstance(value, str):
        raise TypeError(f"expected a string for YAML, got {value!r}")
    return json.dumps(value, ensure_ascii=True)


def systemd_quote(value: str) -> str:
    """One word of a systemd ``ExecStart=`` line: plain when harmless, else double-quoted with
    C escapes; ``%`` and ``$`` doubled so no specifier or variable is expanded."""
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {value!r}")
    if _PLAIN_SD_ARG.match(value) and not value.endswith("\n"):
        return value
    out = []
    for ch in value:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "%":
            out.append("%%")
        elif ch == "$":
            out.append("$$")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _sd_text(value: str) -> str:
    """Free text in a unit file (Description, comments): one line, no specifiers."""
    text = re.sub(r"[^A-Za-z0-9 ._/:=+@,!*'()-]", "?", str(value))
    return text[:200]


def systemd_escape_path(path: str) -> str:
    """``systemd-escape --path``: /data/my-lab -> data-my\\x2dlab."""
    parts = [p for p in path.split("/") if p]
    if not parts:
        return "-"
    out = []
    for i, part in enumerate(parts):
        for j, byte in enumerate(part.encode("utf-8")):
            ch = chr(byte)
            if (ch.isascii() and (ch.isalnum() or ch in ":_.")) and not (i == 0 and j == 0 and ch == "."):
                out.append(ch)
            else:
                out.append(f"\\x{byte:02x}")
        out.append("-")
    return "".join(out[:-1])


def s3_unit_name(mount_point: str) -> str:
    name = f"{S3_UNIT_PREFIX}{systemd_escape_path(mount_point)}.service"
    if len(name) > 255 or not _UNIT_RE.match(name) or name.endswith("\n"):
        raise ValueError(f"cannot derive a systemd unit name for mount point {mount_point!r}")
    return name


@lru_cache(maxsize=1)
def _bytecode_cache():
    """Compiled templates are cached per pctl version in the user's cache (saves ~80 ms a run)."""
    import jinja2

    from pctl import __version__

    from pctl.paths import cache_dir

    d = cache_dir() / f"jinja-{__version__}"
    try:
        d.mkdir(parents=True, exist_ok=True)
        return jinja2.FileSystemBytecodeCache(str(d))
    except OSError:
        return None


@lru_cache(maxsize=1)
def _env():
    import jinja2

    env = jinja2.Environment(
        bytecode_cache=_bytecode_cache(),
        loader=jinja2.FileSystemLoader(str(SCRIPTS_DIR)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        # bash's ${#array[@]} would open a Jinja comment; pctl templates use no comments.
        comment_start_string="<#pctl#",
        comment_end_string="#pctl#>",
    )
    env.filters["q"] = _q
    env.filters["n"] = _n
    env.filters["yq"] = _yq
    env.filters["sdq"] = systemd_quote
    env.filters["sdtext"] = _sd_text
    return env


def _render(name: str, **context: Any) -> str:
    return _env().get_template(name).render(**context)


# ------------------------------------------------------------------------------------ data

def _ere(pattern: str) -> str:
    """A Python regex from rules.py as a POSIX ERE for bash's [[ =~ ]] (only (?: differs)."""
    ere = pattern.replace("(?:", "(")
    if "(?" in ere or "\\d" in ere or "\\w" in ere or "\\s" in ere:
        raise ValueError(f"pattern {pattern!r} is not a plain ERE")
    return ere


def _runtime_res() -> dict[str, str]:
    key_types = "|".join(t.replace(".", "[.]") for t in rules.SSH_KEY_TYPES)
    return {
        "posix": _ere(rules.POSIX_NAME_RE.pattern),
        "shell": _ere(rules.SHELL_RE.pattern),
        "mount": _ere(rules.MOUNT_RE.pattern),
        "prefix": _ere(rules.S3_PREFIX_RE.pattern),
        "bucket": r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
        "queue": _ere(rules.QUEUE_NAME_RE.pattern),
        "groups": r"^([a-z_][a-z0-9_-]{0,31}(,[a-z_][a-z0-9_-]{0,31})*)?$",
        "unit": r"^pctl-s3-[A-Za-z0-9:_.\\-]+[.]service$",
        "ssh_key": rf"^({key_types}) [A-Za-z0-9+/]+={{0,3}}( [ -~]*)?$",
        "version": r"^[0-9]+([.][0-9]+)*$",
        "status_uri": r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/[A-Za-z0-9._/-]+[.]json$",
    }


def _groups(template) -> list[dict]:
    """Template groups, then one private group per user whose primary gid no group declares."""
    out: list[dict] = []
    seen_gid: set[int] = set()
    for g in template.groups:
        out.append({"name": g.name, "gid": g.gid})
        seen_gid.add(g.gid)
    for u in template.users:
        gid = u.primary_gid
        if gid not in seen_gid:
            out.append({"name": u.name, "gid": gid})
            seen_gid.add(gid)
    return out


def _users(template) -> list[dict]:
    return [{
        "name": u.name,
        "uid": u.uid,
        "gid": u.primary_gid,
        "shell": u.shell,
        "groups": ",".join(u.groups),
        "sudo": 1 if u.sudo else 0,
        "keys": list(u.ssh_public_keys),
    } for u in template.users]


def _mounts(template) -> list[dict]:
    mounts = list(template.data.s3_mounts)
    points = {rules.normalize_mount(m.mount_point) for m in mounts}
    out, names = [], set()
    for m in mounts:
        point = rules.normalize_mount(m.mount_point)
        unit = s3_unit_name(point)
        if unit in names:
            raise ValueError(f"two S3 mounts share the mount point {point}")
        names.add(unit)
        parent = point.rsplit("/", 1)[0]
        # An S3 mount nested in another S3 mount starts after it; any other parent mount
        # (shared storage) is waited for through RequiresMountsFor.
        s3_parents = sorted(p for p in points if p != point and point.startswith(p.rstrip("/") + "/"))
        after = [s3_unit_name(p) for p in s3_parents]
        requires_mounts = parent if parent and _OPT_PATH_RE.match(parent) and not parent.endswith("\n") else None
        args = ["--allow-other"]
        if m.read_only is not False:
            args.append("--read-only")
        else:
            # a shared read-write mount: every cluster user may create, overwrite and delete objects
            # (mount-s3 presents one owner and mode for all files; IAM decides what the bucket allows)
            args += ["--allow-delete", "--allow-overwrite", "--dir-mode", "0777", "--file-mode", "0666"]
        if m.prefix:
            args += ["--prefix", m.prefix]
        args += [m.bucket, point]
        unit_text = _render(
            "s3-mount.service.j2", bucket=m.bucket, mount=point, exec_args=args, after=after,
            requires_mounts=requires_mounts, mount_s3=MOUNT_S3, fusermount=FUSERMOUNT,
        )
        out.append({
            "unit": unit, "mount": point, "bucket": m.bucket, "prefix": m.prefix or "",
            "read_only": 0 if m.read_only is False else 1, "unit_text": unit_text,
        })
    return out


def _mirrors(template, options: ScriptOptions) -> list[dict]:
    """Official caches first, then the template's (pctl.spack.mirrors: the order Spack tries them)."""
    from pctl.spack.mirrors import node_mirrors

    return [m.to_dict() for m in node_mirrors(template.software.mirrors, template.arch, options.packages_release)]


def _has_software(template, options: ScriptOptions) -> bool:
    return options.software_mode == "boot" and bool(template.software.spack_packages)


def _spack_parts(template, options: ScriptOptions) -> dict[str, str]:
    """spack.yaml = head + externals (detected at run time) + specs + optional '- "lmod"'."""
    ctx = {
        "options": options,
        "mirrors": _mirrors(template, options),
        "hierarchical": template.software.modules == "hierarchical",
        "core_compilers": CORE_COMPILERS,
        "openmpi_variants": OPENMPI_VARIANTS,
        "specs": list(template.software.spack_packages),
    }
    return {
        "head": _render("spack-head.yaml.j2", **ctx),
        "keys": _render("spack-keys.yaml.j2", **ctx),
        "specs": _render("spack-specs.yaml.j2", **ctx),
        "lmod_line": '  - "lmod"\n',
    }


def _software_context(template, options: ScriptOptions) -> dict[str, Any]:
    parts = _spack_parts(template, options)
    return {
        "spack_head": parts["head"],
        "spack_keys_yaml": parts["keys"],
        "spack_specs": parts["specs"],
        "spack_lmod_line": parts["lmod_line"],
        "spec_count": len(template.software.spack_packages),
        "spack_git": SPACK_GIT,
        "spack_packages_git": SPACK_PACKAGES_GIT,
        "spack_prereqs": [":".join(t) for t in SPACK_PREREQS],
        "system_lmod_dir": SYSTEM_LMOD_DIR,
        "lmod_link": f"{options.software_root}/{LMOD_LINK}",
    }


def _common_context(template, options: ScriptOptions) -> dict[str, Any]:
    return {
        "options": options,
        "res": _runtime_res(),
        "uid_min": rules.UID_MIN,
        "uid_max": rules.UID_MAX,
        "mount_s3": MOUNT_S3,
        "fusermount": FUSERMOUNT,
        "mount_s3_url": MOUNT_S3_URL,
        "mount_prereqs": [":".join(t) for t in MOUNT_PREREQS],
    }


def _profiles(options: ScriptOptions) -> dict[str, str]:
    ctx = {
        "core": options.modules_core,
        "spack_lmod": f"{options.software_root}/{LMOD_LINK}",
        "system_lmod": f"{SYSTEM_LMOD_DIR}/lmod",
    }
    return {"sh": _render("modules-profile.sh.j2", **ctx), "csh": _render("modules-profile.csh.j2", **ctx)}


# ------------------------------------------------------------------------------------ API

def render_spack_yaml(template, options: ScriptOptions, site: SpackSite | None = None) -> str:
    """The Spack environment (``<software_root>/environments/pctl/spack.yaml``).

    ``site`` says what the node offers; by default nothing (no Slurm/EFA/PMIx externals) and
    Spack's own Lmod. The boot script composes the same file on the node from what it finds.
    """
    site = site or SpackSite()
    parts = _spack_parts(template, options)
    externals = _render("spack-externals.yaml.j2", site=site)
    return parts["head"] + externals + parts["specs"] + (parts["lmod_line"] if site.lmod else "")


def render_software_install(template, options: ScriptOptions) -> str:
    """The Spack install alone (packages, Spack, the environment, modules), as one bash script.

    The AMI builder runs it in the image; ``head.sh`` runs the same steps in ``boot`` mode.
    """
    ctx = _common_context(template, options)
    ctx.update(_software_context(template, options))
    ctx.update(script_name="software-install.sh", role="software", log_name="software-install.log",
               has_software=bool(template.software.spack_packages))
    return _render("software-install.sh.j2", **ctx)


def render_node_scripts(template, options: ScriptOptions) -> dict[str, str]:
    """{"head.sh", "compute.sh"} and, when the head node installs software at boot, "spack.yaml"
    (the environment as written on a node without Slurm/EFA externals; for review)."""
    ctx = _common_context(template, options)
    ctx.update(_software_context(template, options))
    ctx.update(
        groups=_groups(template),
        users=_users(template),
        mounts=_mounts(template),
        profiles=_profiles(options),
        profile_sh=PROFILE_SH,
        profile_csh=PROFILE_CSH,
        has_software=_has_software(template, options),
        unit_prefix=S3_UNIT_PREFIX,
    )
    from pctl.cost.idle.node import agent_files  # issue 15: heartbeat/usage agent on the head node

    ctx.update(cost_agent=agent_files(template))
    out = {
        "head.sh": _render("node.sh.j2", role="head", script_name="head.sh", log_name="bootstrap.log", **ctx),
        "compute.sh": _render("node.sh.j2", role="compute", script_name="compute.sh", log_name="bootstrap.log",
                              **ctx),
    }
    if _has_software(template, options):
        out["spack.yaml"] = render_spack_yaml(template, options)
    return out


__all__ = [
    "ScriptOptions", "SpackSite", "render_node_scripts", "render_software_install", "render_spack_yaml",
    "s3_unit_name", "systemd_escape_path", "systemd_quote",
]
