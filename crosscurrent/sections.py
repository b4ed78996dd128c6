"""The building blocks of config sections: strict frozen models and known instrument ids."""

from __future__ import annotations

from typing import Annotated, Any, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict

from crosscurrent.catalog import default_catalog


def _known_id(value: str) -> str:
    if value not in default_catalog():
        raise ValueError(f"unknown instrument id {value!r} (see `crosscurrent catalog`)")
    return value


KnownId = Annotated[str, AfterValidator(_known_id)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def submodel(annotation: Any) -> type[BaseModel] | None:
    """The section a field's type holds: itself, or that of its items or of its Optional."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = submodel(arg)
        if found is not None:
            return found
    return None
