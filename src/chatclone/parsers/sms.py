"""Android SMS and MMS backed up by SyncTech's "SMS Backup & Restore" (`sms-<date>.xml`).

The backup is one XML document, `<smses count backup_set backup_date>`, holding one element per
message, oldest first within each kind (the shape SyncTech documents in "Fields in XML Backup
Files" and its `sms.xsl`):

- `<sms address date type body contact_name …/>`: `type` 1 received, 2 sent; 3 draft, 4 outbox,
  5 failed, 6 queued.
- `<mms date msg_box address contact_name …><parts><part ct name cl text data/>…</parts>
  <addrs><addr address type/>…</addrs></mms>`: `msg_box` 1 received, 2 sent, 3 draft, 4 outbox,
  5 failed; `address` lists the conversation's other members joined by `~`; an `addr` of `type`
  137 is the sender (151 to, 130 cc, 129 bcc).

The file is read as a stream with expat (what ElementTree's `iterparse` wraps), which also tells
the line each record starts on; a part's `data` (the base64 of a photo, often megabytes) is never
kept. What is made of it:

- One chat per conversation: 1:1 by the other party's normalised address (its digits, keeping a
  leading +; an address without digits, such as a sender id "AMAZON", by its letters), named by
  `contact_name` (else the address as written); a group MMS by the set of its members' addresses,
  named by its `contact_name` (the names joined), else by the members' names or numbers.
- Sent messages (type/msg_box 2) are from "Me", reported as the owner ("Me", "sms:me"): the backup
  does not hold the owner's own name. Received ones are from the contact; in a group MMS from the
  `addr` of type 137, named where the same number is a 1:1 contact read earlier in the file,
  else its number.
- Drafts, outbox, failed and queued messages never reached anyone: skipped, counted in a note.
- MMS `text/plain` parts are the text; image, video, audio and other file parts make a `media`
  message (its first file's `name`/`cl` is the attachment); a vCard part is a `contact`; SMIL
  layout parts are ignored. An MMS with neither is skipped and counted.
- `date` is Unix milliseconds, shown as wall-clock time in the ingest zone.
- Old versions of the app wrote emoji as pairs of UTF-16 surrogate references (`&#55357;&#56832;`),
  which no XML parser accepts: the byte stream is rewritten block by block, each pair becoming the
  character it stands for; a lone surrogate reference becomes U+FFFD (counted in a note).

A record that cannot be understood (no readable `date`, an unknown `type`…) is counted in
`ParseReport.unparsed_lines` by the line it starts on; a file in which no record can be read, or
that is not well-formed XML, fails naming the line.
"""

from __future__ import annotations

import codecs
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO
from xml.parsers import expat

from chatclone.errors import InputError
from chatclone.messages import Kind, Message, chat_id_for
from chatclone.parsers.base import (
    READ_ERRORS,
    TEXT_BLOCK,
    Clock,
    ParseReport,
    Source,
    nothing_readable,
)

OWNER = ("Me", "sms:me")  # the backup does not name its owner
_SNIFF = re.compile(rb"(?:\s|<\?.*?\?>|<!--.*?-->)*<smses[\s>/]", re.DOTALL)
_SENT, _RECEIVED = "2", "1"
_UNSENT = {"3": "draft", "4": "outbox", "5": "failed", "6": "queued"}
_FROM = "137"
_NULL = ("", "null", "(Unknown)")  # what the app writes for a missing value or unknown contact
_MEDIA = ("image/", "video/", "audio/", "application/")
_VCARD = ("text/x-vcard", "text/vcard", "text/directory")
_SKIPPED_PARTS = ("application/smil",)

# Surrogate references: a high one (U+D800–DBFF) followed by a low one (U+DC00–DFFF).
_HIGH = rb"&#(?:(5[56]\d{3})|[xX]([dD][89abAB][0-9a-fA-F]{2}));"
_LOW = rb"&#(?:(5[67]\d{3})|[xX]([dD][c-fC-F][0-9a-fA-F]{2}));"
_PAIR = re.compile(_HIGH + _LOW)
_LONE = re.compile(rb"&#(?:(5[5-7]\d{3})|[xX]([dD][89a-fA-F][0-9a-fA-F]{2}));")
_LONGEST_PAIR = 32  # bytes: a pair split between two blocks starts within the last ones


class SmsBackupParser:
    name = "sms"
    description = 'Android SMS/MMS backed up by SyncTech\'s "SMS Backup & Restore" (sms-*.xml)'

    def sniff(self, source: Source) -> bool:
        return bool(_SNIFF.match(source.head().removeprefix(codecs.BOM_UTF8)))

    def parse(self, source: Source, report: ParseReport) -> Iterator[Message]:
        report.unit = "line"
        reader = _Reader(source, report)
        try:
            with source.open() as f:
                yield from reader.read(f)
        except READ_ERRORS as e:
            raise InputError(source.display, f"cannot read (truncated or corrupt?): {e}") from None
        reader.finish()


@dataclass
class _Mms:
    attrs: dict[str, str]
    line: int
    parts: list[dict[str, str]] = field(default_factory=list)
    addrs: list[dict[str, str]] = field(default_factory=list)


class _SurrogateFixer:
    """Turns surrogate-pair character references into the character they stand for, in a stream
    of blocks: a reference that might be cut by a block's end waits for the next block."""

    def __init__(self) -> None:
        self.carry = b""
        self.pairs = 0
        self.lone = 0
        self.first_lone: int | None = None
        self.lines = 0  # newlines handed on so far

    def feed(self, block: bytes, final: bool = False) -> bytes:
        data = self.carry + block
        if b"&#" in data:
            data = _PAIR.sub(self._pair, data)
        cut = len(data)
        if not final:
            tail = data.find(b"&", max(0, len(data) - _LONGEST_PAIR))
            cut = cut if tail < 0 else tail
        out, self.carry = data[:cut], data[cut:]
        if b"&#" in out:
            out = _LONE.sub(lambda m: self._lone(m, out), out)
        self.lines += out.count(b"\n")
        return out

    def _pair(self, m: re.Match[bytes]) -> bytes:
        high, low = _code(m[1], m[2]), _code(m[3], m[4])
        if not (0xD800 <= high <= 0xDBFF and 0xDC00 <= low <= 0xDFFF):
            return m[0]
        self.pairs += 1
        return b"&#x%X;" % (0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))

    def _lone(self, m: re.Match[bytes], out: bytes) -> bytes:
        if not 0xD800 <= _code(m[1], m[2]) <= 0xDFFF:
            return m[0]
        self.lone += 1
        if self.first_lone is None:
            self.first_lone = self.lines + out.count(b"\n", 0, m.start()) + 1
        return b"&#xFFFD;"


def _code(decimal: bytes | None, hexadecimal: bytes | None) -> int:
    return int(decimal) if decimal is not None else int(hexadecimal or b"0", 16)


class _Reader:
    """expat events → messages."""

    def __init__(self, source: Source, report: ParseReport) -> None:
        self.source = source
        self.report = report
        self.clock = Clock(report.options.timezone)
        self.fixer = _SurrogateFixer()
        self.parser = expat.ParserCreate()
        self.parser.StartElementHandler = self._start
        self.parser.EndElementHandler = self._end
        self.ready: list[tuple[str, dict[str, str], int] | _Mms] = []
        self.mms: _Mms | None = None
        self.root: str | None = None
        self.contacts: dict[str, str] = {}  # normalised number → contact name, from 1:1 records
        self.chat_names: dict[str, str] = {}  # chat key → the name it was first given
        self.records = 0
        self.kept = 0
        self.first_failure: tuple[int, str] | None = None
        self.unsent: Counter[str] = Counter()
        self.empty = 0
        self.declared: str | None = None

    # --- reading ---------------------------------------------------------------------------------

    def read(self, f: IO[bytes]) -> Iterator[Message]:
        while block := f.read(TEXT_BLOCK):
            self._feed(self.fixer.feed(block), final=False)
            yield from self._drain()
            if self.report.progress is not None:
                self.report.progress(f.tell())
        self._feed(self.fixer.feed(b"", final=True), final=True)
        yield from self._drain()

    def _feed(self, data: bytes, final: bool) -> None:
        try:
            self.parser.Parse(data, final)
        except expat.ExpatError as e:
            problem = f"not valid XML: {expat.ErrorString(e.code)} at column {e.offset + 1}"
            raise InputError(self.source.display, problem, e.lineno) from None

    def _start(self, name: str, attrs: dict[str, str]) -> None:
        line = self.parser.CurrentLineNumber
        if self.root is None:
            self.root = name
            if name != "smses":
                raise InputError(self.source.display, f"starts with <{name}>, not <smses>", line)
            self.declared = attrs.get("count")
        elif name == "sms":
            self.ready.append((name, attrs, line))
        elif name == "mms":
            self.mms = _Mms(attrs, line)
        elif self.mms is not None and name == "part":
            attrs.pop("data", None)  # the file itself, in base64: not kept
            self.mms.parts.append(attrs)
        elif self.mms is not None and name == "addr":
            self.mms.addrs.append(attrs)

    def _end(self, name: str) -> None:
        if name == "mms" and self.mms is not None:
            self.ready.append(self.mms)
            self.mms = None

    def _drain(self) -> Iterator[Message]:
        ready, self.ready = self.ready, []
        for item in ready:
            self.records += 1
            message = self._mms(item) if isinstance(item, _Mms) else self._sms(item[1], item[2])
            if message is not None:
                self.kept += 1
                yield message

    # --- records ---------------------------------------------------------------------------------

    def _sms(self, attrs: dict[str, str], line: int) -> Message | None:
        box = attrs.get("type", "")
        ts = self._time(attrs.get("date"))
        if ts is None:
            return self._fail(line, "no readable `date`")
        if box in _UNSENT:
            self.unsent[_UNSENT[box]] += 1
            return None
        if box not in (_SENT, _RECEIVED):
            return self._fail(line, f"unknown `type` {box!r}")
        address = attrs.get("address", "").strip()
        key = _normalise(address)
        if not key:
            return self._fail(line, "no `address`")
        name = _value(attrs.get("contact_name"))
        if name:
            self.contacts[key] = name
        chat = self._chat_name(key, name or self.contacts.get(key) or address)
        text = attrs.get("body", "")
        if not text.strip():
            self.empty += 1
            return None
        sender = self._me() if box == _SENT else (name or self.contacts.get(key) or address)
        return self._message(chat, key, ts, sender, Kind.TEXT, text, None, line)

    def _mms(self, mms: _Mms) -> Message | None:
        attrs, line = mms.attrs, mms.line
        box = attrs.get("msg_box", "")
        ts = self._time(attrs.get("date"))
        if ts is None:
            return self._fail(line, "no readable `date`")
        if box in _UNSENT:
            self.unsent[_UNSENT[box]] += 1
            return None
        if box not in (_SENT, _RECEIVED):
            return self._fail(line, f"unknown `msg_box` {box!r}")
        members = self._members(mms, box)
        if not members:
            return self._fail(line, "no `address`")
        key = ",".join(sorted(members))
        name = _value(attrs.get("contact_name"))
        if len(members) == 1 and name:
            self.contacts[key] = name
        chat = self._chat_name(key, self._group_name(attrs.get("contact_name", ""), members))
        kind, text, attachment = _content(mms.parts)
        if kind is None:
            self.empty += 1
            return None
        if box == _SENT:
            sender = self._me()
        elif (sender_key := self._from(mms)) is not None:
            sender = self.contacts.get(sender_key[0]) or sender_key[1]
        elif len(members) == 1:
            sender = chat
        else:
            return self._fail(line, "a group message without a sender (`addr` type 137)")
        return self._message(chat, key, ts, sender, kind, text, attachment, line)

    def _members(self, mms: _Mms, box: str) -> dict[str, str]:
        """The conversation's other members, normalised → as written: the `address` list, else
        the `addr`s other than the sender of a message I sent."""
        written = [a.strip() for a in mms.attrs.get("address", "").split("~") if a.strip()]
        if not written:
            written = [
                a.get("address", "").strip()
                for a in mms.addrs
                if box == _RECEIVED or a.get("type") != _FROM
            ]
        members = {_normalise(a): a for a in written if _value(a)}
        members.pop("", None)
        return members

    def _group_name(self, written: str, members: dict[str, str]) -> str:
        """The contact names the app joined (one per member, in the order of `address`), with
        each "(Unknown)" replaced by a name known from a 1:1 chat, else by the number."""
        names = [n.strip() for n in written.split(",")]
        if len(names) == len(members):
            pairs = zip(names, members.items(), strict=True)
            return ", ".join(_value(n) or self.contacts.get(k) or a for n, (k, a) in pairs)
        if _value(written) and "(Unknown)" not in written:
            return written.strip()  # a name with a comma in it
        return ", ".join(self.contacts.get(k) or a for k, a in members.items())

    def _from(self, mms: _Mms) -> tuple[str, str] | None:
        for addr in mms.addrs:
            address = addr.get("address", "").strip()
            if addr.get("type") == _FROM and _value(address) and (key := _normalise(address)):
                return key, address
        return None

    def _chat_name(self, key: str, name: str) -> str:
        """The chat's name: the first this file gave it, so all its messages agree."""
        return self.chat_names.setdefault(key, name)

    def _me(self) -> str:
        self.report.owner = OWNER
        return OWNER[0]

    def _message(
        self,
        chat: str,
        key: str,
        ts: str,
        sender: str,
        kind: Kind,
        text: str,
        attachment: str | None,
        line: int,
    ) -> Message:
        return Message(
            chat=chat,
            chat_id=chat_id_for("sms", key),
            source="sms",
            ts=ts,
            sender=sender,
            kind=kind,
            text=text,
            attachment=attachment,
            origin_file=self.source.display,
            origin_line=line,
        )

    def _time(self, value: str | None) -> str | None:
        if value is None or not value.strip().isdigit():
            return None
        number = int(value)
        # The app writes milliseconds; Android keeps an MMS's `date` in seconds, which a few
        # other tools copy as it is.
        return self.clock.wall_time(number // 1000 if number >= 10**11 else number)

    def _fail(self, line: int, reason: str) -> Message | None:
        """Count the record on `line` as not understood; None, the message it does not make."""
        self.report.not_understood(line)
        if self.first_failure is None:
            self.first_failure = (line, reason)
        return None

    # --- the end ---------------------------------------------------------------------------------

    def finish(self) -> None:
        if self.root is None:
            raise InputError(self.source.display, "no <smses> element: not an SMS backup")
        if self.first_failure is not None and not self.kept:
            where, reason = self.first_failure
            raise nothing_readable(
                self.source, self.report.unparsed, "record", f"line {where}", reason
            )
        notes = self.report.notes
        notes.append(f"SMS Backup & Restore XML: {len(self.chat_names)} conversation(s)")
        notes.append(f"times (Unix milliseconds) shown in {self.clock.describe()}")
        if self.report.owner is not None:
            notes.append(
                'sent messages are from "Me" ("sms:me"): the backup does not hold your own name'
            )
        else:
            notes.append('no sent message: who is "me" is left to chatclone\'s inference')
        if self.unsent:
            listed = ", ".join(f"{n} {box}" for box, n in sorted(self.unsent.items()))
            notes.append(f"{sum(self.unsent.values())} unsent message(s) skipped ({listed})")
        if self.empty:
            notes.append(f"{self.empty} message(s) with no text or file skipped")
        if self.fixer.pairs:
            notes.append(
                f"{self.fixer.pairs} character(s) written as surrogate-pair references "
                "(`&#55357;&#56832;`, not valid XML) read as the characters they stand for"
            )
        if self.fixer.lone:
            notes.append(
                f"{self.fixer.lone} lone surrogate reference(s) (not valid XML) read as U+FFFD, "
                f"the first on line {self.fixer.first_lone}"
            )
        if self.declared and self.declared.isdigit() and int(self.declared) != self.records:
            notes.append(f"<smses count> says {self.declared} but {self.records} were read")


def _value(text: str | None) -> str:
    """`text`, stripped; "" for the app's stand-ins for nothing ("null", "(Unknown)")."""
    text = (text or "").strip()
    return "" if text in _NULL else text


def _normalise(address: str) -> str:
    """A phone number's digits, keeping a leading +; an address without digits (a sender id such
    as "AMAZON", an e-mail address) by its letters, case-folded."""
    address = address.strip()
    digits = "".join(c for c in address if c.isdigit())
    if digits:
        return ("+" if address.startswith("+") else "") + digits
    return address.casefold()


def _content(parts: list[dict[str, str]]) -> tuple[Kind | None, str, str | None]:
    """An MMS's kind, text and first file name; kind None where it holds neither text nor file."""
    texts: list[str] = []
    files: list[str] = []
    kind: Kind | None = None
    for part in parts:
        ct = part.get("ct", "").strip().lower()
        if ct.startswith(_SKIPPED_PARTS):
            continue
        if ct == "text/plain":
            if part.get("text", "").strip():
                texts.append(part["text"])
            continue
        if ct.startswith(_VCARD):
            kind = kind or Kind.CONTACT
        elif ct.startswith(_MEDIA):
            kind = Kind.MEDIA
        else:
            continue
        name = _value(part.get("name")) or _value(part.get("cl"))
        if name:
            files.append(name)
    text = "\n".join(texts)
    if kind is None and text:
        kind = Kind.TEXT
    return kind, text, files[0] if files else None
