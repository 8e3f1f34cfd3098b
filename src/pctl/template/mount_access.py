"""Who may use an S3 mount: the group that owns it, resolved to a numeric gid at render time.

Mountpoint for Amazon S3 presents every file and directory with one owner, one group and one mode
(``--uid``, ``--gid``, ``--dir-mode``, ``--file-mode``; numeric ids only), and with ``--allow-other``
the kernel checks those bits for every local account. So a mount's access is a group:

* ``data.s3_mounts[].group`` names it: a group of the template's ``groups:`` (its gid), or a template
  user's name (that user's primary group, as users.sh makes it on the node), or ``users``.
* A read-write mount without ``group`` belongs to :data:`DEFAULT_GROUP` ``users`` (gid 100 on Amazon
  Linux 2023, Ubuntu, RHEL and Rocky alike); the node script makes every template user a member.
* A read-only mount without ``group`` stays readable by every local account (Mountpoint's 0755/0644):
  nobody can change it through the mount, and IAM already limits it to its bucket and prefix.

Read-write mounts with a group are 0770/0660 (members create, overwrite and delete; others see
nothing); read-only ones 0550/0440. The owner is root. The node script also adds the cluster's default
OS user (ec2-user, ubuntu or rocky: ParallelCluster's administrator account, which ``pctl check`` logs
in as and which has sudo) to every group that owns a mount.

Pure: the same template always gives the same ids, so every node mounts with the same gid.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The default owner group of a read-write mount: the OS group ``users``, gid 100 on every image
#: ParallelCluster supports (base-passwd / setup packages), which no service account belongs to.
DEFAULT_GROUP = "users"
DEFAULT_GID = 100
READ_WRITE_MODES = ("0770", "0660")
READ_ONLY_MODES = ("0550", "0440")


@dataclass(frozen=True)
class MountAccess:
    """How one mount is owned. ``gid`` None: Mountpoint's defaults (root, 0755/0644)."""

    group: str | None = None  # the group's name on the nodes
    gid: int | None = None
    dir_mode: str | None = None
    file_mode: str | None = None
    default: bool = False  # the default group: every template user is made a member
    via_user: str | None = None  # ``group`` named this user: their primary group

    @property
    def mount_s3_args(self) -> list[str]:
        if self.gid is None:
            return []
        return ["--gid", str(self.gid), "--dir-mode", self.dir_mode or "", "--file-mode", self.file_mode or ""]

    def describe(self, read_only: bool, admin: str | None = None) -> str:
        """Who may use the mount, in a few words for the plan (``admin``: the default OS user)."""
        if self.gid is None:
            return "readable by every account"
        verb = "readable" if read_only else "writable"
        also = f", {admin}" if admin else ""
        if self.default:
            who = "every template user"
        elif self.via_user and self.via_user != self.group:
            who = f"members ({self.via_user}'s primary group)"
        else:
            who = "members"
        return f"{verb} by group {self.group} (gid {self.gid}, {self.dir_mode}/{self.file_mode}): {who}{also} and root"


def node_groups(template) -> list[tuple[str, int]]:
    """The groups users.sh makes on every node, in order: the template's, then one private group per
    user whose primary gid no group declares (named after the first such user)."""
    out: list[tuple[str, int]] = []
    seen: set[int] = set()
    for g in template.groups:
        out.append((g.name, g.gid))
        seen.add(g.gid)
    for u in template.users:
        if u.primary_gid not in seen:
            out.append((u.name, u.primary_gid))
            seen.add(u.primary_gid)
    return out


def group_choices(template) -> dict[str, tuple[str, int, str | None]]:
    """Every name ``group`` may take -> (the group's name on the nodes, gid, via user)."""
    by_gid = {gid: name for name, gid in node_groups(template)}
    out: dict[str, tuple[str, int, str | None]] = {}
    for u in template.users:
        out[u.name] = (by_gid.get(u.primary_gid, u.name), u.primary_gid, u.name)
    for g in template.groups:
        out[g.name] = (g.name, g.gid, None)
    out[DEFAULT_GROUP] = (DEFAULT_GROUP, DEFAULT_GID, None)  # validation keeps users out of groups: and users:
    return out


def mount_access(template, mount) -> MountAccess:
    """The owner group and modes of one ``data.s3_mounts`` entry (ValueError for an unknown group:
    validation reports it first, with a suggestion)."""
    read_only = mount.read_only is not False
    name = getattr(mount, "group", None)
    if name is None and read_only:
        return MountAccess()
    dir_mode, file_mode = READ_ONLY_MODES if read_only else READ_WRITE_MODES
    if name is None:
        return MountAccess(DEFAULT_GROUP, DEFAULT_GID, dir_mode, file_mode, default=True)
    choices = group_choices(template)
    if name not in choices:
        raise ValueError(f"S3 mount {mount.mount_point}: unknown group {name!r}")
    group, gid, via = choices[name]
    return MountAccess(group, gid, dir_mode, file_mode, default=group == DEFAULT_GROUP, via_user=via)


def mount_access_summary(template, mount) -> dict:
    """The plan's and status's view of one mount's owner: group, gid, modes and who may use it."""
    from pctl.template.rules import DEFAULT_USER

    access = mount_access(template, mount)
    return {"group": access.group, "gid": access.gid,
            "mode": f"{access.dir_mode}/{access.file_mode}" if access.gid is not None else None,
            "access": access.describe(mount.read_only is not False, DEFAULT_USER.get(template.cluster.os))}


def default_group_used(template) -> bool:
    return any(mount_access(template, m).default for m in template.data.s3_mounts)


__all__ = ["DEFAULT_GID", "DEFAULT_GROUP", "MountAccess", "default_group_used", "group_choices", "mount_access",
           "mount_access_summary", "node_groups"]
