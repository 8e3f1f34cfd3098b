"""Helpers shared by test modules (import them from here, not from conftest: pytest may load several
conftest modules under the same name)."""

from __future__ import annotations

import os
import subprocess
import sys


def run_pctl(*args, env=None, input=None, cwd=None, timeout=120, replace_env=False):
    """Run the real CLI in a subprocess (as a user would), return CompletedProcess.

    env adds to the test's environment, or with replace_env=True is the whole environment."""
    e = {} if replace_env else dict(os.environ)
    e.update(env or {})
    e.pop("PCTL_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "pctl", *args], capture_output=True, text=True, env=e,
                          input=input, cwd=cwd, timeout=timeout)


VALID = """\
cluster:
  name: test-cluster
  region: us-east-1
compute:
  head_node: t3.large
  queues:
    - name: compute
      instance_types: [c6i.xlarge, c6i.2xlarge]
      min_count: 0
      max_count: 4
software:
  spack_packages:
    - samtools@1.21
    - bwa
users:
  - name: alice
    uid: 5001
    gid: 5000
    groups: [lab]
groups:
  - name: lab
    gid: 5000
data:
  s3_mounts:
    - bucket: my-lab-data
      mount_point: /data/lab
"""
