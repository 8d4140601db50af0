"""ganfw's built-in plugins, one sub-package each.

They ship in the ganfw distribution but are registered through the same ``ganfw`` entry-point
group as third-party plugins (see ``[project.entry-points.ganfw]`` in pyproject.toml). Each
sub-package's ``__init__`` holds the hooks and params (no torch); the factories live in sibling
modules imported only when a component is built.
"""
