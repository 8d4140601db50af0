"""``python -m ganfw`` (and ``torchrun -m ganfw``) runs the CLI."""

from ganfw.cli import script

script()
