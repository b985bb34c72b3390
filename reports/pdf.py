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

_FONTS = Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def _fmt(value: float | None, digits: int = 0, signed: bool = False, suffix: str = "") -> str:
    if value is None:
        return "n/a"
    return (f"{value:+,.{digits}f}" if signed else f"{value:,.{digits}f}") + suffix


def render_pdf(digest: Digest, charts: list[Chart]) -> bytes:
    """A4 PDF: headline table, charts, and per product the numbers and the notable mentions."""
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

    pdf.set_font("DejaVu", "B", 16)
    pdf.multi_cell(width, 8, digest.title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 8)
    pdf.multi_cell(width, 5, align="L", text=f"Generated {digest.generated_at} by listener; data cut-off {digest.cutoff}; "
                             f"{digest.total_posts:,} posts, {digest.total_mentions:,} product mentions.",
                   new_x="LMARGIN", new_y="NEXT")
    if digest.notice:
        pdf.set_font("DejaVu", "B", 9)
        pdf.multi_cell(width, 5, align="L", text=f"Note: {digest.notice}.", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)

    with pdf.table(col_widths=(30, 20, 18, 26, 22, 20, 34), text_align=("LEFT", "LEFT", "RIGHT", "RIGHT",
                                                                          "RIGHT", "RIGHT", "RIGHT"),
                   line_height=5, first_row_as_headings=True) as table:
        table.row(["Product", "Side", "Mentions", f"vs {digest.products[0].changes[0].periods if digest.products else 7}"
                   "-period mean", "Share of voice", "Net sentiment", "Positive / neutral / negative"])
        for p in digest.products:
            change = p.changes[0] if p.changes else None
            table.row([p.name, "ours" if p.ours else "competitor", f"{p.mentions:,}",
                       _fmt(change.delta if change else None, 1, True),
                       _fmt(p.share_of_voice * 100 if p.share_of_voice is not None else None, 1, suffix="%"),
                       _fmt(p.net_sentiment, 0, True), f"{p.positive} / {p.neutral} / {p.negative}"])
    if "share-of-voice" in by_name:
        pdf.image(io.BytesIO(by_name["share-of-voice"].png), w=width)

    for i, p in enumerate(digest.products, 1):
        pdf.add_page()
        pdf.set_font("DejaVu", "B", 13)
        pdf.cell(width, 8, f"{p.name} ({'ours' if p.ours else 'competitor'})", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("DejaVu", "", 9)
        changes = "; ".join(f"{_fmt(c.delta, 1, True)} vs the {c.periods}-period mean" for c in p.changes)
        pdf.multi_cell(width, 5, align="L", text=f"{p.mentions:,} mentions; {changes}; net sentiment "
                                 f"{_fmt(p.net_sentiment, 0, True)}"
                                 + (f" (sentiment not computed for {p.not_computed:,})" if p.not_computed else "")
                                 + ".", new_x="LMARGIN", new_y="NEXT")
        if f"volume-{i}" in by_name:
            pdf.image(io.BytesIO(by_name[f"volume-{i}"].png), w=width)
        for a in p.alarms:
            pdf.multi_cell(width, 5, align="L", text=f"{a.day}: {a.metric} {a.kind} (value {a.value:g}, expected about "
                                     f"{a.expected:g})", new_x="LMARGIN", new_y="NEXT")
        for heading, refs in (("Most engaged", p.most_engaged), ("Most positive", p.top_positive),
                              ("Most negative", p.top_negative), ("May need a response", p.needs_response)):
            pdf.set_font("DejaVu", "B", 10)
            pdf.cell(width, 7, heading, new_x="LMARGIN", new_y="NEXT")
            pdf.set_font("DejaVu", "", 8)
            for m in refs or []:
                score = f"{m.sentiment:+.2f} " if m.sentiment is not None else ""
                pdf.multi_cell(width, 4.5, f"{score}{m.title} ({m.source}, {m.posted_at}) {m.url or ''}", align="L",
                               new_x="LMARGIN", new_y="NEXT")
            if not refs:
                pdf.cell(width, 4.5, "none", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
