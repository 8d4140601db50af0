"""The commands of the README and docs/*.md, as tests/cli/test_documented_commands.py runs them.

A command is a ``$ ...`` line of a ```` ```console ```` block (a line ending in ``\\`` goes on
on the next). A block is run unless the line just before its fence marks it:

- ``<!-- commands: shown (WHY) -->``: shown only (it needs a GPU, a download, a long training,
  data the reader must fetch...);
- ``<!-- commands: checkout (WHY) -->``: works only inside a checkout of ganfw (it names
  ``recipes/``, ``plugins/``, ``benchmarks/``...).

Every ``$`` line of a block that is run is a ``ganfw`` command, and names no file of a checkout; a
line right after a command that starts with ``error:`` is the one line that command must fail
with (exit status 2).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

#: Where the commands are documented.
REPO = Path(__file__).resolve().parents[2]
DOCS = (REPO / "README.md", *sorted((REPO / "docs").glob("*.md")))

_BLOCK = re.compile(r"^```console\n(.*?)^```", re.S | re.M)
_MARKER = re.compile(r"<!-- commands: (?P<kind>shown|checkout) \((?P<why>[^)]+)\) -->")
#: A path only a checkout of ganfw has (``recipes/x.toml``, ``plugins/...``, ``../shared/data``).
CHECKOUT_PATH = re.compile(r"(?:^|[\s=])(?:\./)?(?:recipes|plugins|benchmarks|src|docs|tests)/|\.\./shared")


@dataclass(frozen=True)
class Command:
    """One ``$`` line (joined with its continuation lines), where it is, and the ``error:`` line
    it is documented to print ("" when none)."""

    text: str
    where: str
    error: str = ""

    @property
    def argv(self) -> list[str]:
        """The words of the command, its ``# comment`` left out."""
        return shlex.split(self.text, comments=True)

    @property
    def plain(self) -> str:
        """The command without its comment: ``ganfw run mnist_quick --out runs/try``."""
        return shlex.join(self.argv)

    @property
    def is_ganfw(self) -> bool:
        """Whether it is ``ganfw ...`` itself (not ``pip``, ``torchrun -m ganfw``, ``VAR=x ganfw``)."""
        return bool(self.argv) and self.argv[0] == "ganfw"


@dataclass(frozen=True)
class Block:
    """A console block of ``doc`` at ``line``: ``kind`` ``run``, ``shown`` or ``checkout``, the
    marker's reason, and its commands."""

    doc: Path
    line: int
    kind: str
    why: str
    commands: list[Command] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{self.doc.relative_to(REPO)}:{self.line}"


def _commands(body: str, where: str) -> list[Command]:
    lines, commands = body.splitlines(), []
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.startswith("$ "):
            continue
        text = line[2:]
        while text.endswith("\\") and i < len(lines):
            text, i = text[:-1] + " " + lines[i].strip(), i + 1
        error = lines[i] if i < len(lines) and lines[i].startswith("error: ") else ""
        commands.append(Command(text, where, error))
    return commands


def blocks(doc: Path) -> list[Block]:
    """The console blocks of ``doc``, in order."""
    text = doc.read_text(encoding="utf-8")
    found = []
    for match in _BLOCK.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = _MARKER.fullmatch(before.strip())
        kind, why = (marker["kind"], marker["why"]) if marker else ("run", "")
        where = f"{doc.relative_to(REPO)}:{line}"
        found.append(Block(doc, line, kind, why, _commands(match.group(1), where)))
    return found


def problems(block: Block) -> list[str]:
    """Why ``block`` breaks the rules of this module's docstring (empty: it keeps them)."""
    found = []
    for command in block.commands:
        if block.kind == "run" and not command.is_ganfw:
            found.append(f"{command.where}: `{command.text}` is not a ganfw command: mark the block shown (why)")
        if block.kind != "checkout" and CHECKOUT_PATH.search(command.text):
            found.append(f"{command.where}: `{command.text}` needs a checkout: use a bundled name, or mark it checkout")
    return found
