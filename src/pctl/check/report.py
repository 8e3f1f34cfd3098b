"""The outcome of a check run: one result per (check, column), and its stable JSON form.

The JSON (``pctl check --json``) is versioned by ``schema`` ("pctl-check/1"); :func:`json_schema` is its
JSON Schema (``pctl schema check``). Within a version, fields are only ever added.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pctl.check.plan import HEAD, Plan

SCHEMA_ID = "pctl-check/1"


@dataclass
class Cell:
    status: str  # pass | fail | skip
    evidence: list[str] = field(default_factory=list)
    seconds: float | None = None


@dataclass
class Column:
    id: str
    kind: str  # head | queue
    queue: str | None = None
    host: str | None = None  # the head node's host name, or the node the queue's job ran on
    job_id: str | None = None
    start_seconds: float | None = None  # submission -> job start
    scaled_up: bool | None = None  # no node of the queue was running: the job started one


@dataclass
class Report:
    plan: Plan
    cells: dict[tuple[str, str], Cell]
    columns: list[Column]
    target: str
    cluster: str | None
    template: str
    started_at: str
    duration_s: float
    cancelled_jobs: list[str] = field(default_factory=list)
    removed_files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    interrupted: bool = False
    strict: bool = False

    def counts(self) -> dict[str, int]:
        out = {"pass": 0, "fail": 0, "skip": 0}
        for c in self.cells.values():
            out[c.status] += 1
        return out

    @property
    def ok(self) -> bool:
        n = self.counts()
        return not self.interrupted and n["fail"] == 0 and (not self.strict or n["skip"] == 0)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def failures(self) -> list[tuple[str, str, Cell]]:
        return [(cid, col, c) for (cid, col), c in self.cells.items() if c.status == "fail"]

    def to_json(self) -> dict[str, Any]:
        results = []
        for check in self.plan.checks:
            for col in check.columns:
                cell = self.cells.get((check.id, col))
                if cell is None:
                    continue
                results.append({
                    "check": check.id, "kind": check.kind, "column": col,
                    "queue": None if col == HEAD else col.split(":", 1)[1],
                    "status": cell.status, "evidence": list(cell.evidence), "seconds": cell.seconds,
                })
        return {
            "schema": SCHEMA_ID,
            "ok": self.ok,
            "strict": self.strict,
            "interrupted": self.interrupted,
            "cluster": self.cluster,
            "target": self.target,
            "template": self.template,
            "run_id": self.plan.nonce,
            "started_at": self.started_at,
            "duration_s": round(self.duration_s, 3),
            "counts": self.counts(),
            "columns": [{"id": c.id, "kind": c.kind, "queue": c.queue, "host": c.host, "job_id": c.job_id,
                         "start_seconds": c.start_seconds, "scaled_up": c.scaled_up} for c in self.columns],
            "checks": [{"id": c.id, "kind": c.kind, "title": c.title, "columns": list(c.columns)}
                       for c in self.plan.checks],
            "results": results,
            "cleanup": {"jobs_cancelled": list(self.cancelled_jobs), "files_removed": list(self.removed_files),
                        "notes": list(self.notes)},
        }


def json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of ``pctl check --json``."""
    nullable_str = {"type": ["string", "null"]}
    nullable_num = {"type": ["number", "null"]}
    status = {"enum": ["pass", "fail", "skip"]}
    kinds = {"enum": ["scheduler", "job", "lmod", "module", "user", "group", "s3", "storage", "gpu", "mpi", "ssh"]}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://pctl.dev/schema/check-report-1.json",
        "title": "pctl check report",
        "description": "Output of `pctl check --json`. One result per check and column (the head node, or a "
                       "queue: inside a Slurm job on it). Exit status 0 exactly when ok is true.",
        "type": "object",
        "required": ["schema", "ok", "strict", "interrupted", "cluster", "target", "template", "run_id",
                     "started_at", "duration_s", "counts", "columns", "checks", "results", "cleanup"],
        "properties": {
            "schema": {"const": SCHEMA_ID},
            "ok": {"type": "boolean", "description": "no check failed (with strict: none skipped either) and "
                                                     "the run was not interrupted"},
            "strict": {"type": "boolean"},
            "interrupted": {"type": "boolean"},
            "cluster": nullable_str,
            "target": {"type": "string", "description": "user@host:port of the head node"},
            "template": {"type": "string"},
            "run_id": {"type": "string", "description": "names the run's Slurm jobs (pctl-check-RUN_ID-QUEUE) "
                                                        "and probe files (.pctl-check-RUN_ID-*)"},
            "started_at": {"type": "string", "format": "date-time"},
            "duration_s": {"type": "number"},
            "counts": {"type": "object", "required": ["pass", "fail", "skip"],
                       "properties": {k: {"type": "integer", "minimum": 0} for k in ("pass", "fail", "skip")}},
            "columns": {"type": "array", "items": {
                "type": "object", "required": ["id", "kind", "queue", "host", "job_id", "start_seconds", "scaled_up"],
                "properties": {
                    "id": {"type": "string", "description": "'head' or 'queue:NAME'"},
                    "kind": {"enum": ["head", "queue"]}, "queue": nullable_str,
                    "host": nullable_str, "job_id": nullable_str, "start_seconds": nullable_num,
                    "scaled_up": {"type": ["boolean", "null"]},
                }}},
            "checks": {"type": "array", "items": {
                "type": "object", "required": ["id", "kind", "title", "columns"],
                "properties": {"id": {"type": "string"}, "kind": kinds, "title": {"type": "string"},
                               "columns": {"type": "array", "items": {"type": "string"}}}}},
            "results": {"type": "array", "items": {
                "type": "object", "required": ["check", "kind", "column", "queue", "status", "evidence", "seconds"],
                "properties": {
                    "check": {"type": "string"}, "kind": kinds, "column": {"type": "string"},
                    "queue": nullable_str, "status": status,
                    "evidence": {"type": "array", "items": {"type": "string"},
                                 "description": "what the probe saw (failures) or why it was skipped; "
                                                "cleaned of control characters, at most 13 lines"},
                    "seconds": nullable_num,
                }}},
            "cleanup": {"type": "object", "required": ["jobs_cancelled", "files_removed", "notes"],
                        "properties": {"jobs_cancelled": {"type": "array", "items": {"type": "string"}},
                                       "files_removed": {"type": "array", "items": {"type": "string"}},
                                       "notes": {"type": "array", "items": {"type": "string"}}}},
        },
        "additionalProperties": False,
    }
