"""The pctl network: one VPC per region, created on first use, reused, deleted in the right order."""
