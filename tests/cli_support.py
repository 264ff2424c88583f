"""What every CLI test expects of bad input: exit code 1 and one readable line, no traceback."""

from __future__ import annotations

import re


def one_line_error(result, pattern: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert re.search(pattern, lines[0]), result.output
