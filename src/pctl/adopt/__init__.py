"""Start from what people already have: ParallelCluster 3.x configurations (`pctl template import`) and
templates of the earlier pctl format (`pctl template upgrade`).

Both return a template (data and YAML text) plus a list of findings that say, item by item, what was
kept, what changed and why, and what needs a person. Library code only: the CLI prints.
"""
