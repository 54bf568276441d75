"""Alembic's environment: the URL from the caller (``config.attributes["url"]``), else
``MLOPS_DATABASE_URL``, else the embedded SQLite default."""

from __future__ import annotations

from alembic import context

from mlops.predictions import create_engine, database, metadata

config = context.config
url = config.attributes.get("url") or database().url


def run_migrations_offline() -> None:
    context.configure(url=url, target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(database(url))
    try:
        with engine.connect() as connection:
            context.configure(connection=connection, target_metadata=metadata)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
