"""Safe local file writes: the one place pctl writes a file that someone may be reading or writing too.

- `atomic_write(path, data)`: readers see the old file or the new one, never a torn one. The temporary file
  has a unique name in the same directory (two writers never share it), is fsynced, then renamed over.
- `locked(path)`: an exclusive advisory lock (``PATH.lock``) for read-modify-write updates, so that
  concurrent pctl processes (ssh config, registry config, caches) never lose each other's changes.
- `update(path, change)`: both together: read under the lock, compute, write atomically.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Callable, Iterator


def atomic_write(path: Path | str, data: str | bytes, *, mode: int | None = None, encoding: str = "utf-8") -> Path:
    """Replace `path` with `data` atomically. `mode` defaults to the existing file's mode (else 0o644 & ~umask)."""
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    if mode is None:
        with contextlib.suppress(OSError):
            mode = target.stat().st_mode & 0o7777
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode(encoding) if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is None:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return target


@contextlib.contextmanager
def locked(path: Path | str, *, timeout: float = 60.0) -> Iterator[None]:
    """Hold an exclusive lock on ``PATH.lock`` (created next to PATH) for a read-modify-write."""
    import fcntl
    import time

    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    lock = target.with_name(target.name + ".lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    from pctl.errors import PctlError

                    raise PctlError(f"{target} is locked by another pctl process",
                                    hint=f"wait for it to finish; if none is running, remove {lock}") from None
                time.sleep(0.02)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def update(path: Path | str, change: Callable[[str | None], str | None], *, mode: int | None = None) -> str | None:
    """Under the lock: read PATH (None when absent), write what `change` returns (None: leave it alone)."""
    target = Path(path).expanduser()
    with locked(target):
        try:
            old = target.read_text(encoding="utf-8")
        except FileNotFoundError:
            old = None
        new = change(old)
        if new is not None and new != old:
            atomic_write(target, new, mode=mode)
        return new
