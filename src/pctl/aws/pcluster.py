"""AWS ParallelCluster (pcluster.lib): the only module that imports it. create / describe / delete / list.

ParallelCluster builds its own boto3 clients from the environment, once per process: each call here sets the
region (and profile) for it and resets its client cache. Its logging goes to a file in pctl's cache
(`logs/pcluster.log`), never to the terminal, and Node.js/jsii deprecation banners are silenced.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass, field

# Validators an AWS emulator (moto) cannot serve: they dry-run ec2:RunInstances with ephemeral block devices.
EMULATOR_SUPPRESSED = ("type:HeadNodeLaunchTemplateValidator", "type:ComputeResourceLaunchTemplateValidator")


@dataclass
class PclusterResult:
    ok: bool
    status: str | None = None
    message: str = ""
    validation: list[dict] = field(default_factory=list)  # {level, type, message}
    dryrun: bool = False
    code: int | None = None  # ParallelCluster's HTTP-like code on failure (400 config, 409 exists, 5xx service)


JSII_EOL_ACK = ("Node14 is now end of life (EOL) as of April 30, 2023. Support of EOL runtimes are only guaranteed "
                "for 30 days after EOL. By silencing this warning you acknowledge that you are using an EOL version "
                "of Node and will upgrade to a supported version as soon as possible.")


class PclusterUnavailable(Exception):
    pass


def install_hint() -> str:
    from pctl.extras import install_command

    return f"{install_command('aws')} (installs aws-parallelcluster and boto3; ParallelCluster also needs Node.js)"


def version() -> str | None:
    try:
        from importlib.metadata import version as _v

        return _v("aws-parallelcluster")
    except Exception:
        return None


def log_path():
    from pctl.paths import cache_dir

    return cache_dir() / "logs" / "pcluster.log"


def _log_to_file() -> None:
    log = logging.getLogger("pcluster")
    if getattr(log, "_pctl_configured", False):
        return
    for h in list(log.handlers):
        log.removeHandler(h)
    try:
        path = log_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    except OSError:
        handler = logging.NullHandler()
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    log._pctl_configured = True  # type: ignore[attr-defined]


def _lib():
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")
    os.environ.setdefault("JSII_SILENCE_WARNING_KNOWN_BROKEN_NODE_VERSION", "1")
    # jsii only accepts its own acknowledgement sentence; pctl's pre-flight tells the user about an old Node.js
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", JSII_EOL_ACK)
    try:
        import pcluster.lib as pc
        from pcluster.aws.aws_api import AWSApi
        from pcluster.aws.common import Cache
    except ImportError as exc:
        from pctl.extras import missing_aws

        raise missing_aws("creating and managing clusters", exc.name or "pcluster") from None
    except Exception as exc:  # its own start-up errors
        from pctl.errors import PctlError

        raise PctlError(f"AWS ParallelCluster is not usable ({type(exc).__name__}: {exc})",
                        hint=install_hint()) from None
    _log_to_file()
    for name in ("pcluster", "pcluster.cli", "pcluster.api"):
        logging.getLogger(name).propagate = False
    AWSApi.reset()  # its clients were built from an earlier environment (region, endpoint, credentials)
    # Its result caches key on id(client): a new client at a freed address would get another region's
    # answers (for example the instance types offered in us-east-1 while validating in us-east-2).
    Cache.clear_all()
    return pc


@contextlib.contextmanager
def _environment(aws):
    """pcluster reads region and profile from the environment."""
    saved = {k: os.environ.get(k) for k in ("AWS_DEFAULT_REGION", "AWS_PROFILE")}
    os.environ["AWS_DEFAULT_REGION"] = aws.region
    if getattr(aws, "profile", None):
        os.environ["AWS_PROFILE"] = aws.profile
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _messages(content) -> list[dict]:
    out = []
    for attr in ("validation_messages", "configuration_validation_errors"):
        for m in getattr(content, attr, None) or []:
            out.append({"level": str(getattr(m, "level", "") or ""), "type": str(getattr(m, "type", "") or ""),
                        "message": str(getattr(m, "message", m))})
    return out


def create_cluster(aws, name: str, config: dict, *, dryrun: bool = False, rollback: bool = True,
                   suppress: tuple[str, ...] | list[str] = ()) -> PclusterResult:
    pc = _lib()
    from pcluster.api.errors import DryrunOperationException, ParallelClusterApiException

    with _environment(aws):
        try:
            resp = pc.create_cluster(cluster_name=name, cluster_configuration=config, region=aws.region,
                                     dryrun=dryrun, rollback_on_failure=rollback,
                                     suppress_validators=list(suppress))
        except DryrunOperationException as exc:
            return PclusterResult(True, "DRYRUN", exc.content.message, _messages(exc.content), dryrun=True,
                                  code=exc.code)
        except ParallelClusterApiException as exc:
            return PclusterResult(False, str(exc.code), str(getattr(exc.content, "message", None) or exc),
                                  _messages(exc.content), dryrun=dryrun, code=exc.code)
    cluster = resp.get("cluster", {}) if isinstance(resp, dict) else {}
    msgs = resp.get("validationMessages", []) if isinstance(resp, dict) else []
    return PclusterResult(True, cluster.get("clusterStatus", "CREATE_IN_PROGRESS"), "",
                          [{"level": m.get("level"), "type": m.get("type") or m.get("id"), "message": m.get("message")}
                           for m in msgs])


def describe_cluster(aws, name: str) -> dict | None:
    pc = _lib()
    from pcluster.api.errors import NotFoundException, ParallelClusterApiException

    with _environment(aws):
        try:
            return pc.describe_cluster(cluster_name=name, region=aws.region)
        except NotFoundException:
            return None
        except ParallelClusterApiException as exc:
            if getattr(exc, "code", None) == 404:
                return None
            raise _error(exc, f"describe cluster {name}") from None


def delete_cluster(aws, name: str) -> dict | None:
    pc = _lib()
    from pcluster.api.errors import NotFoundException, ParallelClusterApiException

    with _environment(aws):
        try:
            return pc.delete_cluster(cluster_name=name, region=aws.region)
        except NotFoundException:
            return None
        except ParallelClusterApiException as exc:
            raise _error(exc, f"delete cluster {name}") from None


def list_clusters(aws) -> list[dict]:
    pc = _lib()
    from pcluster.api.errors import ParallelClusterApiException

    out, token = [], None
    with _environment(aws):
        try:
            while True:
                resp = pc.list_clusters(region=aws.region, next_token=token) if token else \
                    pc.list_clusters(region=aws.region)
                out += resp.get("clusters", [])
                token = resp.get("nextToken")
                if not token:
                    return out
        except ParallelClusterApiException as exc:
            raise _error(exc, "list clusters") from None


def _error(exc, what: str):
    from pctl.aws.errors import AwsError

    message = str(getattr(getattr(exc, "content", None), "message", None) or exc)
    return AwsError(f"ParallelCluster could not {what}: {message}", code=str(getattr(exc, "code", "")),
                    hint="check your AWS credentials and permissions ('pctl doctor')")
