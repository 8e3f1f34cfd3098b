"""Run a check plan over one connection and turn what the probes said into a Report.

The head probe and one submit script per queue run at the same time (sessions of one multiplexed ssh
connection); queues scale up in parallel. Whatever happens (a failure, a time limit, Ctrl-C), the clean-up
script runs at the end: it cancels the run's jobs by their unique names and removes its probe files.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from pctl.check import probes
from pctl.check.connection import Connection, stderr_text
from pctl.check.plan import HEAD, Plan, static_skips
from pctl.check.protocol import MAX_LINE, MAX_STREAM, Stream, clean, clean_one
from pctl.check.report import Cell, Column, Report

Progress = Callable[[str], None]
CLEANUP_TIMEOUT = 180
HEAD_TIMEOUT = 1800


@dataclass
class Session:
    column: str
    script: str
    stream: Stream = field(default_factory=Stream)
    proc: object = None
    returncode: int | None = None
    stderr: str = ""
    thread: threading.Thread | None = None
    timed_out: bool = False


def _float(v: str | None) -> float | None:
    try:
        return float(v) if v not in (None, "") else None
    except ValueError:
        return None


class Runner:
    def __init__(self, plan: Plan, conn: Connection, *, progress: Progress | None = None):
        self.plan = plan
        self.conn = conn
        self.progress = progress or (lambda msg: None)
        self.sessions: dict[str, Session] = {}
        self.cleanup_stream: Stream | None = None
        self.cleanup_error: str | None = None
        self.interrupted = False

    # ------------------------------------------------------------------ sessions
    def _pump(self, s: Session) -> None:
        marker = self.plan.marker.encode("ascii")
        proc = s.proc
        total = 0
        try:
            while True:
                raw = proc.stdout.readline(MAX_LINE)
                if not raw:
                    break
                total += len(raw)
                if total > MAX_STREAM:
                    continue  # keep draining; stop parsing a runaway stream
                seen = s.stream.feed_line(raw, marker)
                if seen and seen[0] == "fact":
                    self._announce(s, seen[1])
            s.returncode = proc.wait()
        except (OSError, ValueError):
            s.returncode = proc.poll()
        s.stderr = stderr_text(proc)

    def _announce(self, s: Session, key: str) -> None:
        if s.column == HEAD:
            return
        q = s.column.split(":", 1)[1]
        f = s.stream.facts
        if key == "submitted":
            self.progress(f"queue {q}: job submitted" + (", waiting for a node to start" if f.get("scale") == "1"
                                                         else ""))
        elif key == "start":
            t = _delta(f.get("submitted"), f.get("start"))
            self.progress(f"queue {q}: job running on {clean_one(f.get('node', '?'), 80)}"
                          + (f" after {t:.0f} s" if t is not None else ""))
        elif key == "mpi_submitted":
            self.progress(f"queue {q}: 2-node MPI hello submitted")

    def _start(self, column: str, script: str) -> None:
        s = Session(column=column, script=script)
        s.proc = self.conn.start(script)
        s.thread = threading.Thread(target=self._pump, args=(s,), name=f"pctl-check-{column}", daemon=True)
        self.sessions[column] = s
        s.thread.start()

    def _deadline(self) -> float:
        o = self.plan.options
        per_job = o.wait_seconds + o.job_minutes * 60 + 120
        mpi = any(q.mpi for q in self.plan.queues)
        return time.monotonic() + max(HEAD_TIMEOUT, per_job * (2 if mpi else 1))

    # ------------------------------------------------------------------ run
    def run(self, *, cluster: str | None, template: str) -> Report:
        started = dt.datetime.now(dt.timezone.utc)
        t0 = time.monotonic()
        try:
            if self.plan.options.head:
                self._start(HEAD, probes.render_head(self.plan))
                self.progress("head node: checking")
            for q in self.plan.queues:
                self._start(q.column, probes.render_submit(self.plan, q))
            deadline = self._deadline()
            for s in list(self.sessions.values()):
                while s.thread.is_alive():
                    s.thread.join(timeout=0.2)
                    if time.monotonic() > deadline and s.thread.is_alive():
                        s.timed_out = True
                        self.conn.stop(s.proc)
                if s.column == HEAD:
                    self.progress(f"head node: {len(s.stream.results)} check(s) done")
        except KeyboardInterrupt:
            self.interrupted = True
            self.progress("interrupted: cancelling the check's jobs and removing its probe files")
            self.conn.stop_all()
        except BaseException:  # a broken connection, a bug: clean up, then let it propagate
            self.conn.stop_all()
            self._cleanup()
            raise
        self._cleanup()
        return self.report(cluster=cluster, template=template, started=started, duration=time.monotonic() - t0)

    def _cleanup(self) -> None:
        try:
            self._cleanup_once()
        except KeyboardInterrupt:
            self.cleanup_error = "the clean-up was interrupted"

    def _cleanup_once(self) -> None:
        if not self.conn.alive():
            self.cleanup_error = "the connection was lost before the clean-up could run"
            return
        try:
            rc, out, err = self.conn.run(probes.render_cleanup(self.plan), timeout=CLEANUP_TIMEOUT)
        except Exception as exc:  # report, never mask the real outcome
            self.cleanup_error = f"clean-up failed: {exc}"
            return
        from pctl.check.protocol import parse

        self.cleanup_stream = parse(out, self.plan.marker)
        if not self.cleanup_stream.done:
            self.cleanup_error = f"clean-up did not finish (ssh exit status {rc}): {' / '.join(clean(err, max_lines=3))}"

    # ------------------------------------------------------------------ report
    def report(self, *, cluster: str | None, template: str, started: dt.datetime, duration: float) -> Report:
        plan = self.plan
        cells: dict[tuple[str, str], Cell] = {}
        skips = static_skips(plan)
        columns: list[Column] = []
        head = self.sessions.get(HEAD)
        if plan.options.head:
            host = clean_one(head.stream.facts.get("host", ""), 200) if head is not None else ""
            columns.append(Column(id=HEAD, kind="head", host=host or None))
        for check in plan.checks:
            for col in check.columns:
                if (check.id, col) in skips:
                    cells[(check.id, col)] = Cell("skip", [skips[(check.id, col)]])
        if head is not None:
            self._fill_head(head, cells)
        elif plan.options.head:
            for check in plan.checks_for(HEAD):
                cells.setdefault((check.id, HEAD), Cell("fail", ["the head-node probe did not run"]))
        for q in plan.queues:
            s = self.sessions.get(q.column)
            columns.append(self._fill_queue(q, s, head, cells))
        rep = Report(plan=plan, cells=cells, columns=columns, target=self.conn.target.display, cluster=cluster,
                     template=template, started_at=started.strftime("%Y-%m-%dT%H:%M:%SZ"), duration_s=duration,
                     interrupted=self.interrupted)
        if self.cleanup_stream is not None:
            rep.cancelled_jobs = self.cleanup_stream.facts.get("cancelled", "").split()
            rep.removed_files = [clean_one(f, 300) for f in self.cleanup_stream.facts.get("removed", "").split()]
        if self.cleanup_error:
            rep.notes.append(self.cleanup_error + f"; cancel leftovers with: scancel --name=pctl-check-{plan.nonce}-QUEUE")
        if any(c.scaled_up for c in columns):
            rep.notes.append("nodes started for the check stop by themselves once idle (ParallelCluster's "
                             "ScaledownIdletime, 10 minutes by default)")
        return rep

    def _missing(self, s: Session, what: str) -> Cell:
        if self.interrupted and not s.stream.done:
            return Cell("fail", [f"interrupted before the {what} reported this check"])
        if s.timed_out:
            return Cell("fail", [f"pctl stopped waiting for the {what} (overall time limit)"])
        if not s.stream.done:
            ev = [f"the {what} ended early (ssh exit status {s.returncode})"]
            ev += clean(s.stderr, max_lines=4) or clean("\n".join(s.stream.other), max_lines=4)
            return Cell("fail", ev)
        return Cell("fail", [f"the {what} reported nothing for this check"])

    def _fill_head(self, s: Session, cells: dict) -> None:
        for check in self.plan.checks_for(HEAD):
            if (check.id, HEAD) in cells:
                continue
            res = s.stream.results.get(check.id)
            if check.id in s.stream.conflicts:
                cells[(check.id, HEAD)] = Cell("fail", ["the probe reported this check twice, differently"])
            elif res is None:
                cells[(check.id, HEAD)] = self._missing(s, "head-node probe")
            else:
                cells[(check.id, HEAD)] = Cell(res.status, res.evidence)

    def _fill_queue(self, q, s: Session | None, head: Session | None, cells: dict) -> Column:
        col = Column(id=q.column, kind="queue", queue=q.name)
        checks = self.plan.checks_for(q.column)
        if s is None:
            for c in checks:
                cells.setdefault((c.id, q.column), Cell("fail", ["not run"]))
            return col
        f = s.stream.facts
        col.host = clean_one(f.get("node", ""), 200) or None
        col.job_id = clean_one(f.get("job", ""), 40) or None
        col.start_seconds = _delta(f.get("submitted"), f.get("start"))
        if col.start_seconds is not None:
            col.start_seconds = round(col.start_seconds, 1)
        col.scaled_up = (f.get("scale") == "1") if "scale" in f else None
        # the job itself
        job = s.stream.results.get("job")
        if job is not None:
            job_cell = Cell(job.status, job.evidence)
        elif "job_done" in f:
            how = ("a node was started for it" if col.scaled_up else "a node was already running")
            ev = [f"ran on {col.host or '?'}" + (f" as job {col.job_id}" if col.job_id else "")]
            if col.start_seconds is not None:
                ev.append(f"started {col.start_seconds:g} s after submission ({how})")
            job_cell = Cell("pass", ev, seconds=col.start_seconds)
        elif "start" in f:
            job_cell = Cell("fail", [f"the job started on {col.host or '?'} but its probe did not finish "
                                     f"(srun exit status {clean_one(f.get('srun_rc', '?'), 20)})"]
                            + clean(f.get("srun_err", ""), max_lines=6))
        elif "srun_rc" in f:
            if "timeout" in f:
                first = f"no node started within {clean_one(f['timeout'], 20)} s; the job was cancelled"
            else:
                first = f"the job did not run (srun exit status {clean_one(f['srun_rc'], 20)})"
            job_cell = Cell("fail", [first] + clean(f.get(f"why:{q.job_name}", ""), max_lines=6)
                            + clean(f.get("srun_err", ""), max_lines=6))
        else:
            job_cell = self._missing(s, f"submission on {q.name}")
        cells[("job", q.column)] = job_cell
        ran = job_cell.status == "pass"
        why_not = ("no job ran on " + q.name + (f": {job_cell.evidence[0]}" if job_cell.status == "skip" and
                                                 job_cell.evidence else " (see the job check)"))
        for c in checks:
            key = (c.id, q.column)
            if key in cells:
                continue
            if c.kind == "mpi":
                cells[key] = self._mpi_cell(s, ran, why_not)
                continue
            if not ran:
                cells[key] = Cell("skip", [why_not])
                continue
            res = s.stream.results.get(c.id)
            if c.id in s.stream.conflicts:
                cells[key] = Cell("fail", ["the probe reported this check twice, differently"])
            elif res is None:
                cells[key] = Cell("fail", ["the job's probe reported nothing for this check"]
                                  + clean(f.get("srun_err", ""), max_lines=4))
            else:
                cells[key] = Cell(res.status, res.evidence)
            if c.kind == "user" and cells[key].status == "pass" and head is not None:
                mine = f.get(f"home:{c.params['name']}")
                theirs = head.stream.facts.get(f"home:{c.params['name']}")
                if mine is not None and theirs is not None and mine != theirs:
                    cells[key] = Cell("fail", [f"home directory {clean_one(mine, 200)} on this node, "
                                               f"{clean_one(theirs, 200)} on the head node"] + cells[key].evidence)
        return col

    def _mpi_cell(self, s: Session, ran: bool, why_not: str) -> Cell:
        f = s.stream.facts
        res = s.stream.results.get("mpi")
        if res is not None:
            secs = _delta(f.get("mpi_submitted"), f.get("mpi_start"))
            return Cell(res.status, res.evidence, seconds=round(secs, 1) if secs is not None else None)
        if not ran:
            return Cell("skip", [why_not])
        if "mpi_rc" in f and f["mpi_rc"] != "0":
            if "mpi_timeout" in f:
                first = f"2 nodes did not start within {clean_one(f['mpi_timeout'], 20)} s; the allocation was cancelled"
            else:
                first = f"the 2-node allocation did not run (salloc exit status {clean_one(f['mpi_rc'], 20)})"
            q = next(x for x in self.plan.queues if x.column == s.column)
            return Cell("fail", [first] + clean(f.get(f"why:{q.mpi_job_name}", ""), max_lines=6)
                        + clean(f.get("mpi_err", ""), max_lines=6))
        return self._missing(s, "MPI hello")


def _delta(a: str | None, b: str | None) -> float | None:
    x, y = _float(a), _float(b)
    if x is None or y is None:
        return None
    return max(0.0, y - x)


def run_check(plan: Plan, target, *, cluster: str | None, template: str, progress: Progress | None = None,
              connect_timeout: int = 15, strict: bool = False) -> Report:
    """Connect, run every probe, clean up, report. Raises PctlError when the connection cannot be made;
    KeyboardInterrupt propagates after the clean-up."""
    conn = Connection(target, connect_timeout=connect_timeout)
    with conn:
        if progress:
            progress(f"connected to {target.display} (one ssh connection, multiplexed)")
        runner = Runner(plan, conn, progress=progress)
        rep = runner.run(cluster=cluster, template=template)
    rep.strict = strict
    return rep
