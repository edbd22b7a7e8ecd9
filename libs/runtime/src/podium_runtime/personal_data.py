"""What a service holds about one user, for the personal-data export (SPEC §10.5, ADR 0058).

Each service declares, next to its models, the tables that concern a user and
how a row is tied to them (`PersonalRecords`); `GET
/internal/ops/personal-data/{user_id}` (podium_runtime.operations) answers
those rows as JSON, read in one READ ONLY transaction. The declarations are
fixed code: the only input is the user id, bound as a parameter. Columns whose
name looks like a secret (password hashes, token hashes, secrets) are never
exported, whatever the declaration says.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field
from pydantic_core import to_jsonable_python
from sqlalchemy import ColumnElement, Select, Table, select, text

from podium_runtime.db import Database

#: Column names never exported, whichever table they are in.
SECRET_COLUMN = re.compile(r"(password|secret|token_hash|hashed|_hash$)", re.IGNORECASE)


@dataclass(frozen=True)
class PersonalRecords:
    """One file of the export: the rows of `table` that concern the user.

    By default a row concerns the user when `column` equals their id; `where`
    replaces that condition (e.g. raw statements found through the flattened
    facts). `exclude` drops columns that say nothing about the user.
    """

    name: str
    table: Table
    column: str = "user_id"
    exclude: frozenset[str] = field(default_factory=frozenset)
    where: Callable[[uuid.UUID], ColumnElement[bool]] | None = None

    def statement(self, user_id: uuid.UUID) -> Select[Any]:
        """Return the SELECT of the user's rows, secret-looking columns left out."""
        columns = [
            c
            for c in self.table.c
            if c.name not in self.exclude and not SECRET_COLUMN.search(c.name)
        ]
        condition = self.where(user_id) if self.where else self.table.c[self.column] == user_id
        return select(*columns).where(condition)


class PersonalDataExport(BaseModel):
    """A service's part of one user's export: one list of rows per file name."""

    service: str
    user_id: uuid.UUID
    files: dict[str, list[dict[str, Any]]] = Field(
        description="File name (without extension) to the rows it holds"
    )


class PersonalDataCatalogue:
    """The tables of one service that hold personal data."""

    def __init__(self) -> None:
        self._records: dict[str, PersonalRecords] = {}

    def register(self, *records: PersonalRecords) -> None:
        """Add declarations; a name is declared once."""
        for record in records:
            if record.name in self._records:
                raise ValueError(f"personal records {record.name!r} declared twice")
            self._records[record.name] = record

    def names(self) -> list[str]:
        """Return the declared file names."""
        return sorted(self._records)

    async def collect(
        self, database: Database, service: str, user_id: uuid.UUID
    ) -> PersonalDataExport:
        """Read every declared table's rows about the user in one read-only snapshot."""
        files: dict[str, list[dict[str, Any]]] = {}
        async with database.session() as session:
            # One snapshot for every file, and no way to write through this path.
            await session.execute(
                text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            )
            for name in self.names():
                result = await session.execute(self._records[name].statement(user_id))
                files[name] = [to_jsonable_python(dict(row)) for row in result.mappings()]
        return PersonalDataExport(service=service, user_id=user_id, files=files)
