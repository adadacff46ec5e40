from pydantic import BaseModel, ConfigDict


class Read(BaseModel):
    """An answer built from a model instance."""

    model_config = ConfigDict(from_attributes=True, validate_by_name=True, validate_by_alias=True)


class Write(BaseModel):
    """A request body; unknown fields are refused so typos are caught."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
