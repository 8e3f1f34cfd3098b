"""`pctl cleanup`: find and remove every pctl leftover in a region.

- a cluster's pctl stack (`pctl-cluster-NAME`) whose ParallelCluster cluster does not exist, once older than the
  age limit (a create in progress makes its stack minutes before ParallelCluster's);
- bootstrap prefixes (`clusters/NAME/` in the pctl bucket) of clusters that have neither stack;
- the region's network when no cluster uses it (a NAT gateway costs money every hour);
- everything `pctl ami cleanup` finds (builders past their build, half-made images, snapshots, roles, objects).

Library code: `plan` returns actions, `run` carries them out and reports each; only the CLI prints and asks.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from pctl.errors import PctlError


@dataclass
class Leftover:
    kind: str  # delete-cluster-stack | delete-prefix | delete-network | ami:<kind>
    target: str
    reason: str
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "target": self.target, "reason": self.reason}


def _age(stack: dict, now: dt.datetime) -> dt.timedelta:
    created = stack.get("CreationTime")
    if isinstance(created, str):
        created = dt.datetime.fromisoformat(created.replace("Z", "+00:00"))
    if created is None:
        return dt.timedelta(0)
    if created.tzinfo is None:
        created = created.replace(tzinfo=dt.timezone.utc)
    return now - created


def plan(aws, *, older_than: dt.timedelta = dt.timedelta(hours=1), networks: bool = True,
         amis: bool = True) -> list[Leftover]:
    from pctl.aws import cloudformation as cfn
    from pctl.aws.s3 import list_prefix
    from pctl.cluster import stack as cluster_stack
    from pctl.network import stack as network_stack

    now = dt.datetime.now(dt.timezone.utc)
    out: list[Leftover] = []
    all_stacks = {s["StackName"]: s for s in cfn.list_stacks(aws)}
    own = {n[len(cluster_stack.PREFIX):]: s for n, s in all_stacks.items() if n.startswith(cluster_stack.PREFIX)}
    for name, s in sorted(own.items()):
        if name in all_stacks:
            continue  # its cluster exists: `pctl delete NAME` removes both
        failed = s["StackStatus"] in cfn.FAILED
        if failed or _age(s, now) >= older_than:
            minutes = int(_age(s, now).total_seconds() // 60)
            why = (f"stack is {s['StackStatus']}" if failed else
                   f"no ParallelCluster cluster named {name} (stack made {minutes} min ago)")
            out.append(Leftover("delete-cluster-stack", s["StackName"], why, {"cluster": name}))
    bucket = aws.pctl_bucket()
    names = sorted({k.split("/")[1] for k in list_prefix(aws, bucket, "clusters/") if k.count("/") >= 2})
    leaving_stacks = {lo.extra["cluster"] for lo in out if lo.kind == "delete-cluster-stack"}
    for name in names:
        # no cluster, and no pctl stack either or one this cleanup removes first (a young one is a create
        # in progress: its files stay)
        if name not in all_stacks and (name not in own or name in leaving_stacks):
            out.append(Leftover("delete-prefix", f"s3://{bucket}/clusters/{name}/",
                                f"bootstrap files of cluster {name}, which does not exist", {"bucket": bucket,
                                                                                             "prefix": f"clusters/{name}/"}))
    if networks:
        net = network_stack.describe(aws)
        if net is not None:
            users = network_stack.users(aws, aws.region)
            leaving = {lo.extra.get("cluster") for lo in out if lo.kind == "delete-cluster-stack"}
            if not [u for u in users if u not in leaving]:
                out.append(Leftover("delete-network", net.stack or net.vpc_id,
                                    "no cluster uses the region's pctl network (its NAT gateway costs by the hour)"))
    if amis:
        from pctl.ami.manage import cleanup_plan

        for a in cleanup_plan(aws):
            out.append(Leftover(f"ami:{a.kind}", a.target, a.reason, {"action": a}))
    return out


def run(aws, leftovers: list[Leftover], *, progress=None, poll: float = 5.0) -> list[dict]:
    from pctl.aws import cloudformation as cfn
    from pctl.aws.s3 import delete_prefix
    from pctl.network import stack as network_stack

    say = progress or (lambda _m: None)
    results = []
    for lo in [x for x in leftovers if x.kind == "delete-cluster-stack"]:
        results.append(_do(lo, lambda lo=lo: _delete_stack(aws, cfn, lo.target, poll), say))
    for lo in [x for x in leftovers if x.kind == "delete-prefix"]:
        results.append(_do(lo, lambda lo=lo: f"{delete_prefix(aws, lo.extra['bucket'], lo.extra['prefix'])} object(s)",
                           say))
    ami_actions = [x.extra["action"] for x in leftovers if x.kind.startswith("ami:")]
    if ami_actions:
        from pctl.ami.manage import run_cleanup

        for r in run_cleanup(aws, ami_actions):
            results.append({"kind": f"ami:{r['kind']}", "target": r["target"], "reason": r["reason"],
                            "ok": r.get("ok", False), "error": r.get("error")})
    for lo in [x for x in leftovers if x.kind == "delete-network"]:
        results.append(_do(lo, lambda: network_stack.delete(aws, progress=say, poll=poll) and "deleted", say))
    return results


def _delete_stack(aws, cfn, name: str, poll: float) -> str:
    cfn.delete_stack(aws, name)
    final = cfn.wait(aws, name, until=frozenset({"DELETE_COMPLETE"}), poll=poll)
    if final is not None:
        raise PctlError(f"{name} is {final['StackStatus']}: {cfn.failure_reason(aws, name) or '?'}")
    return "deleted"


def _do(lo: Leftover, fn, say) -> dict:
    r = lo.to_dict()
    try:
        r["done"] = fn()
        r["ok"] = True
        say(f"removed {lo.target}")
    except PctlError as exc:
        r["ok"] = False
        r["error"] = exc.message
    return r
