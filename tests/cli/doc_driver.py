"""Run ``ganfw`` commands one after the other in this process, as the installed package's
``ganfw`` script runs each (``ganfw.cli.main``), and write what each did as JSON: the exit
status, its stdout and stderr, and its ``seconds``. One process for them all: importing torch
once, not once a command, keeps tests/cli/test_documented_commands.py quick.

    python doc_driver.py COMMANDS.json RESULTS.json

``COMMANDS.json``: a list of ``{"cwd": FOLDER, "argv": [...]}`` (arguments without ``ganfw``),
each run in its folder. Between commands the run
directory locks this process took are released (each command would have been its own process).
The precision probe reads as a quiet machine's (as tests/shipped_recipes does): on a busy one it
would run again for every command, seconds each. A command that raises (a bug: ganfw turns every
user error into one line) is recorded with status -1 and its traceback.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time
import traceback
from pathlib import Path


def run(cwd: str, argv: list[str]) -> dict[str, object]:
    from ganfw.cli import main
    from ganfw.rundir import locks_released

    out, err, start = io.StringIO(), io.StringIO(), time.perf_counter()
    with contextlib.chdir(cwd), locks_released(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(argv)
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 0 if e.code is None else 1
        except Exception:
            code = -1
            traceback.print_exc()
    seconds = round(time.perf_counter() - start, 2)
    return {"argv": argv, "code": code, "stdout": out.getvalue(), "stderr": err.getvalue(), "seconds": seconds}


def main() -> None:
    import ganfw
    from ganfw import precision

    precision._measure = lambda device, dtype: precision.Probe(1.5)
    commands = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    results = {"ganfw": ganfw.__file__, "results": [run(c["cwd"], c["argv"]) for c in commands]}
    Path(sys.argv[2]).write_text(json.dumps(results), encoding="utf-8")


if __name__ == "__main__":
    main()
