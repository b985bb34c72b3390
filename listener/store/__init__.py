"""The SQLite store. This package alone owns the schema, writes to it, and holds the SQL of every
read but the search package's compiled queries.

Timestamps are UTC text ``YYYY-MM-DDTHH:MM:SSZ`` so they sort and compare as strings. Callers use
the names re-exported here (``from listener import store; store.upsert_posts(...)``); the modules
behind them, one per concern:

- ``db``: ``open_db`` (WAL, busy timeout, foreign keys, migrations) and ``write`` transactions
- ``migrations``: every schema change, numbered, applied strictly in number order
- ``sql``: running statements (rows, batches, ``IN (...)`` chunks, a time limit)
- ``fts``: the full-text index ``posts_fts`` and its facets column (tokens: ``listener.facets``)
- ``posts``, ``classify``, ``duplicates``, ``sources``, ``runs``, ``jobs``, ``reports``, ``alerts``,
  ``saved``, ``relevance``: the tables, by what they hold

The search interface
--------------------
The search package compiles a query into SQL over ``posts p`` and ``posts_fts`` (FTS5) and runs it
only through these functions, never through the connection. They are the boundary a second
backend (PostgreSQL) implements, together with the functions above:

- ``rows(db, sql, params)`` / ``tuples(db, sql, params)``: every row of a read, as dicts / tuples
- ``iter_rows(db, sql, params, batch=)``: the rows in batches of dicts, read as consumed (exports)
- ``time_limit(db, seconds, check_every=)``: statements inside stop with ``TimeLimitExceeded``
- ``prepare_search(db, functions)``: register the SQL functions the compiled SQL calls
- ``posts_by_id(db, ids)``: posts as a result shows them (``HIT_COLUMNS``), in the order of ids
- ``post_tags(db, ids)``: each post's product mentions and topics
- ``posted_days(db)``, ``count_posts(db)``: the span of days posted, and the number of posts
- ``fts_tokens(db, text)``: text as the index tokenizes it (lower case, Porter-stemmed)
- ``index_terms(db, prefix, limit)``: the index's terms with a prefix
- ``highlight(db, docs, expr, marks=, tokens=)``: marked titles and passages for an FTS5 expression
- ``save_search``, ``saved_searches``, ``saved_search``, ``rename_saved_search``, ``delete_saved_search``: saved searches

``users`` holds the users, their sessions and API tokens, and the audit log (``audit``).
"""

from listener.facets import (ENGAGEMENT_FIELDS, ENGAGEMENT_SQL, ENGAGEMENT_STEPS, FACET_KINDS, day_token,
                             engagement, engagement_token, facet_token, post_facets, site_names)
from listener.store import migrations
from listener.store.alerts import checkpoint, deliveries, last_alert, record_alert, record_delivery, set_checkpoint
from listener.store.alerts import ALERT_STATUSES, AlertFilter, alert_names, fired_alerts, get_alert, set_alert_status
from listener.store.classify import (count_to_classify, emerging_topics, label_mention, label_post, labelled_mentions,
                                     labelled_posts, posts_to_classify, save_classifications,
                                     save_emerging)
from listener.store.db import BUSY_TIMEOUT_MS, applied_migrations, open_db, write
from listener.store.duplicates import copies, count_to_sign, posts_to_sign, posts_with_keys, save_signatures
from listener.store.fts import TOKENIZER, fts_tokens, highlight, index_terms, prepare_search
from listener.store.jobs import (daemon_heartbeat, daemon_row, daemon_started, daemon_stopped, ensure_jobs, job_rows,
                                 record_job, set_next_runs)
from listener.store.posts import (HIT_COLUMNS, POST_FIELDS, TEXT_FIELDS, UpsertCounts, count_posts, distinct_values,
                                  get_post, mentioned_product, not_mentioned, post_stats, post_tags, posted_days,
                                  posts_by_id, purge_posts, upsert_posts)
from listener.store.reports import (MENTION_LABEL_SQL, NOT_COMPUTED, Scope, collected_buckets,
                                    collected_days, daily_mentions, first_posted_at, latest_mention_day,
                                    mention_counts, mention_labels, period_posts,
                                    product_facets, product_mentions, product_topics,
                                    unjudged_mentions)
from listener.store.relevance import (MARKED_NOT_ABOUT, label_relevance, rejected_mentions, relevance_history,
                                      relevance_marks)
from listener.store.relevance import mention_marks, unlabel_mention
from listener.store.classify import posts_by_ids_to_classify

from listener.store.reports import language_mentions
from listener.store.reports import (mention_rows, mention_window, ranked_mentions, sample_posts, top_facets,
                                    topic_sentiments)
from listener.store.people import (person_known, person_posts, person_products, person_top_posts,
                                   product_authors, source_authors)
from listener.store.runs import Run, close_stale_runs, finish_run, last_digest, recent_runs, recorded_run, start_run
from listener.store.saved import delete_saved_search, rename_saved_search, save_search, saved_search, saved_searches
from listener.store.sources import (NOT_FOUND_LIMIT, SourceState, record_fetch, source_activity, source_state,
                                    sources_table, sync_sources)
from listener.store.users import (add_user, audit, audit_rows, count_admins, end_session, get_user, has_users,
                                  remove_user, session_user, set_password, set_token, start_session, token_user,
                                  users)
from listener.store.sql import TimeLimitExceeded, iter_rows, rows, scratch, time_limit, tuples
from listener.store.runs import latest_run, save_run_progress
from listener.store.classify import count_classified_before
from listener.store.users import last_query_change, set_role
from listener.store.users import remove_token, token_used, tokens

from listener.store.users import audit_entry, later_changes, post_changes, set_undone
from listener.store.relevance import set_mention_marks
from listener.store.classify import post_label, set_post_label
from listener.store.fts import posts_matching_phrases
from listener.store.classify import tagged_posts
from listener.store.users import query_change
