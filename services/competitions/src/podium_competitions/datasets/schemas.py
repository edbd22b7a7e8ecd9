"""Request and response models of competition data files (SPEC §10.2)."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

FileKind = Literal["train", "test", "sample", "other"]
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


def _check_name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError("a file name has letters, digits, '.', '_' and '-' (at most 200)")
    return value


FileName = Annotated[str, AfterValidator(_check_name)]


class DataFileRegistration(BaseModel):
    """What the gateway registers after streaming a file to the blob store."""

    model_config = ConfigDict(extra="forbid")

    name: FileName
    kind: FileKind = "other"
    description: str = Field(default="", max_length=5000)
    size: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    blob_key: str = Field(max_length=512)


class DataFile(BaseModel):
    """One version of a data file; `blob_key` is for the gateway only."""

    competition_id: uuid.UUID
    name: str
    version: int
    kind: FileKind
    description: str
    size: int
    sha256: str
    created_at: datetime
    blob_key: str | None = None


class DataFileList(BaseModel):
    """The latest version of each data file."""

    items: list[DataFile]
