"""Logging in through the web form as a browser does: fetch /login for its CSRF field and cookie, then post."""

from __future__ import annotations

import re


def csrf_of(html: str) -> str:
    """The hidden ``csrf`` field's value in a page's form."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field in the page"
    return found.group(1)


def login(client, **fields: str):
    """POST /login with ``fields`` (``name``/``password``, or ``token``) and the form's CSRF token; the response."""
    csrf = csrf_of(client.get("/login").text)
    return client.post("/login", data={**fields, "csrf": csrf})
