"""pctl's ssh config: concurrent writers lose nothing, the Include goes last, user entries win and are reported."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap

import pytest

from pctl.cluster import sshconfig


@pytest.fixture
def ssh_dir(tmp_path, monkeypatch):
    d = tmp_path / "ssh"
    monkeypatch.setenv("PCTL_SSH_DIR", str(d))
    return d


WRITER = textwrap.dedent("""
    import sys
    from pctl.cluster import sshconfig
    who = sys.argv[1]
    for i in range(60):
        r = sshconfig.add_host(f"c{who}-{i}", f"10.{who}.0.{i}", "ec2-user", consent=True)
        assert r.added
""")


def test_three_processes_sixty_adds_each_keep_all_180_hosts(ssh_dir):
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(n)], env={**__import__("os").environ})
             for n in range(3)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    text = sshconfig.pctl_config().read_text()
    hosts = [ln.split()[1] for ln in text.splitlines() if ln.startswith("Host ")]
    assert len(hosts) == 180 and len(set(hosts)) == 180
    for n in range(3):
        for i in range(60):
            assert sshconfig.host_entry(f"c{n}-{i}")["HostName"] == f"10.{n}.0.{i}"
    assert not list(sshconfig.pctl_config().parent.glob("*.tmp")), "no temporary files left behind"
    main = (ssh_dir / "config").read_text()
    assert main.count(sshconfig.INCLUDE_LINE) == 1
    if shutil.which("ssh"):
        r = subprocess.run(["ssh", "-G", "-F", str(ssh_dir / "config"), "c2-59"], capture_output=True, text=True)
        # ~ in the Include expands to the real home; parse our file directly too
        r2 = subprocess.run(["ssh", "-G", "-F", str(sshconfig.pctl_config()), "c2-59"], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert r2.returncode == 0 and "hostname 10.2.0.59" in r2.stdout, r2.stderr


def test_include_goes_last_behind_match_all_and_user_entries_win(ssh_dir):
    ssh_dir.mkdir()
    (ssh_dir / "config").write_text("Host login\n    HostName login.university.edu\n    User me\n")
    r = sshconfig.add_host("login", "198.51.100.10", "ec2-user", consent=True)
    assert r.added and r.included and r.shadowed_by == ["login"]
    text = (ssh_dir / "config").read_text()
    assert text.startswith("Host login\n    HostName login.university.edu")
    assert text.rstrip().endswith("Match all\n" + sshconfig.INCLUDE_LINE)
    if shutil.which("ssh"):
        out = subprocess.run(["ssh", "-G", "-F", str(ssh_dir / "config"), "login"], capture_output=True, text=True)
        assert out.returncode == 0 and "hostname login.university.edu" in out.stdout


def test_global_star_defaults_are_not_reported_but_patterns_are(ssh_dir):
    ssh_dir.mkdir()
    (ssh_dir / "config").write_text("Host *\n    ServerAliveInterval 30\nHost gen* !genomics-test\n    User x\n")
    assert sshconfig.add_host("genomics", "10.0.0.1", "ec2-user", consent=True).shadowed_by == ["gen* !genomics-test"]
    assert sshconfig.add_host("genomics-test", "10.0.0.2", "ec2-user", consent=True).shadowed_by == []


def test_old_top_include_is_moved_to_the_end_once(ssh_dir):
    ssh_dir.mkdir()
    (ssh_dir / "config").write_text(f"{sshconfig.INCLUDE_LINE}\n\nHost mine\n    User me\n")
    sshconfig.add_host("c1", "10.0.0.1", "ec2-user", consent=True)
    sshconfig.add_host("c2", "10.0.0.2", "ec2-user", consent=True)
    text = (ssh_dir / "config").read_text()
    assert text.startswith("Host mine") and text.count(sshconfig.INCLUDE_LINE) == 1
    assert text.endswith(sshconfig.INCLUDE_BLOCK)


def test_without_consent_the_user_file_is_untouched(ssh_dir):
    ssh_dir.mkdir()
    (ssh_dir / "config").write_text("Host mine\n    User me\n")
    asked = []
    r = sshconfig.add_host("c1", "10.0.0.1", "ec2-user", consent=lambda q: asked.append(q) or False)
    assert r.added and not r.included and asked
    assert (ssh_dir / "config").read_text() == "Host mine\n    User me\n"


def test_remove_host_and_hostile_names(ssh_dir):
    sshconfig.add_host("c1", "10.0.0.1", "ec2-user", consent=True)
    assert not sshconfig.add_host("x\nHost *\n ProxyCommand evil", "10.0.0.1", "ec2-user", consent=True).added
    assert not sshconfig.add_host("c2", "10.0.0.1 ProxyCommand=x", "ec2-user", consent=True).added
    assert sshconfig.remove_host("c1") and not sshconfig.remove_host("c1")
    assert "ProxyCommand" not in sshconfig.pctl_config().read_text()
