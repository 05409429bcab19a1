"""What the PostgreSQL and SQLite backends share, written once with SQLAlchemy Core.

* :mod:`.dialects` -- the few things that differ between the two databases: how an
  engine is built, how a write transaction starts, how writers of one group of
  objects are serialized, how JSON fields are read.
* :mod:`.engine` -- engines built from ``kinto.<kind>_url`` settings, one per
  database URL and application, so that storage, permission and cache backends on
  one database share a connection pool.
* :mod:`.session` -- the transaction participant: one connection per request and
  database, committed or rolled back with the request.
* :mod:`.tables`, :mod:`.schema` -- table definitions and their versioned migrations.
* :mod:`.fields`, :mod:`.query` -- storage filters, sorts and pagination as SQL.
* :mod:`.timestamps` -- group timestamps handed out in commit order.
* :mod:`.storage`, :mod:`.permission`, :mod:`.cache` -- the backends themselves;
  ``kinto_clone.core.<kind>.postgresql`` and ``.sqlite`` only pick a dialect.
* :mod:`.testing` -- the test suite of what both dialects promise beyond the
  backend contracts (schema versions, shared transactions, commit order).
"""
