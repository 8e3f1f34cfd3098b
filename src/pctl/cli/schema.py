from __future__ import annotations

import click

from pctl.cli.common import output_option, write_output


@click.command()
@output_option
def schema(output):
    """Print the JSON Schema of a pctl template.

    \b
    Use it for completion and checks in your editor (yaml-language-server).
    \b
    Examples:
      pctl schema -o pctl.schema.json
      # then at the top of a template:
      # yaml-language-server: $schema=./pctl.schema.json
    """
    import json

    from pctl.template.model import json_schema

    write_output(json.dumps(json_schema(), indent=2), output)
