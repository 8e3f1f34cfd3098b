"""What a template asks you to trust: who gets root (sudo users and their SSH keys) and where binaries
come from (every Spack build cache, in the order the node tries them, and whether it is signed).

Shown by ``create --dry-run``, ``template show``, ``registry show`` and flagged by ``registry get``:
a template from someone else's registry can otherwise plant a sudo user with a foreign key or an
unsigned build cache without anyone reading the YAML.
"""

from __future__ import annotations

MAX_KEYS_SHOWN = 50  # per user


def _data(template) -> dict:
    if isinstance(template, dict):
        return template
    return template.model_dump(mode="python")


def _arch(data: dict) -> str:
    from pctl.template import rules

    compute = data.get("compute") if isinstance(data.get("compute"), dict) else {}
    head = compute.get("head_node")
    try:
        return rules.instance_arch(head) if isinstance(head, str) else "x86_64"
    except Exception:  # an invalid instance type: the plan of a broken template still shows its mirrors
        return "x86_64"


def _keys(user: dict) -> list[dict]:
    from pctl.template.sshkeys import fingerprint

    out = []
    keys = user.get("ssh_public_keys") if isinstance(user.get("ssh_public_keys"), list) else []
    for k in keys[:MAX_KEYS_SHOWN]:
        fp = fingerprint(k) if isinstance(k, str) else None
        out.append({**fp.to_dict(), "line": fp.line()} if fp else {"fingerprint": None, "line": "not a valid SSH key"})
    return out


def summary(template, *, packages_release: str | None = None) -> dict:
    """Sudo users with their keys' fingerprints, every mirror in the node's order, and one-line flags.

    ``template`` is a validated Template or the raw template data (a dict: for templates that do not
    validate, e.g. in ``registry show``)."""
    from pctl.spack import PINNED_PACKAGES_RELEASE
    from pctl.spack.mirrors import node_mirrors

    data = _data(template)
    users = [u for u in data.get("users") or [] if isinstance(u, dict)] if isinstance(data.get("users"), list) else []
    sudo = [{"name": str(u.get("name", "?")), "uid": u.get("uid"), "keys": _keys(u)}
            for u in users if u.get("sudo") is True]
    software = data.get("software") if isinstance(data.get("software"), dict) else {}
    entries = software.get("mirrors") if isinstance(software.get("mirrors"), list) else []
    mirrors = [m.to_dict() for m in node_mirrors([e for e in entries if isinstance(e, (str, dict))], _arch(data),
                                                 packages_release or PINNED_PACKAGES_RELEASE)]
    extra = [m for m in mirrors if not m["official"]]
    flags = []
    for u in sudo:
        keys = ", ".join(k["fingerprint"] or "invalid key" for k in u["keys"]) or "no SSH key"
        flags.append(f"sudo (root) for {u['name']}: {keys}")
    for m in extra:
        flags.append(f"{'UNSIGNED' if not m['signed'] else 'signed'} Spack mirror {m['url']}"
                     + (" (binaries installed without a signature check)" if not m["signed"] else
                        " (its signing keys are trusted)"))
    n_keys = sum(len(u.get("ssh_public_keys") or []) for u in users if isinstance(u.get("ssh_public_keys"), list))
    return {
        "sudo_users": sudo,
        "users": len(users),
        "ssh_keys": n_keys,
        "mirrors": mirrors,
        "extra_mirrors": len(extra),
        "unsigned_mirrors": [m["url"] for m in extra if not m["signed"]],
        "flags": flags,
    }
