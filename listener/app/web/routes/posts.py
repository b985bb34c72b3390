"""Posts: a post's page and ``/api/posts/{id}``, with why it got its label."""

from __future__ import annotations

from typing import Annotated

import sqlite_utils
from fastapi import APIRouter, Path
from fastapi.responses import HTMLResponse

from listener import store
from listener.app.web.deps import DbDep, PagesDep, SettingsDep
from listener.app.web.models import PostDetail, error
from listener.config import Settings
from listener.errors import SQLITE_INT_MAX, NotFound

router = APIRouter()
PostId = Annotated[int, Path(ge=1, le=SQLITE_INT_MAX, description="The post's id (as in search hits)")]


@router.get("/posts/{post_id}", response_class=HTMLResponse, include_in_schema=False)
def post_page(post_id: PostId, db: DbDep, settings: SettingsDep, pages: PagesDep) -> HTMLResponse:
    return pages.render("post.html.j2", post=post_detail(db, settings, post_id))


@router.get("/api/posts/{post_id}", response_model=PostDetail, tags=["posts"],
            responses={404: error("No post with that id")})
def api_post(post_id: PostId, db: DbDep, settings: SettingsDep) -> dict:
    """One post with its tags and why it got its sentiment label."""
    return post_detail(db, settings, post_id)


def post_detail(db: sqlite_utils.Database, settings: Settings, post_id: int) -> dict:
    """A post with its products, topics and the explanation of its label, for the page and the API."""
    p = store.get_post(db, post_id)
    if p is None:
        raise NotFound(f"no post with id {post_id}")
    # get_post already read the mentions (by product) and topics (by topic)
    p["products"], p["topics"] = p["mentions"], [t["topic"] for t in p["topics"]]
    from listener import learn  # loads the models (numpy, scipy): on the first post page, not at start-up

    p["explanation"] = learn.explain(p, settings).to_dict()
    return p
