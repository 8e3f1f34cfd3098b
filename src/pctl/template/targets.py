"""CPU targets: which Spack microarchitecture the cluster's software is built for.

Spack builds for the CPU of the machine it runs on unless a target is required, and the machine that
builds is the head node (software at boot) or the AMI builder (a c6i): GROMACS built there for Ice Lake
(AVX-512) dies with "illegal instruction" on a Zen 3 (hpc6a) compute node. pctl therefore requires one
target in the Spack environment: the most capable one that every instance type of the cluster (the head
node and every queue; for an AMI, every queue that will boot it) can run.

* ``FAMILY_CPU`` maps EC2 instance families to the microarchitecture of their CPU, by Spack's
  (archspec's) names; where a family runs on more than one CPU generation, the oldest.
* ``MICROARCHITECTURES`` is the part of archspec's DAG that EC2 uses: each name with its parents.
  A target runs on a CPU when it is that CPU or one of its ancestors.
* x86_64: the cluster target is the highest generic level (``x86_64_v2``/``v3``/``v4``) that every CPU
  supports, as in AWS's own ParallelCluster Spack stacks, whose public build caches are built for
  exactly these levels (a named target such as ``zen3`` would build everything from source).
  aarch64: Graviton generations form one line (``neoverse_n1`` < ``neoverse_v1`` < ``neoverse_v2``),
  and the cluster target is the oldest generation present.
* A template may set ``software.target`` (any name here: ``zen4``, ``icelake``, ``x86_64_v3``...); a
  target that some instance type cannot run is an error naming it.

Pure: tables and functions, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: archspec microarchitectures (name -> parents) used by EC2 instance types, plus the generic levels.
MICROARCHITECTURES: dict[str, tuple[str, ...]] = {
    # generic x86_64 levels
    "x86_64": (),
    "x86_64_v2": ("x86_64",),
    "x86_64_v3": ("x86_64_v2",),
    "x86_64_v4": ("x86_64_v3",),
    # Intel
    "nehalem": ("x86_64_v2",),
    "westmere": ("nehalem",),
    "sandybridge": ("westmere",),
    "ivybridge": ("sandybridge",),
    "haswell": ("ivybridge", "x86_64_v3"),
    "broadwell": ("haswell",),
    "skylake": ("broadwell",),
    "skylake_avx512": ("skylake", "x86_64_v4"),
    "cascadelake": ("skylake_avx512",),
    "cooperlake": ("cascadelake",),
    "icelake": ("cascadelake",),
    "sapphirerapids": ("icelake",),
    # AMD
    "zen": ("x86_64_v3",),
    "zen2": ("zen",),
    "zen3": ("zen2",),
    "zen4": ("zen3", "x86_64_v4"),
    "zen5": ("zen4",),
    # Arm (AWS Graviton)
    "aarch64": (),
    "armv8.1a": ("aarch64",),
    "armv8.2a": ("armv8.1a",),
    "armv8.3a": ("armv8.2a",),
    "armv8.4a": ("armv8.3a",),
    "cortex_a72": ("aarch64",),
    "neoverse_n1": ("cortex_a72", "armv8.2a"),
    "neoverse_v1": ("neoverse_n1", "armv8.4a"),
    "neoverse_v2": ("neoverse_v1",),
}

#: The targets pctl chooses by itself, most capable last (see the module docstring).
PORTABLE = {
    "x86_64": ("x86_64_v2", "x86_64_v3", "x86_64_v4"),
    "arm64": ("aarch64", "cortex_a72", "neoverse_n1", "neoverse_v1", "neoverse_v2"),
}

#: EC2 family -> the microarchitecture of its CPU (the oldest, when a family spans generations).
FAMILY_CPU: dict[str, str] = {}


def _families(cpu: str, names: str) -> None:
    for name in names.split():
        FAMILY_CPU[name] = cpu


# --- Intel
_families("ivybridge", "c3 r3 i2 g2 m3")
_families("haswell", "c4 m4 d2 x1 x1e t2")
_families("broadwell", "r4 h1 i3 p3 g3 g3s f1")
_families("skylake_avx512", "c5 c5d c5n m5 m5d t3 z1d i3en p3dn")
_families("cascadelake", "m5n m5dn m5zn r5 r5d r5n r5dn r5b g4dn inf1 p4d p4de dl1 vt1 d3 d3en x2iezn")
_families("icelake", "c6i c6id c6in m6i m6id m6in m6idn r6i r6id r6in r6idn x2idn x2iedn i4i hpc6id trn1 trn1n")
_families("sapphirerapids", "c7i c7i-flex m7i m7i-flex r7i r7iz i7i i7ie u7i u7in u7inh c8i m8i r8i "
                            "trn2 trn2n p5en p6-b200")
# --- AMD
_families("zen", "m5a m5ad r5a r5ad t3a")
_families("zen2", "c5a c5ad g4ad g5")
_families("zen3", "c6a m6a r6a hpc6a g6 g6e g6f gr6 gr6f p5 p5e inf2 f2 dl2q")
_families("zen4", "c7a m7a r7a hpc7a")
_families("zen5", "c8a m8a r8a hpc8a")
# --- Arm (Graviton)
_families("cortex_a72", "a1")
_families("neoverse_n1", "c6g c6gd c6gn m6g m6gd r6g r6gd t4g x2gd im4gn is4gen g5g")
_families("neoverse_v1", "c7g c7gd c7gn m7g m7gd r7g r7gd hpc7g")
_families("neoverse_v2", "c8g c8gd c8gn m8g m8gd r8g r8gd x8g i8g i8ge")

#: The families a Graviton generation / x86 vendor is sold under, for messages ("Graviton 2").
CPU_NAMES = {
    "cortex_a72": "Graviton (Cortex-A72)", "neoverse_n1": "Graviton2 (Neoverse N1)",
    "neoverse_v1": "Graviton3 (Neoverse V1)", "neoverse_v2": "Graviton4 (Neoverse V2)",
    "ivybridge": "Intel Ivy Bridge", "haswell": "Intel Haswell", "broadwell": "Intel Broadwell",
    "skylake_avx512": "Intel Skylake-SP", "cascadelake": "Intel Cascade Lake", "icelake": "Intel Ice Lake",
    "sapphirerapids": "Intel Sapphire Rapids", "zen": "AMD Zen", "zen2": "AMD Zen 2", "zen3": "AMD Zen 3",
    "zen4": "AMD Zen 4", "zen5": "AMD Zen 5",
}

#: An instance type per target on which the AMI builder can run (and test) what it builds.
BUILDER_TYPES = {
    "x86_64": "c6i.4xlarge", "x86_64_v2": "c6i.4xlarge", "x86_64_v3": "c6i.4xlarge", "x86_64_v4": "c6i.4xlarge",
    "zen": "c6a.4xlarge", "zen2": "c6a.4xlarge", "zen3": "c6a.4xlarge", "zen4": "c7a.4xlarge", "zen5": "c8a.4xlarge",
    "sapphirerapids": "c7i.4xlarge",
    "aarch64": "c7g.4xlarge", "cortex_a72": "c7g.4xlarge", "neoverse_n1": "c7g.4xlarge",
    "neoverse_v1": "c7g.4xlarge", "neoverse_v2": "c8g.4xlarge",
}

TARGET_RE = re.compile(r"^[a-z][a-z0-9_.]*$")


def ancestors(name: str) -> set[str]:
    """Every microarchitecture ``name`` descends from (not itself)."""
    out: set[str] = set()
    stack = list(MICROARCHITECTURES.get(name, ()))
    while stack:
        n = stack.pop()
        if n not in out:
            out.add(n)
            stack.extend(MICROARCHITECTURES.get(n, ()))
    return out


def runs_on(target: str, cpu: str) -> bool:
    """Can code built for ``target`` run on ``cpu``?"""
    return target == cpu or target in ancestors(cpu)


def family_of(instance_type: str) -> str:
    return instance_type.split(".", 1)[0]


def cpu_of(instance_type: str) -> str | None:
    """The microarchitecture of an instance type's CPU; None for a family pctl does not know."""
    return FAMILY_CPU.get(family_of(instance_type))


def arch_of_target(target: str) -> str | None:
    if target not in MICROARCHITECTURES:
        return None
    return "arm64" if "aarch64" in ancestors(target) | {target} else "x86_64"


def target_problem(value: str) -> str | None:
    """Grammar of ``software.target``: a microarchitecture pctl knows."""
    if value in MICROARCHITECTURES:
        return None
    from pctl.template.rules import did_you_mean

    guess = did_you_mean(value, list(MICROARCHITECTURES))
    return (f"{value!r} is not a CPU target pctl knows" + (f"; did you mean {guess!r}?" if guess else "")
            + " (Spack microarchitecture names: x86_64_v3, x86_64_v4, zen3, zen4, icelake, neoverse_n1, "
              "neoverse_v1, ...)")


@dataclass(frozen=True)
class TargetChoice:
    """The cluster's Spack target and why."""

    target: str
    arch: str
    source: str  # "computed" | "template" | "unknown-cpu"
    reason: str
    cpus: dict[str, str | None] = field(default_factory=dict)  # instance type -> microarchitecture
    limited_by: tuple[str, ...] = ()  # instance types whose CPU decided the target
    unknown: tuple[str, ...] = ()  # instance types whose CPU pctl does not know

    def to_dict(self) -> dict:
        return {"target": self.target, "arch": self.arch, "source": self.source, "reason": self.reason,
                "cpus": dict(self.cpus), "limited_by": list(self.limited_by), "unknown": list(self.unknown)}


class TargetError(ValueError):
    """An override some instance type cannot run (message names it)."""


def _describe(cpu: str | None) -> str:
    return CPU_NAMES.get(cpu or "", cpu or "unknown CPU")


def choose(instance_types: list[str], arch: str, override: str | None = None) -> TargetChoice:
    """The most capable target every type in ``instance_types`` runs, or the checked ``override``."""
    types = list(dict.fromkeys(instance_types))
    cpus = {t: cpu_of(t) for t in types}
    unknown = tuple(t for t, c in cpus.items() if c is None)
    known = {t: c for t, c in cpus.items() if c is not None}
    if override is not None:
        problem = target_problem(override)
        if problem:
            raise TargetError(problem)
        t_arch = arch_of_target(override)
        if t_arch != arch:
            raise TargetError(f"target {override} is for {t_arch}, but the cluster's instance types are {arch}")
        cannot = [t for t, c in known.items() if not runs_on(override, c)]
        if cannot:
            t = cannot[0]
            raise TargetError(
                f"{t} ({_describe(known[t])}) cannot run code built for {override}"
                + (f" (nor can {', '.join(cannot[1:])})" if len(cannot) > 1 else "")
                + f"; the most capable target every instance type runs is "
                f"{choose(types, arch).target}")
        reason = "set in the template (software.target); every instance type can run it"
        if unknown:
            reason += f"; pctl does not know the CPU of {', '.join(unknown)}: make sure it runs {override}"
        return TargetChoice(override, arch, "template", reason, cpus, (), unknown)
    order = PORTABLE[arch]
    if not known:
        target = order[0]
        return TargetChoice(target, arch, "unknown-cpu",
                            f"pctl does not know the CPU of {', '.join(types)}: building for the baseline "
                            f"{target} (set software.target to build for more)", cpus, (), unknown)
    best = None
    for candidate in reversed(order):
        if all(runs_on(candidate, c) for c in known.values()):
            best = candidate
            break
    if best is None:  # cannot happen with the tables above; the baseline runs everywhere
        best = order[0]
    stronger = order[order.index(best) + 1] if order.index(best) + 1 < len(order) else None
    limited = tuple(t for t, c in known.items() if stronger and not runs_on(stronger, c))
    distinct = sorted({c for c in known.values()}, key=lambda c: len(ancestors(c)))
    parts = ", ".join(f"{_describe(c)} ({', '.join(t for t, k in known.items() if k == c)})" for c in distinct)
    reason = f"the most capable target every instance type runs: {parts}"
    if limited and stronger:
        reason += f"; {', '.join(limited)} cannot run {stronger}"
    if unknown:
        reason += (f"; pctl does not know the CPU of {', '.join(unknown)} (not considered: set software.target "
                   "if it is older)")
    return TargetChoice(best, arch, "unknown-cpu" if unknown else "computed", reason, cpus, limited, unknown)


def cluster_instance_types(template) -> list[str]:
    """Head node first, then every queue's instance types (each once)."""
    types = [template.compute.head_node] + [t for q in template.compute.queues for t in q.instance_types]
    return list(dict.fromkeys(types))


def template_target(template) -> TargetChoice:
    """The target of a (validated) template: computed, or its ``software.target`` checked."""
    override = getattr(template.software, "target", None)
    return choose(cluster_instance_types(template), template.arch, override)


def builder_type(target: str) -> str | None:
    """An instance type that runs ``target`` for the AMI builder (None: keep the default)."""
    return BUILDER_TYPES.get(target)


def target_diagnostics(data: dict) -> list:
    """Cross-field rules on the raw template: an override some instance type cannot run is an error
    (at software.target); instance types whose CPU pctl does not know are a warning."""
    from pctl.template import rules
    from pctl.template.diagnostics import error, warning

    out = []
    compute = data.get("compute") if isinstance(data, dict) else None
    if not isinstance(compute, dict):
        return out
    types: list[str] = []
    head = compute.get("head_node")
    if isinstance(head, str) and rules.instance_type_problem(head) is None:
        types.append(head)
    for q in compute.get("queues") or []:
        if isinstance(q, dict) and isinstance(q.get("instance_types"), list):
            types += [t for t in q["instance_types"] if isinstance(t, str) and rules.instance_type_problem(t) is None]
    types = list(dict.fromkeys(types))
    if not types:
        return out
    archs = {rules.instance_arch(t) for t in types}
    if len(archs) != 1:
        return out  # mixed architectures: reported by the compute rules
    arch = archs.pop()
    software = data.get("software") if isinstance(data.get("software"), dict) else {}
    override = software.get("target")
    if override is not None and not (isinstance(override, str) and target_problem(override) is None):
        return out  # grammar: reported by the model
    try:
        choice = choose(types, arch, override)
    except TargetError as exc:
        return [error(str(exc), ("software", "target"), code="target",
                      hint="remove software.target to build for the most capable target every node runs")]
    if choice.unknown:
        out.append(warning(
            f"pctl does not know the CPU of {', '.join(choice.unknown)}; the software is built for {choice.target}",
            ("software", "target") if override else ("compute",), code="target",
            hint="set software.target to a target every instance type runs (x86_64_v2 is the safest on x86_64)"))
    return out
