"""The package checks of `pctl check`, as the AMI builder runs them before the image is made.

The builder has no Slurm, users or mounts of a cluster: what an image carries is its software, so the
builder proves that each package's module loads and its trivial command runs (``lmod`` and ``module:*``
rows of the head-node probe), with the module wiring the image gets at boot. The agent
(``pctl/ami/agent.py``, standard library only) runs the script and reads its result lines.
"""

from __future__ import annotations


def builder_check(template, options) -> tuple[str, str]:
    """(script, marker) for a template's software installed with ScriptOptions ``options``."""
    from pctl.check import new_plan
    from pctl.check.plan import CheckOptions
    from pctl.check.probes import render_ami
    from pctl.render.scripts import _profiles

    plan = new_plan(template, CheckOptions())
    return render_ami(plan, _profiles(options)["sh"], options.modules_core), plan.marker
