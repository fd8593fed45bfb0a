"""A Core statement compiled once and run on the database driver's own connection.

SQLAlchemy's execution of a statement (the execution context, cache-key lookup, result
objects, the greenlet hops around the driver) costs about three times what asyncpg itself
spends on one: more than the rotation's two statements cost PostgreSQL (docs/performance.md).
`DriverStatement` keeps everything that matters from SQLAlchemy, computed once at start-up:
the SQL, compiled by SQLAlchemy's dialect from the same Core statement the rest of auth runs,
the order of its parameters, and each parameter's and result column's type conversions
(`UtcDateTime`, JSON). Only the per-call machinery is left out, and what depends on it is
refused at compile time: Python-side column defaults and `onupdate`, computed or expanding
(`IN`) parameters. So are its events (no `before_cursor_execute`, no echo on this path).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.sql import Select
from sqlalchemy.sql.dml import UpdateBase

Conversion = Callable[[Any], Any] | None


@dataclass(frozen=True)
class DriverStatement:
    """`sql` with `$n` parameters, and what turns values into its arguments, rows into
    attributes."""

    sql: str
    parameters: tuple[tuple[str, Conversion], ...]
    columns: tuple[tuple[str, Conversion], ...]
    defaults: Mapping[str, Any]

    @classmethod
    def compile(cls, statement: Select[Any] | UpdateBase, dialect: Dialect) -> DriverStatement:
        compiled = statement.compile(dialect=dialect)
        if compiled.positiontup is None:
            raise ValueError(f"{dialect.name}'s parameters are not positional")
        binds = compiled.binds
        # what SQLAlchemy computes per execution: it would be sent as NULL here, or not render
        per_call = [
            *(f"the default of {column}" for column in compiled.insert_prefetch),
            *(f"the onupdate of {column}" for column in compiled.update_prefetch),
            *(f"the expanding parameter {bind.key}" for bind in compiled.post_compile_params),
            *(f"the computed parameter {bind.key}" for bind in binds.values() if bind.callable),
            *(f"the literal parameter {bind.key}" for bind in compiled.literal_execute_params),
        ]
        if per_call:
            raise ValueError(f"not for the driver: {', '.join(per_call)} is computed per call")
        parameters = tuple(
            (name, binds[name].type.dialect_impl(dialect).bind_processor(dialect))
            for name in compiled.positiontup
        )
        selected = statement.selected_columns if isinstance(statement, Select) else ()
        columns = tuple(
            (column.name, column.type.dialect_impl(dialect).result_processor(dialect, None))
            for column in selected
        )
        # values fixed in the statement itself (`.values(sealed_successor=None)`)
        defaults = {
            name: binds[name].value for name in compiled.positiontup if not binds[name].required
        }
        return cls(str(compiled), parameters, columns, defaults)

    def arguments(self, values: Mapping[str, Any]) -> list[Any]:
        """The positional arguments for `values` (named as in the Core statement); KeyError
        for a parameter without a value."""
        arguments = []
        for name, convert in self.parameters:
            fixed = name in self.defaults and name not in values
            value = self.defaults[name] if fixed else values[name]
            arguments.append(convert(value) if convert is not None else value)
        return arguments

    def row(self, record: Sequence[Any]) -> SimpleNamespace:
        """A result row, each column an attribute named by its label, converted."""
        return SimpleNamespace(
            **{
                name: convert(value) if convert is not None else value
                for (name, convert), value in zip(self.columns, record, strict=True)
            }
        )
