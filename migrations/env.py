"""Alembic's entry point: runs migrations against the URL the config carries."""
from alembic import context
from sqlalchemy import create_engine, pool

from zongzhi.tables import metadata

cfg = context.config


def run() -> None:
    url = cfg.get_main_option("sqlalchemy.url")
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata,
                          render_as_batch=connection.dialect.name == "sqlite",
                          compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run()
