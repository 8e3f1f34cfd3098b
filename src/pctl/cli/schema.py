from __future__ import annotations

import click

from pctl.cli.common import output_option, write_output


@click.command()
@click.argument("what", type=click.Choice(["template", "check"]), default="template", required=False)
@output_option
def schema(what, output):
    """Print a JSON Schema: of a pctl template (default), or of the `pctl check --json` report.

    \b
    Use it for completion and checks in your editor (yaml-language-server).
    \b
    Examples:
      pctl schema -o pctl.schema.json
      # then at the top of a template:
      # yaml-language-server: $schema=./pctl.schema.json
    \b
    Examples:
      pctl schema -o pctl.schema.json
      pctl schema check -o check-report.schema.json     # validate `pctl check --json` in CI
    """
    import json

    if what == "check":
        from pctl.check.report import json_schema
    else:
        from pctl.template.model import json_schema

    write_output(json.dumps(json_schema(), indent=2), output)
