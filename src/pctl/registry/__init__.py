"""The template registry: where templates come from besides a file.

Sources (see :mod:`pctl.registry.sources`): the bundled library (always, named ``library``) and
the sources added with ``pctl registry add``: a git repository, an HTTPS ``index.json`` or a local
directory. ``pctl registry update`` copies every source into a local cache
(:mod:`pctl.registry.paths`); everything else (search, list, show, get, ``-t NAME``) reads the cache
only and works offline.

Modules: ``paths`` (config and cache locations), ``config`` (the ``[registry.sources.*]`` tables of
pctl's config.toml, with a small TOML writer), ``sources`` (names, locations, URL policy),
``fetch`` (git / https / directory updates), ``store`` (cached entries, lookup by name),
``search`` (ranking), ``index`` (``pctl registry index``: validate a folder, write its index.json).
"""
