"""Engine and session factory. One engine per process, created from Settings."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from monitor.config import Settings


def make_engine(settings: Settings, *, pool_size: int = 5) -> Engine:
    return create_engine(
        settings.sqlalchemy_url,
        pool_size=pool_size,
        pool_pre_ping=True,
        # Datetimes read back are in UTC whatever the server's TimeZone setting is.
        connect_args={"options": "-c TimeZone=UTC"},
    )


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
