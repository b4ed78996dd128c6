"""An optional rewrite of the key insight by an OpenAI-compatible model.

The model sees the findings JSON only and must keep every number: each number in its answer
has to appear in what it was given, else the answer is refused and the deterministic text
stays. Any failure (unreachable, slow, malformed) keeps the deterministic text too.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import aiohttp
import orjson

from crosscurrent.config import LlmConfig
from reporters.notifier import ReceiverError, resolve_url
from reporters.report_model import Insight, Report

log = logging.getLogger(__name__)
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
PROMPT = ("You write the one-paragraph key insight of a cross-market report. Rewrite the "
          "given insight to read well, using only the findings given. Do not add, remove or "
          "change any number. Answer with JSON: {\"en\": \"...\", \"zh\": \"...\"}.")


def findings(report: Report) -> dict[str, Any]:
    """What the model may see: the findings (with their windows), not the raw series."""
    return report.model_dump(mode="json", include={
        "date", "as_of_text", "key_insight", "chain", "divergences", "flow_map", "risks"}) | {
        "markets": {i: {"name": r.name, "change": r.change, "window": r.window}
                    for i, r in report.markets.items()}}


def _normal(number: str) -> str:
    number = number.replace(",", "")
    return number.rstrip("0").rstrip(".") if "." in number else number


def numbers(text: str) -> set[str]:
    """The numbers of a text, normalised (1,320 -> 1320; 4.350 -> 4.35)."""
    return {_normal(n) for n in NUMBER.findall(text)}


def acceptable(answer: dict[str, Any], given: str) -> bool:
    """Both texts present, and no number that the findings do not hold."""
    texts = [answer.get("en"), answer.get("zh")]
    if not all(isinstance(t, str) and t.strip() for t in texts):
        return False
    return all(numbers(str(t)) <= numbers(given) for t in texts)


async def rewrite_insight(report: Report, config: LlmConfig) -> Report:
    """The report with the model's key insight when it passes the checks; else unchanged."""
    if not config.url:
        return report
    try:
        key = resolve_url("llm", config.api_key)
    except ReceiverError:
        key = ""
    given = orjson.dumps(findings(report)).decode()
    payload = {"model": config.model, "temperature": 0,
               "messages": [{"role": "system", "content": PROMPT},
                            {"role": "user", "content": given}]}
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(
                total=config.timeout_s)) as http, http.post(
                f"{config.url.rstrip('/')}/chat/completions", json=payload,
                headers=headers) as response:
            response.raise_for_status()
            reply = await response.json(content_type=None)
        answer = orjson.loads(reply["choices"][0]["message"]["content"])
    except (aiohttp.ClientError, TimeoutError, OSError, KeyError, IndexError, TypeError,
            ValueError) as exc:
        log.warning("key insight: the model's rewrite is not used (%s); the template text "
                    "stays", type(exc).__name__)
        return report
    if not isinstance(answer, dict) or not acceptable(answer, given):
        log.warning("key insight: the model's rewrite changed or added a number; the template "
                    "text stays")
        return report
    return report.model_copy(update={"key_insight": Insight(
        en=answer["en"].strip(), zh=answer["zh"].strip(), source="llm")})
