"""Render a digest as Markdown and as one self-contained HTML file, and write both atomically.

Collected text is untrusted. HTML goes through Jinja's autoescape; Markdown
through a finalize hook that escapes every value that is not explicitly marked
safe, so a template cannot forget. Links are kept only for http(s) URLs.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from urllib.parse import quote, urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from listener.files import write_atomic
from reports.digest import Digest

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


def render_markdown(digest: Digest) -> str:
    return _env(markdown=True).get_template("digest.md.j2").render(d=digest)


def render_html(digest: Digest) -> str:
    peak = max([p.mentions for p in digest.products] + [1])
    return _env(markdown=False).get_template("digest.html.j2").render(d=digest, peak=peak)


def write_digest(digest: Digest, out_dir: Path) -> list[Path]:
    """Write ``<slug>.md`` and ``<slug>.html`` into ``out_dir``; return their paths (HTML first)."""
    out_dir = Path(out_dir)
    html_path = write_atomic(out_dir / f"{digest.slug}.html", render_html(digest))
    md_path = write_atomic(out_dir / f"{digest.slug}.md", render_markdown(digest))
    return [html_path, md_path]
