"""Golden files: every fixture export has a `<fixture>.expected.json` of what must come out.

Regenerate after a deliberate change with `UPDATE_GOLDEN=1 make test`, then read the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from chatclone.errors import InputError
from chatclone.parsers.base import ParseReport
from chatclone.parsers.sources import discover

FIXTURES = Path(__file__).parent / "fixtures"


def parse_to_dict(path: Path) -> dict[str, Any]:
    """Everything a parser makes of `path`, in a JSON-able form with paths made relative."""
    files = []
    for found in discover(path):
        report = ParseReport()
        messages = [
            {
                "chat": m.chat,
                "ts": m.ts,
                "sender": m.sender,
                "kind": m.kind.value,
                "text": m.text,
                "edited": m.edited,
                "reply_to": m.reply_to,
                "source_id": m.source_id,
                "attachment": m.attachment,
                "line": m.origin_line,
                **({"sender_id": m.sender_id} if m.sender_id is not None else {}),
            }
            for m in found.parser.parse(found.source, report)
        ]
        files.append(
            {
                "file": Path(found.source.display).name,
                "parser": found.parser.name,
                "messages": messages,
                "unparsed": report.unparsed,
                "unparsed_lines": report.unparsed_lines,
                "owner": list(report.owner) if report.owner else None,
                "notes": report.notes,
            }
        )
    return {"files": files}


def expected_path(fixture: Path) -> Path:
    return fixture.with_name(fixture.name + ".expected.json")


def check_golden(fixture: Path) -> None:
    got = parse_to_dict(fixture)
    expected_file = expected_path(fixture)
    if os.environ.get("UPDATE_GOLDEN") or not expected_file.exists():
        expected_file.write_text(json.dumps(got, ensure_ascii=False, indent=1) + "\n", "utf-8")
        if not os.environ.get("UPDATE_GOLDEN"):
            raise AssertionError(f"wrote missing golden file {expected_file}; review and commit it")
    expected = json.loads(expected_file.read_text("utf-8"))
    assert got == expected, f"{fixture.name} differs from {expected_file.name}"


def fixtures(messenger: str) -> list[Path]:
    folder = FIXTURES / messenger
    return sorted(
        p
        for p in folder.iterdir()
        if not p.name.endswith(".expected.json") and p.name != "README.md"
    )


def check_fixture(fixture: Path, errors: dict[str, str]) -> None:
    """The fixture's golden file; or, for a fixture named in `errors` (one that must fail as a
    whole), the end of the error it fails with, and no golden file beside it."""
    if fixture.name in errors:
        with pytest.raises(InputError) as caught:
            check_golden(fixture)
        assert str(caught.value).endswith(errors[fixture.name])
        assert not expected_path(fixture).exists()
    else:
        check_golden(fixture)
