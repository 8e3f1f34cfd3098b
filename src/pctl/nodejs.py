"""Node.js, which ParallelCluster needs (it synthesizes the cluster's CloudFormation template with the AWS CDK)."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

MIN_MAJOR = 18  # the oldest release ParallelCluster's CDK runs on
LTS_MIN = 22  # the oldest long-term release line still supported (Node.js 20 ended on 2026-04-30)


@dataclass(frozen=True)
class Node:
    path: str | None
    version: str | None  # "v20.20.2"
    problem: str | None = None  # why it cannot be used (None: usable)
    advice: str | None = None  # usable, but should be upgraded

    @property
    def usable(self) -> bool:
        return self.path is not None and self.problem is None


def find() -> Node:
    path = shutil.which("node")
    if path is None:
        return Node(None, None, "Node.js is not installed")
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Node(path, None, f"Node.js at {path} does not run: {exc}")
    m = re.match(r"v(\d+)\.", out)
    if not m:
        return Node(path, out or None, f"Node.js at {path} did not report a version")
    major = int(m.group(1))
    if major < MIN_MAJOR:
        return Node(path, out, f"Node.js {out} is too old for ParallelCluster's CDK")
    if major % 2 or major < LTS_MIN:
        return Node(path, out, advice=f"past its end of life or not a long-term release: upgrade to Node.js "
                                      f"{LTS_MIN}+ soon")
    return Node(path, out)


INSTALL_HINT = f"install Node.js {LTS_MIN} or newer (e.g. 'apt-get install nodejs', 'brew install node'), then run again"
