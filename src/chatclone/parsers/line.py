"""LINE's exported chat history (`[LINE] Chat history with Ana.txt`, "Export chat history").

    [LINE] Chat history with Ana            ← title: the chat's name (Japanese `[LINE] Anaとのトーク履歴`)
    Saved on: 2024/01/05 21:15              ← when it was saved
                                            ← blank
    Fri, 01/05/2024                         ← a day line (Japanese `2024/01/05(金)`)
    21:15<TAB>Ana<TAB>text                  ← a message; 12-hour phones write `9:15 PM`
    21:16<TAB>Ana<TAB>"first line           ← a message with line breaks is quoted,
    last ""quoted"" word"                     with `""` for a literal `"`
    21:17<TAB>Ana unsent a message.         ← two columns: an event (unsent, joined, left…)

Every line is accounted for in the `ParseReport`: it is the title, the saved-on line, a day line,
a message, part of a quoted message, blank, or reported as not understood.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from chatclone.errors import InputError
from chatclone.messages import Kind, Message, chat_id_for
from chatclone.parsers.base import ParseReport, Source, head_text, iter_text_lines, sniff_encoding

INVISIBLE = "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\ufeff"
SNIFF_LINES = 60

# The title line, per language of the exporting phone: `with` for one-to-one chats, `in` for groups.
_TITLES = (
    ("English", re.compile(r"^\[LINE\]\s*Chat history (?:with|in) (?P<name>.+?)\s*$")),
    ("Japanese", re.compile(r"^\[LINE\]\s*(?P<name>.+?)(?:との|の)トーク履歴\s*$")),
    ("Chinese", re.compile(r"^\[LINE\]\s*[與与]?(?P<name>.+?)的聊天[記记][錄录]\s*$")),
    ("Thai", re.compile(r"^\[LINE\]\s*ประวัติการ(?:สนทนา|แชท)กับ\s*(?P<name>.+?)\s*$")),
)
_ANY_TITLE = re.compile(r"^\[LINE\]")
_SAVED = re.compile(r"^(?:Saved on|Save date|保存日時|保存日期|儲存日期|บันทึกวันที่)\s*[:：]?")
# File names LINE writes: `[LINE] Chat with Ana.txt`, `[LINE] Anaとのトーク.txt`.
_FILE_NAME = re.compile(
    r"^\[LINE\]\s*(?:Chat(?: history)? (?:with|in) (?P<en>.+)|(?P<ja>.+?)(?:との|の)トーク(?:履歴)?)$"
)

# Day lines. Year first (`2024/01/05(金)`, `2024.01.05 Friday`, `2024/1/5周五`): the order is
# certain. Weekday first (`Fri, 01/05/2024`): the weekday settles which number is the month.
_YMD_DAY = re.compile(
    r"^(?P<y>\d{4})[/.\-](?P<a>\d{1,2})[/.\-](?P<b>\d{1,2})"
    r"\s*(?:[(（][^()（）]{1,12}[)）]|[周週]\S|星期\S|[^\s\d]{1,12})?$"
)
_WEEKDAY_DAY = re.compile(
    r"^(?P<wd>[A-Za-z]{3,9})\.?,\s*(?P<a>\d{1,2})/(?P<b>\d{1,2})/(?P<y>\d{4})$"
)
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# `21:15`, `9:15 PM`, `09:15PM`, `午後9:15` (Japanese), `下午09:15` (Chinese), then a tab.
_MESSAGE = re.compile(
    r"^(?:(?P<pre>午前|午後|上午|下午)\s*)?(?P<h>\d{1,2}):(?P<m>\d{2})"
    r"(?:[\s\u202f\u00a0]*(?P<ampm>[AaPp])\.?\s?[Mm]\.?)?\t(?P<rest>.*)$"
)
_PM = frozenset({"p", "P", "午後", "下午"})

# Placeholders LINE writes instead of the content, by what they stand for. The text of a
# placeholder is never kept: it is not something anyone typed.
_PLACEHOLDERS: dict[str, Kind] = {
    **dict.fromkeys(
        [
            *("[Photo]", "[Video]", "[Sticker]", "[File]", "[Voice message]", "[Audio]", "[GIF]"),
            *(
                "[写真]",
                "[動画]",
                "[スタンプ]",
                "[ファイル]",
                "[ボイスメッセージ]",
                "[音声メッセージ]",
            ),
            *("[照片]", "[影片]", "[视频]", "[貼圖]", "[贴图]", "[檔案]", "[文件]", "[語音訊息]"),
        ],
        Kind.MEDIA,
    ),
    **dict.fromkeys(["[Location]", "[位置情報]", "[位置]"], Kind.LOCATION),
    **dict.fromkeys(["[Contact]", "[連絡先]", "[聯絡人資訊]"], Kind.CONTACT),
    **dict.fromkeys(["[Poll]", "[投票]"], Kind.POLL),
    # Posts to the chat's album and notes: events, not something said in the conversation.
    **dict.fromkeys(
        ["[Album]", "[アルバム]", "[相簿]", "[Note]", "[Notes]", "[ノート]", "[記事本]"],
        Kind.SYSTEM,
    ),
}
# `Ana unsent a message.`, `You unsent a message.`, `Anaがメッセージの送信を取り消しました`.
_UNSENT = re.compile(
    r"^(?:(?P<en>.+?) unsent a message\.?|(?P<ja>.*?)が?メッセージの送信を取り消しました|"
    r"(?P<zh>.*?)已收回訊息|Message unsent\.?)$"
)
_CALL = "☎"
# Events LINE writes with the name inside the text (`Ana joined the group.`).
_EVENT = re.compile(
    r"(?: joined the group| left the group| invited .+| was invited .+| added .+ to the group|"
    r" removed .+ from the group| changed the group (?:name|photo|profile picture).*|"
    r" created (?:an |the )?album.*| added .+ to (?:an |the )?album.*| (?:posted|created) a note.*|"
    r" made an announcement.*)\.?$"
    r"|(?:がグループに参加しました|がグループを退会しました|が退出しました|を招待しました|"
    r"をグループに追加しました|が.+を退会させました|がグループ名を.*変更しました|"
    r"がアルバム.*(?:作成|追加)しました|がノートを投稿しました|がアナウンスしました)$"
)


def chat_name_from(file_name: str) -> str:
    """`[LINE] Chat with Ana.txt` → `Ana`; a file without the usual prefix keeps its stem."""
    stem = Path(file_name).stem
    m = _FILE_NAME.match(stem)
    name = (m["en"] or m["ja"]) if m else stem
    return name.strip() or stem


def title_of(line: str) -> tuple[str, str] | None:
    """(language, chat name) from a title line, or None."""
    line = line.strip(INVISIBLE + " ")
    for language, pattern in _TITLES:
        m = pattern.match(line)
        if m:
            return language, m["name"]
    return None


def _is_day_line(line: str) -> bool:
    return bool(_YMD_DAY.match(line) or _WEEKDAY_DAY.match(line))


def day_of(line: str, order: str | None = None) -> date | None:
    """The day a day line names, or None if `line` is not one or names no real day.

    `order` ("DMY"/"MDY", from --date-order) settles `D/M/Y` against `M/D/Y` where the weekday is
    in a language not known here."""
    m = _YMD_DAY.match(line)
    if m is not None:
        return _date(int(m["y"]), int(m["a"]), int(m["b"]))
    m = _WEEKDAY_DAY.match(line)
    if m is None:
        return None
    weekday = m["wd"][:3].casefold()
    y, a, b = int(m["y"]), int(m["a"]), int(m["b"])
    # Month first (en-US) or day first (en-GB and most others): the weekday says which.
    readings = [d for d in (_date(y, a, b), _date(y, b, a)) if d is not None]
    if weekday in _WEEKDAYS:
        return next((d for d in readings if d.weekday() == _WEEKDAYS.index(weekday)), None)
    if order in ("DMY", "MDY"):
        return _date(y, b, a) if order == "DMY" else _date(y, a, b)
    return readings[0] if len(set(readings)) == 1 else None


def _date(y: int, month: int, day: int) -> date | None:
    try:
        return date(y, month, day)
    except ValueError:
        return None


def _time(m: re.Match[str]) -> str | None:
    hour, minute = int(m["h"]), int(m["m"])
    twelve = m["pre"] or m["ampm"]
    if minute > 59 or hour > (12 if twelve else 23):
        return None
    if twelve:
        hour = hour % 12 + (12 if twelve in _PM else 0)
    return f"{hour:02d}:{minute:02d}"


class LineParser:
    name = "line"
    description = "LINE chat history (.txt from Export chat history)"

    def sniff(self, source: Source) -> bool:
        text = head_text(source)
        if text is None:
            return False
        lines = [line.strip(INVISIBLE) for line in text.splitlines()[:SNIFF_LINES]]
        first = next((line for line in lines if line.strip()), "")
        if _ANY_TITLE.match(first):
            return title_of(first) is not None or any(_MESSAGE.match(x) for x in lines)
        # A title trimmed away: a day line and tab-separated messages under it.
        days = sum(_is_day_line(line) for line in lines)
        return days >= 1 and sum(_MESSAGE.match(x) is not None for x in lines) >= 2

    def parse(self, source: Source, report: ParseReport) -> Iterator[Message]:
        encoding = sniff_encoding(source.head())
        if encoding is None:
            raise InputError(source.display, "binary data, not a text chat export")
        reader = _Reader(source, report)
        yield from reader.read(iter_text_lines(source, encoding, report.progress))
        report.notes.insert(0, reader.note())
        if report.header_lines == 0:
            raise InputError(source.display, "no line could be read as a LINE message", 1)


@dataclass
class _Pending:
    """A message being read: where it starts, when, who, and its lines so far."""

    lineno: int
    ts: str
    sender: str | None
    first: str
    quoted: bool  # inside `"…"` that has not been closed yet
    more: list[str] = field(default_factory=list)


class _Reader:
    def __init__(self, source: Source, report: ParseReport) -> None:
        self.source = source
        self.report = report
        self.chat = chat_name_from(source.name_hint)
        self.language: str | None = None
        self.day: date | None = None
        self.day_lines = 0
        self.title_lines = 0

    @property
    def chat_id(self) -> str:
        return chat_id_for("line", self.chat)

    def note(self) -> str:
        language = f"{self.language} " if self.language else ""
        return (
            f"LINE {language}chat history; {self.day_lines} day line(s), "
            f"{self.title_lines} title line(s)"
        )

    def read(self, lines: Iterator[str]) -> Iterator[Message]:
        report = self.report
        pending: _Pending | None = None
        lineno = 0
        for lineno, raw in enumerate(lines, 1):
            line = raw.lstrip(INVISIBLE) if raw[:1] in INVISIBLE else raw
            m = _MESSAGE.match(line)
            if pending is not None and pending.quoted and m is None:
                pending.more.append(raw)
                pending.quoted = not _closes(raw)
                continue
            if pending is not None:
                yield from self._finish(pending)
                pending = None
            if m is not None:
                pending = self._start(lineno, m)
            elif lineno <= 2 and self._title(lineno, line):
                self.title_lines += 1
            elif _is_day_line(line := line.strip()):
                # A day line that names no real day leaves the messages under it undated:
                # they are reported rather than stored under the day before.
                self.day = day_of(line, self.report.options.date_order)
                if self.day is None:
                    report.not_understood(lineno)
                else:
                    self.day_lines += 1
            elif not line.strip():
                report.blank_lines += 1
            else:
                report.not_understood(lineno)
        report.lines += lineno
        if pending is not None:
            yield from self._finish(pending)

    def _title(self, lineno: int, line: str) -> bool:
        if lineno == 1 and (found := title_of(line)) is not None:
            self.language, self.chat = found
            return True
        return lineno == 2 and self.title_lines == 1 and bool(_SAVED.match(line))

    def _start(self, lineno: int, m: re.Match[str]) -> _Pending | None:
        time = _time(m)
        if time is None or self.day is None:
            self.report.not_understood(lineno)
            return None
        sender: str | None
        sender, tab, text = m["rest"].partition("\t")
        if not tab:  # two columns: an event, its text naming who
            sender, text = None, m["rest"]
        sender = (sender or "").strip() or None
        quoted = text.startswith('"') and '"' not in text[1:].replace('""', "")
        return _Pending(lineno, f"{self.day.isoformat()}T{time}", sender, text, quoted)

    def _finish(self, p: _Pending) -> Iterator[Message]:
        report = self.report
        report.header_lines += 1
        if p.quoted:
            # The quote never closed (a header came first, or the file ended): the opening `"`
            # was the sender's own, and the lines after it are not part of any message.
            for offset, line in enumerate(p.more, 1):
                if line.strip():
                    report.not_understood(p.lineno + offset)
                else:
                    report.blank_lines += 1
            text = p.first
        elif p.more:
            report.continuation_lines += len(p.more)
            text = _unescape("\n".join([p.first[1:], *p.more])[:-1])
        else:
            text = _unquote(p.first) or p.first
        yield self._message(p.lineno, p.ts, p.sender, text)

    def _message(self, lineno: int, ts: str, sender: str | None, text: str) -> Message:
        kind, sender, text = _classify(sender, text)
        return Message(
            chat=self.chat,
            chat_id=self.chat_id,
            source="line",
            ts=ts,
            sender=sender,
            kind=kind,
            text=text,
            origin_file=self.source.display,
            origin_line=lineno,
        )


def _unescape(text: str) -> str:
    return text.replace('""', '"')


def _unquote(text: str) -> str | None:
    """The text inside one whole quoted field (doubled quote marks made single), else None."""
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        return None
    inner = text[1:-1]
    if '"' in inner.replace('""', ""):
        return None
    return _unescape(inner)


def _closes(line: str) -> bool:
    """Whether a line inside a quoted message ends it: an odd run of quote marks at its end."""
    run = len(line) - len(line.rstrip('"'))
    return run % 2 == 1


def _classify(sender: str | None, text: str) -> tuple[Kind, str | None, str]:
    """(kind, sender, text) for a message's columns."""
    stripped = text.strip()
    placeholder = _PLACEHOLDERS.get(stripped)
    if placeholder is Kind.SYSTEM:
        return Kind.SYSTEM, None, stripped
    if placeholder is not None and sender is not None:
        return placeholder, sender, ""
    if stripped.startswith(_CALL) and sender is not None:
        return Kind.CALL, sender, stripped.removeprefix(_CALL).strip()
    unsent = _UNSENT.match(stripped)
    if unsent is not None:
        who = sender or (unsent["en"] or unsent["ja"] or unsent["zh"] or "").strip()
        if who and who != "You":
            return Kind.DELETED, who, ""
        # "You unsent a message." names nobody: the exporting user's name is not in the file.
        return Kind.SYSTEM, None, stripped
    if sender is None:
        return Kind.SYSTEM, None, stripped
    if stripped.startswith(sender) and _EVENT.search(stripped):
        return Kind.SYSTEM, None, stripped
    return Kind.TEXT, sender, text
