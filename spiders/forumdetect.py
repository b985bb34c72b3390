"""Which forum engine served a page, and what a page is when it holds no threads or posts.

``detect_engine`` reads the generator meta tag, then markup only one engine
writes (``spiders.forum_presets.MARKERS``), then tries each preset's selectors.
``page_trouble`` names a login/registration wall or a maintenance/database error
page, so the user reads what the forum said instead of "selector matched nothing".
"""

from __future__ import annotations

import re

from parsel import Selector

from spiders.forum_presets import API_ENGINES, GENERATORS, MARKERS, PRESETS

_MAINTENANCE_RE = re.compile(
    r"database (?:error|unavailable|is (?:currently )?(?:not available|unavailable|down))|"
    r"connection problems|too many connections|maintenance|temporarily (?:unavailable|closed|offline)|"
    r"service unavailable|board (?:is )?(?:currently )?(?:offline|disabled|closed)|be back soon|"
    r"wartungsarbeiten|en maintenance|en mantenimiento", re.I)
_LOGIN_RE = re.compile(
    r"\b(?:log ?in|sign ?in|register|registered|not logged in|no permission|do not have permission|"
    r"members only|must be (?:logged|registered)|anmelden|registrieren|connexion|iniciar sesi)", re.I)


def detect_engine(page: Selector) -> str | None:
    """The preset for the engine that wrote ``page``, or None if no known engine's traces are there."""
    for content in page.css("meta[name=generator]::attr(content)").getall():
        low = content.lower()
        for needle, preset in GENERATORS:
            if needle in low:
                return _refine(page, preset)
    for css, preset in MARKERS:
        if page.css(css):
            return preset
    best, most = None, 0
    for preset, sel in PRESETS.items():
        if preset in API_ENGINES:
            continue
        found = len(page.css(sel["thread"])) + len(page.css(sel["post"]))
        if found > most:
            best, most = preset, found
    return best


def _refine(page: Selector, preset: str) -> str:
    """A generator tag names the engine; its markup tells the major version (XenForo 1/2, SMF 1/2/2.1)."""
    family = re.sub(r"\d+$", "", preset)
    if family in ("xenforo", "smf", "phpbb", "vbulletin"):
        for css, marked in MARKERS:
            if marked.startswith(family) and page.css(css):
                return marked
    return preset


def page_title(page: Selector) -> str:
    """The page's title (or first heading), squeezed to one line of at most 80 characters."""
    text = page.css("title::text").get() or page.css("h1").xpath("string()").get() or ""
    return " ".join(text.split())[:80]


def page_trouble(page: Selector) -> str | None:
    """A one-line reason when the page is a maintenance/database error page or a login wall."""
    title = page_title(page)
    heads = " ".join(" ".join(h.xpath("string()").get("").split()) for h in page.css("h1, h2, h3")[:6])
    body = " ".join(page.xpath("string(//body)").get("").split())[:3000]
    if _MAINTENANCE_RE.search(title) or _MAINTENANCE_RE.search(heads) or \
            (len(body) < 1500 and _MAINTENANCE_RE.search(body)):
        return f"the forum answered with an error page ({title or heads[:80]!r}): maintenance or database " \
               "trouble, try again later"
    if page.css("input[type=password]") and (_LOGIN_RE.search(title) or _LOGIN_RE.search(heads) or
                                              _LOGIN_RE.search(body[:1500])):
        return f"a login/registration wall ({title!r}): this board is not public, so it cannot be read"
    if re.search(r"must (?:be )?(?:registered|logged[- ]in)|not logged in or you do not have permission|"
                 r"(?:do not|don't|don’t) have permission|you are not allowed to view|off limits to you|"
                 r"please (?:log ?in|sign ?in|register)",
                 body[:3000], re.I):
        return f"a login/registration wall ({title!r}): this board is not public, so it cannot be read"
    return None
