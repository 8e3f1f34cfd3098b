"""`pctl check`: prove, on the cluster itself, that what the template promises works.

template ──build_plan──> Plan (checks × head/queues) ──probes──> shell (Jinja2, quoted)
                                                          │
   Connection (one multiplexed OpenSSH connection) ──run──┘──> Stream per session ──> Report (table, JSON)

Modules: ``plan`` (what to check, pure), ``probes`` (the shell), ``connection`` (ssh), ``protocol`` (reading
untrusted output), ``run`` (orchestration and clean-up), ``report`` (results and the JSON schema),
``target`` (where a cluster's head node is).
"""

from __future__ import annotations

import secrets


def new_plan(template, options):
    """A plan with a fresh run id (job and probe file names) and a fresh secret output marker."""
    from pctl.check.plan import build_plan

    return build_plan(template, options, nonce=secrets.token_hex(6), marker=f"@@PCTL-CHECK-{secrets.token_hex(12)}@@")


def load_template(ref: str):
    """(display name, validated Template). Spack specs are checked for syntax only: the cluster is what
    it is, the check reports what works on it."""
    from pctl.registry.templates import load_valid

    tref, result = load_valid(ref, use_catalog=False)
    return tref.display, result.template
