"""On-prem file systems -> FSx for Lustre / EFS suggestions (scratch-like and project-like paths), the
rest reported with an S3 suggestion."""

from __future__ import annotations

import re
from typing import Any

from pctl.capture import instances
from pctl.template import rules

_SCRATCH_RE = re.compile(r"(?:^|/)(?:scratch\w*|work|tmp\w*|fast\w*|flash|burst\w*|lustre\w*|gpfs\w*|beegfs\w*|"
                         r"nobackup\w*|temp)(?:/|$)", re.I)
_PROJECT_RE = re.compile(r"(?:^|/)(?:projects?|proj|home\w*|users?|groups?|data|shared?|lab\w*|research|"
                         r"archive|nfs\w*|store|storage|export\w*|depot|labs?)(?:/|$)", re.I)
_SOFTWARE_RE = re.compile(r"(?:^|/)(?:apps?|software|sw|modulefiles|modules|spack|easybuild|opt)(?:/|$)", re.I)
_NETWORK_FS = {"nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "afs", "fuse.sshfs", "davfs"}
_PARALLEL_FS = {"lustre", "gpfs", "beegfs", "fuse.beegfs", "panfs", "wekafs", "ceph", "cephfs", "fuse.ceph",
                "glusterfs", "fuse.glusterfs", "orangefs", "pvfs2", "fhgfs", "quobyte", "vastfs"}
_LOCAL_FS = {"ext2", "ext3", "ext4", "xfs", "btrfs", "zfs", "jfs", "reiserfs", "f2fs"}


def map_storage(view: dict[str, Any]) -> dict[str, Any]:
    mounts = [m for m in (view.get("mounts") or []) if isinstance(m, dict) and not m.get("pseudo")]
    mods = (view.get("modules") or {}).get("modulepath") or []
    storage: list[dict[str, Any]] = []
    report: list[dict[str, Any]] = []
    s3: list[dict[str, Any]] = []
    have = {"fsx_lustre": False, "efs": False}
    for m in mounts:
        t = m.get("target") or ""
        fs = (m.get("fstype") or "").lower()
        e = {"target": t, "fstype": fs, "source": m.get("source"), "size_gib": m.get("size_gib"),
             "used_gib": m.get("used_gib"), "suggestion": None, "reason": ""}
        if not t.startswith("/") or fs in ("swap",):
            continue
        network = fs in _NETWORK_FS
        parallel = fs in _PARALLEL_FS
        local = fs in _LOCAL_FS
        if not (network or parallel or local):
            continue
        problem = rules.mount_point_problem(t)
        norm = rules.normalize_mount(t) if t.startswith("/") else t
        if norm == "/home" or norm.startswith("/home/"):
            e.update(suggestion="head-node /home", reason=(
                "ParallelCluster shares /home from the head node; copy home directories there (rsync), or mount an "
                "EFS elsewhere and point users at it"))
            report.append(e)
            continue
        if problem and not (network or parallel):
            continue  # /, /boot, /var ... local system disks: nothing to migrate
        if any(p.startswith(norm.rstrip("/") + "/") or p == norm for p in mods) or (
                _SOFTWARE_RE.search(norm) and not _PROJECT_RE.search(norm) and not _SCRATCH_RE.search(norm)):
            e.update(suggestion="none", reason="software tree: replaced by the Spack packages pctl installs")
            report.append(e)
            continue
        if problem:
            e.update(suggestion="s3", reason=f"{problem}; copy its data to S3 and mount it elsewhere")
            report.append(e)
            continue
        scratch = bool(_SCRATCH_RE.search(norm)) or (parallel and not _PROJECT_RE.search(norm))
        if scratch and not have["fsx_lustre"]:
            size = instances.fsx_size_gb(m.get("size_gib"), m.get("used_gib"))
            item = {"type": "fsx_lustre", "mount_point": norm, "size_gb": size, "deployment_type": "SCRATCH_2",
                    "deletion_policy": "delete"}
            have["fsx_lustre"] = True
            storage.append(item)
            e.update(suggestion="fsx_lustre", reason=(
                f"scratch-like ({fs}, {m.get('size_gib') if m.get('size_gib') is not None else '?'} GiB on-prem) -> FSx for Lustre SCRATCH_2, {size} GB "
                "(the smallest valid size at least as large); scratch data is not copied"))
            report.append(e)
            continue
        if not scratch and not have["efs"]:
            item = {"type": "efs", "mount_point": norm, "deletion_policy": "retain"}
            have["efs"] = True
            storage.append(item)
            e.update(suggestion="efs", reason=(
                f"shared project data ({fs}, {m.get('used_gib') if m.get('used_gib') is not None else '?'} GiB used) -> EFS (grows as needed; "
                "deletion_policy retain keeps it when the cluster is deleted); copy the data with rsync or AWS DataSync"))
            report.append(e)
            continue
        bucket = re.sub(r"[^a-z0-9-]+", "-", norm.strip("/").lower()).strip("-")[:40] or "data"
        s3.append({"bucket": f"CHANGE-ME-{bucket}", "mount_point": norm, "read_only": True})
        e.update(suggestion="s3", reason=(
            "one new EFS and one new FSx are created per cluster: copy this data to an S3 bucket and mount it "
            "(commented s3_mounts entry in the template), or give an existing file system id"))
        report.append(e)
    return {"shared_storage": storage, "s3_suggestions": s3, "report": report}
