"""pctl: turn a short YAML template into a ready-to-use AWS ParallelCluster HPC cluster."""

__version__ = "0.1.0"
