"""The digest as a PDF, drawn with fpdf2 (pure Python, no browser).

Text is set in the DejaVu Sans that ships with matplotlib, so any script in
collected text prints (fpdf2's built-in fonts are Latin-1 only). Collected text
is drawn as text, never interpreted as markup. Dates inside the file are pinned
so the same digest gives the same bytes.
"""

from __future__ import annotations

import io
from datetime import datetime, timezone
from pathlib import Path

import matplotlib
from fpdf import FPDF

from reports.charts import Chart
from reports.digest import Digest
from reports.look import Look

_FONTS = Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def _fmt(value: float | None, digits: int = 0, signed: bool = False, suffix: str = "") -> str:
    if value is None:
        return "n/a"
    text = f"{value:+,.{digits}f}" if signed else f"{value:,.{digits}f}"
    if text.lstrip("+-").strip("0.,") == "":
        text = text.lstrip("+-")
    return text + suffix


def _plural(n: int | float, word: str) -> str:
    return f"{_fmt(n)} {word}{'' if n == 1 else 's'}"


def _change(c) -> str:
    if c.mean is None:
        return "no earlier data"
    return f"{_fmt(c.delta, 1, True)} ({_fmt(c.pct, 0, True, '%') if c.pct is not None else 'none before'})"


def _why(dr) -> str:
    if not dr:
        return ""
    parts = []
    for label, items in (("terms", dr.terms), ("sources", dr.sources), ("authors", dr.authors),
                         ("topics", dr.topics)):
        if items:
            parts.append(f"{label} " + ", ".join(f"{k} ({_fmt(n)})" for k, n in items))
    return "Why: " + "; ".join(parts) if parts else ""


def render_pdf(digest: Digest, charts: list[Chart], look: Look = Look()) -> bytes:
    """A4 PDF with every section of the HTML digest: headline table, share of voice, per product its
    numbers, chart, what changed and why, sentiment by topic, notable mentions, top sources and
    authors; posts by source; definitions. Times in ``look``'s time zone; each post with its original
    URL and, when ``look`` has a base URL, its page in listener."""
    pdf = FPDF(format="A4")
    pdf.set_creation_date(datetime.fromisoformat(digest.generated_at.replace("Z", "+00:00"))
                          if digest.generated_at else datetime(2000, 1, 1, tzinfo=timezone.utc))
    pdf.set_title(digest.title)
    pdf.set_creator("listener")
    pdf.add_font("DejaVu", "", str(_FONTS / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(_FONTS / "DejaVuSans-Bold.ttf"))
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin
    by_name = {c.name: c for c in charts}

    def para(text: str, size: float = 9, bold: bool = False, height: float = 5) -> None:
        pdf.set_font("DejaVu", "B" if bold else "", size)
        pdf.multi_cell(width, height, text, align="L", new_x="LMARGIN", new_y="NEXT")

    def links(url: str | None, post_id: int | None) -> str:
        own = look.post_url(post_id)
        return (f" {url}" if url else "") + (f" (in listener: {own})" if own else "")

    def heading(text: str, size: float = 11) -> None:
        pdf.ln(1)
        para(text, size, bold=True, height=7)

    para(digest.title, 16, bold=True, height=8)
    para(f"Generated {look.time(digest.generated_at)} by listener; data cut-off {look.time(digest.cutoff)}; "
         f"{_plural(digest.total_posts, 'post')}, {_plural(digest.total_mentions, 'product mention')}.", 8)
    if not digest.total_posts:
        para("No posts were collected for this period"
             + (f" (collected data starts {digest.history_start})" if digest.history_start else "")
             + ": nothing to report.", 10, bold=True)
    elif not digest.total_mentions:
        para(f"No tracked product was mentioned in this period ({_plural(digest.total_posts, 'post')} collected).",
             10, bold=True)
    if digest.note:
        para(digest.note, bold=True)
    if digest.notice:
        para(f"Note: {digest.notice}.", bold=True)
    pdf.ln(2)

    if digest.total_mentions:
        changes = digest.products[0].changes if digest.products else []
        with pdf.table(text_align="LEFT", line_height=4.5, first_row_as_headings=True) as table:
            pdf.set_font("DejaVu", "", 7.5)
            table.row(["Product", "Mentions", *[f"vs {c.label}" for c in changes], "Share of voice",
                       "Net sentiment", "Positive / neutral / negative"])
            for p in digest.products:
                table.row([f"{p.name} ({'ours' if p.ours else 'competitor'})", _fmt(p.mentions),
                           *[_change(c) for c in p.changes],
                           _fmt(p.share_of_voice * 100 if p.share_of_voice is not None else None, 1, suffix="%"),
                           _fmt(p.net_sentiment, 0, True),
                           f"{_fmt(p.positive)} / {_fmt(p.neutral)} / {_fmt(p.negative)}"])
    if "share-of-voice" in by_name:
        pdf.image(io.BytesIO(by_name["share-of-voice"].png), w=width)

    for i, p in enumerate(digest.products, 1):
        if not p.mentions:
            known = [f"{c.label}: {_fmt(c.mean, 1)}" for c in p.changes if c.mean]
            para(f"{p.name} ({'ours' if p.ours else 'competitor'}): no mentions in this period"
                 + ("; " + ", ".join(known) if known else "") + ".")
            continue
        pdf.add_page()
        heading(f"{p.name} ({'ours' if p.ours else 'competitor'})", 13)
        changes = "; ".join("no earlier data to compare with" if c.mean is None else
                            f"{_fmt(c.delta, 1, True)} vs the {c.label} of {_fmt(c.mean, 1)}" for c in p.changes)
        para(f"{_plural(p.mentions, 'mention')}" + (f", {changes}" if changes else "")
             + f"; net sentiment {_fmt(p.net_sentiment, 0, True)}"
             + (f" ({p.sentiment_basis})" if p.sentiment_basis else "")
             + (f" (sentiment not computed for {_fmt(p.not_computed)})" if p.not_computed else "")
             + f"; share of voice {_fmt((p.share_of_voice or 0) * 100, 1, suffix='%')}.")
        if len(p.languages) > 1:
            _languages(pdf, p.languages)
        if f"volume-{i}" in by_name:
            pdf.image(io.BytesIO(by_name[f"volume-{i}"].png), w=width)
        heading("What changed", 10)
        if p.changes and p.changes[0].mean is not None:
            para(f"Against the {p.changes[0].label}: {_fmt(p.changes[0].delta, 1, True)} mentions.")
        elif p.drivers:
            para("No earlier data to compare with; what the mentions are about:")
        if _why(p.drivers):
            para(_why(p.drivers), 8)
            for e in p.drivers.examples:
                para(f"  - {e['title']} ({e['source']}, {look.time(e['posted_at'])}){links(e['url'], e['post_id'])}", 8)
        for a in p.alarms:
            value = (_plural(a.value, "mention") + f", expected about {_fmt(a.expected, 1)}" if a.metric == "volume"
                     else f"{_fmt(a.value * 100, 1)}% negative, expected about {_fmt(a.expected * 100, 1)}%")
            para(f"{a.day}: {a.metric} {a.kind}: {value}", bold=True)
            if a.drivers and _why(a.drivers):
                para(_why(a.drivers), 8)
                for e in a.drivers.examples:
                    para(f"  - {e['title']} ({e['source']}, {look.time(e['posted_at'])})"
                         f"{links(e['url'], e['post_id'])}", 8)
        for e in p.emerging:
            growth = "" if e.growth is None else f", {_fmt(e.growth, 1)}x as common as in the baseline"
            para(f"{'new topic' if e.is_new else 'topic'} ({_plural(e.size, 'post')}, {e.period_start} to "
                 f"{e.period_end}{growth}): {', '.join(e.terms[:6])}")
            for x in e.examples:
                para(f"  - {x.get('title') or '(untitled)'} ({x.get('source')}){links(x.get('url'), x.get('post_id'))}", 8)
        if not p.alarms and not p.emerging:
            para("No spikes or drops against the day-of-week baseline.")
        if p.topics:
            heading("Sentiment by topic", 10)
            if f"topics-{i}" in by_name:
                pdf.image(io.BytesIO(by_name[f"topics-{i}"].png), w=width)
            for t in p.topics:
                para(f"{t.topic}: {_plural(t.mentions, 'mention')}, {_fmt(t.positive)} positive, "
                     f"{_fmt(t.negative)} negative", 8)
        for title, refs in (("Most engaged", p.most_engaged), ("Most positive", p.top_positive),
                            ("Most negative", p.top_negative), ("May need a response", p.needs_response)):
            heading(title, 10)
            for m in refs:
                score = f"{_fmt(m.sentiment, 2, True)} " if m.sentiment is not None else ""
                copies = f", +{_fmt(m.copies)} {'copy' if m.copies == 1 else 'copies'}" if m.copies else ""
                para(f"{score}{m.title} ({m.source}, {look.time(m.posted_at)}{copies}){links(m.url, m.post_id)}", 8,
                     height=4.5)
            if not refs:
                para("None in this period.", 8)
        heading("Top sources", 10)
        para(", ".join(f"{k} ({_fmt(n)})" for k, n in p.top_sources) or "None.", 8)
        heading("Top authors", 10)
        para(", ".join(f"{k} ({_fmt(n)})" for k, n in p.top_authors) or "None.", 8)

    if digest.posts_by_source:
        heading("Posts by source")
        para(", ".join(f"{k} ({_fmt(n)})" for k, n in digest.posts_by_source.items()), 8)
    heading("Definitions")
    for term, text in digest.definitions.items():
        para(f"{term}: {text}", 8, height=4.5)
    para(f"Reproducibility: schema {digest.schema}; settings sha256 {digest.settings_sha256[:16]}; data cut-off "
         f"{digest.cutoff} (for --cutoff).", 7)
    return bytes(pdf.output())


def _languages(pdf, moods: list) -> None:
    """A product's mood by language, as the HTML digest's table."""
    def share(x: float | None) -> str:
        return _fmt(x * 100, 1, suffix="%") if x is not None else "n/a"

    pdf.set_font("DejaVu", "", 7.5)
    with pdf.table(text_align="LEFT", line_height=4.5, first_row_as_headings=True) as table:
        table.row(["Language (the post's, as classified)", "Mentions", "Net sentiment", "Positive", "Negative",
                   "Unscored"])
        for m in moods:
            table.row([m.language, _fmt(m.mentions),
                       "not scored" if m.net_sentiment is None else _fmt(m.net_sentiment, 0, True),
                       share(m.positive_share), share(m.negative_share), _fmt(m.unscored)])
