"""The SQLite dialect of a grading worker's private gradebook (``sqlite+autograder_scratch:``).

A worker grades each submission in a private course directory whose gradebook is thrown
away afterwards: the coordinator's course gradebook is the record (see ``records.py``).
nbgrader opens that private gradebook a dozen times per submission (``Gradebook(db_url)`` in
Autograde and in each of its preprocessors), and every opening creates a new SQLAlchemy
engine, whose statement cache starts empty: each query nbgrader makes is compiled anew a
dozen times per submission. Through this dialect:

- every engine of the process shares one compiled-statement cache. SQLAlchemy keys that
  cache by dialect; the instances of this dialect are interchangeable (one driver, the
  same settings, only the file differs) and so compare equal;
- the file is written without waiting for the disk (``synchronous = OFF``, the rollback
  journal in memory): a power cut loses a scratch gradebook nobody would read again.

Selected by the URL only: nbgrader and SQLAlchemy are used as they are.
"""
from __future__ import annotations

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.util import LRUCache

NAME = "autograder_scratch"
_COMPILED = LRUCache(1000)   # per process; grading a submission compiles about 20 statements


def url(path: str) -> str:
    """The db_url of a scratch gradebook file."""
    return f"sqlite+{NAME}:///{path}"


class ScratchSQLite(SQLiteDialect_pysqlite):
    supports_statement_cache = True

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self)

    def __hash__(self) -> int:
        return hash(type(self))

    @classmethod
    def engine_created(cls, engine) -> None:
        engine.update_execution_options(compiled_cache=_COMPILED)

    def on_connect(self):
        base = super().on_connect()

        def connect(dbapi_connection) -> None:
            if base is not None:
                base(dbapi_connection)
            dbapi_connection.execute("PRAGMA synchronous = OFF")
            dbapi_connection.execute("PRAGMA journal_mode = MEMORY")
        return connect


registry.register(f"sqlite.{NAME}", __name__, "ScratchSQLite")
