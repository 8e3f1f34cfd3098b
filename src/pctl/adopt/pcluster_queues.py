"""ParallelCluster Slurm queues -> pctl queues: capacity, allocation strategy, compute resources with their
counts (written as pctl's plain form when pctl's own grouping renders the same, else as explicit
compute_resources), EFA, hyper-threading, placement groups, subnets, custom actions. A mixin of the importer."""

from __future__ import annotations

from typing import Any

from pctl.adopt.findings import APPROXIMATED, MAPPED, NOT_MAPPED, PCTL
from pctl.adopt.pcluster_common import _bool, _int, _name_token
from pctl.errors import PctlError
from pctl.template import rules

DEFAULT_MIN_COUNT, DEFAULT_MAX_COUNT = 0, 10  # ParallelCluster's defaults (pcluster/constants.py)


class QueueImport:
    # -- queues ------------------------------------------------------------------------------------
    def _queues(self, queues: list) -> list[dict]:
        out: list[dict] = []
        used: set[str] = set()
        for i, q in enumerate(queues):
            path = f"Scheduling.SlurmQueues[{i}]"
            if not isinstance(q, dict):
                self.add(NOT_MAPPED, path, "not a queue")
                continue
            item = self._queue(q, path, used)
            if item is not None:
                out.append(item)
        if len(out) > 50:
            for q in out[50:]:
                self.add(NOT_MAPPED, "Scheduling.SlurmQueues", "pctl templates hold at most 50 queues", q["name"])
            out = out[:50]
        if not out:
            raise PctlError(f"{self.source}: no queue of Scheduling.SlurmQueues could be imported "
                            "(see the report for why)")
        return out

    def _queue(self, q: dict, path: str, used: set[str]) -> dict | None:
        raw_name = q.get("Name")
        name = str(raw_name) if isinstance(raw_name, str) and rules.queue_name_problem(raw_name) is None and raw_name not in used else None
        if name is None:
            name = _name_token(raw_name, used, "queue")
            self.add(APPROXIMATED, f"{path}.Name", "renamed to fit pctl's queue names (lowercase letter first; "
                     "letters, digits, hyphens; at most 25)", raw_name, name)
        else:
            used.add(name)
            self.handle(f"{path}.Name")
        item: dict = {"name": name}
        cap = str(q.get("CapacityType", "ONDEMAND")).upper()
        if cap == "SPOT":
            item["capacity"] = "spot"
        elif cap != "ONDEMAND":
            self.add(NOT_MAPPED, f"{path}.CapacityType", "capacity blocks have no pctl field; the queue is on-demand",
                     cap, "ondemand")
        if "CapacityType" in q and cap in ("SPOT", "ONDEMAND"):
            self.handle(f"{path}.CapacityType")
        strategy = q.get("AllocationStrategy")
        if strategy is not None:
            item["allocation_strategy"] = str(strategy)
            self.add(MAPPED, f"{path}.AllocationStrategy", f"compute.queues[{name}].allocation_strategy", strategy)
        crs = self._compute_resources(q.get("ComputeResources"), path, name)
        if not crs:
            self.add(NOT_MAPPED, path, "the queue has no compute resource pctl can use: left out", raw_name)
            return None
        if strategy is None and item.get("capacity") == "spot" and any(len(c["types"]) > 1 for c in crs):
            item["allocation_strategy"] = "lowest-price"  # ParallelCluster's default; pctl's differs
            self.add(MAPPED, f"{path}.AllocationStrategy", "ParallelCluster's default, written out (pctl's own default "
                     "for spot queues with several instance types is capacity-optimized)", None, "lowest-price",
                     handle=False)
        # EFA / hyper-threading: queue-wide when every compute resource agrees
        efas = {c["efa"] for c in crs}
        dhts = {c["dht"] for c in crs}
        if efas == {True}:
            item["efa"] = True
        if dhts == {True}:
            item["disable_hyperthreading"] = True
        net = q.get("Networking") if isinstance(q.get("Networking"), dict) else {}
        pg = self._placement_group(net, q, path)
        any_efa = True in efas
        pg = bool(pg)  # ParallelCluster's default: no placement group
        if pg != any_efa:  # pctl's default follows EFA: say so only when it differs
            item["placement_group"] = pg
        self._queue_network(net, path, item)
        # the simplest form that renders the same compute resources
        plain = dict(item, instance_types=[t for c in crs for t in c["types"] if t],
                     min_count=sum(c["min"] for c in crs), max_count=sum(c["max"] for c in crs))
        plain["instance_types"] = list(dict.fromkeys(plain["instance_types"]))
        if self._renders_as(plain, crs, len(efas) == 1 and len(dhts) == 1):
            item = plain
        else:
            item["compute_resources"] = []
            for c in crs:
                cr: dict = {"name": c["name"], "instance_types": c["types"], "min_count": c["min"], "max_count": c["max"]}
                if len(efas) > 1:
                    cr["efa"] = c["efa"]
                if len(dhts) > 1:
                    cr["disable_hyperthreading"] = c["dht"]
                item["compute_resources"].append(cr)
        total_min = sum(c["min"] for c in crs)
        total_max = sum(c["max"] for c in crs)
        self.add(MAPPED, path, f"compute.queues: {name}, {item.get('capacity', 'ondemand')}, {total_min}-{total_max} "
                 f"nodes, {len(crs)} compute resource(s)" + (", EFA" if any_efa else ""), raw_name, handle=False)
        acts = q.get("CustomActions")
        if isinstance(acts, dict):
            converted = self._custom_actions(acts, f"{path}.CustomActions", ("OnNodeStart", "OnNodeConfigured"))
            if converted:
                item["custom_actions"] = converted
        self._iam(q.get("Iam"), f"{path}.Iam")
        if isinstance(q.get("Image"), dict) and q["Image"].get("CustomAmi"):
            self.amis.append((f"{path}.Image.CustomAmi", str(q["Image"]["CustomAmi"])))
            self.handle(f"{path}.Image.CustomAmi")
        for key, why in (("ComputeSettings", "pctl encrypts compute root volumes and keeps the AMI's size; local "
                                             "ephemeral volumes keep ParallelCluster's default (/scratch)"),
                         ("HealthChecks", "GPU health checks have no pctl field"),
                         ("CustomSlurmSettings", "custom Slurm partition settings have no pctl field"),
                         ("JobExclusiveAllocation", "no pctl field"),
                         ("CapacityReservationTarget", "capacity reservations have no pctl field"),
                         ("Tags", "queue tags have no pctl field (cluster.tags tag every resource)")):
            if key in q:
                status = PCTL if key == "ComputeSettings" else NOT_MAPPED
                self.add(status, f"{path}.{key}", why)
        return item

    def _compute_resources(self, crs: Any, path: str, queue: str) -> list[dict]:
        out = []
        used: set[str] = set()
        if not isinstance(crs, list):
            return out
        for j, c in enumerate(crs):
            where = f"{path}.ComputeResources[{j}]"
            if not isinstance(c, dict):
                self.add(NOT_MAPPED, where, "not a compute resource")
                continue
            if isinstance(c.get("Instances"), list):
                types = [str(x.get("InstanceType")) for x in c["Instances"] if isinstance(x, dict)]
                self.handle(f"{where}.Instances")
            elif c.get("InstanceType"):
                types = [str(c["InstanceType"])]
                self.handle(f"{where}.InstanceType")
            else:
                self.add(NOT_MAPPED, where, "a compute resource defined only by a capacity reservation has no pctl "
                         "equivalent: left out", c.get("Name"))
                continue
            bad = [t for t in types if rules.instance_type_problem(t)]
            if bad:
                self.add(NOT_MAPPED, where, "not an EC2 instance type: compute resource left out", ", ".join(bad))
                continue
            mn = _int(c.get("MinCount", DEFAULT_MIN_COUNT))
            mx = _int(c.get("MaxCount", DEFAULT_MAX_COUNT))
            mn = DEFAULT_MIN_COUNT if mn is None else mn
            mx = DEFAULT_MAX_COUNT if mx is None else mx
            if mx > 1000 or mn > 1000:
                self.add(APPROXIMATED, where, "a pctl queue has at most 1000 nodes", f"{mn}-{mx}",
                         f"{min(mn, 1000)}-{min(mx, 1000)}", handle=False)
                mn, mx = min(mn, 1000), min(mx, 1000)
            for key in ("MinCount", "MaxCount", "Name"):
                self.handle(f"{where}.{key}")
            raw = c.get("Name")
            cname = (str(raw) if isinstance(raw, str) and rules.compute_resource_name_problem(raw) is None
                     and raw not in used else None)
            if cname is None:
                cname = _name_token(raw or types[0], used, "cr")
            else:
                used.add(cname)
            efa = c.get("Efa") if isinstance(c.get("Efa"), dict) else {}
            if "Enabled" in efa:
                self.handle(f"{where}.Efa.Enabled")
            if "GdrSupport" in efa:
                self.add(PCTL, f"{where}.Efa.GdrSupport", "GPUDirect RDMA is on wherever the instance supports it "
                         "(ParallelCluster ignores this setting)", efa["GdrSupport"])
            dht = _bool(c.get("DisableSimultaneousMultithreading"))
            if "DisableSimultaneousMultithreading" in c:
                self.handle(f"{where}.DisableSimultaneousMultithreading")
            out.append({"name": cname, "types": types, "min": mn, "max": mx, "efa": _bool(efa.get("Enabled")),
                        "dht": dht, "path": where})
            for key, why in (("SpotPrice", "pctl caps spot prices at the on-demand price (EC2's default)"),
                             ("CapacityReservationTarget", "capacity reservations have no pctl field"),
                             ("SchedulableMemory", "Slurm keeps ParallelCluster's default schedulable memory"),
                             ("HealthChecks", "GPU health checks have no pctl field"),
                             ("CustomSlurmSettings", "custom Slurm node settings have no pctl field"),
                             ("StaticNodePriority", "no pctl field"), ("DynamicNodePriority", "no pctl field"),
                             ("LaunchTemplateOverrides", "no pctl field"),
                             ("Tags", "compute resource tags have no pctl field (cluster.tags tag every resource)")):
                if key in c:
                    self.add(NOT_MAPPED, f"{where}.{key}", why, c[key] if not isinstance(c[key], (dict, list)) else None)
        if len(out) > 50:
            for c in out[50:]:
                self.add(NOT_MAPPED, c["path"], "a pctl queue holds at most 50 compute resources", c["name"])
            out = out[:50]
        return out

    def _placement_group(self, net: dict, q: dict, path: str) -> bool | None:
        pg = net.get("PlacementGroup") if isinstance(net.get("PlacementGroup"), dict) else None
        cr_pgs = []
        for j, c in enumerate(q.get("ComputeResources") or []):
            cpg = ((c or {}).get("Networking") or {}).get("PlacementGroup") if isinstance(c, dict) else None
            if isinstance(cpg, dict):
                cr_pgs.append((f"{path}.ComputeResources[{j}].Networking.PlacementGroup", cpg))
        result = None
        if pg is not None:
            if "Enabled" in pg:
                result = _bool(pg["Enabled"])
                self.add(MAPPED, f"{path}.Networking.PlacementGroup.Enabled", "placement_group", result)
            for key in ("Id", "Name"):
                if pg.get(key):
                    self.add(NOT_MAPPED, f"{path}.Networking.PlacementGroup.{key}", "an existing placement group cannot "
                             "be named; ParallelCluster makes one for the queue", pg[key])
        for where, cpg in cr_pgs:
            enabled = _bool(cpg.get("Enabled")) if "Enabled" in cpg else None
            if enabled is not None:
                if result is None:
                    result = enabled
                status = MAPPED if enabled == result else APPROXIMATED
                self.add(status, f"{where}.Enabled", "pctl sets placement groups per queue", enabled, result)
            for key in ("Id", "Name"):
                if cpg.get(key):
                    self.add(NOT_MAPPED, f"{where}.{key}", "an existing placement group cannot be named", cpg[key])
        return result

    def _queue_network(self, net: dict, path: str, item: dict) -> None:
        subnets = [str(s) for s in (net.get("SubnetIds") or []) if isinstance(s, (str,))]
        if subnets:
            where = f"{path}.Networking.SubnetIds"
            if not self.keep_network:
                self.add(PCTL, where, "left to pctl: the queue runs in the pctl network's private subnets (keep yours "
                         "with --keep-network)", ", ".join(subnets))
            else:
                head = (self.t.get("networking") or {}).get("subnet_id")
                valid = [s for s in subnets if rules.SUBNET_RE.fullmatch(s)]
                if not valid:
                    self.add(NOT_MAPPED, where, "not subnet ids", ", ".join(subnets))
                elif valid == [head]:
                    self.add(MAPPED, where, "the head node's subnet (networking.subnet_id)", head)
                else:
                    item["subnet"] = valid[0]
                    if len(valid) > 1:
                        self.add(APPROXIMATED, where, "a pctl queue takes one subnet of your own (queues[].subnet); "
                                 "leave it out to spread the queue over the pctl network's subnets", ", ".join(subnets),
                                 valid[0])
                    else:
                        self.add(MAPPED, where, "compute.queues[].subnet", valid[0])
        for key, why in (("AssignPublicIp", "pctl keeps compute nodes in private subnets behind a NAT gateway"),
                         ("SecurityGroups", "pctl creates the security groups"),
                         ("AdditionalSecurityGroups", "pctl creates the security groups")):
            if key in net:
                self.add(PCTL if not self.keep_network or key == "AssignPublicIp" else NOT_MAPPED,
                         f"{path}.Networking.{key}", why, net[key] if not isinstance(net[key], list) else ", ".join(map(str, net[key])))
        if "Proxy" in net:
            self.add(NOT_MAPPED, f"{path}.Networking.Proxy", "an HTTP proxy has no pctl field")

    def _renders_as(self, plain: dict, crs: list[dict], uniform: bool) -> bool:
        """Whether pctl's own grouping of the plain queue gives back exactly these compute resources."""
        if not uniform:
            return False
        from pydantic import ValidationError

        from pctl.render.pcluster import plan_queue
        from pctl.template.model import Queue

        try:
            plan = plan_queue(Queue.model_validate(plain))
        except (ValidationError, ValueError):
            return False
        got = sorted((tuple(sorted(c.instance_types)), c.min_count, c.max_count) for c in plan.compute_resources)
        want = sorted((tuple(sorted(c["types"])), c["min"], c["max"]) for c in crs)
        return got == want
