"""What a user error looks like on stderr: one ``error:`` line, exit status 2, no traceback, and
no raw control character (whatever the input echoed held)."""

from __future__ import annotations

import re

#: Control characters a terminal would act on (a line break ends a line and is allowed).
RAW_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def one_error_line(code: int, err: str) -> str:
    """The single ``error:`` line of ``err``, checked: status 2, no traceback, nothing raw."""
    assert code == 2, err
    assert "Traceback" not in err, err
    assert not RAW_CONTROL.search(err), repr(err)
    (line,) = [x for x in err.splitlines() if x.startswith("error:")]
    return line
