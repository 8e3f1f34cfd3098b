"""What the head node gets for the agent: the agent itself, the decision module and its configuration
(rendered into head.sh by the node bootstrap, so nothing else is fetched). Pure."""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
AGENT_DIR = "/opt/pctl-agent"
CONFIG_PATH = "/etc/pctl/agent.json"


def agent_config(template) -> dict:
    from pctl.cost.duration import parse_duration
    from pctl.render.pcluster import plan_queue

    queues = {}
    for q in template.compute.queues:
        plan = plan_queue(q)
        queues[q.name] = {"capacity": q.capacity,
                          "resources": {cr.name: list(cr.instance_types) for cr in plan.compute_resources}}
    timeout = parse_duration(template.cluster.idle_timeout) if template.cluster.idle_timeout else None
    return {"schema": 1, "cluster": template.cluster.name, "timeout_s": timeout,
            "action": template.cluster.idle_action if timeout else None, "queues": queues}


RUN = f"""#!/bin/sh
# pctl agent launcher: the first Python 3 of the image
for py in /usr/bin/python3 /usr/libexec/platform-python /usr/local/bin/python3; do
    if [ -x "$py" ]; then exec "$py" {AGENT_DIR}/pctl_agent.py; fi
done
echo "pctl agent: no python3 found" >&2
exit 1
"""

SERVICE = f"""[Unit]
Description=pctl heartbeat: jobs, logins and node usage for pctl status and the idle timer
After=network-online.target slurmctld.service

[Service]
Type=oneshot
ExecStart={AGENT_DIR}/run
TimeoutStartSec=120
"""

TIMER = """[Unit]
Description=pctl heartbeat every minute

[Timer]
OnBootSec=60
OnUnitActiveSec=60
AccuracySec=10

[Install]
WantedBy=timers.target
"""

PROFILE = """# shellcheck shell=sh
# pctl: what the idle timer will do (written every minute by the pctl agent)
case $- in
    *i*) if [ -s /var/lib/pctl/idle-message.txt ]; then cat /var/lib/pctl/idle-message.txt; fi ;;
esac
"""


def agent_files(template) -> dict[str, str]:
    """Every file the head node gets for the agent, as text, and where it goes."""
    return {"agent": (HERE / "agent.py").read_text(encoding="utf-8"),
            "decide": (HERE / "decide.py").read_text(encoding="utf-8"),
            "config": json.dumps(agent_config(template), indent=1, sort_keys=True) + "\n",
            "run": RUN, "service": SERVICE, "timer": TIMER, "profile": PROFILE,
            "dir": AGENT_DIR, "config_path": CONFIG_PATH}
