"""Follow regions: find where a build or a cluster lives without --region.

pctl keeps everything of a region in that region's bucket ``pctl-<account>-<region>`` (build records under
``builds/``, cluster records under ``clusters/<name>/cluster.json``), so the account's list of pctl buckets
(one ListBuckets call) is the index of the regions pctl has used. On top of it:

* a build id names its region (``b-20260101-120000-us-west-2-3fa9``): no search at all;
* a short or old build id is looked up in every pctl region (the shell's default region first);
* a cluster name is looked up as ``clusters/<name>/cluster.json`` in every pctl region; a name found in two
  regions is ambiguous (pass --region); a name found nowhere stays in the default region (clusters not made
  by pctl, or already gone).

An explicit --region always wins. When the caller may not list buckets (no s3:ListAllMyBuckets), only the
default region is searched and :func:`note` says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pctl.errors import PctlError, UsageError

FALLBACK_REGION = "us-east-1"  # only for account-wide calls (STS, ListBuckets) when no region is set at all


@dataclass
class Located:
    aws: object  # pctl.aws.Aws in the region found
    region: str
    searched: list[str] = field(default_factory=list)
    note: str | None = None


def partition(region: str) -> str:
    """The ARN partition of a region (arn:PARTITION:...)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    if region.startswith("us-isob-"):
        return "aws-iso-b"
    if region.startswith("us-iso-"):
        return "aws-iso"
    return "aws"


def session(profile: str | None, region: str | None):
    """Aws for a command: --region, else the default region; with neither, a session for account-wide lookups."""
    from pctl.aws import Aws
    from pctl.aws.errors import AwsError

    if region:
        _check_region(region)
        return Aws(profile=profile, region=region)
    try:
        return Aws(profile=profile)
    except AwsError as exc:
        if "no AWS region" not in exc.message:
            raise
        aws = Aws(profile=profile, region=FALLBACK_REGION)
        aws.no_default_region = True
        return aws


def _check_region(region: str) -> None:
    from pctl.template.rules import region_problem

    problem = region_problem(region)
    if problem:
        raise UsageError(f"--region: {problem}")


def pctl_regions(aws) -> list[str] | None:
    """Regions with a pctl bucket in this account (cached on the session); None when buckets cannot be listed."""
    if not hasattr(aws, "_pctl_regions"):
        from pctl.aws.s3 import pctl_bucket_regions

        aws._pctl_regions = pctl_bucket_regions(aws)
    return aws._pctl_regions


def search_order(aws) -> tuple[list[str], str | None]:
    """(regions to look in, default first; a note when the list could not be read)."""
    found = pctl_regions(aws)
    default = None if getattr(aws, "no_default_region", False) else aws.region
    if found is None:
        return ([default or aws.region], "could not list the account's pctl buckets (s3:ListAllMyBuckets): looked "
                                         f"only in {default or aws.region}; pass --region to look elsewhere")
    order = ([default] if default else []) + [r for r in found if r != default]
    return order, None


def all_regions(aws) -> tuple[list[str], str | None]:
    """Every region pctl has used in this account, plus the default region (sorted, default first)."""
    return search_order(aws)


# ------------------------------------------------------------------------------------------ AMIs

def ami_location(aws, ref: str, *, explicit_region: bool) -> tuple[Located, dict]:
    """(where the pctl AMI is, its image) for an AMI id or pctl AMI name: the default region first, then every
    other pctl region (an AMI is built where its build record is). An explicit --region is the only place."""
    from pctl.ami.manage import AmiNotFound, resolve_pctl_ami

    try:
        return Located(aws, aws.region, [aws.region]), resolve_pctl_ami(aws, ref)
    except AmiNotFound as exc:
        if explicit_region:
            raise
        first = exc
    regions, note = search_order(aws)
    regions = [aws.region] + [r for r in regions if r != aws.region]
    hits = []
    for r in regions[1:]:
        there = aws.in_region(r)
        try:
            hits.append((Located(there, r, regions, note), resolve_pctl_ami(there, ref)))
        except AmiNotFound:
            continue
    if len(hits) == 1:
        loc, img = hits[0]
        loc.note = f"{ref} is in {loc.region}, not in {aws.region}: using it there"
        return loc, img
    if hits:
        raise UsageError(f"{ref!r} names pctl AMIs in {len(hits)} regions: "
                         + ", ".join(f"{img['ImageId']} in {loc.region}" for loc, img in hits),
                         hint="pass --region")
    raise AmiNotFound(first.message.replace(f" in {aws.region}", f" in {', '.join(regions)}"),
                      hint=note or first.hint)


# ------------------------------------------------------------------------------------------ builds

def build_location(aws, ref: str | None, *, explicit_region: bool) -> tuple[Located, str]:
    """(where the build is, its full id). ``ref`` may be a full id (which names its region), a short id, or an
    older id without a region."""
    from pctl.ami.ids import matches, region_of, resolve_build_id
    from pctl.ami.store import BuildStore

    named = region_of(ref or "")
    if named:
        note = None
        if explicit_region and named != aws.region:
            note = f"{ref} is a build in {named} (its id says so), not in {aws.region}: looking in {named}"
        return Located(aws.in_region(named), named, [named], note), ref.strip()
    if explicit_region:
        regions, note = [aws.region], None
    else:
        regions, note = search_order(aws)
    hits: list[tuple[str, str]] = []
    for r in regions:
        ids = BuildStore(aws.in_region(r)).ids()
        hits += [(r, i) for i in matches(ref or "", ids)]
    if len(hits) == 1:
        r, bid = hits[0]
        return Located(aws.in_region(r), r, regions, note), bid
    where = ", ".join(regions)
    if not hits:
        resolve_build_id(ref or "", [], where=where)  # raises the usual "no AMI build matches" error
    if len({r for r, _ in hits}) == 1:  # ambiguous within one region: the usual message
        resolve_build_id(ref or "", [i for _, i in hits])
    shown = ", ".join(f"{i} ({r})" for r, i in hits[:8])
    raise UsageError(f"{ref!r} matches {len(hits)} builds in several regions: {shown}",
                     hint="give more of the build id (full ids name their region)")


# ------------------------------------------------------------------------------------------ clusters

def cluster_record_key(name: str) -> str:
    return f"clusters/{name}/cluster.json"


def cluster_location(aws, name: str, *, explicit_region: bool) -> Located:
    """Where cluster ``name`` is: the pctl region whose bucket holds its record, else the default region."""
    from pctl.aws.s3 import object_exists

    if explicit_region:
        return Located(aws, aws.region, [aws.region])
    regions, note = search_order(aws)
    hits = [r for r in regions
            if object_exists(aws.in_region(r), f"pctl-{aws.account_id}-{r}", cluster_record_key(name))]
    if len(hits) > 1:
        raise UsageError(f"there is a cluster named {name!r} in {len(hits)} regions: {', '.join(hits)}",
                         hint=f"pass --region, e.g. --region {hits[0]}")
    if hits:
        return Located(aws.in_region(hits[0]), hits[0], regions, note)
    if getattr(aws, "no_default_region", False):
        raise PctlError(f"no cluster named {name!r} in any region pctl has used ({', '.join(regions) or 'none'})",
                        hint="pass --region, or set AWS_REGION")
    return Located(aws, aws.region, regions, note)


def clusters_elsewhere(aws, regions: list[str]) -> dict[str, list[str]]:
    """{region: [cluster names with a pctl record]} for the given regions (for "nothing here, but ...")."""
    from pctl.aws.s3 import list_folders

    out = {}
    for r in regions:
        names = list_folders(aws.in_region(r), f"pctl-{aws.account_id}-{r}", "clusters/")
        if names:
            out[r] = names
    return out


def builds_elsewhere(aws, regions: list[str]) -> dict[str, int]:
    """{region: number of builds} for the given regions."""
    from pctl.ami.store import BuildStore

    out = {}
    for r in regions:
        n = len(BuildStore(aws.in_region(r)).ids())
        if n:
            out[r] = n
    return out
