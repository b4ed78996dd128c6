"""The building blocks of config sections: strict frozen models and known instrument ids."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict

from crosscurrent.catalog import default_catalog


def _known_id(value: str) -> str:
    if value not in default_catalog():
        raise ValueError(f"unknown instrument id {value!r} (see `crosscurrent catalog`)")
    return value


KnownId = Annotated[str, AfterValidator(_known_id)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
