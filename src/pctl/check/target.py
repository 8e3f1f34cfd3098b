"""Where `pctl check NAME` connects: the cluster's head node, as ParallelCluster describes it.

Same rules as `pctl ssh`: the OS's default user (from the cluster's ``pctl:os`` tag), the key pair's
private key from ``~/.ssh`` when present, host keys trusted on first use then checked (``accept-new``),
``~/.ssh/config`` honoured. An explicit ``--host`` skips all of this (clusters not made by pctl, tests).
"""

from __future__ import annotations

from pathlib import Path

from pctl.check.connection import Target, make_target
from pctl.errors import PctlError


def _tags(info: dict) -> dict:
    return {t.get("key", t.get("Key")): t.get("value", t.get("Value")) for t in (info.get("tags") or [])}


def describe(name: str, *, aws) -> dict:
    from pctl.aws import pcluster

    info = pcluster.describe_cluster(aws, name)
    if info is None:
        raise PctlError(f"no cluster named {name!r} in {aws.region}",
                        hint="list clusters with: pctl list (or check any head node with --host USER@ADDRESS -t TEMPLATE)")
    return info


def cluster_target(name: str, info: dict, *, user: str | None = None, identity: str | None = None,
                   options=(), jump: str | None = None, home: Path | None = None) -> Target:
    from pctl.template.rules import DEFAULT_USER

    status = info.get("clusterStatus")
    head = info.get("headNode") or {}
    addr = head.get("publicIpAddress") or head.get("privateIpAddress")
    if not addr:
        raise PctlError(f"{name} has no head node address yet (status {status})",
                        hint=f"wait for CREATE_COMPLETE: pctl status {name}")
    tags = _tags(info)
    login = user or DEFAULT_USER.get(tags.get("pctl:os") or "alinux2023", "ec2-user")
    key = identity
    key_name = tags.get("pctl:key-name")
    home = home or Path.home()
    if key is None and key_name:
        for cand in (home / ".ssh" / f"{key_name}.pem", home / ".ssh" / key_name):
            if cand.is_file():
                key = str(cand)
                break
    return make_target(addr, user=login, identity=key, options=options, jump=jump, host_key_policy="accept-new")


def template_ref(info: dict) -> str | None:
    """The template a pctl cluster was created from (its ``pctl:template`` tag), if any."""
    return _tags(info).get("pctl:template") or None


def fingerprint(info: dict) -> str | None:
    return _tags(info).get("pctl:fingerprint") or None
