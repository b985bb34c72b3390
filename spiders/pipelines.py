"""The item pipeline: each item leaves the crawler child as one JSON line for the parent to store."""

from __future__ import annotations

import json
import os
from typing import Any

from spiders.items import FetchResult


class EmitPipeline:
    """Write each item as one JSON line (``{"kind": "post"|"fetch", ...}``) to the output fd."""

    def __init__(self, fd: int):
        self.out = os.fdopen(fd, "w", buffering=1, encoding="utf-8", closefd=False)

    @classmethod
    def from_crawler(cls, crawler: Any) -> "EmitPipeline":
        return cls(crawler.settings.getint("LISTENER_OUTPUT_FD"))

    def process_item(self, item: Any) -> Any:
        kind = "fetch" if isinstance(item, FetchResult) else "post"
        self.out.write(json.dumps({"kind": kind, **item.to_dict()}, ensure_ascii=False) + "\n")
        return item
