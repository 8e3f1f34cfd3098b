"""Judge a rendered config with ParallelCluster's own code, offline: its ClusterSchema (types, enums,
required fields, ranges) and the validators that are pure functions of the config (names, counts,
duplicates). No AWS call is made. Needs the aws-parallelcluster package (imported only here)."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    level: str  # ERROR | WARNING | INFO
    path: str
    message: str
    source: str  # "schema" or the validator's name


def available() -> bool:
    import importlib.util

    return importlib.util.find_spec("pcluster") is not None


def pcluster_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("aws-parallelcluster")
    except Exception:
        return None


def _flatten(messages, path=""):
    if isinstance(messages, dict):
        for key, sub in messages.items():
            step = "" if key == "_schema" else f"[{key}]" if isinstance(key, int) else f".{key}"
            yield from _flatten(sub, path + step)
    elif isinstance(messages, list):
        for sub in messages:
            yield from _flatten(sub, path)
    else:
        yield path.lstrip(".") or "<root>", str(messages)


def offline_check(config: dict, cluster_name: str) -> list[Finding]:
    import copy

    from marshmallow import ValidationError
    from pcluster.constants import MAX_COMPUTE_RESOURCES_PER_QUEUE, MAX_NUMBER_OF_QUEUES
    from pcluster.schemas.cluster_schema import ClusterSchema
    from pcluster.validators.cluster_validators import (
        ClusterNameValidator,
        ComputeResourceSizeValidator,
        DuplicateNameValidator,
        MaxCountValidator,
        NameValidator,
    )

    old = os.environ.get("AWS_DEFAULT_REGION")
    os.environ["AWS_DEFAULT_REGION"] = config.get("Region") or "us-east-1"
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    try:
        try:
            cfg = ClusterSchema(cluster_name=cluster_name).load(copy.deepcopy(config))
        except ValidationError as err:
            return [Finding("ERROR", p, m, "schema") for p, m in _flatten(err.messages)]
        queues = cfg.scheduling.queues
        checks = [
            ("<cluster name>", ClusterNameValidator, dict(name=cluster_name, scheduling=cfg.scheduling)),
            ("Scheduling.SlurmQueues", DuplicateNameValidator,
             dict(name_list=[q.name for q in queues], resource_name="Queue")),
            ("Scheduling.SlurmQueues", MaxCountValidator,
             dict(resources_length=len(queues), max_length=MAX_NUMBER_OF_QUEUES, resource_name="SlurmQueues")),
        ]
        for i, q in enumerate(queues):
            qp, crs = f"Scheduling.SlurmQueues[{i}]", q.compute_resources
            checks += [
                (f"{qp}.Name", NameValidator, dict(name=q.name)),
                (f"{qp}.ComputeResources", DuplicateNameValidator,
                 dict(name_list=[c.name for c in crs], resource_name="Compute resource")),
                (f"{qp}.ComputeResources", MaxCountValidator,
                 dict(resources_length=len(crs), max_length=MAX_COMPUTE_RESOURCES_PER_QUEUE,
                      resource_name="ComputeResources per Queue")),
            ]
            for j, c in enumerate(crs):
                cp = f"{qp}.ComputeResources[{j}]"
                checks += [
                    (f"{cp}.Name", NameValidator, dict(name=c.name)),
                    (cp, ComputeResourceSizeValidator,
                     dict(min_count=c.min_count, max_count=c.max_count, capacity_type=q.capacity_type)),
                ]
        out = []
        for path, validator, kwargs in checks:
            for failure in validator().execute(**kwargs):
                out.append(Finding(failure.level.name, path, failure.message, failure.validator_type))
        return out
    finally:
        from pcluster.aws.aws_api import AWSApi

        AWSApi.reset()  # don't leave clients built for this offline check in pcluster's process-wide cache
        if old is None:
            os.environ.pop("AWS_DEFAULT_REGION", None)
        else:
            os.environ["AWS_DEFAULT_REGION"] = old
