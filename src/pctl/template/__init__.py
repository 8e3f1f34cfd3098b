"""Templates: load (ruamel.yaml, with positions) -> model (pydantic v2) -> validate (rules, catalog)."""
