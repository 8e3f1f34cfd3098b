"""Render: Template -> ParallelCluster config (pure) and node scripts (Jinja2)."""
