#!/usr/bin/env python3
"""pctl AMI build agent: runs ON the builder instance, needs only the standard library and boto3.

pctl uploads this file to ``s3://pctl-<account>-<region>/builds/<build-id>/agent.py``; the
builder's user data fetches it and runs it with ParallelCluster's own bundled Python (its cookbook
virtualenv has boto3), else ``python3`` with boto3. No pctl process has to be alive anywhere:
the agent alone takes the build to its end and terminates the instance.

Steps: ``prepare`` -> ``software`` (the rendered Spack install script, the same renderer as the
node bootstrap) -> ``check`` (pctl check's package checks: every module loads, its command runs) -> ``hygiene`` (caches, logs, SSH host keys, cloud-init state, shell history,
machine-id) -> ``image`` (CreateImage of itself, tagged, image and snapshots, wait until available)
-> ``done``. Then it terminates itself.

What it writes under the build's S3 prefix, so any machine can follow the build:

* ``state.json``    the build record (status, step, AMI, step timings, failure marker)
* ``progress.json`` step, percent, package i of n, current package (every few seconds)
* ``build.log``     the full log (re-uploaded every ``upload_interval`` seconds and at the end)
* ``spack-install.log`` Spack's own install output (after the software step)

On failure: a failure marker (failing step, message, log tail) in ``state.json``, anything
half-made deregistered (image and its snapshots), then the instance is terminated.

Every end is recorded: SIGTERM (the instance shutting down: the ``shutdown -h +N`` lifetime limit, a
stop or a terminate; the user data runs the agent as a systemd unit ordered after the network, so it
is stopped while the network is still up), SIGINT and SIGHUP end the build as ``failed`` at the step
it was in, like any failure; the agent also stops itself a few minutes before its lifetime limit
(``deadline`` in config.json), so the record, the webhook and the undo never race the halt.

Whatever the end, the agent then removes what only this build used: its S3 inputs (agent.py,
software-install.sh and config.json, which holds the webhook URL), its instance profile, and its
role's policy (the role's own last permission; the emptied role, which nothing can assume any more,
is deleted by the next pctl command that sees the build ended).

Before imaging, services that write to the disk are stopped, logs and buffers flushed, and the root
file system is frozen (``fsfreeze``) until EC2 has started the snapshots: a consistent image without a
reboot (a watchdog thaws it whatever happens).

Compatible with Python 3.7+ (the oldest interpreter a supported ParallelCluster AMI may bundle).

Test hooks (never set on a real builder): ``AWS_EC2_METADATA_SERVICE_ENDPOINT`` points the
metadata lookups at a stand-in, ``PCTL_AGENT_FAIL_AT=STEP`` makes that step fail after its work
(to prove the failure path cleans up from every step), ``PCTL_AGENT_SIGNAL_AT=STEP`` sends the agent a real
SIGTERM after that step's work.
"""

from __future__ import annotations

import argparse
import datetime
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
import urllib.error
import urllib.request

sys.dont_write_bytecode = True  # nothing written under / while it is frozen (step image)

AGENT_VERSION = 1
STEPS = ("prepare", "software", "check", "hygiene", "image")
#: percent of the whole build at the start and end of each step (the client's bar is time based;
#: this is the agent's own coarse view)
STEP_SPAN = {"prepare": (0, 2), "software": (2, 87), "check": (87, 88), "hygiene": (88, 90), "image": (90, 100)}
LOG_TAIL_LINES = 40
MAX_SPACK_LOG = 5 * 1024 * 1024
IMDS_DEFAULT = "http://169.254.169.254"


def now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text):
    try:
        return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    except (TypeError, ValueError):
        return None


class StepFailed(Exception):
    """A step failed with a message meant for people (no traceback in the failure marker)."""


class Stopped(BaseException):
    """The build was stopped from outside: a signal, or its lifetime limit (message for people)."""


#: Services that write to the root disk while idle; stopped (when active) before imaging. None is
#: needed by the agent or by the image's first boot (they start again there).
QUIESCE_UNITS = (
    "amazon-ssm-agent.service", "snap.amazon-ssm-agent.amazon-ssm-agent.service", "amazon-cloudwatch-agent.service",
    "unattended-upgrades.service", "apt-daily.timer", "apt-daily-upgrade.timer", "apt-daily.service",
    "apt-daily-upgrade.service", "dnf-makecache.timer", "dnf-makecache.service", "packagekit.service",
    "crond.service", "cron.service", "atd.service", "rsyslog.service", "syslog.service", "chronyd.service",
    "chrony.service", "postfix.service",
)
#: Inputs of the build, removed when it ends (config.json holds the webhook URL).
INPUTS = ("agent.py", "config.json", "software-install.sh", "check.sh")  # = pctl.ami.store.INPUTS
SIGNAL_NAMES = {signal.SIGTERM: "SIGTERM", signal.SIGINT: "SIGINT", signal.SIGHUP: "SIGHUP"}


# ------------------------------------------------------------------------------------------ IMDSv2

class Imds:
    """Instance metadata, IMDSv2 only (the builder is launched with HttpTokens=required)."""

    def __init__(self, endpoint=None, timeout=3.0):
        self.endpoint = (endpoint or os.environ.get("AWS_EC2_METADATA_SERVICE_ENDPOINT") or IMDS_DEFAULT).rstrip("/")
        self.timeout = timeout
        self._token = None

    def token(self):
        if self._token is None:
            req = urllib.request.Request(self.endpoint + "/latest/api/token", method="PUT",
                                         headers={"X-aws-ec2-metadata-token-ttl-seconds": "21600"})
            with urllib.request.urlopen(req, timeout=self.timeout) as r:  # noqa: S310 - link-local / test stand-in
                self._token = r.read().decode().strip()
        return self._token

    def get(self, path, attempts=10):
        last = None
        for i in range(attempts):
            try:
                req = urllib.request.Request(self.endpoint + "/latest/" + path.lstrip("/"),
                                             headers={"X-aws-ec2-metadata-token": self.token()})
                with urllib.request.urlopen(req, timeout=self.timeout) as r:  # noqa: S310
                    return r.read().decode().strip()
            except (urllib.error.URLError, OSError) as exc:
                last = exc
                if isinstance(exc, urllib.error.HTTPError) and exc.code == 401:
                    self._token = None
                time.sleep(min(2 ** i * 0.2, 5))
        raise StepFailed("cannot read instance metadata %s: %s" % (path, last))


# ------------------------------------------------------------------------------------------ agent

class Agent:
    def __init__(self, args):
        self.build_id = args.build_id
        self.bucket = args.bucket
        self.prefix = args.prefix if args.prefix.endswith("/") else args.prefix + "/"
        self.region = args.region
        self.workdir = args.workdir
        os.makedirs(self.workdir, mode=0o700, exist_ok=True)
        self.log_path = os.path.join(self.workdir, "build.log")
        self.lock = threading.RLock()
        self.config = {}
        self.state = {}
        self.progress = {"build_id": self.build_id, "status": "running", "step": "prepare", "percent": 0,
                         "packages_total": 0, "packages_done": 0, "current_package": None,
                         "software_step": None}
        self.step = "prepare"
        self.image_id = None
        self.snapshot_ids = []
        self.instance_id = None
        self.s3 = None
        self.ec2 = None
        self.started = time.time()
        self._ending = False  # past the build's end: signals no longer interrupt the wrap-up
        self._software = None  # the running install script (a process group)
        self._frozen = None  # the frozen mount point, while frozen
        self._stop = threading.Event()
        self._log_uploaded_size = -1
        self._progress_dirty = True
        self._progress_sent = 0.0

    # ---------------------------------------------------------------- logging and S3 records
    def log(self, message, level="info"):
        line = "%s [%s] %s%s" % (now_iso(), self.step, "" if level == "info" else level + ": ", message)
        self._append(line)

    def _append(self, line):
        with self.lock:
            with open(self.log_path, "a", encoding="utf-8", errors="replace") as f:
                f.write(line.rstrip("\n") + "\n")
        try:
            sys.stdout.write(line.rstrip("\n") + "\n")
            sys.stdout.flush()
        except (OSError, ValueError):
            pass

    def key(self, name):
        return self.prefix + name

    def put(self, name, body, content_type="application/json"):
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.s3.put_object(Bucket=self.bucket, Key=self.key(name), Body=data, ContentType=content_type,
                           ServerSideEncryption="AES256")

    def get_json(self, name):
        from botocore.exceptions import ClientError  # agent: exempt from the pctl.aws seam (see connect)

        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=self.key(name))["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        return json.loads(body.decode("utf-8"))

    def save_state(self, **updates):
        with self.lock:
            self.state.update(updates)
            self.state["updated_at"] = now_iso()
            self.put("state.json", json.dumps(self.state, indent=2, sort_keys=True))

    def set_progress(self, force=False, **updates):
        with self.lock:
            before = dict(self.progress)
            self.progress.update(updates)
            if self.progress != before:
                self._progress_dirty = True
            if self._progress_dirty and (force or time.time() - self._progress_sent >= self.config.get("progress_interval", 5)):
                self._send_progress()

    def _send_progress(self):
        with self.lock:
            self.progress["updated_at"] = now_iso()
            self.progress["elapsed_seconds"] = int(time.time() - self.started)
            body = json.dumps(self.progress, indent=2, sort_keys=True)
            self._progress_dirty = False
            self._progress_sent = time.time()
        try:
            self.put("progress.json", body)
        except Exception as exc:  # progress is best effort; the state record is not
            self._append("%s [%s] warning: cannot write progress.json: %s" % (now_iso(), self.step, exc))

    def upload_log(self, force=False):
        try:
            size = os.path.getsize(self.log_path)
        except OSError:
            return
        if not force and size == self._log_uploaded_size:
            return
        with open(self.log_path, "rb") as f:
            data = f.read()
        try:
            self.put("build.log", data, content_type="text/plain; charset=utf-8")
            self._log_uploaded_size = size
        except Exception as exc:
            self._append("%s [%s] warning: cannot upload build.log: %s" % (now_iso(), self.step, exc))

    def _uploader(self):
        interval = float(self.config.get("upload_interval", 20))
        while not self._stop.wait(1.0):
            if time.time() - getattr(self, "_last_upload", 0) >= interval:
                self._last_upload = time.time()
                self.upload_log()
            if self._progress_dirty:
                self.set_progress()

    def log_tail(self, n=LOG_TAIL_LINES):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                lines = f.read().splitlines()
        except OSError:
            return []
        return lines[-n:]

    # ---------------------------------------------------------------- paths (relocatable for tests)
    def path(self, absolute):
        """An on-instance absolute path, under the configured filesystem root (normally /)."""
        root = self.config.get("paths", {}).get("root", "/")
        if root in ("", "/"):
            return absolute
        return os.path.join(root, absolute.lstrip("/"))

    # ---------------------------------------------------------------- main
    def connect(self):
        import boto3
        from botocore.config import Config

        imds = Imds()
        self.instance_id = imds.get("meta-data/instance-id")
        region = imds.get("meta-data/placement/region")
        if self.region and region and region != self.region:
            self._append("%s [prepare] warning: metadata says region %s, user data %s; using %s"
                         % (now_iso(), region, self.region, region))
        self.region = region or self.region
        self.zone = imds.get("meta-data/placement/availability-zone")
        cfg = Config(retries={"mode": "standard", "max_attempts": 8}, connect_timeout=10, read_timeout=60,
                     user_agent_extra="pctl-agent/%d" % AGENT_VERSION)
        # Exempt from the pctl.aws seam rule (tests/unit/test_aws_boundary.py): this file runs alone on the
        # builder with boto3 and the standard library; pctl (pctl.aws and its Aws session) is not installed there.
        self.s3 = boto3.client("s3", region_name=self.region, config=cfg)
        self.ec2 = boto3.client("ec2", region_name=self.region, config=cfg)
        # one attempt only for the CreateImage call that may not be supported as asked (see step_image)
        self.ec2_once = boto3.client("ec2", region_name=self.region,
                                     config=cfg.merge(Config(retries={"mode": "standard", "max_attempts": 1})))

    # ---------------------------------------------------------------- signals and the lifetime limit
    def _on_signal(self, signum, frame):
        name = SIGNAL_NAMES.get(signum, "signal %d" % signum)
        if self._ending:
            self._append("%s [%s] %s received while finishing; finishing first" % (now_iso(), self.step, name))
            return
        self._ending = True
        raise Stopped("stopped by %s during step %s (the instance is shutting down: its lifetime limit, or a stop "
                      "or terminate from outside)" % (name, self.step) if signum == signal.SIGTERM else
                      "stopped by %s during step %s" % (name, self.step))

    def _on_deadline(self, signum, frame):
        if self._ending:
            return
        self._ending = True
        raise Stopped("lifetime limit reached during step %s (deadline %s): the build took longer than its limit "
                      "allows" % (self.step, self.config.get("deadline")))

    def install_signal_handlers(self):
        for sig in SIGNAL_NAMES:
            signal.signal(sig, self._on_signal)

    def arm_deadline(self):
        """Stop on our own a few minutes before the hard limit (shutdown -h +N from the user data)."""
        deadline = parse_iso(self.config.get("deadline"))
        if deadline is None or not hasattr(signal, "setitimer"):
            return
        margin = float(self.config.get("stop_margin_seconds", 180))
        left = (deadline - datetime.datetime.now(datetime.timezone.utc)).total_seconds() - margin
        signal.signal(signal.SIGALRM, self._on_deadline)
        signal.setitimer(signal.ITIMER_REAL, max(left, 0.1))
        self.log("lifetime limit %s: the agent stops on its own %d s before it" % (self.config.get("deadline"),
                                                                                   int(margin)))

    def run(self):
        self.log("pctl build agent %d starting for build %s" % (AGENT_VERSION, self.build_id))
        try:
            self.connect()
        except Exception as exc:
            # without AWS access nothing can be recorded; the user data halts the instance
            self.log("cannot start: %s" % exc, "error")
            return 2
        rc = 1
        try:
            self.install_signal_handlers()
            for attempt in range(5):
                self.config = self.get_json("config.json") or {}
                if self.config:
                    break
                time.sleep(3)
            if not self.config:
                raise StepFailed("config.json is missing from s3://%s/%s" % (self.bucket, self.prefix))
            self.arm_deadline()
            self.state = self.get_json("state.json") or {"build_id": self.build_id}
            self.save_state(status="running", step="prepare", instance_id=self.instance_id,
                            availability_zone=self.zone, agent_started_at=now_iso(), agent_version=AGENT_VERSION)
            threading.Thread(target=self._uploader, name="uploader", daemon=True).start()
            for step in STEPS:
                self.begin(step)
                getattr(self, "step_" + step)()
                if os.environ.get("PCTL_AGENT_FAIL_AT") == step:
                    raise StepFailed("injected failure at step %s (PCTL_AGENT_FAIL_AT)" % step)
                if os.environ.get("PCTL_AGENT_SIGNAL_AT") == step:  # test hook: a real SIGTERM, here
                    os.kill(os.getpid(), signal.SIGTERM)
                    time.sleep(30)
                self.end(step)
            self._ending = True
            self.disarm()
            self.finish_ok()
            rc = 0
        except BaseException as exc:  # noqa: B902 - every failure ends in a record and a cleanup
            self._ending = True
            self.disarm()
            try:
                self.finish_failed(exc)
            except BaseException as exc2:  # noqa: B902
                self.log("could not record the failure: %s" % exc2, "error")
            rc = 1
        finally:
            self._ending = True
            self._stop.set()
            self.thaw()
            self.upload_log(force=True)
            self.notify()
            self.release()
            self.terminate_self()
        return rc

    def disarm(self):
        if hasattr(signal, "setitimer"):
            signal.setitimer(signal.ITIMER_REAL, 0)
        self.stop_software()

    def begin(self, step):
        self.step = step
        steps = self.state.setdefault("steps", {})
        steps[step] = {"started_at": now_iso()}
        self._t_step = time.time()
        self.log("step %s: start" % step)
        self.save_state(step=step, status="running")
        self.set_progress(force=True, step=step, percent=STEP_SPAN[step][0])

    def end(self, step):
        seconds = int(time.time() - self._t_step)
        self.state["steps"][step].update(finished_at=now_iso(), seconds=seconds)
        self.log("step %s: done (%d s)" % (step, seconds))
        self.save_state()
        self.set_progress(force=True, percent=STEP_SPAN[step][1])

    # ---------------------------------------------------------------- steps
    def step_prepare(self):
        root = self.path("/")
        pretty = ""
        try:
            with open(self.path("/etc/os-release"), encoding="utf-8") as f:
                for line in f:
                    if line.startswith("PRETTY_NAME="):
                        pretty = line.split("=", 1)[1].strip().strip('"')
        except OSError:
            pass
        usage = shutil.disk_usage(root)
        self.log("instance %s in %s (%s), %s, %d CPUs, %.1f GB free on /"
                 % (self.instance_id, self.zone, self.region, pretty or "unknown OS", os.cpu_count() or 0,
                    usage.free / 1e9))
        need = float(self.config.get("disk_gb_needed", 0))
        if need and usage.free / 1e9 < need:
            self.log("only %.1f GB free; the software may need about %.0f GB" % (usage.free / 1e9, need), "warning")
        script = os.path.join(self.workdir, "software-install.sh")
        self.s3.download_file(self.bucket, self.key(self.config.get("software_script", "software-install.sh")), script)
        os.chmod(script, 0o700)
        self.log("fetched the software install script (%d bytes)" % os.path.getsize(script))
        self.set_progress(packages_total=int(self.config.get("package_count", 0)))

    def step_software(self):
        script = os.path.join(self.workdir, "software-install.sh")
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PYTHON", "VIRTUAL_ENV", "PCTL_AGENT_"))}
        env.setdefault("HOME", "/root")  # cloud-init runs user data without one on some systems
        paths = self.config.get("paths", {})
        state_file = os.path.join(paths.get("state_dir", "/var/lib/pctl"), "software.json")
        spack_log = os.path.join(paths.get("log_dir", "/var/log/pctl"), "spack-install.log")
        self.log("running the Spack install (%d root specs)" % int(self.config.get("package_count", 0)))
        proc = subprocess.Popen(["bash", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                                cwd=self.workdir, start_new_session=True)
        self._software = proc

        def pump():
            for raw in iter(proc.stdout.readline, b""):
                self._append(raw.decode("utf-8", "replace").rstrip("\n"))

        reader = threading.Thread(target=pump, name="software-output", daemon=True)
        reader.start()
        lo, hi = STEP_SPAN["software"]
        scan = SpackLogScan(spack_log)
        while True:
            rc = proc.poll()
            info = _read_json(state_file) or {}
            scan.update()
            total = _int(info.get("packages_total")) or _int(self.config.get("package_count"))
            # the script counts finished packages every 15 s; the log says it sooner
            done = min(max(_int(info.get("packages_done")), scan.done), total) if total else 0
            frac = (done / total) if total else 0.0
            self.set_progress(software_step=info.get("step"), packages_total=total, packages_done=done,
                              current_package=scan.current, percent=int(lo + (hi - lo) * frac))
            if rc is not None:
                break
            time.sleep(float(self.config.get("software_poll", 2)))
        reader.join(timeout=30)
        self._software = None
        self.upload_spack_log(spack_log)
        if rc != 0:
            raise StepFailed("the Spack install script failed (exit status %d); see the log tail" % rc)
        info = _read_json(state_file) or {}
        total = _int(info.get("packages_total"))
        self.set_progress(force=True, packages_total=total, packages_done=total, current_package=None,
                          software_step="done", percent=hi)
        self.state["packages_installed"] = total

    def step_check(self):
        """pctl check's package checks (rendered by pctl as check.sh): a broken package fails the build
        before an image is made."""
        name = self.config.get("check_script")
        if not name:
            self.log("no check script in this build's config (made by an older pctl): not checked")
            return
        script = os.path.join(self.workdir, "check.sh")
        self.s3.download_file(self.bucket, self.key(name), script)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "PCTL_AGENT_"))}
        env.setdefault("HOME", "/root")
        env["LMOD_ALLOW_ROOT_USE"] = "yes"
        proc = subprocess.run(["bash", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                              cwd=self.workdir, timeout=float(self.config.get("check_timeout", 3600)))
        done, results = parse_check_output(proc.stdout, self.config.get("check_marker", ""))
        self.state["checks"] = results
        for r in results:
            self.log("check %s: %s%s" % (r["id"], r["status"], (" (%s)" % "; ".join(r["evidence"][:2]))
                                         if r["evidence"] else ""))
        failed = [r for r in results if r["status"] == "fail"]
        if failed:
            raise StepFailed("%d of %d package checks failed: %s" % (len(failed), len(results), "; ".join(
                "%s: %s" % (r["id"], " / ".join(r["evidence"][:3]) or "no evidence") for r in failed[:5])))
        if not done:
            tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
            raise StepFailed("the check script stopped early (exit status %d): %s" % (proc.returncode,
                                                                                       " / ".join(tail)))
        self.log("%d package checks passed" % len(results))

    def stop_software(self):
        """End the install script and everything it started (its own process group)."""
        proc, self._software = self._software, None
        if proc is None or proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            try:
                os.killpg(proc.pid, sig)
            except OSError:
                return
            try:
                proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        self.log("stopped the Spack install (process group %d)" % proc.pid)
        paths = self.config.get("paths", {})
        self.upload_spack_log(os.path.join(paths.get("log_dir", "/var/log/pctl"), "spack-install.log"))

    def upload_spack_log(self, path):
        try:
            size = os.path.getsize(path)
        except OSError:
            return
        with open(path, "rb") as f:
            if size > MAX_SPACK_LOG:
                f.seek(size - MAX_SPACK_LOG)
            data = f.read()
        try:
            self.put("spack-install.log", data, content_type="text/plain; charset=utf-8")
        except Exception as exc:
            self.log("cannot upload spack-install.log: %s" % exc, "warning")

    def step_hygiene(self):
        """Leave nothing in the image that belongs to this one instance or build."""
        paths = self.config.get("paths", {})
        software_root = paths.get("software_root", "/opt/pctl")
        done = []
        # Spack: stage directories, download and misc caches
        spack = os.path.join(software_root, "spack", "bin", "spack")
        if os.access(spack, os.X_OK):
            env = dict(os.environ, SPACK_DISABLE_LOCAL_CONFIG="1",
                       SPACK_USER_CACHE_PATH=os.path.join(software_root, ".spack-cache"))
            r = subprocess.run([spack, "clean", "-a"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
            self._output(r.stdout)
            done.append("spack clean -a" + ("" if r.returncode == 0 else " (exit %d)" % r.returncode))
        for pattern in (os.path.join(software_root, ".spack-cache"), "/root/.spack", "/tmp/spack-stage*",
                        "/var/tmp/spack-stage*", "/root/.cache/spack"):
            full = pattern if pattern.startswith(software_root) else self.path(pattern)
            done += self._remove(full)
        # ParallelCluster's own pre-image cleanup (on its official AMIs), as its build-image runs it
        done += self._remove(self.path("/opt/parallelcluster/system_info"))
        cleanup = self.path("/usr/local/sbin/ami_cleanup.sh")
        if os.access(cleanup, os.X_OK):
            r = subprocess.run([cleanup, "false"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            self._output(r.stdout)
            done.append("ami_cleanup.sh" + ("" if r.returncode == 0 else " (exit %d)" % r.returncode))
            if r.returncode != 0:
                raise StepFailed("ParallelCluster's ami_cleanup.sh failed (exit status %d)" % r.returncode)
        # OS package caches, cloud-init state, the journal
        for cmd in (["dnf", "clean", "all"], ["apt-get", "clean"], ["cloud-init", "clean", "--logs"],
                    ["journalctl", "--rotate"], ["journalctl", "--vacuum-time=1s"]):
            if shutil.which(cmd[0]):
                r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                done.append(" ".join(cmd) + ("" if r.returncode == 0 else " (exit %d)" % r.returncode))
        for pattern in ("/var/lib/cloud/instances/*", "/var/lib/cloud/instance", "/var/lib/cloud/data/*",
                        "/var/lib/cloud/sem/*"):
            done += self._remove(self.path(pattern))
        # SSH host keys (regenerated at first boot), keys of this instance's users
        for pattern in ("/etc/ssh/ssh_host_*", "/root/.ssh/authorized_keys", "/home/*/.ssh/authorized_keys"):
            done += self._remove(self.path(pattern))
        # shell and tool history
        for name in (".bash_history", ".python_history", ".lesshst", ".viminfo", ".wget-hsts", ".sh_history",
                     ".zsh_history"):
            for home in [self.path("/root")] + glob.glob(self.path("/home/*")):
                done += self._remove(os.path.join(home, name))
        # machine identity: an empty machine-id is regenerated at first boot
        mid = self.path("/etc/machine-id")
        if os.path.isfile(mid) and not os.path.islink(mid):
            with open(mid, "w"):
                pass
            done.append("emptied /etc/machine-id")
        dbus = self.path("/var/lib/dbus/machine-id")
        if os.path.isfile(dbus) and not os.path.islink(dbus):
            done += self._remove(dbus)
        # temporary files
        for pattern in ("/tmp/*", "/var/tmp/*"):
            done += self._remove(self.path(pattern))
        # logs: build logs are in S3 already; rotated files go, live files are emptied
        log_dir = paths.get("log_dir", "/var/log/pctl")
        done += self._remove(os.path.join(log_dir, "*"))
        done += self._truncate_logs(self.path("/var/log"))
        for home in [self.path("/root")] + glob.glob(self.path("/home/*")):
            done += self._remove(os.path.join(home, ".cache", "pip"))
        if hasattr(os, "sync"):
            os.sync()
        self.state["hygiene"] = done
        self.log("cleaned: " + ("; ".join(done) if done else "nothing to clean"))

    def _output(self, data):
        if data:
            self._append(data.decode("utf-8", "replace").rstrip("\n"))

    def _remove(self, pattern):
        out = []
        for p in sorted(glob.glob(pattern)):
            if os.path.realpath(p).startswith(os.path.realpath(self.workdir)):
                continue
            try:
                if os.path.isdir(p) and not os.path.islink(p):
                    shutil.rmtree(p)
                else:
                    os.unlink(p)
                out.append("removed " + self._show(p))
            except OSError as exc:
                self.log("cannot remove %s: %s" % (p, exc), "warning")
        return out

    def _truncate_logs(self, top):
        out = []
        removed = emptied = 0
        for dirpath, dirnames, filenames in os.walk(top):
            if "journal" in dirnames:
                dirnames.remove("journal")  # journald's own files: vacuumed above, never truncated
            for name in filenames:
                p = os.path.join(dirpath, name)
                if os.path.islink(p) or not os.path.isfile(p):
                    continue
                try:
                    if name.endswith((".gz", ".xz", ".bz2", ".zst", ".old")) or _rotated(name):
                        os.unlink(p)
                        removed += 1
                    elif os.path.getsize(p) > 0:
                        os.truncate(p, 0)
                        emptied += 1
                except OSError as exc:
                    self.log("cannot clean %s: %s" % (p, exc), "warning")
        if removed or emptied:
            out.append("logs under %s: %d rotated removed, %d emptied" % (self._show(top), removed, emptied))
        return out

    def _show(self, p):
        root = self.path("/")
        if root != "/" and p.startswith(root.rstrip("/") + "/"):
            return "/" + p[len(root.rstrip("/")) + 1:]
        return p

    # ---------------------------------------------------------------- a consistent image without a reboot
    def quiesce(self):
        """Stop what writes to the disk, flush the journal and the page cache."""
        stopped = []
        if shutil.which("systemctl") and self.config.get("quiesce", True):
            for unit in QUIESCE_UNITS:
                if subprocess.run(["systemctl", "is-active", "--quiet", unit]).returncode == 0:
                    r = subprocess.run(["systemctl", "stop", unit], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                    if r.returncode == 0:
                        stopped.append(unit)
                    else:
                        self.log("could not stop %s" % unit, "warning")
        if shutil.which("journalctl"):
            subprocess.run(["journalctl", "--sync", "--flush"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if hasattr(os, "sync"):
            os.sync()
        self.state["quiesced"] = stopped
        self.log("stopped before imaging: %s; disks synced" % (", ".join(stopped) or "nothing was running"))

    def freeze(self):
        """fsfreeze the root file system (when it is a mount point); a watchdog thaws it."""
        root = self.path("/")
        tool = self.config.get("freeze_command") or shutil.which("fsfreeze")
        if not self.config.get("freeze", True) or not tool or not _is_mount_point(root):
            self.log("root file system not frozen (%s)" % ("disabled" if not self.config.get("freeze", True) else
                                                           "no fsfreeze" if not tool else root + " is not a mount point"))
            return False
        r = subprocess.run([tool, "--freeze", root], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            self.log("could not freeze %s (%s); imaging a synced, quiet disk" % (root, r.stdout.decode(errors="replace")
                                                                                .strip()), "warning")
            return False
        self._frozen = (tool, root)
        limit = float(self.config.get("freeze_timeout", 120))
        threading.Thread(target=self._thaw_later, args=(limit,), name="thaw-watchdog", daemon=True).start()
        self.log("froze %s until the snapshots have started (at most %d s)" % (root, int(limit)))
        return True

    def _thaw_later(self, limit):
        time.sleep(limit)
        if self._frozen:
            self._append("%s [image] warning: thawing after %d s (watchdog)" % (now_iso(), int(limit)))
            self.thaw()

    def thaw(self):
        frozen, self._frozen = self._frozen, None
        if frozen:
            tool, root = frozen
            subprocess.run([tool, "--unfreeze", root], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.log("thawed %s" % root)

    def step_image(self):
        self.quiesce()
        name = self.config["ami_name"]
        tags = [{"Key": k, "Value": str(v)} for k, v in sorted(self.config.get("tags", {}).items())]
        args = dict(InstanceId=self.instance_id, Name=name, NoReboot=True,
                    Description=self.config.get("ami_description", "pctl " + self.build_id)[:255])
        tag_snapshots_after = False
        both = [{"ResourceType": "image", "Tags": tags}, {"ResourceType": "snapshot", "Tags": tags}]
        frozen = self.freeze()
        image = None
        try:
            image = self.ec2_once.create_image(TagSpecifications=both, **args)
        except Exception as exc:
            if type(exc).__name__ != "ResponseParserError":
                # a real EC2 answer: retried with the standard retries; a refusal stays a failure (an
                # untagged snapshot is one this role could neither tag nor delete)
                image = self.ec2.create_image(TagSpecifications=both, **args)
            else:
                # an EC2 look-alike without snapshot tags at creation (moto answers with an HTML 500):
                # the image first, the snapshot tags afterwards
                self.log("CreateImage with snapshot tags is not supported here; tagging the snapshots after "
                         "creation", "warning")
                image = self.ec2.create_image(TagSpecifications=[{"ResourceType": "image", "Tags": tags}], **args)
                tag_snapshots_after = True
        finally:
            if image is None:  # CreateImage failed: nothing to wait for
                self.thaw()
        self.image_id = image["ImageId"]
        if frozen:  # the snapshots are point-in-time once EC2 has started them
            started = time.time()
            while time.time() - started < float(self.config.get("freeze_timeout", 120)) - 5:
                img = (self.ec2.describe_images(ImageIds=[self.image_id])["Images"] or [{}])[0]
                if [b for b in img.get("BlockDeviceMappings", []) if b.get("Ebs", {}).get("SnapshotId")]:
                    break
                time.sleep(1)
            self.thaw()
        self.log("creating image %s (%s), NoReboot: writers stopped, disks synced%s" % (
            self.image_id, name, ", root frozen until the snapshots started" if frozen else ""))
        self.save_state(ami_id=self.image_id, ami_name=name, ami_state="pending")
        deadline = time.time() + float(self.config.get("image_timeout", 3 * 3600))
        poll = float(self.config.get("image_poll", 15))
        lo, hi = STEP_SPAN["image"]
        while True:
            img = self.ec2.describe_images(ImageIds=[self.image_id])["Images"]
            img = img[0] if img else {}
            state = img.get("State", "pending")
            self.snapshot_ids = [b["Ebs"]["SnapshotId"] for b in img.get("BlockDeviceMappings", [])
                                 if b.get("Ebs", {}).get("SnapshotId")]
            if state == "available":
                break
            if state in ("failed", "error", "invalid", "deregistered", "disabled"):
                reason = (img.get("StateReason") or {}).get("Message") or state
                raise StepFailed("image %s is %s: %s" % (self.image_id, state, reason))
            if time.time() > deadline:
                raise StepFailed("image %s still %s after %d minutes" % (self.image_id, state,
                                                                         self.config.get("image_timeout", 10800) // 60))
            self.set_progress(percent=min(hi - 1, self.progress.get("percent", lo) + 1))
            time.sleep(poll)
        if self.snapshot_ids:
            snaps = self.ec2.describe_snapshots(SnapshotIds=self.snapshot_ids)["Snapshots"]
            untagged = [s["SnapshotId"] for s in snaps
                        if "pctl:build-id" not in {t["Key"] for t in s.get("Tags", [])}]
            if untagged:
                if not tag_snapshots_after:
                    self.log("snapshots %s came without tags; tagging them" % ", ".join(untagged), "warning")
                self.ec2.create_tags(Resources=untagged, Tags=tags)
        self.log("image %s is available (snapshots: %s)" % (self.image_id, ", ".join(self.snapshot_ids) or "none"))

    # ---------------------------------------------------------------- endings
    def finish_ok(self):
        self.step = "done"
        now = time.time()
        created = parse_iso(self.state.get("created_at"))
        sw = self.state.get("steps", {}).get("software", {}).get("seconds")
        self.save_state(status="available", step="done", ami_id=self.image_id, snapshot_ids=self.snapshot_ids,
                        ami_state="available", finished_at=now_iso(),
                        actual_minutes=round((now - created.timestamp()) / 60.0, 1) if created else None,
                        software_minutes=round(sw / 60.0, 2) if sw is not None else None)
        self.set_progress(force=True, status="available", step="done", percent=100, current_package=None)
        self.log("build %s finished: %s is available" % (self.build_id, self.image_id))

    def finish_failed(self, exc):
        step = self.step
        if isinstance(exc, (StepFailed, Stopped)):
            message = str(exc)
        elif isinstance(exc, KeyboardInterrupt):
            message = "interrupted (SIGINT)"
        else:
            message = "%s: %s" % (type(exc).__name__, exc)
            self._append(traceback.format_exc().rstrip("\n"))
        self.log("step %s failed: %s" % (step, message), "error")
        cleanup = self.undo()
        tail = self.log_tail()
        now = time.time()
        created = parse_iso(self.state.get("created_at"))
        steps = self.state.setdefault("steps", {})
        if step in steps and "finished_at" not in steps[step]:
            steps[step].update(finished_at=now_iso(), seconds=int(now - getattr(self, "_t_step", now)), failed=True)
        self.save_state(status="failed", step=step, finished_at=now_iso(), ami_id=None, ami_state=None,
                        actual_minutes=round((now - created.timestamp()) / 60.0, 1) if created else None,
                        failure={"step": step, "message": message, "log_tail": tail, "cleanup": cleanup})
        self.set_progress(force=True, status="failed", step=step)

    def undo(self):
        """Deregister the half-made image and delete its snapshots (found by id and by the build tag)."""
        done = []
        if self.ec2 is None:
            return done
        snaps = set(self.snapshot_ids)
        images = set([self.image_id] if self.image_id else [])
        try:
            for img in self.ec2.describe_images(Owners=["self"], Filters=[
                    {"Name": "tag:pctl:build-id", "Values": [self.build_id]}])["Images"]:
                images.add(img["ImageId"])
        except Exception as exc:
            self.log("cannot look for images of this build: %s" % exc, "warning")
        for image_id in sorted(images):
            try:
                found = self.ec2.describe_images(ImageIds=[image_id])["Images"]
                for img in found:
                    snaps.update(b["Ebs"]["SnapshotId"] for b in img.get("BlockDeviceMappings", [])
                                 if b.get("Ebs", {}).get("SnapshotId"))
                if found:
                    self.ec2.deregister_image(ImageId=image_id)
                    done.append("deregistered " + image_id)
            except Exception as exc:
                done.append("could not deregister %s: %s" % (image_id, exc))
        try:
            for s in self.ec2.describe_snapshots(OwnerIds=["self"], Filters=[
                    {"Name": "tag:pctl:build-id", "Values": [self.build_id]}])["Snapshots"]:
                snaps.add(s["SnapshotId"])
        except Exception as exc:
            self.log("cannot look for snapshots of this build: %s" % exc, "warning")
        for snap in sorted(snaps):
            try:
                self.ec2.delete_snapshot(SnapshotId=snap)
                done.append("deleted " + snap)
            except Exception as exc:
                done.append("could not delete %s: %s" % (snap, exc))
        for line in done:
            self.log(line)
        self.image_id = None
        self.snapshot_ids = []
        return done

    def notify(self):
        url = self.config.get("notify_webhook")
        if not url:
            return
        if not webhook_allowed(url):
            self.log("not notifying %s: only https URLs (or http on loopback) are allowed" % url, "warning")
            return
        status = self.state.get("status")
        name = self.config.get("template") or "?"
        if status == "available":
            text = "pctl: AMI build %s (%s) finished: %s is available (%s min)" % (
                self.build_id, name, self.state.get("ami_id"), self.state.get("actual_minutes"))
        else:
            failure = self.state.get("failure") or {}
            text = "pctl: AMI build %s (%s) failed at step %s: %s" % (
                self.build_id, name, failure.get("step", self.step), failure.get("message", "unknown error"))
        body = json.dumps({"text": text, "build_id": self.build_id, "status": status,
                           "ami_id": self.state.get("ami_id")}).encode("utf-8")
        req = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", "User-Agent": "pctl-agent"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310 - scheme checked above
                self.log("notified the webhook (HTTP %d)" % r.status)
        except Exception as exc:
            self.log("webhook notification failed: %s" % exc, "warning")

    def release(self):
        """Remove what only this build used: its inputs (with the webhook URL) and its IAM access."""
        done, problems = [], []
        if self.s3 is not None and self.config:
            try:
                self.s3.delete_objects(Bucket=self.bucket, Delete={
                    "Objects": [{"Key": self.key(n)} for n in INPUTS], "Quiet": True})
                done.append("inputs (" + ", ".join(INPUTS) + ")")
            except Exception as exc:
                problems.append("inputs: %s" % exc)
        role = self.config.get("role_name") if self.config else None
        if role and self.config.get("release_iam", True):
            import boto3

            iam = boto3.client("iam", region_name=self.region)  # on the builder: exempt from the pctl.aws seam
            # the policy last: it is what allows these calls
            for what, call, kw in (
                    ("instance profile", iam.remove_role_from_instance_profile,
                     {"InstanceProfileName": role, "RoleName": role}),
                    ("instance profile", iam.delete_instance_profile, {"InstanceProfileName": role}),
                    ("role policy", iam.delete_role_policy, {"RoleName": role,
                                                             "PolicyName": self.config.get("policy_name", "pctl-build")})):
                try:
                    call(**kw)
                    if what not in done:
                        done.append(what)
                except Exception as exc:
                    if "NoSuchEntity" not in str(exc):
                        problems.append("%s: %s" % (what, exc))
        line = "released: %s" % (", ".join(done) or "nothing")
        if problems:
            line += "; could not release: %s (pctl ami cleanup removes them)" % "; ".join(problems)
        self.log(line)
        self.upload_log(force=True)

    def terminate_self(self):
        # After release() the role has no permission left: TerminateInstances is refused on EC2 and the
        # halt below ends the instance (InstanceInitiatedShutdownBehavior=terminate).
        if self.ec2 is not None and self.instance_id and self.config.get("terminate", True):
            try:
                self.ec2.terminate_instances(InstanceIds=[self.instance_id])
                self.log("terminating instance %s" % self.instance_id)
            except Exception as exc:
                self.log("TerminateInstances failed (%s); halting instead (shutdown behaviour is terminate)" % exc,
                         "warning")
        self.upload_log(force=True)
        if shutil.which("shutdown"):
            subprocess.run(["shutdown", "-h", "now", "pctl build %s ended" % self.build_id])
        elif shutil.which("poweroff"):
            subprocess.run(["poweroff"])


# ------------------------------------------------------------------------------------------ helpers

def webhook_allowed(url):
    from urllib.parse import urlparse

    try:
        u = urlparse(url)
    except ValueError:
        return False
    if u.scheme == "https" and u.hostname:
        return True
    return u.scheme == "http" and u.hostname in ("127.0.0.1", "localhost", "::1")


def _is_mount_point(path):
    """os.path.ismount, or a bind mount (same device as its parent) listed in the mount table."""
    if os.path.ismount(path):
        return True
    want = os.path.realpath(path)
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as f:
            points = [line.split()[4].replace("\\040", " ") for line in f if len(line.split()) > 4]
    except OSError:
        return False
    return want in points


def _rotated(name):
    # messages.1, syslog.2, secure-20260101, dnf.log.1
    base, _, ext = name.rpartition(".")
    if base and ext.isdigit():
        return True
    base, _, date = name.rpartition("-")
    return bool(base) and len(date) == 8 and date.isdigit()


def parse_check_output(data, marker):
    """(reached its end, [{id, status, evidence}]) from pctl check's output protocol (pctl.check.protocol):
    only lines starting with the run's marker count; evidence is base64, shown without control characters."""
    import base64
    import binascii
    import re

    results, done = {}, False
    mark = marker.encode("ascii") + b" "
    if not marker:
        return False, []
    for line in data.split(b"\n"):
        line = line.rstrip(b"\r")
        if not line.startswith(mark):
            continue
        parts = line[len(mark):].decode("ascii", "replace").split(" ")
        if parts == ["D"]:
            done = True
            continue
        if len(parts) != 4 or parts[0] != "R" or parts[2] not in ("pass", "fail", "skip"):
            continue
        try:
            text = "" if parts[3] == "-" else base64.b64decode(parts[3], validate=True).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            text = "(undecodable evidence)"
        text = re.sub(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?", "", text)
        lines = [re.sub(r"[\x00-\x1f\x7f-\x9f]", "?", ln)[:300] for ln in text.splitlines() if ln.strip()]
        results.setdefault(parts[1], {"id": parts[1][:200], "status": parts[2], "evidence": lines[:10]})
    return done, list(results.values())


def _int(v):
    try:
        return max(0, int(v))
    except (TypeError, ValueError):
        return 0


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


class SpackLogScan:
    """Reads Spack's install log as it grows: the package being installed now (the last
    '==> Installing NAME-VERSION-HASH' line) and how many are done ('[+] PREFIX' lines)."""

    def __init__(self, path):
        self.path = path
        self.offset = 0
        self.done = 0
        self.current = None

    def update(self):
        try:
            size = os.path.getsize(self.path)
            if size < self.offset:  # the script rotated the log: a new install started
                self.offset, self.done, self.current = 0, 0, None
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                chunk = f.read()
        except OSError:
            return
        end = chunk.rfind(b"\n")
        if end < 0:
            return
        for raw in chunk[:end].decode("utf-8", "replace").splitlines():
            line = raw.strip()
            if line.startswith("==> Installing "):
                self.current = _package_name(line[len("==> Installing "):].split()[0])
            elif line.startswith("[+] "):
                self.done += 1
        self.offset += end + 1


def _package_name(text):
    """zlib-ng-2.2.1-abcdef -> zlib-ng@2.2.1 (Spack's NAME-VERSION-HASH)."""
    parts = text.split("-")
    for i in range(1, len(parts)):
        if parts[i][:1].isdigit():
            return "-".join(parts[:i]) + "@" + "-".join(parts[i:-1] if len(parts) - i > 1 else parts[i:])
    return text


def main(argv=None):
    ap = argparse.ArgumentParser(description="pctl AMI build agent (runs on the builder instance)")
    ap.add_argument("--build-id", required=True)
    ap.add_argument("--bucket", required=True)
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--region", default=None)
    ap.add_argument("--workdir", default="/run/pctl-build")
    args = ap.parse_args(argv)
    return Agent(args).run()


if __name__ == "__main__":
    sys.exit(main())
