"""ParallelCluster SharedStorage -> data.shared_storage: EBS, EFS and FSx for Lustre, new or existing, with
what pctl sets itself (encryption, throughput) and what has no pctl field. A mixin of the importer."""

from __future__ import annotations

from typing import Any

from pctl.adopt.findings import APPROXIMATED, MAPPED, NOT_MAPPED, PCTL
from pctl.adopt.pcluster_common import _bool, _int
from pctl.template import rules

EBS_DEFAULT_GB, EBS_DEFAULT_TYPE = 40, "gp3"  # ParallelCluster's defaults
FSX_DEFAULT_GB, FSX_DEFAULT_DEPLOYMENT = 1200, "SCRATCH_2"


class StorageImport:
    # -- storage -----------------------------------------------------------------------------------
    def _storage(self, items: Any) -> list[dict]:
        out: list[dict] = []
        if not isinstance(items, list):
            return out
        names: set[str] = set()
        for i, s in enumerate(items):
            path = f"SharedStorage[{i}]"
            if not isinstance(s, dict):
                self.add(NOT_MAPPED, path, "not a storage entry")
                continue
            kind = str(s.get("StorageType", ""))
            mount = str(s.get("MountDir", ""))
            problem = rules.mount_point_problem(mount)
            if problem:
                self.add(NOT_MAPPED, path, f"left out: {problem}", f"{kind} {mount}")
                continue
            mount = rules.normalize_mount(mount)
            entry: dict = {}
            if kind == "Ebs":
                entry = self._ebs(s.get("EbsSettings") or {}, f"{path}.EbsSettings")
            elif kind == "Efs":
                entry = self._efs(s.get("EfsSettings") or {}, f"{path}.EfsSettings")
            elif kind == "FsxLustre":
                entry = self._fsx(s.get("FsxLustreSettings") or {}, f"{path}.FsxLustreSettings")
            else:
                self.add(NOT_MAPPED, path, f"{kind} file systems have no pctl field; mount it yourself from a custom "
                         "action, or copy the data to FSx for Lustre, EFS or S3", f"{kind} {mount}")
                continue
            if entry is None:
                continue
            entry["mount_point"] = mount
            raw = s.get("Name")
            if isinstance(raw, str) and rules.STORAGE_NAME_RE.fullmatch(raw) and raw not in names:
                entry["name"] = raw
                names.add(raw)
            elif raw is not None:
                self.add(APPROXIMATED, f"{path}.Name", "pctl names it (letters, digits, _ and -, at most 30)", raw)
            ordered = {"type": entry.pop("type"), "mount_point": entry.pop("mount_point")}
            ordered.update(entry)
            out.append(ordered)
            self.add(MAPPED, path, "data.shared_storage " + ordered["type"] + " " + mount
                     + (f" (existing {ordered['id']})" if "id" in ordered else
                        f" ({ordered['size_gb']} GB)" if "size_gb" in ordered else ""), f"{kind} {mount}")
            for key in ("Name", "MountDir", "StorageType"):
                self.handle(f"{path}.{key}")
        return out

    def _deletion_policy(self, st: dict, path: str, entry: dict, allowed: tuple[str, ...]) -> None:
        if "DeletionPolicy" in st:
            pol = str(st["DeletionPolicy"]).lower()
            if pol in allowed:
                if pol != "delete":
                    entry["deletion_policy"] = pol
                self.handle(f"{path}.DeletionPolicy")
            else:
                self.add(NOT_MAPPED, f"{path}.DeletionPolicy", "not a deletion policy pctl offers here", st["DeletionPolicy"])

    def _ebs(self, st: dict, path: str) -> dict | None:
        entry: dict = {"type": "ebs"}
        if st.get("VolumeId"):
            vol = str(st["VolumeId"])
            if not rules.VOL_ID_RE.fullmatch(vol):
                self.add(NOT_MAPPED, path, "not a volume id: left out", vol)
                return None
            entry["id"] = vol
            self.handle(f"{path}.VolumeId")
        else:
            size = _int(st.get("Size", EBS_DEFAULT_GB))
            entry["size_gb"] = size if size else EBS_DEFAULT_GB
            if "Size" not in st:
                self.add(MAPPED, f"{path}.Size", "ParallelCluster's default size, written out", None, EBS_DEFAULT_GB,
                         handle=False)
            vt = str(st.get("VolumeType", EBS_DEFAULT_TYPE))
            if vt in ("gp2", "gp3", "io1", "io2", "st1", "sc1"):
                entry["volume_type"] = vt
            else:
                entry["volume_type"] = "gp3"
                self.add(APPROXIMATED, f"{path}.VolumeType", "volume type pctl does not offer", vt, "gp3")
            for key in ("Size", "VolumeType"):
                self.handle(f"{path}.{key}")
        self._deletion_policy(st, path, entry, ("delete", "retain", "snapshot"))
        self._encryption(st, path)
        for key, why in (("Iops", "pctl uses the volume type's baseline IOPS"),
                         ("Throughput", "pctl uses the volume type's baseline throughput"),
                         ("KmsKeyId", "pctl encrypts with the AWS-managed key"),
                         ("SnapshotId", "a new volume from a snapshot has no pctl field"),
                         ("Raid", "RAID arrays have no pctl field")):
            if key in st:
                self.add(NOT_MAPPED, f"{path}.{key}", why, st[key] if not isinstance(st[key], dict) else None)
        return entry

    def _efs(self, st: dict, path: str) -> dict | None:
        entry: dict = {"type": "efs"}
        if st.get("FileSystemId"):
            fs = str(st["FileSystemId"])
            if not rules.FS_ID_RE.fullmatch(fs):
                self.add(NOT_MAPPED, path, "not a file system id: left out", fs)
                return None
            entry["id"] = fs
            self.handle(f"{path}.FileSystemId")
        self._deletion_policy(st, path, entry, ("delete", "retain"))
        self._encryption(st, path)
        for key, why in (("PerformanceMode", "pctl uses EFS's default (generalPurpose)"),
                         ("ThroughputMode", "pctl uses EFS's default (elastic/bursting)"),
                         ("ProvisionedThroughput", "pctl uses EFS's default throughput"),
                         ("EncryptionInTransit", "no pctl field"), ("IamAuthorization", "no pctl field"),
                         ("AccessPointId", "no pctl field"), ("KmsKeyId", "pctl encrypts with the AWS-managed key")):
            if key in st:
                self.add(NOT_MAPPED, f"{path}.{key}", why, st[key])
        return entry

    def _fsx(self, st: dict, path: str) -> dict | None:
        entry: dict = {"type": "fsx_lustre"}
        if st.get("FileSystemId"):
            fs = str(st["FileSystemId"])
            if not rules.FS_ID_RE.fullmatch(fs) or len(fs) != 20:
                self.add(NOT_MAPPED, path, "not an FSx file system id: left out", fs)
                return None
            entry["id"] = fs
            self.handle(f"{path}.FileSystemId")
        else:
            dt = str(st.get("DeploymentType", FSX_DEFAULT_DEPLOYMENT)).upper()
            if dt not in ("SCRATCH_1", "SCRATCH_2", "PERSISTENT_1", "PERSISTENT_2"):
                self.add(APPROXIMATED, f"{path}.DeploymentType", "deployment type pctl does not offer", dt,
                         FSX_DEFAULT_DEPLOYMENT)
                dt = FSX_DEFAULT_DEPLOYMENT
            size = _int(st.get("StorageCapacity", FSX_DEFAULT_GB)) or FSX_DEFAULT_GB
            entry["size_gb"] = size
            entry["deployment_type"] = dt
            for key in ("DeploymentType", "StorageCapacity"):
                self.handle(f"{path}.{key}")
            put = _int(st.get("PerUnitStorageThroughput"))
            pctl_put = {"PERSISTENT_1": 50, "PERSISTENT_2": 125}.get(dt)
            if "PerUnitStorageThroughput" in st:
                if put == pctl_put:
                    self.handle(f"{path}.PerUnitStorageThroughput")
                else:
                    self.add(APPROXIMATED, f"{path}.PerUnitStorageThroughput",
                             f"pctl sets {pctl_put} MB/s/TiB for {dt}" if pctl_put else f"does not apply to {dt}", put,
                             pctl_put)
        self._deletion_policy(st, path, entry, ("delete", "retain"))
        for key in st:
            if key in ("FileSystemId", "DeploymentType", "StorageCapacity", "PerUnitStorageThroughput", "DeletionPolicy"):
                continue
            why = ("link the bucket to the file system after create, or mount it with data.s3_mounts"
                   if key in ("ImportPath", "ExportPath", "AutoImportPolicy", "DataRepositoryAssociations",
                              "ImportedFileChunkSize") else "no pctl field")
            self.add(NOT_MAPPED, f"{path}.{key}", why, st[key] if not isinstance(st[key], (dict, list)) else None)
        return entry

    def _encryption(self, st: dict, path: str) -> None:
        if "Encrypted" in st:
            self.add(PCTL if not _bool(st["Encrypted"]) else MAPPED, f"{path}.Encrypted",
                     "pctl always encrypts new volumes and file systems", st["Encrypted"], True)
