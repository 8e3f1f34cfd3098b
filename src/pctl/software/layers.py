"""Where a cluster's software comes from: the AMI, an install at boot, or both (layered).

:func:`decide` is the one place that makes the decision, for ``create`` and its dry run alike. Given
the template, the AMI (if any) and what the AMI holds (its manifest, see manifest.py), it returns a
:class:`SoftwarePlan`:

========  ==========================================================================================
mode      what happens
========  ==========================================================================================
none      no Spack packages in the template (a custom AMI is used as it is)
boot      no AMI, or an AMI whose software cannot be read: the head node installs every package at
          boot into ``/opt/pctl`` (a shared EBS volume; it hides whatever the AMI has there)
ami       the AMI holds every package: nothing is installed at boot
layer     the AMI holds some packages: the head node installs only the rest at boot, into
          ``/opt/pctl-layer`` (a shared EBS volume), with the AMI's Spack and the AMI's install tree
          as a Spack *upstream*: dependencies already in the image are reused, not rebuilt, and both
          module trees are on MODULEPATH
========  ==========================================================================================

Rules: an AMI for another OS or architecture is an error; so is an AMI built for a CPU target that
some instance type of the cluster cannot run (its binaries would crash there). A layer is built for
the AMI's target (so that the image's packages can be reused). A template spec is "in the AMI" when
some spec of the image constrains at least as much (``samtools@1.21`` in the image serves
``samtools`` and ``samtools@1.2:``, not ``samtools@1.22``).

Pure: no AWS, no clock (the manifest is read elsewhere and passed in).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pctl.errors import PctlError
from pctl.template import rules

SOFTWARE_ROOTS = {"boot": rules.SOFTWARE_ROOT, "layer": "/opt/pctl-layer"}
MODES = ("none", "boot", "ami", "layer")


def software_mount(mode: str) -> str | None:
    """The shared EBS volume's mount point for software installed at boot (None: no volume)."""
    return SOFTWARE_ROOTS.get(mode)


@dataclass
class SoftwarePlan:
    mode: str
    target: object  # pctl.template.targets.TargetChoice (the cluster's)
    build_target: str  # what every package installed at boot is built for
    specs: list[str]
    in_ami: list[str] = field(default_factory=list)
    at_boot: list[str] = field(default_factory=list)
    ami: object | None = None  # pctl.software.manifest.AmiSoftware
    custom_ami: str | None = None
    estimate: object | None = None  # pctl.spack.estimate.Estimate of what is installed at boot
    warnings: list[str] = field(default_factory=list)

    @property
    def software_root(self) -> str:
        return SOFTWARE_ROOTS.get(self.mode, rules.SOFTWARE_ROOT)

    @property
    def upstream_root(self) -> str | None:
        return rules.SOFTWARE_ROOT if self.mode == "layer" else None

    @property
    def install_minutes(self) -> float | None:
        return self.estimate.total_minutes if self.estimate is not None and self.at_boot else None

    def summary(self) -> str:
        """One line: '8 in the AMI, 3 installed at boot, about 12 min'."""
        from pctl.ami.estimates import fmt_minutes

        if not self.specs:
            return "no Spack packages"
        boot = (f"{len(self.at_boot)} installed at boot, about {fmt_minutes(self.install_minutes)}"
                if self.at_boot else "nothing installed at boot")
        if self.mode == "boot":
            return f"{len(self.at_boot)} installed at boot, about {fmt_minutes(self.install_minutes)}"
        return f"{len(self.in_ami)} in the AMI, {boot}"

    def to_dict(self) -> dict:
        est = self.estimate
        return {
            "mode": self.mode,
            "summary": self.summary(),
            "target": self.build_target,
            "target_reason": self.target.reason if self.build_target == self.target.target else
            f"the AMI's target (its packages are reused); the cluster alone would use {self.target.target}",
            "cluster_target": self.target.to_dict(),
            "in_ami": list(self.in_ami),
            "at_boot": list(self.at_boot),
            "custom_ami": self.custom_ami,
            "ami": self.ami.to_dict() if self.ami is not None else None,
            "software_root": self.software_root if self.mode in ("boot", "layer") else None,
            "upstream_root": self.upstream_root,
            "install_minutes": round(est.total_minutes, 1) if est is not None and self.at_boot else None,
            "warnings": list(self.warnings),
        }


def _estimate(specs: list[str], template, catalog):
    if not specs:
        return None
    from pctl.spack.estimate import estimate
    from pctl.spack.spec import parse_spec

    return estimate([parse_spec(s) for s in specs], template.cluster.os, template.arch, catalog=catalog)


def split(specs: list[str], ami_specs) -> tuple[list[str], list[str]]:
    """(in the AMI, not in the AMI), each in template order."""
    from pctl.spack.spec import parse_spec, spec_within

    have = [parse_spec(s) for s in ami_specs]
    inside, outside = [], []
    for s in specs:
        want = parse_spec(s)
        (inside if any(spec_within(h, want) for h in have) else outside).append(s)
    return inside, outside


def decide(template, *, custom_ami: str | None = None, ami=None, catalog=None,
           force_mode: str | None = None) -> SoftwarePlan:
    """The software plan of a (validated) template with an optional AMI and what it holds.

    ``custom_ami``: the AMI the cluster boots (as given, or found); ``ami``: its manifest
    (:class:`pctl.software.manifest.AmiSoftware`), or None when it could not be looked up.
    ``force_mode``: "ami" when the AMI is known to hold exactly this software (same fingerprint).
    """
    if force_mode is not None:
        if force_mode not in MODES:
            raise ValueError(f"unknown software mode {force_mode!r}")
        from pctl.template.targets import template_target

        target = template_target(template)
        specs = list(template.software.spack_packages)
        at_boot = list(specs) if force_mode == "boot" else []
        return SoftwarePlan(mode=force_mode, target=target, build_target=target.target, specs=specs,
                            in_ami=[] if at_boot else (list(specs) if force_mode == "ami" else []), at_boot=at_boot,
                            ami=ami, custom_ami=custom_ami,
                            estimate=_estimate(at_boot, template, catalog) if at_boot else None)
    from pctl.template.targets import CPU_NAMES, runs_on, template_target

    target = template_target(template)
    specs = list(template.software.spack_packages)
    plan = SoftwarePlan(mode="none", target=target, build_target=target.target, specs=specs, ami=ami,
                        custom_ami=custom_ami)
    if not specs:
        plan.mode = "ami" if custom_ami else "none"
        return plan
    if custom_ami is None:
        plan.mode, plan.at_boot = "boot", list(specs)
        plan.estimate = _estimate(specs, template, catalog)
        return plan
    if ami is None or not ami.readable:
        why = ami.reason if ami is not None else "it could not be looked up"
        plan.mode, plan.at_boot = "boot", list(specs)
        plan.estimate = _estimate(specs, template, catalog)
        if ami is not None and not ami.looked_up:
            plan.warnings.append(
                f"AMI {custom_ami}: {why}; shown as if it held none of the software (all {len(specs)} Spack "
                f"packages installed at boot, about {_minutes(plan.estimate)}); create reads the AMI and installs "
                "only what it lacks")
        else:
            plan.warnings.append(
                f"AMI {custom_ami}: {why}; all {len(specs)} Spack packages of the template are installed at boot "
                f"(about {_minutes(plan.estimate)}) into {SOFTWARE_ROOTS['boot']} (hiding the AMI's own "
                f"{SOFTWARE_ROOTS['boot']})")
        return plan
    name = f"AMI {custom_ami}" + (f" ({ami.name})" if ami.name and ami.name != custom_ami else "")
    if ami.os and ami.os != template.cluster.os:
        raise PctlError(f"{name} is {ami.os}, but the template's cluster.os is {template.cluster.os}",
                        hint=f"set cluster.os: {ami.os}, or build an AMI for {template.cluster.os}: "
                             "pctl ami build -t TEMPLATE")
    if ami.arch and ami.arch != template.arch:
        raise PctlError(f"{name} is for {ami.arch}, but the template's instance types are {template.arch}",
                        hint="use an AMI built for the same architecture (Graviton or x86_64)")
    if ami.target:
        cannot = [t for t, c in target.cpus.items() if c is not None and not runs_on(ami.target, c)]
        if cannot:
            t = cannot[0]
            raise PctlError(
                f"{name} was built for CPU target {ami.target}, which {t} ({CPU_NAMES.get(target.cpus[t], '?')}) "
                f"cannot run: its software would crash there with 'illegal instruction'",
                hint=f"rebuild the AMI for this cluster (pctl ami build -t TEMPLATE builds for {target.target}), "
                     f"or drop {', '.join(cannot)} from the queues")
        plan.build_target = ami.target
    else:
        plan.warnings.append(f"{name} was built without a CPU target (by an older pctl): its packages run on the "
                             "builder's CPU; rebuild it with 'pctl ami build' if some nodes crash")
    if ami.modules and ami.modules != template.software.modules:
        plan.warnings.append(f"{name} has {ami.modules} modules, the template asks for {template.software.modules}: "
                             f"the AMI's modules keep their {ami.modules} layout")
    plan.in_ami, plan.at_boot = split(specs, ami.specs)
    if not plan.at_boot:
        plan.mode = "ami"
        return plan
    plan.mode = "layer"
    plan.estimate = _estimate(plan.at_boot, template, catalog)
    return plan


def _minutes(est) -> str:
    from pctl.ami.estimates import fmt_minutes

    return fmt_minutes(est.total_minutes if est is not None else None)


def layer_template(template, plan: SoftwarePlan):
    """The template the node scripts are rendered from: only the packages installed at boot."""
    if plan.mode != "layer":
        return template
    software = template.software.model_copy(update={"spack_packages": list(plan.at_boot)})
    return template.model_copy(update={"software": software})


def script_options(plan: SoftwarePlan, **kw):
    """ScriptOptions for the node scripts of this plan."""
    from pctl.render.scripts import ScriptOptions

    mode = {"layer": "layer", "boot": "boot", "ami": "ami", "none": "none"}[plan.mode]
    if mode == "layer":
        return ScriptOptions(software_mode="layer", software_root=plan.software_root,
                             upstream_root=plan.upstream_root, target=plan.build_target, **kw)
    return ScriptOptions(software_mode=mode, target=plan.build_target, **kw)
