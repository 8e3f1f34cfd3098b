"""A ParallelCluster 3.x cluster configuration -> a pctl template (`pctl template import`).

Every key of the configuration ends up in exactly one place of the report:

* **mapped**: it has a pctl field (head node, queues and their compute resources, counts, capacity type,
  allocation strategy, EFA, placement groups, hyper-threading, shared storage, S3 access, custom AMI,
  key pair, SSH CIDR, tags, custom actions, region);
* **approximated**: it maps with a change the report names (an OS ParallelCluster retired, a count above
  pctl's limit, a throughput pctl sets itself ...);
* **pctl**: pctl does it itself (the network unless ``keep_network``, IMDSv2, encryption, the bootstrap
  timeout, its own bucket, its own setup scripts next to the custom actions kept);
* **not_mapped**: no pctl field (DCV, login nodes, Slurm accounting, IAM roles/policies, monitoring ...):
  left out and named.

A walk over every leaf of the configuration makes sure nothing is dropped without a line in the report.
The result is validated as a pctl template before it is returned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pctl.adopt.detect import PCLUSTER_TOP_KEYS, looks_like_parallelcluster
from pctl.adopt.findings import APPROXIMATED, MAPPED, NOT_MAPPED, PCTL, Finding
from pctl.adopt.pcluster_common import _actions, _bool, _int, _walk, cluster_name_from  # noqa: F401
from pctl.adopt.pcluster_queues import QueueImport
from pctl.adopt.pcluster_storage import StorageImport
from pctl.errors import PctlError
from pctl.template import rules

PCTL_SCALEDOWN_IDLETIME = 10  # minutes (render/pcluster.py)

OS_MAP = {  # ParallelCluster OS names pctl does not offer -> the closest it does
    "alinux2": ("alinux2023", "Amazon Linux 2 is past its ParallelCluster support; Amazon Linux 2023 is its successor"),
    "centos7": ("alinux2023", "CentOS 7 is end of life; pctl's default image is the closest supported choice"),
    "ubuntu1804": ("ubuntu2204", "Ubuntu 18.04 is end of life; the closest supported Ubuntu"),
    "ubuntu2004": ("ubuntu2204", "Ubuntu 20.04 is past its ParallelCluster support; the closest supported Ubuntu"),
}

NOT_MAPPED_SECTIONS = {
    "Monitoring": "pctl keeps ParallelCluster's default monitoring (CloudWatch logs and dashboard)",
    "DirectoryService": "pctl creates the users itself with fixed UIDs/GIDs (users:); an Active Directory "
                        "cannot be declared in a pctl template",
    "AdditionalPackages": "install Intel oneAPI with software.spack_packages (intel-oneapi-compilers, "
                          "intel-oneapi-mpi, intel-oneapi-mkl)",
    "DeploymentSettings": "no pctl equivalent",
    "LoginNodes": "pctl clusters log in on the head node (pctl ssh NAME); login node pools have no pctl field",
    "Iam": "cluster-wide IAM settings (roles, permissions boundary, resource prefix) have no pctl field; pctl "
           "creates least-privilege roles itself",
    "AdditionalResources": "no pctl equivalent",
}


@dataclass
class ImportResult:
    template: dict
    text: str
    findings: list[Finding]
    valid: bool = True
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def not_mapped(self) -> list[Finding]:
        return [f for f in self.findings if f.status == NOT_MAPPED]

    def to_dict(self) -> dict:
        from pctl.adopt.findings import TITLES

        return {
            "valid": self.valid,
            "errors": self.errors,
            "warnings": self.warnings,
            "summary": {s: sum(1 for f in self.findings if f.status == s) for s in (MAPPED, APPROXIMATED, PCTL,
                                                                                     NOT_MAPPED)},
            "findings": [dict(f.to_dict(), title=TITLES[f.status]) for f in self.findings],
        }


# ============================================================================================ the importer

class _Importer(QueueImport, StorageImport):
    """Head node, image, IAM, Slurm settings, tags and the bookkeeping; queues and storage come from the
    mixins in :mod:`.pcluster_queues` and :mod:`.pcluster_storage`."""

    def __init__(self, cfg: dict, *, source: str, name: str | None, keep_network: bool):
        self.cfg = cfg
        self.source = source
        self.keep_network = keep_network
        self.findings: list[Finding] = []
        self.handled: set[str] = set()
        self.name = name or cluster_name_from(source)
        self.t: dict = {}
        self.s3: dict[str, dict] = {}  # bucket -> {"write": bool, "prefixes": set, "paths": [...]}
        self.amis: list[tuple[str, str]] = []  # (path, ami) of node-level images

    # -- bookkeeping -------------------------------------------------------------------------------
    def add(self, status: str, path: str, message: str, before=None, after=None, *, handle: bool = True):
        self.findings.append(Finding(status, path, message, None if before is None else str(before),
                                     None if after is None else str(after)))
        if handle:
            self.handled.add(path)

    def handle(self, path: str) -> None:
        self.handled.add(path)

    def covered(self, leaf: str) -> bool:
        p = leaf
        while True:
            if p in self.handled:
                return True
            cut = max(p.rfind("."), p.rfind("["))
            if cut <= 0:
                return False
            p = p[:cut]

    # -- top level ---------------------------------------------------------------------------------
    def run(self) -> dict:
        cfg = self.cfg
        sched = cfg.get("Scheduling") if isinstance(cfg.get("Scheduling"), dict) else {}
        scheduler = str(sched.get("Scheduler", "slurm")).lower()
        if scheduler != "slurm":
            raise PctlError(f"{self.source} uses the {sched.get('Scheduler')!r} scheduler; pctl makes Slurm clusters only",
                            hint="change Scheduling.Scheduler to slurm with SlurmQueues, or keep using "
                                 "ParallelCluster for this cluster")
        if not isinstance(cfg.get("HeadNode"), dict) or not isinstance(sched.get("SlurmQueues"), list) or not sched["SlurmQueues"]:
            raise PctlError(f"{self.source} has no HeadNode or no Scheduling.SlurmQueues: not a complete "
                            "ParallelCluster 3.x configuration",
                            hint="pctl template import reads the configuration you give 'pcluster create-cluster'")
        if "Scheduler" in sched:
            self.add(MAPPED, "Scheduling.Scheduler", "pctl clusters run Slurm", sched["Scheduler"])
        self.t["metadata"] = {"title": f"Imported from {self._display_source()}"[:120],
                              "description": ("Imported by pctl template import from the ParallelCluster "
                                              f"configuration {self._display_source()}.")[:4000],
                              "tags": ["imported", "parallelcluster"]}
        cluster: dict = {"name": self.name}
        self.t["cluster"] = cluster
        self._region(cluster)
        self._image(cluster)
        compute: dict = {}
        self.t["compute"] = compute
        self._head(compute, cfg["HeadNode"])
        self._slurm_settings(sched.get("SlurmSettings"))
        compute["queues"] = self._queues(sched["SlurmQueues"])
        self._node_amis(cluster)
        data: dict = {}
        storage = self._storage(cfg.get("SharedStorage"))
        if storage:
            data["shared_storage"] = storage
        mounts = self._s3_mounts(storage)
        if mounts:
            data["s3_mounts"] = mounts
        if data:
            self.t["data"] = data
        self._tags(cluster, cfg.get("Tags"))
        self._misc()
        self._leftovers()
        return self.t

    def _display_source(self) -> str:
        from pathlib import PurePath

        return PurePath(str(self.source)).name

    def _region(self, cluster: dict) -> None:
        region = self.cfg.get("Region")
        if region is None:
            return
        problem = rules.region_problem(str(region))
        if problem:
            self.add(NOT_MAPPED, "Region", problem, region)
            return
        cluster["region"] = region
        self.add(MAPPED, "Region", "cluster.region", region)

    def _image(self, cluster: dict) -> None:
        image = self.cfg.get("Image") if isinstance(self.cfg.get("Image"), dict) else {}
        os_name = str(image.get("Os", "alinux2023")).lower()
        if os_name in rules.OS_CHOICES:
            cluster["os"] = os_name
            self.add(MAPPED, "Image.Os", "cluster.os", os_name)
        elif os_name in OS_MAP:
            new, why = OS_MAP[os_name]
            cluster["os"] = new
            msg = why
            if image.get("CustomAmi"):
                msg += f"; the custom AMI was built for {os_name}: rebuild it for {new} (pctl ami build)"
            self.add(APPROXIMATED, "Image.Os", msg, os_name, new)
        else:
            cluster["os"] = "alinux2023"
            self.add(APPROXIMATED, "Image.Os", "not an operating system pctl offers; pctl's default image", os_name,
                     "alinux2023")
        if "Os" not in image:
            self.handle("Image")
        ami = image.get("CustomAmi")
        if ami is not None:
            if rules.AMI_ID_RE.fullmatch(str(ami)):
                cluster["custom_ami"] = str(ami)
                self.add(MAPPED, "Image.CustomAmi", "cluster.custom_ami (every node boots it)", ami)
            else:
                self.add(NOT_MAPPED, "Image.CustomAmi", "not an AMI id", ami)
        for key in ("CustomAmi", "Os"):
            self.handle(f"Image.{key}")

    # -- head node ---------------------------------------------------------------------------------
    def _head(self, compute: dict, head: dict) -> None:
        it = head.get("InstanceType")
        if not isinstance(it, str) or rules.instance_type_problem(it):
            raise PctlError(f"{self.source}: HeadNode.InstanceType {it!r} is not an EC2 instance type")
        compute["head_node"] = it
        self.add(MAPPED, "HeadNode.InstanceType", "compute.head_node", it)
        net = head.get("Networking") if isinstance(head.get("Networking"), dict) else {}
        subnet = net.get("SubnetId")
        if subnet is not None:
            if self.keep_network and rules.SUBNET_RE.fullmatch(str(subnet)):
                self.t.setdefault("networking", {})["subnet_id"] = subnet
                self.add(MAPPED, "HeadNode.Networking.SubnetId", "networking.subnet_id (--keep-network)", subnet)
            elif self.keep_network:
                self.add(NOT_MAPPED, "HeadNode.Networking.SubnetId", "not a subnet id", subnet)
            else:
                self.add(PCTL, "HeadNode.Networking.SubnetId",
                         "left to pctl: the pctl network (a VPC with public and private subnets in 2 availability "
                         "zones, created once per region); keep yours with --keep-network", subnet)
        for key, why in (("ElasticIp", "pctl gives the head node a public address in the pctl network's public subnet"),
                         ("SecurityGroups", "pctl creates the security groups (SSH from networking.ssh_allowed_cidr only)"),
                         ("AdditionalSecurityGroups", "pctl creates the security groups (SSH from networking.ssh_allowed_cidr only)")):
            if key in net:
                self.add(PCTL if not self.keep_network else NOT_MAPPED, f"HeadNode.Networking.{key}", why, net[key])
        if "Proxy" in net:
            self.add(NOT_MAPPED, "HeadNode.Networking.Proxy", "an HTTP proxy has no pctl field (the pctl network "
                     "reaches the internet through its NAT gateway)", (net["Proxy"] or {}).get("HttpProxyAddress"))
        ssh = head.get("Ssh") if isinstance(head.get("Ssh"), dict) else {}
        if "KeyName" in ssh:
            key = str(ssh["KeyName"])
            if rules.KEY_NAME_RE.fullmatch(key):
                self.t["cluster"]["key_name"] = key
                self.add(MAPPED, "HeadNode.Ssh.KeyName", "cluster.key_name", key)
            else:
                self.add(NOT_MAPPED, "HeadNode.Ssh.KeyName", "not a usable key pair name", key)
        if "AllowedIps" in ssh:
            cidr = str(ssh["AllowedIps"])
            if rules.cidr_problem(cidr) is None:
                self.t.setdefault("networking", {})["ssh_allowed_cidr"] = cidr
                self.add(MAPPED, "HeadNode.Ssh.AllowedIps", "networking.ssh_allowed_cidr", cidr)
            else:
                self.add(NOT_MAPPED, "HeadNode.Ssh.AllowedIps", "pctl takes one CIDR block (a prefix list "
                         "cannot be given); pctl allows SSH from your own public IP by default", cidr)
        if "DisableSimultaneousMultithreading" in head:
            v = _bool(head["DisableSimultaneousMultithreading"])
            self.add(NOT_MAPPED if v else MAPPED, "HeadNode.DisableSimultaneousMultithreading",
                     "the head node keeps hyper-threading (only compute queues have disable_hyperthreading)"
                     if v else "the default", v)
        storage = head.get("LocalStorage")
        if isinstance(storage, dict):
            self.add(PCTL, "HeadNode.LocalStorage", "pctl sizes and encrypts the head node's root volume itself; "
                     "ephemeral volumes keep ParallelCluster's default (/scratch)")
        if "Dcv" in head:
            enabled = _bool((head.get("Dcv") or {}).get("Enabled"))
            self.add(NOT_MAPPED if enabled else MAPPED, "HeadNode.Dcv",
                     "NICE DCV remote desktop has no pctl field" if enabled else "disabled, as in pctl", enabled)
        imds = head.get("Imds")
        if isinstance(imds, dict):
            self.add(PCTL, "HeadNode.Imds", "pctl always secures the head node's instance metadata (IMDSv2 only, "
                     "Imds.Secured)", imds.get("Secured"))
        if isinstance(head.get("Image"), dict) and head["Image"].get("CustomAmi"):
            self.amis.append(("HeadNode.Image.CustomAmi", str(head["Image"]["CustomAmi"])))
            self.handle("HeadNode.Image.CustomAmi")
        if "SharedStorageType" in head:
            self.add(PCTL, "HeadNode.SharedStorageType", "pctl shares /home from the head node as ParallelCluster does "
                     "by default; add an EFS under data.shared_storage for shared data", head["SharedStorageType"])
        if "SharedStorageEfsSettings" in head:
            self.add(NOT_MAPPED, "HeadNode.SharedStorageEfsSettings", "no pctl field")
        acts = head.get("CustomActions")
        if isinstance(acts, dict):
            converted = self._custom_actions(acts, "HeadNode.CustomActions",
                                             ("OnNodeStart", "OnNodeConfigured", "OnNodeUpdated"))
            if converted:
                compute["head_node_custom_actions"] = converted
        self._iam(head.get("Iam"), "HeadNode.Iam")

    # -- custom actions ---------------------------------------------------------------------------
    def _custom_actions(self, acts: dict, path: str, events: tuple[str, ...]) -> dict:
        out: dict = {}
        for ev in events:
            if ev not in acts:
                continue
            key = re.sub(r"(?<!^)(?=[A-Z])", "_", ev).lower()  # OnNodeStart -> on_node_start
            kept = []
            for j, a in enumerate(_actions(acts[ev])):
                where = f"{path}.{ev}" + (f".Sequence[{j}]" if isinstance(acts[ev], dict) and "Sequence" in acts[ev] else "")
                script = str(a.get("Script", ""))
                args = [str(x) for x in (a.get("Args") or [])] if isinstance(a.get("Args"), list) else []
                problem = rules.action_url_problem(script) or next(
                    (rules.action_arg_problem(x) for x in args if rules.action_arg_problem(x)), None)
                if problem:
                    self.add(NOT_MAPPED, where, f"custom action left out: {problem}", script)
                    continue
                item: dict = {"script": script}
                if args:
                    item["args"] = args
                kept.append(item)
                self.add(MAPPED, where, f"custom action kept ({key}); pctl runs its own setup "
                         + ("first" if key != "on_node_start" else "after it"), script)
            if kept:
                out[key] = kept
            self.handle(f"{path}.{ev}")
        for ev in acts:
            if ev not in events:
                self.add(NOT_MAPPED, f"{path}.{ev}", "not a custom action event of this node type")
        return out

    # -- IAM / S3 access ---------------------------------------------------------------------------
    def _iam(self, iam: Any, path: str) -> None:
        if not isinstance(iam, dict):
            return
        for j, acc in enumerate(iam.get("S3Access") or []):
            if not isinstance(acc, dict):
                continue
            where = f"{path}.S3Access[{j}]"
            self.handle(where)
            bucket = str(acc.get("BucketName", ""))
            if rules.bucket_problem(bucket):
                self.add(NOT_MAPPED, where, "only a named bucket can be given to pctl (a wildcard or invalid "
                         "bucket name has no pctl field)", bucket)
                continue
            key = acc.get("KeyName")
            prefix = None
            if key is not None:
                key = str(key)
                if key in ("*", ""):
                    prefix = None
                elif key.endswith("/*") or key.endswith("/"):
                    prefix = key.rstrip("*")
                else:
                    self.add(NOT_MAPPED, where, "access to one object or a pattern cannot be given to pctl (it "
                             "mounts whole buckets or folders ending in /)", f"{bucket}/{key}")
                    continue
            e = self.s3.setdefault(bucket, {"write": False, "prefixes": set(), "paths": []})
            e["write"] = e["write"] or _bool(acc.get("EnableWriteAccess"))
            e["prefixes"].add(prefix)
            e["paths"].append(where)
        for key, why in (("AdditionalIamPolicies", "extra IAM policies have no pctl field; attach them to the "
                                                   "cluster's roles after create if the jobs need them"),
                         ("InstanceRole", "pctl creates the node roles itself (least privilege)"),
                         ("InstanceProfile", "pctl creates the node roles itself (least privilege)")):
            if key in iam:
                val = iam[key]
                if key == "AdditionalIamPolicies" and isinstance(val, list):
                    val = ", ".join(str((p or {}).get("Policy")) for p in val if isinstance(p, dict))
                self.add(NOT_MAPPED, f"{path}.{key}", why, val)

    def _s3_mounts(self, storage: list[dict]) -> list[dict]:
        taken = {s["mount_point"] for s in storage}
        out = []
        for bucket, e in self.s3.items():
            prefixes = e["prefixes"]
            prefix = None
            if len(prefixes) == 1:
                prefix = next(iter(prefixes))
            elif None not in prefixes:
                prefix = None  # several folders: the whole bucket
            mount = f"/data/{bucket}"
            if mount in taken:
                mount = f"/data/s3-{bucket}"
            taken.add(mount)
            m: dict = {"bucket": bucket, "mount_point": mount}
            if prefix:
                if rules.S3_PREFIX_RE.fullmatch(prefix):
                    m["prefix"] = prefix
                else:
                    prefix = None
            m["read_only"] = not e["write"]
            out.append(m)
            what = f"s3://{bucket}/{prefix or ''}" + (" (read-write)" if e["write"] else " (read-only)")
            note = ("several folders of the bucket were listed: pctl gives access to the whole bucket"
                    if len(prefixes) > 1 else "")
            who = ("; on the nodes the group users (every template user and the default OS user) writes there: "
                   "add group: to narrow it" if e["write"] else "")
            self.add(APPROXIMATED if note else PCTL, ", ".join(e["paths"]),
                     f"pctl mounts it on every node at {mount} (Mountpoint for S3) and gives every node the same "
                     f"access{who}; {note}".rstrip("; "), what, f"data.s3_mounts {mount}", handle=False)
        return out

    # -- Slurm settings ----------------------------------------------------------------------------
    def _slurm_settings(self, ss: Any) -> None:
        if not isinstance(ss, dict):
            return
        for key, val in ss.items():
            path = f"Scheduling.SlurmSettings.{key}"
            if key == "ScaledownIdletime":
                if _int(val) == PCTL_SCALEDOWN_IDLETIME:
                    self.add(MAPPED, path, "pctl's own value", val)
                else:
                    self.add(APPROXIMATED, path, f"pctl scales idle nodes down after {PCTL_SCALEDOWN_IDLETIME} min",
                             val, PCTL_SCALEDOWN_IDLETIME)
            elif key == "Dns":
                self.add(PCTL, path, "pctl keeps ParallelCluster's managed DNS")
            elif key == "Database":
                self.add(NOT_MAPPED, path, "Slurm accounting (slurmdbd on RDS) has no pctl field")
            elif key == "ExternalSlurmdbd":
                self.add(NOT_MAPPED, path, "an external slurmdbd has no pctl field")
            elif key == "MungeKeySecretArn":
                self.add(PCTL, path, "ParallelCluster makes the munge key for the cluster")
            elif key == "QueueUpdateStrategy":
                self.add(NOT_MAPPED, path, "cluster updates are not part of a pctl template", val)
            else:
                self.add(NOT_MAPPED, path, "no pctl field", val if not isinstance(val, (dict, list)) else None)

    def _node_amis(self, cluster: dict) -> None:
        base = cluster.get("custom_ami")
        amis = {a for _, a in self.amis}
        for where, ami in self.amis:
            if ami == base:
                self.add(MAPPED, where, "the cluster's custom AMI", ami)
            elif base is None and len(amis) == 1 and rules.AMI_ID_RE.fullmatch(ami):
                cluster["custom_ami"] = ami
                base = ami
                self.add(APPROXIMATED, where, "cluster.custom_ami: pctl boots every node from one AMI", ami)
            else:
                self.add(NOT_MAPPED, where, "pctl boots every node from one AMI (cluster.custom_ami"
                         + (f" {base}" if base else "") + "); a different AMI per node type has no pctl field", ami)

    # -- tags and the rest -------------------------------------------------------------------------
    def _tags(self, cluster: dict, tags: Any) -> None:
        if not isinstance(tags, list):
            return
        out: dict = {}
        for j, tg in enumerate(tags):
            where = f"Tags[{j}]"
            if not isinstance(tg, dict) or "Key" not in tg:
                self.add(NOT_MAPPED, where, "not a tag")
                continue
            k, v = str(tg.get("Key")), str(tg.get("Value", ""))
            problem = rules.tag_problem(k, v)
            if problem:
                self.add(NOT_MAPPED, where, problem, f"{k}={v}")
                continue
            out[k] = v
            self.handle(where)
        if len(out) > 40:
            for k in list(out)[40:]:
                self.add(NOT_MAPPED, "Tags", "a pctl template holds at most 40 tags", k)
            out = dict(list(out.items())[:40])
        if out:
            cluster["tags"] = out
            self.add(MAPPED, "Tags", f"cluster.tags ({len(out)})", handle=False)

    def _misc(self) -> None:
        cfg = self.cfg
        if "Imds" in cfg:
            self.add(PCTL, "Imds", "pctl requires IMDSv2 on every node", (cfg["Imds"] or {}).get("ImdsSupport")
                     if isinstance(cfg["Imds"], dict) else cfg["Imds"])
        if "CustomS3Bucket" in cfg:
            self.add(PCTL, "CustomS3Bucket", "pctl keeps its files in its own private bucket (pctl-ACCOUNT-REGION)",
                     cfg["CustomS3Bucket"])
        dev = cfg.get("DevSettings")
        if isinstance(dev, dict):
            for key, val in dev.items():
                if key == "Timeouts":
                    self.add(PCTL, "DevSettings.Timeouts", "pctl sets the head-node bootstrap timeout from the software "
                             "install estimate")
                else:
                    self.add(NOT_MAPPED, f"DevSettings.{key}", "development settings have no pctl field")
        for key, why in NOT_MAPPED_SECTIONS.items():
            if key in cfg:
                self.add(NOT_MAPPED, key, why)
        for key in cfg:
            if key not in PCLUSTER_TOP_KEYS:
                self.add(NOT_MAPPED, key, "not a ParallelCluster 3.x setting pctl knows")

    def _leftovers(self) -> None:
        for leaf in _walk(self.cfg):
            if leaf and not self.covered(leaf):
                self.add(NOT_MAPPED, leaf, "no pctl field", handle=True)


# ============================================================================================ entry points

def import_config(cfg: dict, *, source: str = "<config>", name: str | None = None,
                  keep_network: bool = False) -> ImportResult:
    """Convert a ParallelCluster configuration (parsed YAML) into a pctl template; validate it."""
    if not looks_like_parallelcluster(cfg):
        raise PctlError(f"{source} is not a ParallelCluster 3.x configuration (no HeadNode or Scheduling section)",
                        hint="pctl template import reads the YAML you give 'pcluster create-cluster "
                             "--cluster-configuration'")
    if name is not None and rules.cluster_name_problem(name):
        from pctl.errors import UsageError

        raise UsageError(f"--name: {rules.cluster_name_problem(name)}")
    imp = _Importer(cfg, source=source, name=name, keep_network=keep_network)
    template = imp.run()
    text = render_text(template, imp.findings, source)
    from pctl.template.validate import validate_text

    res = validate_text(text, "<imported template>", use_catalog=False)
    return ImportResult(template=template, text=text, findings=imp.findings, valid=res.ok,
                        errors=[f"{d.path_str}: {d.message}" for d in res.errors],
                        warnings=[f"{d.path_str}: {d.message}" for d in res.warnings])


def import_file(path, *, source: str | None = None, name: str | None = None, keep_network: bool = False) -> ImportResult:
    from pctl.template.load import LoadFailed, load_file

    try:
        from pathlib import Path

        loaded = load_file(Path(path), source)
    except LoadFailed as exc:
        raise PctlError(exc.diagnostic.format()) from None
    return import_config(loaded.data, source=source or str(path), name=name, keep_network=keep_network)


def render_text(template: dict, findings: list[Finding], source: str) -> str:
    from pathlib import PurePath

    from pctl.template.extends import dump_yaml

    lost = [f for f in findings if f.status == NOT_MAPPED]
    changed = [f for f in findings if f.status == APPROXIMATED]
    header = [f"pctl template imported from the ParallelCluster configuration {PurePath(str(source)).name}",
              "by `pctl template import` (the full report is printed on stderr; --json has it too).",
              "pctl adds its own network, bucket, node setup scripts, IMDSv2 and encryption."]
    if changed:
        header.append("")
        header.append("Mapped with a change:")
        header += [f"  {f.line()}" for f in changed[:40]]
    if lost:
        header.append("")
        header.append("Left out (no pctl field):")
        header += [f"  {f.line()}" for f in lost[:60]]
        if len(lost) > 60:
            header.append(f"  ... and {len(lost) - 60} more (see the report)")
    header += ["", "Next: pctl validate FILE && pctl create -t FILE --dry-run"]
    clean = "\n".join(re.sub(r"[\x00-\x1f\x7f]", " ", ln)[:300] for ln in header)
    return dump_yaml(template, header=clean)
