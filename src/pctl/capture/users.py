"""On-prem accounts -> template users and groups (same UIDs/GIDs, or renumbered from --remap-ids-from)."""

from __future__ import annotations

from typing import Any

from pctl.template import rules

_STD_SHELLS = ("/bin/bash", "/usr/bin/bash", "/bin/sh", "/usr/bin/sh", "/bin/zsh", "/usr/bin/zsh", "/bin/tcsh",
               "/usr/bin/tcsh", "/bin/csh", "/usr/bin/csh", "/usr/bin/fish", "/bin/ksh", "/usr/bin/ksh")
_NOLOGIN = ("/sbin/nologin", "/usr/sbin/nologin", "/bin/false", "/usr/bin/false", "/bin/sync", "/sbin/shutdown",
            "/sbin/halt")
MAX_GROUPS = 500


def map_users(view: dict[str, Any], remap_from: int | None = None) -> dict[str, Any]:
    users_in = [u for u in (view.get("users") or []) if isinstance(u, dict)]
    groups_in = [g for g in (view.get("groups") or []) if isinstance(g, dict)]
    gid_name = {}
    for g in groups_in:
        if isinstance(g.get("gid"), int):
            gid_name.setdefault(g["gid"], g.get("name"))
    name_gid = {g.get("name"): g.get("gid") for g in groups_in if isinstance(g.get("gid"), int)}
    report_users: list[dict[str, Any]] = []
    kept: list[dict[str, Any]] = []
    taken_uids = {u["uid"] for u in users_in if isinstance(u.get("uid"), int)}
    taken_gids = set(gid_name)
    next_id = [remap_from or 0]
    uid_map: dict[int, int] = {}
    gid_map: dict[int, int] = {}

    def in_range(i: int | None) -> bool:
        return isinstance(i, int) and rules.UID_MIN <= i <= rules.UID_MAX and i != rules.OS_DEFAULT_UID

    def fresh(taken: set[int]) -> int | None:
        while next_id[0] <= rules.UID_MAX:
            cand = next_id[0]
            next_id[0] += 1
            if cand not in taken_uids and cand not in taken_gids and cand != rules.OS_DEFAULT_UID:
                taken.add(cand)
                return cand
        return None

    def map_gid(g: int) -> int | None:
        if in_range(g):
            return g
        if remap_from is None:
            return None
        if g not in gid_map:
            new = fresh(taken_gids)
            if new is None:
                return None
            gid_map[g] = new
        return gid_map[g]

    seen_names: set[str] = set()
    seen_uids: set[int] = set()
    for u in users_in:
        name, uid, gid, shell = u.get("name"), u.get("uid"), u.get("gid"), u.get("shell") or "/bin/bash"
        entry = {"name": name, "uid": uid, "gid": gid, "status": "skipped", "reason": ""}
        report_users.append(entry)
        if not isinstance(name, str) or rules.posix_name_problem(name):
            entry["reason"] = "name is not a portable POSIX user name (lowercase letters, digits, _ and -)"
            continue
        if name in rules.RESERVED_USERS or name in rules.OS_GROUPS:
            entry["reason"] = f"{name!r} is a system/service account or group name on the node images"
            continue
        if shell in _NOLOGIN:
            entry["reason"] = f"service account (shell {shell})"
            continue
        if name in seen_names:
            entry["reason"] = "listed twice"
            continue
        if not isinstance(uid, int):
            entry["reason"] = "no numeric uid"
            continue
        new_uid = uid
        if not in_range(uid):
            why = ("uid 1000 belongs to the image's default login user (ec2-user/ubuntu/rocky)"
                   if uid == rules.OS_DEFAULT_UID else f"uid {uid} is outside {rules.UID_MIN}-{rules.UID_MAX}")
            if remap_from is None:
                entry["reason"] = why + "; skipped (use --remap-ids-from N to renumber)"
                continue
            if uid not in uid_map:
                nu = fresh(taken_uids)
                if nu is None:
                    entry["reason"] = why + "; no free id left to remap to"
                    continue
                uid_map[uid] = nu
            new_uid = uid_map[uid]
            entry["remapped_uid"] = new_uid
        if new_uid in seen_uids:
            entry["reason"] = f"uid {new_uid} is already used by another kept user"
            continue
        new_gid = None
        if isinstance(gid, int):
            new_gid = map_gid(gid)
            if new_gid is None:
                entry["reason"] = (f"primary gid {gid} is outside {rules.UID_MIN}-{rules.UID_MAX} or the default "
                                   "user's group; skipped (use --remap-ids-from N to renumber)")
                continue
            if new_gid != gid:
                entry["remapped_gid"] = new_gid
        sups, dropped = [], []
        for gname in u.get("groups") or []:
            if gname in rules.OS_GROUPS:
                sups.append(gname)
                continue
            g = name_gid.get(gname)
            if not isinstance(g, int) or rules.posix_name_problem(gname, "group name") or gname in rules.RESERVED_USERS:
                dropped.append(gname)
                continue
            ng = map_gid(g)
            if ng is None:
                dropped.append(gname)
                continue
            sups.append(gname)
        keep = {"name": name, "uid": new_uid, "gid": new_gid, "groups": sups,
                "shell": shell if shell in _STD_SHELLS else "/bin/bash", "onprem_uid": uid, "onprem_gid": gid}
        if dropped:
            entry["dropped_groups"] = dropped
        if shell not in _STD_SHELLS:
            entry["note"] = f"shell {shell} replaced by /bin/bash"
        entry["status"] = "kept" if new_uid == uid and new_gid == gid else "remapped"
        entry["reason"] = "same uid/gid" if entry["status"] == "kept" else "ids renumbered (chown migrated files)"
        kept.append(keep)
        seen_names.add(name)
        seen_uids.add(new_uid)
        if len(kept) >= 2000:
            report_users.append({"name": "...", "status": "skipped", "reason": "stopped at 2000 users (template limit)"})
            break
    # groups: primary and supplementary groups of kept users
    wanted: dict[str, int] = {}
    for k in kept:
        og = k["onprem_gid"]
        pname = gid_name.get(og) if isinstance(og, int) else None
        if pname and k["gid"] is not None:
            wanted.setdefault(pname, k["gid"])
        for gname in k["groups"]:
            if gname in rules.OS_GROUPS:
                continue
            g = name_gid.get(gname)
            if isinstance(g, int):
                ng = map_gid(g)
                if ng is not None:
                    wanted.setdefault(gname, ng)
    groups_out: list[dict[str, Any]] = []
    report_groups: list[dict[str, Any]] = []
    used_gids: dict[int, str] = {}
    for gname, gid in wanted.items():
        e = {"name": gname, "gid": gid, "onprem_gid": name_gid.get(gname)}
        if len(groups_out) >= MAX_GROUPS:
            e.update(status="skipped", reason=f"the template holds at most {MAX_GROUPS} groups")
        elif rules.posix_name_problem(gname, "group name") or gname in rules.RESERVED_USERS or gname in rules.OS_GROUPS:
            e.update(status="skipped", reason="not a usable group name on the node images")
        elif gid in used_gids:
            e.update(status="skipped", reason=f"gid {gid} is also group {used_gids[gid]!r}")
        else:
            e.update(status="kept" if gid == name_gid.get(gname) else "remapped", reason="")
            used_gids[gid] = gname
            groups_out.append({"name": gname, "gid": gid})
        report_groups.append(e)
    ok_groups = {g["name"] for g in groups_out}
    for k in kept:
        k["groups"] = [g for g in k["groups"] if g in ok_groups or g in rules.OS_GROUPS]
        og = k["onprem_gid"]
        pname = gid_name.get(og) if isinstance(og, int) else None
        k["primary_group"] = pname if pname in ok_groups else None
    return {"users": kept, "groups": groups_out, "report_users": report_users, "report_groups": report_groups,
            "uid_map": uid_map, "gid_map": gid_map}
