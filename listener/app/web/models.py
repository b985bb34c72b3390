"""The JSON API's response models (the OpenAPI document's schemas), with enums for every
enumerated field and the error answers each route documents."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, model_validator

# the values stored (models.sentiment, models.mentions, store): an enum in the OpenAPI document
Label = Literal["positive", "neutral", "negative", "unscored"]   # a sentiment label the model gives
HumanLabel = Literal["positive", "neutral", "negative"]           # a person's relabel
Basis = Literal["comparative", "clause", "sentence", "post", "rest", "none", "unscored", "label"]
Sort = Literal["relevance", "date", "engagement"]

# What the query checks refuse, as patterns in the OpenAPI document (the checks stay ours, so the
# error names the position): no control characters (tab and line breaks allowed in a query).
QUERY_PATTERN = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$"
VALUE_PATTERN = r"^[^\x00-\x1F\x7F-\x9F]*$"


def _iso_day(value: object) -> object:
    """Only ``YYYY-MM-DD`` (pydantic alone would also take a Unix time such as ``0``)."""
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError(f"expected a date as YYYY-MM-DD, got {value!r}")
    return value


Day = Annotated[date, BeforeValidator(_iso_day)]  # a query parameter's day: {"type": "string", "format": "date"}


class ProductTag(BaseModel):
    product: str
    alias: str


class ProductMention(ProductTag):
    """A product a post mentions, with what the post says about it (``models.mentions``); the
    sentiment fields are null until the post is classified again (``listener classify --all``)."""
    sentiment: float | None = None          # polarity in [-1, 1]
    sentiment_label: Label | None = None
    confidence: float | None = None
    span: str | None = None                 # the text judged about the product
    basis: Basis | None = None              # which step decided the label ("label": a person's relabel)
    human_label: HumanLabel | None = None   # a person's relabel of this mention (it overrides the model)


class ProductSentiment(ProductTag):
    """A product a search hit mentions and what the post says about it (nulls: not judged yet)."""
    sentiment: float | None = None
    sentiment_label: Label | None = None
    confidence: float | None = None


class SearchHit(BaseModel):
    id: int
    source: str
    url: str | None
    author: str | None
    title: str | None
    posted_at: str
    sentiment: float | None
    sentiment_label: Label | None
    language: str | None
    engagement: int
    title_highlighted: str
    snippet_highlighted: str
    products: list[ProductSentiment]
    topics: list[str]


class SearchResponse(BaseModel):
    query: str
    parenthesized: str
    sort: Sort
    total: int
    ranked: int | None = None  # relevance order: how many of the newest matches were ranked
    offset: int
    limit: int
    hits: list[SearchHit]
    notice: str | None = None  # sentiment about a product asked, and some mentions not judged yet


class Term(BaseModel):
    feature: str
    weight: float


class MentionJudgement(BaseModel):
    """Per product mentioned: the stored judgement and the terms that pushed its span."""
    product: str
    alias: str
    judged: bool                  # false: not judged yet (run ``listener classify --all``)
    label: Label | None
    score: float | None
    confidence: float | None
    span: str | None
    basis: Basis | None
    human_label: HumanLabel | None = None  # a person's relabel of this mention (``listener label --product``)
    positive_terms: list[Term]
    negative_terms: list[Term]


class Explanation(BaseModel):
    """``learn.Explanation.to_dict()``: why the configured model gives the post its label."""
    label: Label
    model: str
    score: float | None
    confidence: float | None
    reason: str
    vader_compound: float | None  # the score when the model is VADER, else null
    positive_threshold: float | None  # VADER's thresholds; null for the default and fast models
    negative_threshold: float | None
    probabilities: dict[str, float] | None  # the default or fast model's class probabilities; null for VADER
    positive_terms: list[Term]
    negative_terms: list[Term]
    human_label: HumanLabel | None
    stored_label: Label | None
    classifier: str | None
    classified_at: str | None
    products: list[MentionJudgement] = []


class PostDetail(BaseModel):
    id: int
    source: str
    guid: str
    url: str | None
    parent_url: str | None = None   # what the post replies to (a comment's thread, question, issue, video)
    author: str | None
    title: str | None
    text: str | None
    posted_at: str
    language: str | None
    engagement: int
    score: int | None
    comments: int | None
    likes: int | None
    shares: int | None
    products: list[ProductMention]
    topics: list[str]
    explanation: Explanation
    # the human labels of each mention (counted or set apart), by product
    marks: dict[str, "MentionLabels"] = {}


class DayPoint(BaseModel):
    day: str
    mentions: int
    net_sentiment: float | None


class LanguageMood(BaseModel):
    language: str                             # the post's, as classified (ISO 639-1), or unknown
    mentions: int
    positive: int
    neutral: int
    negative: int
    unscored: int                             # a language sentiment.languages leaves out
    not_computed: int
    net_sentiment: float | None               # of its scored mentions
    positive_share: float | None              # positive / scored mentions
    negative_share: float | None


class ProductSummary(BaseModel):
    name: str
    ours: bool
    start: str
    end: str
    mentions: int
    share_of_voice: float | None
    net_sentiment: float | None               # of the product's mentions' own sentiment
    positive: int
    neutral: int
    negative: int
    not_computed: int                         # mentions whose sentiment is not computed yet
    notice: str | None                        # says so, with the command that computes it
    days: list[DayPoint]
    topics: list[dict]
    top_engaged: list[dict]
    alarms: list[dict] = []                   # spikes and drops on the range's days (the digest's detector)
    top_sources: list[dict] = []              # [{name, mentions}] (one product's detail only)
    top_authors: list[dict] = []              # [{name, source, mentions}]: authors are per source
    previous_mentions: int | None = None      # in the range of the same length just before; null: nothing collected then
    previous_net_sentiment: float | None = None
    unscored: int = 0                         # mentions in a language sentiment.languages leaves out
    languages: list[LanguageMood] = []        # the range's mood per post language, most mentioned first
    sentiment_basis: str | None = None        # "from 14 scored mentions in de, en; 12 mentions in fr unscored"
    query: QueryVersions | None = None        # one product's detail only: its query versions


class Stats(BaseModel):
    posts: int
    classified: int
    first_post_at: str | None
    last_post_at: str | None
    labels: dict[str, int]
    sources: dict[str, int]
    products: dict[str, int]
    product_sentiment: dict[str, dict[str, int]]  # per product: mentions by their own sentiment label
    notice: str | None = None                     # per-product sentiment not computed yet for some


class SavedSearch(BaseModel):
    name: str
    query: str
    owner: str | None
    created_at: str
    updated_at: str


class NewSavedSearch(BaseModel):
    """A search to save under ``name`` (replacing one of that name): ``query`` must parse."""
    name: Annotated[str, Field(min_length=1, max_length=200, pattern=VALUE_PATTERN)]
    query: Annotated[str, Field(max_length=2000, pattern=QUERY_PATTERN)]


class SavedSearchRename(BaseModel):
    """A saved search's new name (none other of that name may exist)."""
    name: Annotated[str, Field(min_length=1, max_length=200, pattern=VALUE_PATTERN)]


class ErrorBody(BaseModel):
    """Every API error (4xx and 5xx): what went wrong; ``field``: the parameter it is in; ``position``:
    for an invalid query, the 1-based character where (each only when known)."""

    error: str
    field: str | None = None
    position: int | None = None


def error(description: str) -> dict:
    """An error answer for a route's ``responses``."""
    return {"model": ErrorBody, "description": description}


# documented on every API route; a route adds its own (404, 422) beside these
API_ERRORS: dict[int | str, dict] = {
    400: error("A parameter is not valid (a number outside its range or SQLite's, a bad date, "
               "an invalid query): `error` says why, `field` names the parameter, `position` points into `q`"),
    401: error("Missing or wrong bearer token or login session (once users or a token are configured)"),
    500: error("A bug: the server log has the details"),
}

# documented on every route guarded by ``require_role``
ROLE_ERRORS: dict[int | str, dict] = {
    403: error("The login's role is too low for this (viewer < editor < admin; serve.token is read-only)"),
}


class HumanMark(BaseModel):
    """A person's label on a mention: the value, who set it (null: set before labels recorded who) and when."""
    value: HumanLabel | bool
    by: str | None
    at: str


class MentionLabels(BaseModel):
    """A mention's human labels: its sentiment relabel and its about (true) / not about (false) mark."""
    sentiment: HumanMark | None = None
    about: HumanMark | None = None


def _exactly_one(schema: dict) -> None:
    """The document says what the validator checks: one key, no nulls."""
    schema.update(minProperties=1, maxProperties=1)
    for prop in schema["properties"].values():
        prop.pop("default", None)


class MentionChange(BaseModel):
    """One change of a mention, exactly one key: ``sentiment`` relabels what the post says about the product;
    ``about`` false marks it not about the product (it leaves every number), true confirms it (it counts
    even if the relevance model set it apart)."""
    model_config = ConfigDict(extra="forbid", json_schema_extra=_exactly_one)
    sentiment: HumanLabel = None   # type: ignore[assignment]  # absent, never null (the schema says so)
    about: StrictBool = None       # type: ignore[assignment]  # true or false, not 0 or "yes"

    @model_validator(mode="after")
    def _one(self) -> "MentionChange":
        if (self.sentiment is None) == (self.about is None):
            raise ValueError('give exactly one of "sentiment" and "about"')
        return self


class MentionState(BaseModel):
    """A post's mention of a product after a change: whether it counts in the numbers, the sentiment the
    numbers use (null: not judged yet, or set apart), and the human labels on it."""
    post_id: int
    product: str
    counted: bool
    sentiment_label: Label | None
    labels: MentionLabels


class ChangeEntry(BaseModel):
    """One logged change of a post's mention or topics (an audit row): who made it and when, what
    (``action`` on ``target``: ``post ID / PRODUCT`` or ``post ID``), the labels before and after, and
    whether it can be undone now (``why_not`` says why not)."""
    id: int
    at: str
    who: str
    # mention.relabel | mention.not_about | mention.about | mention.clear | post.topics | post.relabel | change.undo
    action: str
    target: str
    before: dict | list | None
    after: dict | list | None
    undone_by: int | None    # the change.undo row that undid it
    undoes: int | None       # for a change.undo row: the change it undid
    undoable: bool
    why_not: str | None
    what: str                # what it did, in words: "sentiment none → negative"


class UndoResult(BaseModel):
    """An undo: the change undone (now with ``undone_by``) and the ``change.undo`` row recording it."""
    undone: ChangeEntry
    change: ChangeEntry


class PersonProduct(BaseModel):
    """A product an author's or a source's posts mention, with the mentions' own labels."""
    product: str
    mentions: int
    positive: int
    neutral: int
    negative: int
    net_sentiment: float | None               # (positive - negative) / labelled mentions x 100; null: none labelled


class PersonPost(BaseModel):
    id: int
    source: str
    author: str | None
    title: str | None
    url: str | None
    posted_at: str
    sentiment_label: str | None               # the post's own label (null: not classified yet)
    engagement: int                           # score + comments + likes + shares


class PersonAuthor(BaseModel):
    name: str
    posts: int


class PersonSummary(BaseModel):
    """What one author of a source (``author`` set) or one whole source posted in the range; copies
    (``posts.copy_of``) are left out of every number."""
    source: str
    author: str | None
    start: str                                # first day of the range (YYYY-MM-DD)
    end: str                                  # last day (inclusive)
    posts: int
    first_post: str | None                    # posted_at of the first and last post in the range
    last_post: str | None
    engagement: int                           # total over the posts
    products: list[PersonProduct]             # most mentioned first
    top_posts: list[PersonPost]               # most engaged first
    top_authors: list[PersonAuthor] = []      # a source's most prolific authors (empty for an author)
    search: str                               # the search page filtered to them over the range

AlertStatus = Literal["new", "seen", "handled"]   # store.ALERT_STATUSES


class AlertDrivers(BaseModel):
    """What was behind an alert's window: each list holds [name, count] pairs, most distinctive first."""
    terms: list[tuple[str, int]]
    sources: list[tuple[str, int]]
    authors: list[tuple[str, int]]
    topics: list[tuple[str, int]]


class AlertExample(BaseModel):
    """An example post of an alert's window (``post_id``: its page is ``/posts/{post_id}``)."""
    post_id: int
    title: str | None = None
    url: str | None = None
    source: str | None = None
    posted_at: str | None = None
    sentiment: float | None = None
    excerpt: str | None = None


class AlertItem(BaseModel):
    """An alert that fired: the rule, its subject (product or query), condition and metric, when and over which
    window, the numbers, why (``reason``), its drivers and example posts, and its inbox status (who set it, when)."""
    id: int
    rule: str
    product: str
    condition: str
    metric: str
    fired_at: str
    window_start: str
    window_end: str
    value: float | None
    expected: float | None
    p: float | None
    reason: str
    drivers: AlertDrivers
    examples: list[AlertExample]
    status: AlertStatus
    status_by: str | None
    status_at: str | None


class AlertList(BaseModel):
    """A page of fired alerts, newest first; ``total`` counts every alert the filters select."""
    total: int
    offset: int
    limit: int
    alerts: list[AlertItem]


class AlertStatusChange(BaseModel):
    """An alert's new inbox status: ``seen``, ``handled``, or back to ``new``."""
    model_config = ConfigDict(extra="forbid")
    status: AlertStatus


class AlertState(BaseModel):
    """A fired alert's inbox status after a change: who set it and when (null when ``new``)."""
    id: int
    status: AlertStatus
    status_by: str | None
    status_at: str | None


class RetagStatus(BaseModel):
    """A re-tag of existing posts after a product's aliases or excludes changed, and its progress."""
    id: int | None                 # the run's id (null: no re-tag yet)
    state: str                     # none | running | ok | partial | error | interrupted
    product: str | None            # whose query change started it
    query_version: str | None      # reports.digest.query_version of that product when it started
    scope: Literal["affected", "all"] | None = None   # the posts the change affects, or every post
    done: int                      # posts classified again so far
    total: int                     # posts to classify
    started_at: str | None
    finished_at: str | None


class QueryVersions(BaseModel):
    """A product's listening query (aliases and excludes) as ``reports.digest.query_version`` names it."""
    current: str                   # the query in the settings now
    computed_with: str | None      # the one the stored tags were made with: the version before the last
                                   # change while posts tagged before it are not re-tagged (null: the product
                                   # was added since), else the current one
    changed_at: str | None         # the last change not re-tagged yet (null: none)
    tagged_before_change: int      # posts classified before that change


ProductSummary.model_rebuild()   # its ``query`` is declared after it


Role = Literal["viewer", "editor", "admin"]   # listener.users.ROLES, lowest first


class UserItem(BaseModel):
    """A user as an admin sees them: never a password or a token."""
    name: str
    role: Role
    created: str                   # when added (UTC)
    tokens: int                    # how many API tokens they hold


class NewUser(BaseModel):
    """A user to add: the name (1-64 letters, digits or ``_ . @ -``), the role, the password (at least 8 characters)."""
    model_config = ConfigDict(extra="forbid")
    name: str
    role: Role
    password: str = Field(json_schema_extra={"writeOnly": True})


def _some_keys(schema: dict) -> None:
    """The document says what the validator checks: at least one key, no nulls."""
    schema["minProperties"] = 1
    for prop in schema["properties"].values():
        prop.pop("default", None)


class UserChange(BaseModel):
    """A user's new role and/or password (at least one); a new password ends their sessions."""
    model_config = ConfigDict(extra="forbid", json_schema_extra=_some_keys)
    role: Role = None              # type: ignore[assignment]  # absent, never null
    password: str = Field(None, json_schema_extra={"writeOnly": True})  # type: ignore[assignment]

    @model_validator(mode="after")
    def _some(self) -> "UserChange":
        if self.role is None and self.password is None:
            raise ValueError('give "role", "password" or both')
        return self


class NewToken(BaseModel):
    """An API token to issue under ``label`` (1-64 letters, digits, spaces or ``_ . @ -``); the same label replaces."""
    model_config = ConfigDict(extra="forbid")
    label: str = "default"


class IssuedToken(BaseModel):
    """A new API token: shown this once (only its SHA-256 is kept)."""
    name: str
    label: str
    token: str


class TokenItem(BaseModel):
    """One of a user's API tokens: its label, when made and last used (null: never); never the token."""
    label: str
    created_at: str
    last_used_at: str | None
