"""Every source at once: one ingest of an export from each messenger gives one store, whose `stats`
and `build` work across all of them (a person's voice is spread over many apps)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from golden import FIXTURES
from helpers import SAMPLE, cli

# One export per source, as the tools write them (files, folders), besides the demo's WhatsApp.
EXPORTS = {
    "telegram": FIXTURES / "telegram" / "personal_chat.json",
    "discord": FIXTURES / "discord" / "guild_channel.json",
    # Discord's own data package: only its owner's messages, in chats of source "discord".
    "discord-package": FIXTURES / "discord_package" / "package.zip",
    "line": FIXTURES / "line" / "[LINE] Chat with Ana.txt",
    "chatlab": FIXTURES / "chatlab" / "group.json",
    "signal": FIXTURES / "signal" / "one_to_one",
    "slack": FIXTURES / "slack" / "workspace",
    "messenger": FIXTURES / "messenger" / "facebook-ana",
    "instagram": FIXTURES / "messenger" / "instagram-ana",
    "sms": FIXTURES / "sms" / "one_to_one.xml",
    "googlechat": FIXTURES / "googlechat" / "takeout",
    "csv": FIXTURES / "csv" / "Ben Ortiz.csv",
    "imessage": FIXTURES / "imessage" / "chat.db",
}


def test_one_store_from_every_source(tmp_path: Path, machine_zone: Callable[[str], None]) -> None:
    machine_zone("UTC")
    ws = tmp_path / "ws"
    run = cli("ingest", *SAMPLE.values(), *EXPORTS.values(), "-w", ws, "--json")
    assert run.code == 0, run.err
    ingested = json.loads(run.out)
    parsers = {f["parser"] for f in ingested["files"]}
    assert parsers == {"whatsapp", *EXPORTS}
    assert all(f["added"] > 0 for f in ingested["files"]), ingested["files"]

    stats = cli("stats", "-w", ws, "--json")
    assert stats.code == 0, stats.err
    data = json.loads(stats.out)
    sources = {c["source"] for c in data["chat_list"]}
    assert sources == {"whatsapp", *EXPORTS} - {"discord-package"}
    assert "discord:1192837465019283746" in {c["id"] for c in data["chat_list"]}  # the package's
    assert data["stored"] == ingested["added"]

    # The demo's person, and "Me" as the tools that know no name write the owner.
    assert cli("me", "Sam Rivera", "--alias", "Me", "-w", ws).code == 0
    built = cli("build", "-w", ws, "--json", "--no-low-info-filter", "--no-memory")
    assert built.code == 0, built.err
    report = json.loads(built.out)
    assert report["samples"]["train"] > 0
    folder = Path(report["path"])
    chats = {
        json.loads(line)["messages"][0]["content"]
        for line in (folder / "train.jsonl").read_text("utf-8").splitlines()
    }
    # Samples come from more than one messenger: the system prompt names where it was texted.
    named = {
        src for src in ("WhatsApp", "Telegram", "Signal", "SMS") if any(src in c for c in chats)
    }
    assert len(named) >= 2, named
