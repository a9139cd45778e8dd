"""squasher: squash, compact and repair Django migration histories."""

#: the one version number: pyproject.toml reads it ([tool.setuptools.dynamic])
__version__ = "0.1.0"
