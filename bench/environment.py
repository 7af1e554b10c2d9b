"""A private PostgreSQL database and RabbitMQ virtual host for one bench or soak run.

Like tests/conftest.py: `rabbitmqctl add_vhost` + `set_permissions`, a database of the run's own
and a fresh CIPHER_KEY, exported in os.environ so every process the run starts uses them. Both
are dropped at the end, pass or fail. PostgreSQL and RabbitMQ themselves are never restarted:
other engineers use them at the same time.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import uuid

PREFIX = "civil_affairs_bench"


class PrivateEnvironment:
    def __init__(self, prefix: str = PREFIX):
        self.run_id = uuid.uuid4().hex[:8]
        self.name = f"{prefix}_{self.run_id}"
        self.pgbench_db = f"{self.name}_pgbench"
        self.ctl = shutil.which("rabbitmqctl")
        self.amqp_uri = f"amqp://guest:guest@127.0.0.1:5672/{self.name}"
        self._created: list[str] = []

    def __enter__(self) -> "PrivateEnvironment":
        from eventsourcing.cryptography import AESCipher
        if self.ctl is None:
            raise SystemExit("bench: rabbitmqctl not found (Debian package rabbitmq-server)")
        os.environ.setdefault("POSTGRES_HOST", "127.0.0.1")
        os.environ.setdefault("POSTGRES_USER", "postgres")
        os.environ["POSTGRES_DBNAME"] = self.name
        os.environ["AMQP_URI"] = self.amqp_uri
        os.environ["CIPHER_KEY"] = AESCipher.create_key(32)
        # The platform's Nameko processes set this themselves; the relay and the projection
        # must run with psycopg's default wait, as under `make run`.
        os.environ.pop("PSYCOPG_WAIT_FUNC", None)
        subprocess.run([self.ctl, "add_vhost", self.name], check=True, capture_output=True)
        self._created.append("vhost")
        subprocess.run([self.ctl, "set_permissions", "-p", self.name, "guest", ".*", ".*", ".*"],
                       check=True, capture_output=True)
        from shared.config import settings
        from shared.db import ensure_database
        self.settings = settings()
        ensure_database(self.settings)
        self._created.append("database")
        return self

    def conninfo(self, dbname: str | None = None) -> str:
        return self.settings.pg_conninfo(dbname)

    def create_scratch_database(self, name: str) -> None:
        import psycopg
        from psycopg import sql
        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        self._created.append(f"db:{name}")

    def drop_database(self, name: str) -> None:
        import psycopg
        from psycopg import sql
        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def __exit__(self, *exc) -> None:
        for item in reversed(self._created):
            try:
                if item == "vhost":
                    subprocess.run([self.ctl, "delete_vhost", self.name], capture_output=True, timeout=60)
                elif item == "database":
                    self.drop_database(self.name)
                elif item.startswith("db:"):
                    self.drop_database(item[3:])
            except Exception as error:  # clean up the rest anyway
                print(f"bench: could not remove {item} of run {self.name}: {error}", flush=True)
        self._created.clear()
