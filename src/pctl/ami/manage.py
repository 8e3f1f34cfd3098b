"""pctl AMIs and build leftovers: list, delete, logs, cleanup."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta

from pctl.ami.store import INPUTS, TERMINAL, BuildStore, parse_iso, utcnow
from pctl.aws import ec2
from pctl.aws.errors import AwsError
from pctl.errors import PctlError, UsageError

#: a build prefix without a record, or a role without a build, is left alone this long (a launch
#: may be writing it right now)
YOUNG = timedelta(hours=1)


def _age(created) -> str:
    dt = parse_iso(created) if isinstance(created, str) else created
    if dt is None:
        return "?"
    s = max(0, int((utcnow() - dt).total_seconds()))
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h"
    return f"{s // 86400}d"


# ------------------------------------------------------------------------------------------ AMIs

class AmiNotFound(PctlError):
    """No image of that id, or no pctl AMI of that name, in the region."""


def list_amis(aws) -> list[dict]:
    """pctl AMIs (tag pctl:managed=true) in the region, oldest first."""
    imgs = ec2.own_images(aws, [{"Name": "tag:pctl:managed", "Values": ["true"]}])
    out = []
    for img in sorted(imgs, key=lambda i: i.get("CreationDate", "")):
        tags = ec2.tags_of(img)
        size = sum(int(b.get("Ebs", {}).get("VolumeSize") or 0) for b in img.get("BlockDeviceMappings", []))
        out.append({
            "ami_id": img["ImageId"], "name": tags.get("pctl:name") or img.get("Name"), "ami_name": img.get("Name"),
            "state": img.get("State"), "template": tags.get("pctl:template"),
            "fingerprint": tags.get("pctl:fingerprint"), "pcluster_version": tags.get("pctl:pcluster-version"),
            "os": tags.get("pctl:os"), "arch": tags.get("pctl:arch"), "build_id": tags.get("pctl:build-id"),
            "size_gb": size, "created": img.get("CreationDate"), "age": _age(img.get("CreationDate")),
            "snapshots": [b["Ebs"]["SnapshotId"] for b in img.get("BlockDeviceMappings", [])
                          if b.get("Ebs", {}).get("SnapshotId")],
        })
    return out


def resolve_pctl_ami(aws, ref: str) -> dict:
    from pctl.template import rules

    if rules.AMI_ID_RE.match(ref):
        try:
            img = ec2.image(aws, ref, missing_ok=False)
        except AwsError as exc:
            if not (exc.code or "").startswith("InvalidAMIID"):
                raise  # access denied, throttling, ...: the AWS error says so, "not found" would mislead
            raise AmiNotFound(f"AMI {ref} not found in {aws.region}") from exc
        imgs = [img] if img else []
    else:
        imgs = ec2.own_images(aws, [{"Name": "tag:pctl:name", "Values": [ref]}])
        if not imgs:
            imgs = ec2.own_images(aws, [{"Name": "name", "Values": [ref]}])
    if not imgs:
        raise AmiNotFound(f"no AMI named {ref!r} in {aws.region}", hint="list pctl AMIs with 'pctl ami list'")
    if len(imgs) > 1:
        raise UsageError(f"{ref!r} names {len(imgs)} AMIs: " + ", ".join(i["ImageId"] for i in imgs),
                         hint="give the AMI id")
    img = imgs[0]
    if ec2.tags_of(img).get("pctl:managed") != "true":
        raise PctlError(f"{img['ImageId']} is not a pctl AMI (no pctl:managed tag); pctl deletes only its own AMIs")
    return img


def images_in_use(aws, image_id: str) -> list[str]:
    return [i["InstanceId"] for i in ec2.instances(aws, [
        {"Name": "image-id", "Values": [image_id]},
        {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}])]


def delete_image(aws, image_id: str, extra_snapshots: list[str] | None = None) -> list[str]:
    """Deregister and delete its snapshots; returns what was done."""
    done = []
    img = ec2.image(aws, image_id)  # None when already gone: its known snapshots still go
    snaps = set(extra_snapshots or [])
    if img:
        snaps.update(b["Ebs"]["SnapshotId"] for b in img.get("BlockDeviceMappings", [])
                     if b.get("Ebs", {}).get("SnapshotId"))
        ec2.deregister_image(aws, image_id)
        done.append(f"deregistered {image_id}")
    for s in sorted(snaps):
        if ec2.delete_snapshot(aws, s, missing_ok=True):
            done.append(f"deleted {s}")
    return done


# ------------------------------------------------------------------------------------------ logs

def read_log(store: BuildStore, build_id: str, start: int = 0) -> bytes:
    return store.get_bytes(build_id, "build.log", start) or b""


def follow_log(aws, store: BuildStore, build_id: str, write, *, interval: float = 5.0, timeout: float | None = None):
    """Write the log as it grows until the build ends (then the rest). Returns the final record."""
    from pctl.ami.status import builder_instances, reconcile

    offset = 0
    t0 = time.monotonic()
    while True:
        rec = store.get_json(build_id, "state.json") or {"build_id": build_id, "status": "launching"}
        chunk = read_log(store, build_id, offset)
        if chunk:
            write(chunk)
            offset += len(chunk)
        if rec.get("status") not in TERMINAL:
            rec = reconcile(rec, builder_instances(aws, [build_id]).get(build_id))
        if rec.get("status") in TERMINAL:
            rest = read_log(store, build_id, offset)
            if rest:
                write(rest)
            return rec
        if timeout is not None and time.monotonic() - t0 > timeout:
            return rec
        time.sleep(interval)


# ------------------------------------------------------------------------------------------ cleanup

@dataclass
class Action:
    kind: str  # terminate-instance | deregister-image | delete-snapshot | delete-role | delete-objects | mark-failed
    target: str
    reason: str
    build_id: str | None = None
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "target": self.target, "reason": self.reason, "build_id": self.build_id}


def cleanup_plan(aws, store: BuildStore | None = None) -> list[Action]:
    """Everything left over by builds: nothing of a build still in progress (and within its
    lifetime) is touched."""
    from pctl.ami import iam
    from pctl.ami.status import DEADLINE_GRACE, reconcile

    store = store or BuildStore(aws)
    now = utcnow()
    keys = store.keys()
    records = {r["build_id"]: r for r in store.records(list(keys))}
    insts = ec2.instances(aws, [
        {"Name": "tag:pctl:role", "Values": ["ami-builder"]},
        {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}])
    images = ec2.own_images(aws, [{"Name": "tag-key", "Values": ["pctl:build-id"]}])
    snaps = ec2.own_snapshots(aws, [{"Name": "tag-key", "Values": ["pctl:build-id"]}])
    live_by_build = {}
    for i in insts:
        live_by_build.setdefault(ec2.tags_of(i).get("pctl:build-id"), i)
    # the true state of every build
    ended: set[str] = set()
    real: dict[str, dict] = {}
    actions: list[Action] = []
    for bid, rec in records.items():
        real[bid] = reconcile(rec, live_by_build.get(bid), now)
        if real[bid].get("status") in TERMINAL:
            ended.add(bid)
            if rec.get("status") not in TERMINAL:
                actions.append(Action("mark-failed", bid, real[bid]["failure"]["message"], bid, {"record": real[bid]}))
    # 1. builders whose build ended, that run past their deadline, or that have no build at all
    for i in insts:
        tags = ec2.tags_of(i)
        bid = tags.get("pctl:build-id")
        deadline = parse_iso(tags.get("pctl:deadline"))
        launched = i.get("LaunchTime")
        reason = None
        if bid in ended:
            reason = f"its build {bid} has ended"
        elif deadline is not None and now > deadline + DEADLINE_GRACE:
            reason = f"running past its lifetime limit ({tags.get('pctl:deadline')})"
        elif bid not in records and launched is not None and now - launched > YOUNG:
            reason = "no build record for it"
        if reason:
            actions.append(Action("terminate-instance", i["InstanceId"], reason, bid))
            ended.add(bid)
    # 2. images that are not a finished build's result
    image_snaps: set[str] = set()
    for img in images:
        tags = ec2.tags_of(img)
        bid = tags.get("pctl:build-id")
        snaps_of = [b["Ebs"]["SnapshotId"] for b in img.get("BlockDeviceMappings", []) if b.get("Ebs", {}).get("SnapshotId")]
        state = img.get("State")
        rec = real.get(bid) or {}
        reason = None
        if state in ("failed", "error", "invalid"):
            reason = f"image state {state}"
        elif bid in ended and not (rec.get("status") == "available" and rec.get("ami_id") == img["ImageId"]):
            if rec.get("status") == "failed":
                reason = f"image of build {bid}, which failed"
            elif state != "available":
                reason = f"half-made image of build {bid}, which has ended"
        if reason:
            actions.append(Action("deregister-image", img["ImageId"], reason, bid, {"snapshots": snaps_of}))
        else:
            image_snaps.update(snaps_of)
    # 3. snapshots of builds that no image uses any more
    for s in snaps:
        bid = ec2.tags_of(s).get("pctl:build-id")
        if s["SnapshotId"] in image_snaps or (bid not in ended and bid in records):
            continue
        if any(s["SnapshotId"] in a.extra.get("snapshots", []) for a in actions):
            continue
        actions.append(Action("delete-snapshot", s["SnapshotId"], "snapshot of a build that no image uses", bid))
    # 4. per-build IAM roles of builds that ended
    for role in iam.list_builder_roles(aws):
        bid = role["build_id"]
        created = role.get("created")
        if bid in ended or (bid not in records and (created is None or now - created > YOUNG)):
            if bid in live_by_build and bid not in ended:
                continue
            actions.append(Action("delete-role", role["name"], f"{role['kind']} of build {bid}, which has ended"
                                  if bid in records else f"{role['kind']} without a build record", bid))
    # 5. S3: inputs of ended builds, prefixes that never got a record
    for bid, names in keys.items():
        if bid in records:
            left = [n for n in names if n in INPUTS]
            if bid in ended and left:
                actions.append(Action("delete-objects", f"s3://{store.bucket}/builds/{bid}/{{{','.join(left)}}}",
                                      "inputs of a build that has ended", bid, {"names": left}))
        elif "state.json" not in names:
            actions.append(Action("delete-objects", f"s3://{store.bucket}/builds/{bid}/",
                                  "build objects without a record", bid, {"names": names}))
    return actions


def run_cleanup(aws, actions: list[Action], store: BuildStore | None = None) -> list[dict]:
    from pctl.ami import iam
    from pctl.ami.status import mark_failed

    store = store or BuildStore(aws)
    results = []
    order = ["mark-failed", "terminate-instance", "deregister-image", "delete-snapshot", "delete-role", "delete-objects"]
    for kind in order:
        for a in [a for a in actions if a.kind == kind]:
            r = a.to_dict()
            try:
                if kind == "mark-failed":
                    mark_failed(store, a.extra["record"])
                elif kind == "terminate-instance":
                    ec2.terminate_instances(aws, [a.target])
                elif kind == "deregister-image":
                    r["done"] = delete_image(aws, a.target, a.extra.get("snapshots"))
                elif kind == "delete-snapshot":
                    ec2.delete_snapshot(aws, a.target)
                elif kind == "delete-role":
                    problems = iam.delete_builder_profile(aws, a.target)
                    if problems:
                        raise PctlError("; ".join(problems))
                elif kind == "delete-objects":
                    store.delete(a.build_id, a.extra["names"])
                r["ok"] = True
            except PctlError as exc:
                r["ok"] = False
                r["error"] = exc.message
            results.append(r)
    return results
