"""The personal-data declarations select one user's rows and never a secret (ADR 0058)."""

from __future__ import annotations

import uuid

import pytest
from podium_runtime.personal_data import PersonalDataCatalogue, PersonalRecords
from sqlalchemy import Column, MetaData, String, Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import UUID

metadata = MetaData(schema="example")
accounts = Table(
    "accounts",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("email", String),
    Column("password_hash", String),
    Column("client_secret", String),
    Column("refresh_token_hash", String),
    Column("note", String),
)


def _sql(records: PersonalRecords, user_id: uuid.UUID) -> str:
    return str(records.statement(user_id).compile(dialect=postgresql.dialect()))


def test_secret_looking_columns_are_never_selected() -> None:
    sql = _sql(PersonalRecords("account", accounts, column="id"), uuid.uuid4())
    assert "example.accounts.email" in sql and "example.accounts.note" in sql
    for secret in ("password_hash", "client_secret", "refresh_token_hash"):
        assert secret not in sql
    assert "WHERE example.accounts.id = %(id_1)s" in sql


def test_excluded_columns_and_custom_conditions() -> None:
    user_id = uuid.uuid4()
    records = PersonalRecords(
        "account",
        accounts,
        exclude=frozenset({"note"}),
        where=lambda uid: accounts.c.email == f"{uid}@example.org",
    )
    sql = _sql(records, user_id)
    assert "note" not in sql and "example.accounts.email = %(email_1)s" in sql


def test_a_file_name_is_declared_once() -> None:
    catalogue = PersonalDataCatalogue()
    catalogue.register(PersonalRecords("b", accounts, column="id"))
    catalogue.register(PersonalRecords("a", accounts, column="id"))
    assert catalogue.names() == ["a", "b"]
    with pytest.raises(ValueError, match="declared twice"):
        catalogue.register(PersonalRecords("a", accounts, column="id"))
