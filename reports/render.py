"""Render a digest as Markdown and as one self-contained HTML file, and write both atomically.

Collected text is untrusted. HTML goes through Jinja's autoescape; Markdown
through a finalize hook that escapes every value that is not explicitly marked
safe, so a template cannot forget. Links are kept only for http(s) URLs.
"""

from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Callable
from urllib.parse import quote, urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from listener.files import write_atomic
from reports.deliver import Message, cid
from reports.digest import Digest
from reports.look import Look

if TYPE_CHECKING:
    from reports.charts import Chart
# reports.charts (matplotlib) and reports.pdf (fpdf) are imported where a digest is drawn: at the
# top they cost every CLI command and the web server 0.4 s of start-up.

EMAIL_WIDTH = 700  # px: what email clients show without scrolling; the emailed HTML stays within it


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~>])")


def md_escape(value: object) -> str:
    """Text safe to drop into Markdown: HTML-escaped, Markdown punctuation backslashed, one line."""
    text = " ".join(str(value).split())
    text = html.escape(text, quote=False)
    return _MD_SPECIAL.sub(r"\\\1", text)


def safe_url(url: str | None) -> str | None:
    """The URL if it is http(s), else None (no javascript:, data: or relative links)."""
    if not url:
        return None
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None
    return url if scheme in ("http", "https") else None


def _md_url(url: str | None) -> Markup:
    good = safe_url(url)
    return Markup(quote(good, safe=":/?&=#%~+@,;!$'*") if good else "")


def _num(value: float | int | None, digits: int = 0, signed: bool = False, suffix: str = "") -> Markup:
    if value is None:
        return Markup("n/a")
    text = f"{value:+,.{digits}f}" if signed else f"{value:,.{digits}f}"
    if text.lstrip("+-").strip("0.,") == "":
        text = text.lstrip("+-")
    return Markup(text + suffix)


def _pct(value: float | None, digits: int = 1) -> Markup:
    return _num(None if value is None else value * 100, digits, suffix="%")


def _finalize_md(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, (Markup, int, float)):
        return value
    return md_escape(value)


def _env(markdown: bool) -> Environment:
    env = Environment(
        loader=PackageLoader("reports", "templates"),
        autoescape=False if markdown else select_autoescape(default=True, default_for_string=True),
        finalize=_finalize_md if markdown else None,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(num=_num, pct=_pct, safe_url=safe_url, md_url=_md_url)
    return env


def digest_charts(digest: Digest) -> list[Chart]:
    """The digest's charts: share of voice, then per product volume/mood and sentiment by topic."""
    from reports.charts import share_chart, topic_chart, volume_chart

    charts = []
    if digest.total_mentions and len(digest.products) > 1:
        charts.append(share_chart("share-of-voice", [p.name for p in digest.products],
                                  [p.share_of_voice or 0.0 for p in digest.products],
                                  [p.ours for p in digest.products]))
    for i, p in enumerate(digest.products, 1):
        if not p.mentions:  # one line in the digest, no chart of nothing
            continue
        charts.append(volume_chart(f"volume-{i}", p.name, [d.day for d in p.series],
                                   [d.mentions for d in p.series], [d.net_sentiment for d in p.series]))
        if p.topics:
            top = p.topics[:8]
            charts.append(topic_chart(f"topics-{i}", p.name, [t.topic for t in top],
                                      [t.positive for t in top], [t.negative for t in top]))
    return charts


def render_markdown(digest: Digest, charts: list[Chart] | None = None, image_prefix: str = "",
                    look: Look = Look()) -> str:
    """Markdown; charts are referenced as ``{image_prefix}{name}.png`` files written beside it."""
    return _env(markdown=True).get_template("digest.md.j2").render(
        d=digest, charts={c.name: c for c in charts or []}, image_prefix=Markup(image_prefix), look=look)


def render_html(digest: Digest, charts: list[Chart] | None = None,
                image_src: Callable[[Chart], str] | None = None, look: Look = Look(), email: bool = False) -> str:
    """One self-contained HTML page: charts inline as data URIs unless ``image_src`` says otherwise.

    It fits any width from a phone's 375 px up (tables condense, then stack); ``email``: the page also
    stays within ``EMAIL_WIDTH`` by inline styles alone, since email clients drop most stylesheets."""
    src = image_src or (lambda c: "data:image/png;base64," + base64.b64encode(c.png).decode())
    return _env(markdown=False).get_template("digest.html.j2").render(
        d=digest, charts={c.name: c for c in charts or []}, src=src, look=look, email=email,
        email_width=EMAIL_WIDTH, css_string=_css_string,
        # numbers in a table wrap at spaces only, even where a client keeps no more than inline styles
        email_table="width:100%;border-collapse:collapse;overflow-wrap:normal;word-break:normal")


def _css_string(text: str) -> Markup:
    """``text`` as a double-quoted CSS string, safe inside a <style> element (no quote, backslash or
    "<" survives unescaped)."""
    return Markup('"' + "".join(c if c.isalnum() or c in " .,:;'()%+-/" else f"\\{ord(c):x} " for c in text)
                  + '"')


def write_digest(digest: Digest, out_dir: Path, charts: list[Chart] | None = None, look: Look = Look()) -> list[Path]:
    """Write ``<slug>.html``, ``<slug>.md`` (+ chart PNGs), ``.json`` and ``.pdf``; return paths, HTML first."""
    from reports.pdf import render_pdf

    out_dir = Path(out_dir)
    charts = digest_charts(digest) if charts is None else charts
    html_path = write_atomic(out_dir / f"{digest.slug}.html", render_html(digest, charts, look=look))
    for c in charts:
        write_atomic(out_dir / f"{digest.slug}.{c.name}.png", c.png)
    md_path = write_atomic(out_dir / f"{digest.slug}.md",
                           render_markdown(digest, charts, image_prefix=f"{digest.slug}.", look=look))
    json_path = write_atomic(out_dir / f"{digest.slug}.json",
                             json.dumps(digest.to_json(), indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    pdf_path = write_atomic(out_dir / f"{digest.slug}.pdf", render_pdf(digest, charts, look))
    return [html_path, md_path, json_path, pdf_path]


def digest_subject(digest: Digest) -> str:
    """One line a reader can act on: the period and each of our products' headline numbers."""
    ours = [p for p in digest.products if p.ours] or digest.products[:1]
    parts = []
    for p in ours[:3]:
        change = p.changes[0].pct if p.changes else None  # against the first baseline
        change_text = f" ({change:+.0f}%)" if change is not None else ""
        net = f", net {p.net_sentiment:+.0f}" if p.net_sentiment is not None else ""
        parts.append(f"{p.name} {p.mentions} mentions{change_text}{net}")
    return f"listener: {digest.title}" + (": " + "; ".join(parts) if parts else "")


def digest_message(digest: Digest, charts: list[Chart], look: Look = Look()) -> Message:
    """The digest as a message for every channel: email (HTML + inline charts), Slack, JSON webhook."""
    subject = digest_subject(digest)
    lines = [f"{p.name} ({'ours' if p.ours else 'competitor'}): {p.mentions} mentions, share of voice "
             f"{(p.share_of_voice or 0) * 100:.1f}%, net sentiment "
             f"{'n/a' if p.net_sentiment is None else f'{p.net_sentiment:+.0f}'}"
             + (f" ({p.sentiment_basis})" if p.sentiment_basis else "")
             + "".join(f"; {a.metric} {a.kind} on {a.day}" for a in p.alarms)
             for p in digest.products] + ([f"Note: {digest.notice}"] if digest.notice else [])
    blocks = [{"type": "header", "text": {"type": "plain_text", "text": digest.title[:150]}},
              {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(
                  "• " + _slack_escape(line) for line in lines)[:2900]}}]
    return Message(
        subject=subject,
        text=render_markdown(digest, look=look),
        html=render_html(digest, charts, image_src=lambda c: "cid:" + cid(c.name), look=look, email=True),
        images=tuple((c.name, c.png) for c in charts),
        payload={"event": "digest", "digest": digest.to_json()},
        slack_blocks=blocks,
    )


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
