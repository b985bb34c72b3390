"""Search: the one code path the CLI, the web pages, the API, the reports and the benchmark use.

The modules, each importing only those above it:

- ``query``: the query language: ``parse`` a query into a syntax tree (``QueryError`` for a mistake)
- ``near``: NEAR/nf, the word-order check FTS5 cannot make, run in Python as an SQL function
- ``compiler``: a syntax tree as FTS5 MATCH plus parameterized SQL (``compile_query``, ``compile_tree``)
- ``plan``: ``prepare`` a query and the page's ``Filters`` into a ``Plan`` (its SQL, its steps)
- ``run``: ``search`` one page of a plan (``Page`` of ``Hit``), ``iter_results`` for every result
- ``export``: CSV and JSON in chunks (``csv_chunks``, ``json_chunks``)
- ``saved``: saved searches (``save``, ``saved_query``, ``check_name``, ``rules_watching``, ``with_filters``)
- ``scope``: a search as a report's scope (``condition``, ``bucket_counts``, ``window_rows``)

Facets (the tokens the index holds for fields and ranges) are ``listener.facets``; the SQL search
runs through is the store's documented search interface. The names below are re-exported so
callers write ``from listener import search`` and ``search.prepare(...)``.
"""

from listener.search.export import EXPORT_FIELDS, csv_chunks, export_row, json_chunks
from listener.search.plan import SORTS, Filters, Plan, prefix_words, prepare
from listener.search.query import QueryError, parse
from listener.search.run import Hit, Page, SearchTooSlow, iter_results, marked_parts, search
from listener.search.saved import check_name, rules_watching, save, saved_query, with_filters
from listener.search.scope import bucket_counts, condition, window_rows


__all__ = ["EXPORT_FIELDS", "SORTS", "Filters", "Hit", "Page", "Plan", "QueryError", "SearchTooSlow",
           "bucket_counts", "check_name", "condition", "csv_chunks", "export_row", "iter_results", "json_chunks",
           "marked_parts", "parse", "prefix_words", "prepare", "rules_watching", "save", "saved_query", "search",
           "window_rows", "with_filters"]
