"""delete / list / status over ParallelCluster, with AWS (tags) as the source of truth."""

from __future__ import annotations

import datetime as dt

import click

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


def list_clusters(aws, backend) -> list[dict]:
    out = []
    for c in backend.list_clusters(aws.region):
        name = c.get("clusterName")
        info = backend.describe_cluster(name, aws.region) or {}
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
            "head_node": head.get("publicIpAddress") or head.get("privateIpAddress"),
            "pcluster_version": info.get("version", c.get("version")),
        })
    return out


def cluster_status(aws, backend, name: str) -> dict:
    from pctl.aws import aws_errors

    info = backend.describe_cluster(name, aws.region)
    if info is None:
        raise PctlError(f"no cluster named {name!r} in {aws.region}", hint="list clusters with: pctl list")
    tags = _tags(info)
    head = info.get("headNode") or {}
    ec2 = aws.client("ec2")
    with aws_errors():
        res = ec2.describe_instances(Filters=[
            {"Name": "tag:parallelcluster:cluster-name", "Values": [name]},
            {"Name": "instance-state-name", "Values": ["pending", "running"]}])["Reservations"]
    nodes: dict[str, int] = {}
    for r in res:
        for i in r["Instances"]:
            t = {x["Key"]: x["Value"] for x in i.get("Tags", [])}
            if t.get("parallelcluster:node-type") == "Compute":
                q = t.get("parallelcluster:queue-name", "?")
                nodes[q] = nodes.get(q, 0) + 1
    queues = []
    for q in (info.get("scheduler", {}) or {}).get("queues", []) or []:
        queues.append({"name": q.get("name"), "running": nodes.get(q.get("name"), 0)})
    software = read_software_status(aws, tags, name)
    summary = _read_json(aws, tags.get("pctl:bucket"), f"clusters/{name}/cluster.json") or {}
    limits = {q.get("name"): q for q in summary.get("queues", [])}
    for q in queues:
        if q["name"] in limits:
            q["max"] = limits[q["name"]].get("max_count")
            q["capacity"] = limits[q["name"]].get("capacity")
    return {
        "name": name, "region": aws.region, "status": info.get("clusterStatus"),
        "stack_status": info.get("cloudFormationStackStatus"), "compute_fleet": info.get("computeFleetStatus"),
        "head_node": {"instance_type": head.get("instanceType"), "state": head.get("state"),
                      "public_ip": head.get("publicIpAddress"), "private_ip": head.get("privateIpAddress")},
        "running_compute_nodes": nodes, "queues": queues, "template": tags.get("pctl:template"),
        "fingerprint": tags.get("pctl:fingerprint"), "software_mode": tags.get("pctl:software"),
        "software": software, "created": str(info.get("creationTime") or ""), "pcluster_version": info.get("version"),
        "s3_mounts": summary.get("s3_mounts", []), "shared_storage": summary.get("shared_storage", []),
        "users": summary.get("users", []), "packages": summary.get("packages", []),
        "software_plan": summary.get("software_plan"),  # issue 11: in the AMI / installed at boot
        "failure": info.get("failures") or info.get("failureReason"),
    }


def _read_json(aws, bucket: str | None, key: str):
    import json

    if not bucket:
        return None
    try:
        return json.loads(aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    except Exception:  # missing (clusters not made by pctl) or unreadable: status shows what it has
        return None


def read_software_status(aws, tags: dict, name: str) -> dict | None:
    """The head node publishes its install progress to the pctl bucket (see cluster.plan.software_status_key)."""
    import json

    from pctl.cluster.plan import software_status_key

    bucket = tags.get("pctl:bucket")
    if not bucket or tags.get("pctl:software") not in ("boot", "layer"):
        return None
    try:
        body = aws.client("s3").get_object(Bucket=bucket, Key=software_status_key(name))["Body"].read()
        data = json.loads(body)
        return data if isinstance(data, dict) else None
    except Exception:
        return None


def delete_cluster(aws, backend, name: str, *, yes: bool, wait: bool = True, delete_network: bool = False,
                   poll: float = 15.0, quiet: bool = False) -> dict:
    from pctl.aws.s3 import delete_prefix
    from pctl.cli.common import confirm, interactive
    from pctl.cluster import sshconfig
    from pctl.cluster.create import wait_for

    def say(msg):
        if not quiet:
            click.echo(msg, err=True)

    info = backend.describe_cluster(name, aws.region)
    report = {"name": name, "region": aws.region, "cluster": None, "objects_deleted": 0, "ssh_entry_removed": False,
              "network_deleted": False}
    bucket = aws.pctl_bucket()
    if info is not None:
        tags = _tags(info)
        if not yes and not confirm(f"Delete cluster {name} in {aws.region}? Its head node, compute nodes and "
                                   "storage created with it are removed.", yes=yes):
            if not interactive():
                raise PctlError("refusing to delete without confirmation", hint="pass --yes (-y) in scripts and CI")
            raise PctlError("not deleted")
        if info.get("clusterStatus") != "DELETE_IN_PROGRESS":
            backend.delete_cluster(name, aws.region)
        report["cluster"] = "DELETE_IN_PROGRESS"
        say(f"deleting cluster {name} ...")
        if not wait:
            say(f"not waiting; run 'pctl delete {name}' again later to remove its bootstrap files and ssh entry")
            return report
        try:
            status = wait_for(backend, name, aws.region, ("DELETE_COMPLETE",), ("DELETE_FAILED",), poll=poll, quiet=quiet)
        except KeyboardInterrupt:
            raise PctlError(f"interrupted while waiting: {name} keeps deleting in AWS",
                            hint=f"run 'pctl delete {name}' again to wait and finish the clean-up") from None
        if status == "DELETE_FAILED":
            raise PctlError(f"ParallelCluster could not delete {name}",
                            hint="see the CloudFormation console for the stack's events, then run pctl delete again")
        report["cluster"] = "DELETE_COMPLETE"
        bucket = tags.get("pctl:bucket") or bucket
    report["objects_deleted"] = delete_prefix(aws, bucket, f"clusters/{name}/")
    report["ssh_entry_removed"] = sshconfig.remove_host(name)
    if info is None and not report["objects_deleted"] and not report["ssh_entry_removed"]:
        raise PctlError(f"no cluster named {name!r} in {aws.region} (and nothing of it left to clean up)",
                        hint="list clusters with: pctl list")
    if delete_network or _network_unused(aws):
        from pctl.network.delete import delete_network as delete_net, tagged_resources

        if tagged_resources(aws):
            try:
                delete_net(aws, progress=say)
                report["network_deleted"] = True
            except PctlError as exc:
                if delete_network:
                    raise
                say(f"kept the pctl network: {exc.message}")
    return report


def _network_unused(aws) -> bool:
    """True when the region's pctl network exists and nothing uses it any more."""
    from pctl.network.delete import tagged_resources, users_of

    vpcs = [rid for kind, rid in tagged_resources(aws) if kind == "vpc"]
    return bool(vpcs) and all(not users_of(aws, v) for v in vpcs)


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
