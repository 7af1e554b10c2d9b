"""Infrastructure: create the database and a service's schema if they are missing."""
from __future__ import annotations

import psycopg
from psycopg import sql

from shared.config import Settings


def ensure_database(cfg: Settings) -> None:
    with psycopg.connect(cfg.pg_conninfo("postgres"), autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (cfg.pg_dbname,)).fetchone()
        if not found:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(cfg.pg_dbname)))


def ensure_schema(cfg: Settings, schema: str) -> None:
    with psycopg.connect(cfg.pg_conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
