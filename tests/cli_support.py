"""What every CLI test expects of bad input: exit code 1 and one readable line, no traceback."""

from __future__ import annotations

import re


def one_line_error(result, pattern: str, exit_code: int | None = None) -> None:
    """Exit code 1 (2 for a bad option value) and one line, on stderr; nothing on stdout."""
    assert result.exit_code == exit_code if exit_code is not None else result.exit_code in (1, 2), result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert re.search(pattern, lines[0]), result.output
    assert result.stdout == "", result.stdout
