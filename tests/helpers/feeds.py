"""Hand-written feeds for tests: small, edited, malformed and hostile ones."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape


@dataclass
class Entry:
    guid: str
    title: str
    text: str
    published: str  # RFC 3339, e.g. 2026-11-20T09:00:00Z
    link: str | None = None
    author: str = "someone"


def atom(entries: list[Entry], title: str = "Test feed") -> bytes:
    """A valid Atom 1.0 document with the given entries (text is escaped HTML content)."""
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">',
        f"<title>{escape(title)}</title><id>urn:test:{escape(title)}</id>",
        "<updated>2026-11-22T00:00:00Z</updated>",
    ]
    for e in entries:
        link = e.link or f"https://example.org/posts/{e.guid}?utm_source=feed"
        parts.append(
            f"<entry><id>{escape(e.guid)}</id><title>{escape(e.title)}</title>"
            f'<link rel="alternate" href="{escape(link)}"/>'
            f"<author><name>{escape(e.author)}</name></author>"
            f"<published>{e.published}</published><updated>{e.published}</updated>"
            f'<content type="html">{escape("<p>" + e.text + "</p>")}</content></entry>'
        )
    parts.append("</feed>")
    return "\n".join(parts).encode("utf-8")


def billion_laughs(levels: int = 10) -> bytes:
    """An RSS feed whose DOCTYPE declares exponentially nested entities (10**levels expansions)."""
    decl = ['<!ENTITY lol0 "lol">']
    for i in range(1, levels):
        decl.append(f'<!ENTITY lol{i} "' + f"&lol{i - 1};" * 10 + '">')
    return (
        '<?xml version="1.0"?>\n<!DOCTYPE rss [\n' + "\n".join(decl) + "\n]>\n"
        '<rss version="2.0"><channel><title>laughs</title><link>https://example.org/</link>'
        "<description>x</description>"
        f"<item><title>Boom &lol{levels - 1};</title><guid>boom-1</guid>"
        "<description>the entity above would expand to gigabytes</description>"
        "<pubDate>Fri, 20 Nov 2026 09:00:00 +0000</pubDate></item>"
        "</channel></rss>"
    ).encode()


def malformed_but_usable() -> bytes:
    """RSS with a bare ampersand and an unclosed tag: not XML, but entries can be recovered."""
    return (
        b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>Broken & Co</title>'
        b"<link>https://example.org/</link><description>d</description>"
        b"<item><title>Salt & pepper: Firefox is great</title><guid>m-1</guid>"
        b"<link>https://example.org/m-1</link><pubDate>Fri, 20 Nov 2026 09:00:00 +0000</pubDate>"
        b"<description>I love it & so does everyone<br></description></item>"
        b"<item><title>Second entry</title><guid>m-2</guid><link>https://example.org/m-2</link>"
        b"<pubDate>Fri, 20 Nov 2026 10:00:00 +0000</pubDate><description>fine</description></item>"
        b"</channel></rss>"
    )
