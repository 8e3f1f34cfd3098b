"""The seam to AWS ParallelCluster (pcluster.lib). Only this module imports pcluster at run time.

Tests replace `backend` to record calls; everything else calls these functions.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

# Validators the AWS emulator cannot serve (they dry-run ec2:RunInstances with ephemeral block devices).
EMULATOR_SUPPRESSED = ("type:HeadNodeLaunchTemplateValidator", "type:ComputeResourceLaunchTemplateValidator")


@dataclass
class PclusterResult:
    ok: bool
    status: str | None = None
    message: str = ""
    validation: list[dict] = field(default_factory=list)  # {level, type, message}
    dryrun: bool = False
    raw: object = None


class PclusterUnavailable(Exception):
    pass


def _lib():
    try:
        import pcluster.lib as pc  # noqa: F401
        from pcluster.aws.aws_api import AWSApi

        # pcluster keeps one AWS client set per process, built from the environment of its first use;
        # start from the current environment (endpoint, region, credentials) every time.
        AWSApi.reset()
    except ImportError as exc:
        from pctl.extras import missing_aws

        raise missing_aws("creating and managing clusters", exc.name or "pcluster") from None
    except Exception as exc:  # its own start-up errors
        from pctl.errors import PctlError
        from pctl.extras import install_command

        raise PctlError(f"AWS ParallelCluster is not usable: {exc}",
                        hint=f"{install_command('aws')} (installs aws-parallelcluster); it also needs Node.js") from None
    return pc


def _messages(content) -> list[dict]:
    out = []
    for attr in ("validation_messages", "configuration_validation_errors"):
        for m in getattr(content, attr, None) or []:
            out.append({"level": getattr(m, "level", ""), "type": getattr(m, "type", ""),
                        "message": getattr(m, "message", str(m))})
    return out


class RealBackend:
    def create_cluster(self, name: str, config: dict, region: str, *, dryrun: bool = False, rollback: bool = True,
                       suppress: tuple[str, ...] = ()) -> PclusterResult:
        pc = _lib()
        from pcluster.api.errors import DryrunOperationException, ParallelClusterApiException

        os.environ.setdefault("AWS_DEFAULT_REGION", region)
        try:
            resp = pc.create_cluster(cluster_name=name, cluster_configuration=config, region=region,
                                     dryrun=dryrun, rollback_on_failure=rollback,
                                     suppress_validators=list(suppress) or None)
        except DryrunOperationException as exc:
            return PclusterResult(True, "DRYRUN", exc.content.message, _messages(exc.content), dryrun=True, raw=exc)
        except ParallelClusterApiException as exc:
            return PclusterResult(False, str(exc.code), getattr(exc.content, "message", str(exc)),
                                  _messages(exc.content), dryrun=dryrun, raw=exc)
        cluster = resp.get("cluster", {}) if isinstance(resp, dict) else {}
        return PclusterResult(True, cluster.get("clusterStatus", "CREATE_IN_PROGRESS"), "",
                              [{"level": m.get("level"), "type": m.get("id"), "message": m.get("message")}
                               for m in (resp.get("validationMessages", []) if isinstance(resp, dict) else [])],
                              raw=resp)

    def describe_cluster(self, name: str, region: str) -> dict | None:
        pc = _lib()
        from pcluster.api.errors import NotFoundException, ParallelClusterApiException

        try:
            return pc.describe_cluster(cluster_name=name, region=region)
        except NotFoundException:
            return None
        except ParallelClusterApiException as exc:
            if getattr(exc, "code", None) == 404:
                return None
            raise

    def delete_cluster(self, name: str, region: str) -> dict | None:
        pc = _lib()
        from pcluster.api.errors import NotFoundException

        try:
            return pc.delete_cluster(cluster_name=name, region=region)
        except NotFoundException:
            return None

    def list_clusters(self, region: str) -> list[dict]:
        pc = _lib()
        out, token = [], None
        while True:
            resp = pc.list_clusters(region=region, next_token=token) if token else pc.list_clusters(region=region)
            out += resp.get("clusters", [])
            token = resp.get("nextToken")
            if not token:
                return out

    def version(self) -> str | None:
        from pctl.render.pcluster_check import pcluster_version

        return pcluster_version()


backend = RealBackend()


def translate_failure(result: PclusterResult) -> str:
    lines = [result.message or "ParallelCluster rejected the configuration"]
    for m in result.validation:
        if str(m.get("level", "")).upper() in ("ERROR", ""):
            lines.append(f"  {m.get('type')}: {m.get('message')}")
    return "\n".join(lines)
