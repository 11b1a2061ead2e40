"""The researchers' export a page at a time (pages and API alike): the limit and cursor
parameters and the `Link` header to the next page."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from litestar import Request
from litestar.params import QueryParameter

from testbed.synthesis import export

PageLimit = Annotated[
    int | None,
    QueryParameter(
        ge=1,
        le=export.MAX_LIMIT,
        description=f"Findings on a page (each one row per outcome); {export.DEFAULT_LIMIT} "
        "when left out.",
    ),
]


Cursor = Annotated[
    str | None,
    QueryParameter(
        description="Where the page starts: the cursor in the previous page's `Link: <...>; "
        'rel="next"` header. Left out: the first page.',
        schema_extra={"pattern": export.CURSOR_PATTERN},
    ),
]


def next_link(request: Request, limit: int | None, after: int | None) -> dict[str, str]:
    if after is None:
        return {}
    query = urlencode(
        {"limit": limit or export.DEFAULT_LIMIT, "cursor": export.encode_cursor(after)}
    )
    return {"Link": f'<{request.url.path}?{query}>; rel="next"'}
