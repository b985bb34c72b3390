"""Server-side rendering: the Jinja environment (autoescaped), pages as responses, inline SVG chart geometry."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode

from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from listener import search as search_mod
from listener.users import Principal
from reports.overview import ProductOverview
from reports.render import safe_url


@dataclass(frozen=True)
class Pages:
    """Renders a template as an HTML response; ``auth`` tells templates a token guards the site;
    ``me`` is who is logged in (None: nobody, or an open site) and ``logout_csrf`` the CSRF token of
    the nav's logout form, both set per request by ``deps.get_pages``."""

    env: Environment
    auth: bool = False
    me: Principal | None = None
    logout_csrf: str = ""

    def render(self, name: str, status: int = 200, **ctx) -> HTMLResponse:
        html = self.env.get_template(name).render(auth=self.auth, me=self.me, logout_csrf=self.logout_csrf, **ctx)
        return HTMLResponse(html, status_code=status)


def link(path: str, form: dict, **extra) -> str:
    """``path`` with the non-empty form fields (and ``extra``) as its query string."""
    params = {k: v for k, v in {**form, **extra}.items() if v not in ("", None)}
    return path + ("?" + urlencode(params) if params else "")


def urlpart(value: object) -> str:
    """A value as one URL path segment or query value: every reserved character encoded (``AC/DC`` -> ``AC%2FDC``)."""
    return quote(str(value), safe="")


CHART_W, CHART_H, CHART_PAD = 640, 160, 24


def chart(o: ProductOverview, kind: str) -> dict:
    """Bar geometry for an inline SVG chart: mentions per day, or net sentiment (-100..100) per day."""
    n = len(o.days)
    step = (CHART_W - 2 * CHART_PAD) / max(n, 1)
    inner = CHART_H - 2 * CHART_PAD
    bars = []
    if kind == "mentions":
        peak = max([d.mentions for d in o.days] + [1])
        zero = CHART_PAD + inner
        for i, d in enumerate(o.days):
            h = inner * d.mentions / peak
            bars.append({"x": CHART_PAD + i * step + 1, "y": zero - h, "w": max(step - 2, 1), "h": h,
                         "cls": "bar", "label": f"{d.day}: {d.mentions} mention(s)" if d.known
                         else f"{d.day}: no data collected"})
        axis = {"top": f"{peak}", "bottom": "0"}
    else:
        zero = CHART_PAD + inner / 2
        for i, d in enumerate(o.days):
            v = d.net_sentiment
            h = 0 if v is None else inner / 2 * abs(v) / 100
            bars.append({"x": CHART_PAD + i * step + 1, "y": zero - h if (v or 0) >= 0 else zero,
                         "w": max(step - 2, 1), "h": h, "cls": "pos" if (v or 0) >= 0 else "neg",
                         "label": f"{d.day}: " + ("no data collected" if not d.known else "no mentions" if v is None
                                                  else f"net sentiment {v:+.0f}")})
        axis = {"top": "+100", "bottom": "-100"}
    return {"w": CHART_W, "h": CHART_H, "pad": CHART_PAD, "zero": zero, "bars": bars, "axis": axis,
            "first": o.days[0].day if o.days else "", "last": o.days[-1].day if o.days else ""}


PALETTE = ("#3b6ea5", "#e67e22", "#2e8540", "#8e44ad", "#c0392b", "#16a085", "#7f8c8d", "#d4ac0d")


def share_chart(items: list[ProductOverview]) -> dict:
    """Geometry of the share-of-voice chart: per day, one bar stacked by each product's share of that
    day's mentions; a grey stub where nothing was collected; a marker above a day on which any
    product had a spike or drop (the digest's detector), named in its title."""
    days = items[0].days if items else []
    n = len(days)
    step = (CHART_W - 2 * CHART_PAD) / max(n, 1)
    inner = CHART_H - 2 * CHART_PAD
    bottom = CHART_PAD + inner
    bars, marks = [], []
    alarms: dict[str, list[str]] = {}
    for o in items:
        for a in o.alarms:
            alarms.setdefault(a["day"], []).append(f"{o.name}: {a['metric']} {a['kind']}")
    for i, day in enumerate(days):
        x, w = CHART_PAD + i * step + 1, max(step - 2, 1)
        total = sum(o.days[i].mentions for o in items)
        if not day.known:
            bars.append({"x": x, "y": bottom - 2, "w": w, "h": 2, "fill": "#bbb", "label": f"{day.day}: no data collected"})
        y = bottom
        for k, o in enumerate(items):
            m = o.days[i].mentions
            if not total or not m:
                continue
            h = inner * m / total
            y -= h
            bars.append({"x": x, "y": y, "w": w, "h": h, "fill": PALETTE[k % len(PALETTE)],
                         "label": f"{day.day}: {o.name} {m} of {total} mention(s), {m / total:.0%}"})
        if day.day in alarms:
            marks.append({"x": x + w / 2, "y": CHART_PAD - 4, "label": f"{day.day}: " + "; ".join(alarms[day.day])})
    return {"w": CHART_W, "h": CHART_H, "pad": CHART_PAD, "bottom": bottom, "bars": bars, "marks": marks,
            "legend": [(o.name, PALETTE[k % len(PALETTE)]) for k, o in enumerate(items)],
            "first": days[0].day if days else "", "last": days[-1].day if days else ""}


def _marked(value: str | None) -> Markup:
    """Highlight markers as <mark>, everything else escaped."""
    out = Markup("")
    for part, on in search_mod.marked_parts(value or ""):
        out += Markup("<mark>{}</mark>").format(part) if on else escape(part)
    return out


def templates() -> Environment:
    env = Environment(loader=PackageLoader("listener.app.web", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(marked=_marked, safe_url=safe_url, urlpart=urlpart,
                       pct=lambda v: "n/a" if v is None else f"{v * 100:.1f}%",
                       signed=lambda v: "n/a" if v is None else f"{v:+.0f}")
    return env
