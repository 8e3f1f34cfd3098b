"""A template's cost against its budget: the cost block of a plan, the validate warning and the create gate.

``budget.monthly_usd`` is compared with the **idle month** (what the cluster costs if nobody runs a job):
above it, ``pctl validate`` warns and ``pctl create`` refuses unless ``--yes``. Jobs cost more on top;
the AWS Budget (pctl.cost.budgets) alerts on what is really spent.
"""

from __future__ import annotations

from pctl.errors import PctlError



def network_shape(*, public_only: bool = False, subnet_id: str | None = None) -> dict:
    """What the cluster's network adds to the bill: the pctl network's NAT gateway (none with --public-only
    or your own subnet), public IPv4 addresses on compute nodes (--public-only)."""
    if subnet_id:
        return {"nat_gateways": 0, "public_compute": False, "note": f"existing subnet {subnet_id}: its NAT "
                "gateway (if any) is billed to whoever created it, not counted here"}
    if public_only:
        return {"nat_gateways": 0, "public_compute": True, "note": None}
    return {"nat_gateways": 1, "public_compute": False, "note": None}


def plan_cost(template, config: dict, region: str, *, public_only: bool = False, subnet_id: str | None = None,
              prices=None) -> dict:
    """The cost block of a create plan (dry run and real create use the same)."""
    from pctl.cost.estimate import estimate
    from pctl.cost.prices import PriceTable

    prices = prices or PriceTable.load(region)
    net = network_shape(public_only=public_only, subnet_id=subnet_id)
    est = estimate(config, prices, nat_gateways=net["nat_gateways"], public_compute=net["public_compute"])
    if net["note"]:
        est["notes"].append(net["note"])
    est["budget"] = budget_status(template, est)
    idle = getattr(template.cluster, "idle_timeout", None)
    if idle:
        est["idle_timeout"] = {"after": idle, "action": template.cluster.idle_action}
    return est


def budget_status(template, est: dict) -> dict | None:
    b = getattr(template, "budget", None)
    if b is None:
        return None
    from pctl.cost.budgets import scope_of

    scope = scope_of(template)
    return {"monthly_usd": b.monthly_usd, "scope": scope, "notify": list(b.notify),
            "idle_monthly": est["idle_monthly"], "over": est["idle_monthly"] > b.monthly_usd,
            "share": round(est["idle_monthly"] / b.monthly_usd, 3) if b.monthly_usd else None}


def over_budget_message(est: dict) -> str | None:
    b = est.get("budget")
    if not b or not b["over"]:
        return None
    return (f"an idle month of this cluster costs about ${est['idle_monthly']:,.2f}, above budget.monthly_usd "
            f"${b['monthly_usd']:,.2f} (before any job runs)")


OVER_BUDGET_HINT = ("a smaller head node, min_count: 0, --public-only (no NAT gateway) or less provisioned storage "
                    "lower the idle cost; cluster.idle_timeout stops it when unused; pass --yes to create anyway")


def check_create(est: dict, *, yes: bool) -> None:
    """create refuses an idle month above the budget unless --yes."""
    msg = over_budget_message(est)
    if msg and not yes:
        raise PctlError(msg, hint=OVER_BUDGET_HINT)


def budget_diagnostics(template) -> list:
    """validate: a warning when an idle month is above budget.monthly_usd (offline prices, pctl network)."""
    if getattr(template, "budget", None) is None:
        return []
    from pctl.template.diagnostics import warning

    try:
        est = template_cost(template)
    except Exception:  # a template the renderer cannot price is reported by other checks
        return []
    msg = over_budget_message(est)
    if not msg:
        return []
    return [warning(msg, ("budget", "monthly_usd"), code="budget", hint=OVER_BUDGET_HINT)]


def template_cost(template, *, region: str | None = None, public_only: bool = False) -> dict:
    """The plan's cost block for a bare template (no create options): renders the ParallelCluster config
    purely with placeholder ids, the way the dry run does."""
    from pctl import __version__
    from pctl.cluster.plan import PLACEHOLDER_PRIVATE, PLACEHOLDER_PUBLIC
    from pctl.render.pcluster import NetworkLayout, RenderContext, Subnet, render_config

    region = region or template.cluster.region or "us-east-1"
    subnet = template.networking.subnet_id
    mode = "ami" if template.cluster.custom_ami else ("boot" if template.software.spack_packages else "none")
    if subnet:
        one = Subnet(subnet, "its zone", public=True)
        network = NetworkLayout(head=one, compute=(one,), source="existing")
    else:
        pub = [Subnet(s, f"zone {i + 1}", public=True) for i, s in enumerate(PLACEHOLDER_PUBLIC)]
        priv = [Subnet(s, f"zone {i + 1}") for i, s in enumerate(PLACEHOLDER_PRIVATE)]
        network = NetworkLayout(head=pub[0], compute=tuple(pub if public_only else priv))
    ctx = RenderContext(region=region, network=network,
                        scripts_bucket=f"pctl-ACCOUNT-{region}", scripts_prefix="clusters/x/", cluster_name=template.cluster.name,
                        template_name=template.cluster.name, fingerprint="0" * 64, pctl_version=__version__,
                        software_mode=mode, custom_ami=template.cluster.custom_ami)
    rendered = render_config(template, ctx)
    return plan_cost(template, rendered.config, region, public_only=public_only, subnet_id=subnet)
