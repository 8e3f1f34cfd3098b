"""The idle timer: a head-node agent publishes a heartbeat (agent.py), a scheduled function in the account
decides and acts (function.py, decide.py) with a role scoped to one cluster (policy.py); pctl installs,
shows, postpones and removes it (install.py, node.py)."""
