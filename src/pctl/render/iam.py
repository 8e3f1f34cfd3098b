"""Least-privilege IAM for a cluster's nodes (pure: no I/O, no AWS).

ParallelCluster's `Iam.S3Access` is too coarse for data: without `KeyName` it grants `s3:*` on the bucket and
every object, with `KeyName` read gets no `ListBucket` (Mountpoint for S3 cannot list) and write is still `s3:*`
on the objects (`PutObjectAcl` included). So pctl writes its own policies, one set for the head node and one
for compute nodes, attached through `AdditionalIamPolicies` and created/deleted with the cluster (in the
cluster's pctl stack, see pctl.cluster.stack):

- node scripts: `GetObject` on this run's prefix of the pctl bucket only;
- the head node's install progress: `PutObject` on exactly its status key;
- each S3 mount: `ListBucket` on the bucket limited to its prefix (condition `s3:prefix`; no condition only when
  the whole bucket is mounted), `GetObject` on `bucket/prefix*`, and for read-write mounts `PutObject`,
  `DeleteObject`, `AbortMultipartUpload` on `bucket/prefix*`. Nothing else at bucket level. A read-only and a
  read-write mount of one bucket keep their own statements.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from pctl.regions import partition

READ_ACTIONS = ("s3:GetObject",)
WRITE_ACTIONS = ("s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload")
LIST_ACTIONS = ("s3:ListBucket",)
MAX_POLICY_CHARS = 6000  # IAM: 6,144 characters per managed policy (whitespace not counted)
MAX_POLICIES_PER_ROLE = 6  # ParallelCluster attaches its own managed policies too; IAM allows 10 by default


def s3_arn(part: str, bucket: str, key: str | None = None) -> str:
    return f"arn:{part}:s3:::{bucket}" + (f"/{key}" if key is not None else "")


@dataclass(frozen=True)
class Policy:
    name: str  # IAM ManagedPolicyName (account-wide: includes region and cluster)
    role: str  # "head" | "compute"
    document: dict

    def arn(self, account_id: str, part: str) -> str:
        return f"arn:{part}:iam::{account_id}:policy{POLICY_PATH}{self.name}"


POLICY_PATH = "/pctl/"


def _sid(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", text)[:100] or "S"


def mount_statements(mount, part: str, index: int) -> list[dict]:
    """The statements one S3 mount needs (Mountpoint for S3: list, read, and write when read-write)."""
    prefix = mount.prefix or ""
    objects = s3_arn(part, mount.bucket, f"{prefix}*")
    kind = "ReadWrite" if not mount.read_only else "Read"
    sid = _sid(f"Mount{index}{kind}")
    listing: dict = {"Sid": f"{sid}List", "Effect": "Allow", "Action": list(LIST_ACTIONS),
                     "Resource": s3_arn(part, mount.bucket)}
    if prefix:
        listing["Condition"] = {"StringLike": {"s3:prefix": [prefix, f"{prefix}*"]}}
    out = [listing, {"Sid": f"{sid}Get", "Effect": "Allow", "Action": list(READ_ACTIONS), "Resource": objects}]
    if not mount.read_only:
        out.append({"Sid": f"{sid}Put", "Effect": "Allow", "Action": list(WRITE_ACTIONS), "Resource": objects})
    return out


def _chunks(statements: list[dict]) -> list[list[dict]]:
    chunks: list[list[dict]] = [[]]
    size = 0
    for st in statements:
        n = len(json.dumps(st, separators=(",", ":")))
        if chunks[-1] and size + n > MAX_POLICY_CHARS - 60:
            chunks.append([])
            size = 0
        chunks[-1].append(st)
        size += n
    return chunks


def node_policies(template, *, region: str, cluster: str, bucket: str, scripts_prefix: str,
                  status_key: str | None) -> list[Policy]:
    """The pctl-managed policies for the head node and the compute nodes of one cluster."""
    part = partition(region)
    scripts = {"Sid": "PctlNodeScripts", "Effect": "Allow", "Action": list(READ_ACTIONS),
               "Resource": s3_arn(part, bucket, f"{scripts_prefix}*")}
    mounts: list[dict] = []
    for i, m in enumerate(template.data.s3_mounts):
        mounts += mount_statements(m, part, i)
    head = [scripts] + mounts
    if status_key:
        head.append({"Sid": "PctlInstallProgress", "Effect": "Allow", "Action": ["s3:PutObject"],
                     "Resource": s3_arn(part, bucket, status_key)})
    # the head node's cost agent (pctl.cost.idle): writes its heartbeat, reads pctl's control document
    status = f"clusters/{cluster}/status/"
    head.append({"Sid": "PctlIdleHeartbeat", "Effect": "Allow", "Action": ["s3:PutObject"],
                 "Resource": s3_arn(part, bucket, f"{status}heartbeat.json")})
    head.append({"Sid": "PctlIdleControl", "Effect": "Allow", "Action": ["s3:GetObject"],
                 "Resource": s3_arn(part, bucket, f"{status}control.json")})
    compute = [scripts] + mounts
    out: list[Policy] = []
    for role, statements in (("head", head), ("compute", compute)):
        chunks = _chunks(statements)
        if len(chunks) > MAX_POLICIES_PER_ROLE:
            from pctl.errors import PctlError

            raise PctlError(f"the S3 mounts need {len(chunks)} IAM policies per node, more than the "
                            f"{MAX_POLICIES_PER_ROLE} pctl may attach",
                            hint="mount fewer buckets or prefixes (data.s3_mounts)")
        for n, chunk in enumerate(chunks, 1):
            name = f"pctl-{region}-{cluster}-{role}" + (f"-{n}" if len(chunks) > 1 else "")
            out.append(Policy(name=name, role=role, document={"Version": "2012-10-17", "Statement": chunk}))
    return out


def actions_by_resource(document: dict) -> set[tuple[str, str, str]]:
    """(action, resource, condition-json) triples a policy allows: what tests and reviews read."""
    out = set()
    for st in document.get("Statement", []):
        if st.get("Effect") != "Allow":
            continue
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
        cond = json.dumps(st.get("Condition") or {}, sort_keys=True)
        for a in actions:
            for r in resources:
                out.add((a, r, cond))
    return out
