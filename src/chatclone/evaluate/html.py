"""report.html: one self-contained page from report.json, for a person to read.

Inline CSS and inline SVG only (no scripts, fonts, images or links out): the chats are private and
the page must open offline. Everything that came from a chat or the user is escaped, since chat
text can hold `<script>`. The same report always gives the same bytes: nothing here reads the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any

from chatclone.evaluate import svg
from chatclone.evaluate.svg import VERDICTS, is_number, plain

KINDS = {
    "answerable": "the chats hold the answer",
    "changed": "the answer changed over time; only the latest is right",
    "unanswerable": "the chats never say; the right move is not to invent",
    "false_premise": "the question assumes something untrue",
}
REAL_COLOR = "#1f2937"
PALETTE = ("#0072b2", "#cc79a7", "#56b4e9", "#7c3aed", "#0f766e", "#b45309")
BETTER = {"lower": "↓ lower", "higher": "↑ higher", "real": "≈ real"}
NONE = "—"


@dataclass(frozen=True)
class Metric:
    """A row of the summary table: where its value lives and which way is better."""

    label: str
    part: str  # "style", "loss" or "facts": the system's section that holds it
    key: str
    digits: int
    better: str  # a key of BETTER


METRICS = (
    Metric("style distance", "style", "distance", 2, "lower"),
    Metric("authorship", "style", "authorship", 2, "higher"),
    Metric("authorship (normalised)", "style", "authorship_normalised", 2, "higher"),
    Metric("copy rate", "style", "copy_rate", 2, "lower"),
    Metric("distinct-1", "style", "distinct_1", 2, "real"),
    Metric("distinct-2", "style", "distinct_2", 2, "real"),
    Metric("held-out NLL", "loss", "valid_nll", 3, "lower"),
    Metric("accuracy", "facts", "accuracy", 2, "higher"),
    Metric("hallucination rate", "facts", "hallucination_rate", 2, "lower"),
    Metric("abstention rate", "facts", "abstention_rate", 2, "lower"),
    Metric("update accuracy", "facts", "update_accuracy", 2, "higher"),
)
FACT_METRICS = tuple(m for m in METRICS if m.part == "facts")

CSS = """
body{font:15px/1.45 system-ui,sans-serif;color:#1f2937;background:#f6f7f9;margin:0}
main{max-width:1080px;margin:0 auto;padding:24px}h1{margin:0 0 4px;font-size:24px}
section,header{background:#fff;border-radius:10px;padding:18px 22px;margin:0 0 18px;
box-shadow:0 1px 3px #0002}h2{margin:0 0 12px;font-size:19px}h3{margin:18px 0 8px;font-size:16px}
.muted,small,dt{color:#6b7280}.reason{font-size:13px;color:#4b5563}
.note{background:#fff7e6;border-left:4px solid #e69f00;padding:8px 12px;margin:12px 0 0}
dl{display:flex;flex-wrap:wrap;gap:6px 22px;margin:12px 0 0}dd{margin:0 0 0 6px}dl div{display:flex}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{padding:6px 10px;border-bottom:1px solid #e5e7eb;text-align:left;vertical-align:top}
td.num{white-space:nowrap}.best{font-weight:700;background:#ecfdf3}
.legend{display:flex;flex-wrap:wrap;gap:14px;list-style:none;padding:0;margin:6px 0}
.swatch{display:inline-block;width:11px;height:11px;border-radius:3px;margin-right:6px}
svg{max-width:100%;height:auto;display:block;margin:8px 0}
.card{border:1px solid #e5e7eb;border-radius:10px;padding:12px;margin:10px 0}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(220px,1fr));gap:10px}
.col{background:#fafafa;border-radius:8px;padding:8px;border-top:4px solid #d1d5db}
.bubbles{display:flex;flex-direction:column;gap:4px;align-items:flex-start;margin:6px 0}
.b{background:#e5e7eb;border-radius:14px;padding:5px 11px;white-space:pre-wrap;
overflow-wrap:anywhere}
.me{align-items:flex-end}.me .b{background:#dbeafe}
.tag{display:inline-block;border-radius:9px;padding:0 8px;color:#fff;font-size:12px}
"""


def render_html(report: dict[str, Any]) -> str:
    """The whole page: header, summary table, style, facts, probes and held-out samples."""
    systems = [s for s in report.get("systems") or [] if isinstance(s, dict)]
    colors = _colors(systems)
    sections = [
        _header(report),
        _summary(systems),
        _style(systems, colors),
        _facts(systems, colors),
        _probes(systems, colors),
        _examples(report.get("examples") or [], systems, colors),
    ]
    title = _esc(f"chatclone eval · {report.get('name') or 'unnamed'}")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{title}</title><style>{CSS}</style></head>\n<body><main>\n"
        + "\n".join(sections)
        + "\n</main></body></html>\n"
    )


def _esc(value: Any) -> str:
    return escape(str(value), quote=True)


def _fmt(value: Any, digits: int = 2) -> str:
    return f"{value:.{digits}f}" if is_number(value) else NONE


def _colors(systems: list[dict[str, Any]]) -> dict[str, str]:
    """The real person is always near-black; other systems take the palette in report order."""
    colors = {str(s.get("name")): REAL_COLOR for s in systems if s.get("kind") == "real"}
    others = [str(s.get("name")) for s in systems if s.get("kind") != "real"]
    return colors | {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(others)}


def _section(title: str, body: str) -> str:
    return f"<section><h2>{title}</h2>{body}</section>"


def _part(system: dict[str, Any], part: str) -> dict[str, Any]:
    value = system.get(part)
    return value if isinstance(value, dict) else {}


def _when(created: Any) -> str:
    try:
        stamp = datetime.fromisoformat(str(created))
    except ValueError:
        return str(created or NONE)
    zone = (
        " UTC" if stamp.utcoffset() is not None and not stamp.utcoffset() else stamp.strftime(" %z")
    )
    return stamp.strftime("%Y-%m-%d %H:%M") + zone.rstrip()


def _header(report: dict[str, Any]) -> str:
    settings = _part(report, "settings")
    heldout = _part(report, "heldout")
    author = _part(report, "authorship_model")
    runs = settings.get("runs") or []
    facts: list[tuple[str, Any]] = [
        (
            "held-out turns",
            f"{settings.get('heldout_turns', NONE)} asked, {heldout.get('turns', NONE)} used "
            f"from {heldout.get('sessions', NONE)} sessions",
        ),
        ("max_new_tokens", settings.get("max_new_tokens", NONE)),
        ("temperature", settings.get("temperature", NONE)),
        ("seed", settings.get("seed", NONE)),
        ("judge", settings.get("judge", NONE)),
        ("runs", ", ".join(str(r) for r in runs) or NONE),
        ("base model", "yes" if settings.get("base") else "no"),
        ("probes", settings.get("probes") or NONE),
        (
            "authorship classifier",
            f"accuracy {_fmt(author.get('accuracy'))} on "
            f"{author.get('person', NONE)} of theirs / {author.get('others', NONE)} of others",
        ),
    ]
    items = "".join(f"<div><dt>{_esc(k)}</dt><dd>{_esc(v)}</dd></div>" for k, v in facts)
    seconds = report.get("seconds")
    took = f"{seconds:.1f} s" if is_number(seconds) else NONE
    return (
        f"<header><h1>Evaluation {_esc(report.get('name') or 'unnamed')}</h1>"
        f'<div class="muted">dataset {_esc(report.get("dataset") or NONE)} · '
        f"{_esc(_when(report.get('created')))} · took {_esc(took)}</div><dl>{items}</dl>"
        '<p class="note">Replies on this page, except the real person\'s, were written by AI '
        "models and may be false. The chats are private: this page was made on this machine, "
        "loads nothing from the network and is not meant to be shared.</p></header>"
    )


def _summary(systems: list[dict[str, Any]]) -> str:
    if not systems:
        return _section("Summary", "<p>No systems were evaluated.</p>")
    heads = "".join(
        f"<th>{_esc(s.get('name'))}<br><small>{_esc(_describe(s))}</small></th>" for s in systems
    )
    rows = []
    for metric in METRICS:
        best = _best(systems, metric)
        cells = "".join(
            f'<td class="num{" best" if i in best else ""}">{_cell(s, metric)}</td>'
            for i, s in enumerate(systems)
        )
        better = f"<small>{BETTER[metric.better]}</small>"
        rows.append(f"<tr><th>{metric.label}</th><td>{better}</td>{cells}</tr>")
    return (
        "<section><h2>Summary</h2><table><thead><tr><th>metric</th><th>better</th>"
        f"{heads}</tr></thead><tbody>{''.join(rows)}</tbody></table><p><small>Fact metrics: value "
        "[95 % interval] hits/probes. Bold: the best system that is not the real person.</small>"
        "</p></section>"
    )


def _describe(system: dict[str, Any]) -> str:
    if system.get("kind") == "real":
        return "the person's real replies"
    model = "/".join(str(system[k]) for k in ("backend", "model") if system.get(k))
    return " · ".join(p for p in (str(system.get("kind") or ""), model) if p)


def _value(system: dict[str, Any], metric: Metric) -> Any:
    return _part(system, metric.part).get(metric.key)


def _fact(system: dict[str, Any], key: str) -> tuple[Any, Any, Any, str]:
    """A fact metric's value, its interval's ends and its "hits/probes" (None or "" if absent)."""
    facts = _part(system, "facts")
    interval = (facts.get("intervals") or {}).get(key)
    low, high = interval if isinstance(interval, list) and len(interval) == 2 else (None, None)
    counts = (facts.get("counts") or {}).get(key)
    hits = f"{counts[0]}/{counts[1]}" if isinstance(counts, list) and len(counts) == 2 else ""
    return facts.get(key), low, high, hits


def _cell(system: dict[str, Any], metric: Metric) -> str:
    value = _value(system, metric)
    if metric.part != "facts" or not is_number(value):
        return _fmt(value, metric.digits)
    _, low, high, hits = _fact(system, metric.key)
    interval = f" <small>[{_fmt(low)}, {_fmt(high)}]</small>" if is_number(low) else ""
    return f"{_fmt(value)}{interval}" + (f" <small>{_esc(hits)}</small>" if hits else "")


def _best(systems: list[dict[str, Any]], metric: Metric) -> set[int]:
    """Which columns to mark: the real person is the yardstick, so it never wins."""
    real = next((_value(s, metric) for s in systems if s.get("kind") == "real"), None)
    scores: dict[int, float] = {}
    for i, system in enumerate(systems):
        value = _value(system, metric)
        if system.get("kind") == "real" or not is_number(value):
            continue
        if metric.better == "real":
            if not is_number(real):
                return set()
            scores[i] = abs(value - real)
        else:
            scores[i] = -value if metric.better == "higher" else value
    if len(scores) < 2:
        return set()
    top = min(scores.values())
    return {i for i, score in scores.items() if score == top}


def _legend(items: list[tuple[str, str]]) -> str:
    entries = "".join(
        f'<li><span class="swatch" style="background:{c}"></span>{_esc(n)}</li>' for n, c in items
    )
    return f'<ul class="legend">{entries}</ul>'


def _system_legend(systems: list[dict[str, Any]], colors: dict[str, str]) -> str:
    return _legend([(str(s.get("name")), colors[str(s.get("name"))]) for s in systems])


def _style(systems: list[dict[str, Any]], colors: dict[str, str]) -> str:
    styled = [s for s in systems if _part(s, "style").get("features")]
    if not styled:
        return _section("Style", "<p>No style measures in this report.</p>")
    names = list(dict.fromkeys(k for s in styled for k in _part(s, "style")["features"]))
    chart = svg.style_plot(names, styled, colors)
    return (
        "<section><h2>Style</h2><p>Each dot is a system's mean for one feature, measured from the "
        "real person's mean (the dark line) in units of the person's own variation; the grey band "
        "is ±1, the range the person spans themselves. Arrows: further than 3.</p>"
        f"{_system_legend(styled, colors)}{chart}"
        f"{_feature_table(names, styled)}</section>"
    )


def _feature_table(names: list[str], styled: list[dict[str, Any]]) -> str:
    """The dots' numbers, and each system's favourite emoji with its overlap with the person's."""
    heads = "".join(f"<th>{_esc(s.get('name'))}</th>" for s in styled)
    rows = []
    for name in names:
        feats = [_part(s, "style")["features"].get(name) or {} for s in styled]
        first = next((f for f in feats if f), {})
        real = f"{plain(first.get('real'))} ± {plain(first.get('scale'))}"
        cells = "".join(f'<td class="num">{plain(f.get("system"))}</td>' for f in feats)
        label = _esc(name.replace("_", " "))
        rows.append(f'<tr><th>{label}</th><td class="num">{real}</td>{cells}</tr>')
    emoji = [_part(s, "style").get("emoji") or {} for s in styled]
    top = [" ".join(f"{e} {n}" for e, n in (m.get("system") or [])[:6]) for m in emoji]
    cells = "".join(
        f"<td>{_esc(t)} <small>({_fmt(m.get('overlap'))})</small></td>"
        for t, m in zip(top, emoji, strict=True)
    )
    rows.append(f"<tr><th>emoji <small>(overlap)</small></th><td></td>{cells}</tr>")
    return (
        f"<details open><summary>The numbers</summary><table><thead><tr><th>feature</th><th>person "
        f"± spread</th>{heads}</tr></thead><tbody>{''.join(rows)}</tbody></table></details>"
    )


def _with_facts(systems: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The systems that answered probes (the real person never does)."""
    return [s for s in systems if isinstance(s.get("facts"), dict)]


def _facts(systems: list[dict[str, Any]], colors: dict[str, str]) -> str:
    judged = _with_facts(systems)
    if not judged:
        return _section("Facts", "<p>No probes given.</p>")
    kinds = list(
        dict.fromkeys([*KINDS, *(k for s in judged for k in s["facts"].get("by_kind") or {})])
    )
    bars = [
        svg.Group(f"{m.label} ({BETTER[m.better]})", tuple(_fact_bar(s, m, colors) for s in judged))
        for m in FACT_METRICS
    ]
    return (
        "<section><h2>Facts</h2><h3>Verdicts per probe kind</h3>"
        f"{_legend(list(VERDICTS.items()))}{svg.verdict_plot(kinds, judged)}"
        "<h3>Fact metrics with 95 % intervals</h3>"
        f"{_system_legend(judged, colors)}"
        f"{svg.bar_chart(bars, label='fact metrics with intervals')}</section>"
    )


def _fact_bar(system: dict[str, Any], metric: Metric, colors: dict[str, str]) -> svg.Bar:
    value, low, high, hits = _fact(system, metric.key)
    note = _fmt(value) + (f" [{_fmt(low)}, {_fmt(high)}]" if is_number(low) else "") + f" {hits}"
    name = str(system.get("name"))
    floats = [float(v) if is_number(v) else None for v in (value, low, high)]
    return svg.Bar(name, floats[0], colors[name], floats[1], floats[2], note.rstrip())


def _bubbles(text: Any, me: bool = True) -> str:
    """A reply's lines are the separate bubbles it was sent as."""
    lines = [line for line in str(text or "").split("\n") if line.strip()]
    if not lines:
        return '<div class="bubbles"><em class="muted">(no reply)</em></div>'
    inner = "".join(f'<div class="b">{_esc(line)}</div>' for line in lines)
    return f'<div class="bubbles{" me" if me else ""}">{inner}</div>'


def _column(name: str, color: str, body: str, tag: str = "") -> str:
    return (
        f'<div class="col" style="border-top-color:{color}"><strong>{_esc(name)}</strong> '
        f"{tag}{body}</div>"
    )


def _probes(systems: list[dict[str, Any]], colors: dict[str, str]) -> str:
    judged = _with_facts(systems)
    probes: dict[str, dict[str, Any]] = {}
    for system in judged:
        for probe in system["facts"].get("probes") or []:
            key = str(probe.get("probe_id") or probe.get("question"))
            entry = probes.setdefault(
                key, {"kind": probe.get("kind"), "question": probe.get("question"), "by": {}}
            )
            entry["by"][str(system.get("name"))] = probe
    if not probes:
        return _section("Probes", "<p>No probes given.</p>")
    kinds = list(dict.fromkeys([*KINDS, *(str(p["kind"]) for p in probes.values())]))
    parts = ["<section><h2>Probes</h2>", _legend(list(VERDICTS.items()))]
    for kind in kinds:
        cards = [_probe_card(p, judged, colors) for p in probes.values() if str(p["kind"]) == kind]
        if cards:
            about = f" <small>{_esc(KINDS[kind])}</small>" if kind in KINDS else ""
            parts.append(f"<h3>{_esc(kind.replace('_', ' '))}{about}</h3>{''.join(cards)}")
    return "".join(parts) + "</section>"


def _probe_card(probe: dict[str, Any], judged: list[dict[str, Any]], colors: dict[str, str]) -> str:
    columns = []
    for system in judged:
        name = str(system.get("name"))
        answer = probe["by"].get(name)
        if answer is None:
            continue
        verdict = str(answer.get("verdict") or "unjudged")
        color = VERDICTS.get(verdict, "#6b7280")
        tag = f'<span class="tag" style="background:{color}">{_esc(verdict)}</span>'
        reason = f'<div class="reason">{_esc(answer.get("reason") or "")}</div>'
        columns.append(_column(name, colors[name], _bubbles(answer.get("reply")) + reason, tag))
    question = _bubbles(probe["question"], me=False)
    return f'<div class="card">{question}<div class="grid">{"".join(columns)}</div></div>'


def _examples(examples: list[Any], systems: list[dict[str, Any]], colors: dict[str, str]) -> str:
    shown = [e for e in examples if isinstance(e, dict)]
    if not shown:
        return _section("Held-out samples", "<p>No held-out samples in this report.</p>")
    generated = [str(s.get("name")) for s in systems if s.get("kind") != "real"]
    cards = []
    for example in shown:
        replies = example.get("replies") or {}
        names = list(dict.fromkeys([*generated, *(str(n) for n in replies)]))
        columns = [_column("real", REAL_COLOR, _bubbles(example.get("real")))]
        columns += [_column(n, colors.get(n, "#6b7280"), _bubbles(replies.get(n))) for n in names]
        context = _bubbles(example.get("context"), me=False)
        grid = f'<div class="grid">{"".join(columns)}</div>'
        cards.append(
            f'<div class="card"><small class="muted">they wrote</small>{context}{grid}</div>'
        )
    return (
        "<section><h2>Held-out samples</h2><p>Turns the models never trained on: the last "
        "message before the reply, what the person really sent, and each system's reply.</p>"
        f"{''.join(cards)}</section>"
    )
