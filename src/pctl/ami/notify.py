"""Desktop notifications for a watching terminal (notify-send on Linux, osascript on macOS)."""

from __future__ import annotations

import shutil
import subprocess
import sys


def notifier() -> list[str] | None:
    if sys.platform == "darwin" and shutil.which("osascript"):
        return ["osascript"]
    if shutil.which("notify-send"):
        return ["notify-send"]
    return None


def desktop_notify(title: str, message: str) -> str | None:
    """Show a notification; returns None when shown, else why not (for the user)."""
    cmd = notifier()
    if cmd is None:
        return "no desktop notifier found (notify-send on Linux, osascript on macOS)"
    if cmd[0] == "osascript":
        script = f"display notification {_applescript(message)} with title {_applescript(title)}"
        argv = ["osascript", "-e", script]
    else:
        argv = ["notify-send", "--app-name=pctl", title, message]
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{argv[0]} failed: {exc}"
    if r.returncode != 0:
        return f"{argv[0]} failed: {(r.stderr or r.stdout).strip()[:200]}"
    return None


def _applescript(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
