"""Render what create submits for a template, on one given subnet (tests that judge a config without the
region's pctl network): the same `pctl.cluster.plan.build` create and the dry run use."""

from __future__ import annotations


def render_single_subnet(prepared, *, region: str, bucket: str, subnet: str, ssh_cidr: str | None = None,
                         custom_ami: str | None = None, account: str = "123456789012", zone: str = "zone 1"):
    from pctl.cluster.plan import AmiChoice, Decisions, build
    from pctl.render.pcluster import NetworkLayout, Subnet

    s = Subnet(subnet, zone, public=True)
    d = Decisions(region=region, account_id=account, bucket=bucket,
                  network=NetworkLayout(head=s, compute=(s,), source="existing"),
                  network_plan={"mode": "existing", "subnet_id": subnet}, ssh_cidr=ssh_cidr, ssh_source="test",
                  ami=AmiChoice(custom_ami, "custom" if custom_ami else "official"), run_id="test-run")
    return build(prepared, d)
