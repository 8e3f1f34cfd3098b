"""Cluster lifecycle: plan (pure), create, delete, list, status."""
