"""Batch scripts -> a resource profile (per-queue typical/peak nodes, cores, memory, GPUs; modules used).

``pctl capture batch SCRIPT...`` accepts files, directories (searched recursively) and glob patterns.
In directories only files that look like job scripts are read (a known extension, or a scheduler
directive in the first 8 KiB). Unreadable, binary and oversized files are reported, never fatal.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Any

MAX_SCRIPT_BYTES = 1024 * 1024
MAX_FILES = 20000
SCRIPT_EXTS = {".sh", ".bash", ".slurm", ".sbatch", ".sbat", ".job", ".pbs", ".qsub", ".sge", ".lsf", ".bsub",
               ".batch", ".run", ".submit", ".csh", ".tcsh", ".zsh", ".ksh"}
_DIRECTIVES = (b"#SBATCH", b"#PBS", b"#$", b"#BSUB")
_SKIP_DIRS = {".git", ".hg", ".svn", "__pycache__", "node_modules", ".venv", "venv"}


def _looks_like_script(p: Path) -> bool:
    if p.suffix.lower() in SCRIPT_EXTS:
        return True
    try:
        with open(p, "rb") as fh:
            head = fh.read(8192)
    except OSError:
        return False
    return any(d in head for d in _DIRECTIVES) or head.startswith(b"#!")


def expand(args: list[str]) -> tuple[list[Path], list[dict[str, str]]]:
    """Files to read and problems found while expanding the arguments."""
    files: list[Path] = []
    problems: list[dict[str, str]] = []
    seen: set[str] = set()

    def add(p: Path) -> None:
        key = str(p)
        if key not in seen and len(files) < MAX_FILES:
            seen.add(key)
            files.append(p)

    for a in args:
        paths: list[Path]
        if any(ch in a for ch in "*?[") and not os.path.exists(a):
            matched = sorted(glob.glob(a, recursive=True))
            if not matched:
                problems.append({"path": a, "reason": "no file matches this pattern"})
                continue
            paths = [Path(m) for m in matched]
        else:
            paths = [Path(a)]
        for p in paths:
            if p.is_dir():
                for root, dirs, names in os.walk(p):
                    dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
                    for n in sorted(names):
                        fp = Path(root) / n
                        if fp.is_file() and _looks_like_script(fp):
                            add(fp)
            elif p.exists():
                add(p)
            else:
                problems.append({"path": str(p), "reason": "no such file or directory"})
    if len(files) >= MAX_FILES:
        problems.append({"path": "...", "reason": f"stopped after {MAX_FILES} files"})
    return files, problems


def read_script(p: Path) -> tuple[str | None, str | None]:
    """(text, problem)."""
    try:
        size = p.stat().st_size
        if size > MAX_SCRIPT_BYTES:
            return None, f"larger than {MAX_SCRIPT_BYTES // 1024} KiB; not a job script?"
        data = p.read_bytes()
    except PermissionError:
        return None, "permission denied"
    except OSError as exc:
        return None, exc.strerror or str(exc)
    if b"\x00" in data[:8192]:
        return None, "binary file"
    return data.decode("utf-8", errors="replace"), None


def build_profile(args: list[str]) -> dict[str, Any]:
    from pctl.capture.parsers.batch import parse_batch_script, summarize

    files, problems = expand(args)
    jobs = []
    rows = []
    for p in files:
        text, problem = read_script(p)
        if problem:
            problems.append({"path": str(p), "reason": problem})
            continue
        job = parse_batch_script(text, str(p))
        if job.scheduler is None and not job.modules and not job.programs:
            problems.append({"path": str(p), "reason": "no scheduler directives, modules or programs found"})
            continue
        jobs.append(job)
        rows.append({
            "file": str(p), "scheduler": job.scheduler, "queue": job.queue, "nodes": job.node_count,
            "cores": job.total_cores, "memory_per_node_mb": job.memory_per_node_mb, "gpus": job.total_gpus,
            "walltime_min": job.walltime_min, "modules": list(job.modules),
        })
    prof = summarize(jobs)
    return {
        "pctl_batch_profile": 1,
        "scripts": len(jobs),
        "skipped": problems,
        "profile": prof.to_dict(),
        "jobs": rows,
    }


def load_profile(path: str | Path) -> dict[str, Any]:
    from pctl.errors import PctlError

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PctlError(f"{p}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PctlError(f"cannot read {p}: {getattr(exc, 'strerror', None) or exc}") from None
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        data = YAML(typ="safe").load(text)
    except YAMLError as exc:
        raise PctlError(f"{p}: not valid YAML ({getattr(exc, 'problem', None) or exc})") from None
    if isinstance(data, dict) and isinstance(data.get("profile"), dict):
        return data["profile"]
    if isinstance(data, dict) and isinstance(data.get("queues"), dict):
        return data
    raise PctlError(f"{p} is not a batch profile", hint="make one with `pctl capture batch SCRIPTS... -o profile.yaml`")
