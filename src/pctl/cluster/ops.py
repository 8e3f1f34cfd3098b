"""delete / list / status over ParallelCluster, with AWS (tags) as the source of truth."""

from __future__ import annotations

import datetime as dt

from pctl.errors import PctlError


def _tags(info: dict) -> dict:
    return {t.get("key", t.get("Key")): t.get("value", t.get("Value")) for t in (info.get("tags") or [])}


def _age(created) -> str:
    if not created:
        return "-"
    if isinstance(created, str):
        try:
            created = dt.datetime.fromisoformat(created.replace("Z", "+00:00"))
        except ValueError:
            return created
    if created.tzinfo is None:
        created = created.replace(tzinfo=dt.timezone.utc)
    secs = (dt.datetime.now(dt.timezone.utc) - created).total_seconds()
    for unit, n in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= n:
            return f"{int(secs // n)}{unit}"
    return f"{int(secs)}s"


def list_clusters(aws) -> list[dict]:
    from pctl.aws import pcluster

    out = []
    for c in pcluster.list_clusters(aws):
        name = c.get("clusterName")
        info = pcluster.describe_cluster(aws, name) or {}
        tags = _tags(info)
        head = info.get("headNode") or {}
        out.append({
            "name": name,
            "region": c.get("region", aws.region),
            "status": info.get("clusterStatus", c.get("clusterStatus")),
            "stack_status": info.get("cloudFormationStackStatus", c.get("cloudformationStackStatus")),
            "template": tags.get("pctl:template"),
            "managed_by_pctl": "pctl:version" in tags,
            "software": tags.get("pctl:software"),
            "age": _age(info.get("creationTime")),
            "created": str(info.get("creationTime") or "") or None,
            "head_node": head.get("publicIpAddress") or head.get("privateIpAddress"),
            "pcluster_version": info.get("version", c.get("version")),
        })
    from pctl.cost.usage import list_extras  # issue 15: running nodes, estimated spend so far

    list_extras(aws, out)
    return out


def summary_of(aws, tags: dict, name: str) -> dict:
    """The cluster.json pctl wrote at create (mounts, storage, users, queues, region)."""
    from pctl.aws.s3 import get_json

    return get_json(aws, tags.get("pctl:bucket"), f"clusters/{name}/cluster.json") or {}


def cluster_status(aws, name: str) -> dict:
    from pctl.aws import ec2, pcluster

    info = pcluster.describe_cluster(aws, name)
    if info is None:
        raise PctlError(f"no cluster named {name!r} in {aws.region}", hint="list clusters with: pctl list")
    tags = _tags(info)
    head = info.get("headNode") or {}
    nodes: dict[str, int] = {}
    for i in ec2.cluster_nodes(aws, name):
        if i["node_type"] == "Compute":
            nodes[i["queue"] or "?"] = nodes.get(i["queue"] or "?", 0) + 1
    summary = summary_of(aws, tags, name)
    queues = [{"name": q.get("name"), "running": nodes.get(q.get("name"), 0), "max": q.get("max_count"),
               "min": q.get("min_count"), "capacity": q.get("capacity"), "zones": q.get("zones", [])}
              for q in summary.get("queues", [])]
    for qname, n in sorted(nodes.items()):
        if qname not in {q["name"] for q in queues}:
            queues.append({"name": qname, "running": n, "max": None, "min": None, "capacity": None, "zones": []})
    return {
        "name": name, "region": aws.region, "status": info.get("clusterStatus"),
        "stack_status": info.get("cloudFormationStackStatus"), "compute_fleet": info.get("computeFleetStatus"),
        "head_node": {"instance_type": head.get("instanceType"), "state": head.get("state"),
                      "public_ip": head.get("publicIpAddress"), "private_ip": head.get("privateIpAddress")},
        "running_compute_nodes": nodes, "queues": queues, "template": tags.get("pctl:template"),
        "fingerprint": tags.get("pctl:fingerprint"), "software_mode": tags.get("pctl:software"),
        "software": read_software_status(aws, tags, name), "created": str(info.get("creationTime") or ""),
        "pcluster_version": info.get("version"), "run": tags.get("pctl:run"),
        "s3_mounts": summary.get("s3_mounts", []), "shared_storage": summary.get("shared_storage", []),
        "users": summary.get("users", []), "packages": summary.get("packages", []),
        "software_plan": summary.get("software_plan"),  # issue 11: in the AMI / installed at boot
        "failure": info.get("failures") or info.get("failureReason"),
        # issue 15: per-queue node/GPU-hours of the last day, idle timer countdown, cost so far
        **_cost_status(aws, name, tags, sum(nodes.values())),
    }


def _cost_status(aws, name: str, tags: dict, compute_running: int) -> dict:
    from pctl.cost.usage import status_block

    return status_block(aws, name, tags, compute_running=compute_running)


def read_software_status(aws, tags: dict, name: str) -> dict | None:
    """The head node publishes its install progress to the pctl bucket (see cluster.plan.software_status_key)."""
    from pctl.aws.s3 import get_json
    from pctl.cluster.plan import software_status_key

    if tags.get("pctl:software") not in ("boot", "layer"):
        return None
    data = get_json(aws, tags.get("pctl:bucket"), software_status_key(name))
    return data if isinstance(data, dict) else None


def delete_cluster(aws, name: str, *, yes: bool, wait: bool = True, delete_network: bool = False,
                   poll: float = 15.0, say=None, confirm=None) -> dict:
    """Delete the cluster (ParallelCluster), then its pctl stack (node policies), its bootstrap files and ssh entry;
    the network only with delete_network (refused while another cluster uses it). Re-running finishes the job."""
    from pctl.aws import cloudformation as cfn
    from pctl.aws import pcluster
    from pctl.aws.s3 import delete_prefix
    from pctl.cluster import sshconfig
    from pctl.cluster import stack as cluster_stack
    from pctl.cluster.create import wait_for

    say = say or (lambda _m: None)
    info = pcluster.describe_cluster(aws, name)
    own_name = cluster_stack.stack_name(name)
    own = cfn.describe_stack(aws, own_name)
    report = {"name": name, "region": aws.region, "cluster": None, "stack": None, "objects_deleted": 0,
              "ssh_entry_removed": False, "network": None}
    bucket = aws.pctl_bucket()
    if info is not None or own is not None:
        if not yes and not (confirm and confirm(f"Delete cluster {name} in {aws.region}? Its head node, compute nodes "
                                                "and the storage created with it are removed.")):
            raise PctlError("refusing to delete without confirmation" if confirm is None else "not deleted",
                            hint="pass --yes (-y) in scripts and CI" if confirm is None else None)
    if info is not None:
        bucket = _tags(info).get("pctl:bucket") or bucket
        if info.get("clusterStatus") != "DELETE_IN_PROGRESS":
            pcluster.delete_cluster(aws, name)
        report["cluster"] = "DELETE_IN_PROGRESS"
        say(f"deleting cluster {name} ...")
        if not wait:
            say(f"not waiting; run 'pctl delete {name}' again later to remove what pctl made for it")
            return report
        try:
            status = wait_for(aws, name, ("DELETE_COMPLETE",), ("DELETE_FAILED",), poll=poll, say=say)
        except KeyboardInterrupt:
            raise PctlError(f"interrupted while waiting: {name} keeps deleting in AWS",
                            hint=f"run 'pctl delete {name}' again to wait and finish the clean-up") from None
        if status == "DELETE_FAILED":
            raise PctlError(f"ParallelCluster could not delete {name}: {cfn.failure_reason(aws, name) or '?'}",
                            hint="see the CloudFormation console for the stack's events, then run pctl delete again")
        report["cluster"] = "DELETE_COMPLETE"
    if own is not None:
        cfn.delete_stack(aws, own_name)
        final = cfn.wait(aws, own_name, until=frozenset({"DELETE_COMPLETE"}), poll=min(poll, 5.0))
        if final is not None:
            raise PctlError(f"could not delete {own_name}: {cfn.failure_reason(aws, own_name) or final['StackStatus']}",
                            hint=f"run 'pctl delete {name}' again")
        report["stack"] = "DELETE_COMPLETE"
    from pctl.cost import lifecycle as cost_lifecycle  # budget and idle timer go with the cluster

    report["cost"] = cost_lifecycle.after_delete(aws, name, _tags(info) if info is not None else None, bucket=bucket,
                                                 progress=say)
    report["objects_deleted"] = delete_prefix(aws, bucket, f"clusters/{name}/")
    report["ssh_entry_removed"] = sshconfig.remove_host(name)
    if info is None and own is None and not report["objects_deleted"] and not report["ssh_entry_removed"] and not (
            report["cost"]["budgets_deleted"] or report["cost"]["idle_timer_removed"]):
        raise PctlError(f"no cluster named {name!r} in {aws.region} (and nothing of it left to clean up)",
                        hint="list clusters with: pctl list")
    if delete_network:
        from pctl.network import stack as network_stack

        report["network"] = network_stack.delete(aws, progress=say, poll=min(poll, 5.0))
    return report


def ssh_command(name: str, info: dict | None, *, region: str, user: str | None = None, identity: str | None = None,
                command=(), home=None) -> list[str]:
    """The OpenSSH command line for a cluster's head node: the OS's default user, the key pair's
    private key from ~/.ssh when present, host keys checked (accept-new), ~/.ssh/config honoured."""
    import shutil
    from pathlib import Path

    from pctl.template.rules import DEFAULT_USER

    if info is None:
        raise PctlError(f"no cluster named {name!r} in {region}", hint="list clusters with: pctl list")
    head = info.get("headNode") or {}
    addr = head.get("publicIpAddress") or head.get("privateIpAddress")
    if not addr:
        raise PctlError(f"{name} has no head node address yet (status {info.get('clusterStatus')})")
    tags = _tags(info)
    login = user or DEFAULT_USER.get(tags.get("pctl:os") or "alinux2023", "ec2-user")
    exe = shutil.which("ssh")
    if exe is None:
        raise PctlError("the OpenSSH client (ssh) is not installed")
    args = [exe, "-o", "StrictHostKeyChecking=accept-new"]
    key = identity
    key_name = tags.get("pctl:key-name")
    home = Path(home) if home else Path.home()
    if key is None and key_name:
        for cand in (home / ".ssh" / f"{key_name}.pem", home / ".ssh" / key_name):
            if cand.is_file():
                key = str(cand)
                break
    if key:
        args += ["-i", key]
    args.append(f"{login}@{addr}")
    if command:
        args += ["--", *command]
    return args
