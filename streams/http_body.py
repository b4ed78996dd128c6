"""Reading an HTTP response body with a bound: a source that sends more is an error that
says the limit, never a process that holds gigabytes."""

from __future__ import annotations

import aiohttp

MAX_BODY = 32 * 1024 * 1024  # bytes: far above any reply the sources send


class BodyTooLarge(aiohttp.ClientPayloadError):
    """A response body over the limit (counted and skipped like any failed request)."""


async def read_body(response: aiohttp.ClientResponse, limit: int = MAX_BODY) -> bytes:
    """The whole body, or BodyTooLarge as soon as it passes `limit` bytes."""
    declared = response.content_length
    if declared is not None and declared > limit:
        raise BodyTooLarge(f"{response.url}: a {declared:,}-byte response is over the "
                           f"{limit:,}-byte limit")
    parts, size = [], 0
    async for chunk in response.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"{response.url}: the response passed the {limit:,}-byte limit")
        parts.append(chunk)
    return b"".join(parts)
