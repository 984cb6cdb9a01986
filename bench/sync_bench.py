"""The store's share of a mirror sync and an emulator reset, the two figures behind two rows of
docs/benchmarks.md ("Fixes made from these measurements").

``python bench/sync_bench.py [--rounds N]``: the first sync of the standard seed (300 contacts, 242
threads, 80 chatbot sessions) from an in-process emulator on loopback, unpaced, into a fresh SQLite
file and into a fresh PostgreSQL schema (``OUTPERFORM_TEST_DATABASE_URL``, default the local test
database; skipped with the reason when it does not answer), wall and this process's CPU, median of
the rounds; then the emulator's full reset (what the tests do before each test), median of 50.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import tempfile
import time
from pathlib import Path

import anyio
import psycopg
from pydantic import SecretStr

from outperform_mcp.api.client import OutPerformClient
from outperform_mcp.mirror.sync import Mirror
from outperform_mcp.sandbox import EmulatorServer, create_emulator
from outperform_mcp.settings import ApiSettings, MirrorSettings
from outperform_mcp.store.db import open_store
from outperform_mcp.store.optout import OptOutRules

SERVER_URL = os.environ.get("OUTPERFORM_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


async def one_sync(emulator: EmulatorServer, database_url: str | None, data_dir: Path) -> tuple[float, float]:
    api = ApiSettings(
        base_url=emulator.base_url,
        client_id=emulator.client_id,
        client_secret=SecretStr(emulator.client_secret),
        data_dir=data_dir,
        persist_refresh_token=False,
    )
    store = open_store(database_url, data_dir, lock_timeout=10)
    try:
        async with OutPerformClient(api) as client:
            mirror = Mirror(client, store, MirrorSettings(sync_rate=0), opt_out=OptOutRules(()), lease_ttl=30)
            wall, cpu = time.perf_counter(), time.process_time()
            await mirror.sync()
            return time.perf_counter() - wall, time.process_time() - cpu
    finally:
        store.close()


def postgres_schema() -> str | None:
    """A new schema's URL, or None (and why, printed) when PostgreSQL does not answer."""
    name = "bench_" + secrets.token_hex(6)
    try:
        with psycopg.connect(SERVER_URL, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE SCHEMA "{name}"')
    except psycopg.Error as exc:
        print(f"PostgreSQL at {SERVER_URL} skipped: {str(exc).strip().splitlines()[0]}")
        return None
    return name


def drop(name: str) -> None:
    with psycopg.connect(SERVER_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{name}" CASCADE')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    results: dict[str, list[tuple[float, float]]] = {"sqlite": [], "postgres": []}
    with EmulatorServer(create_emulator()) as emulator:
        for _ in range(args.rounds + 1):  # the first round warms imports and caches: not counted
            with tempfile.TemporaryDirectory() as folder:
                results["sqlite"].append(anyio.run(one_sync, emulator, None, Path(folder)))
            schema = postgres_schema()
            if schema is not None:
                joiner = "&" if "?" in SERVER_URL else "?"
                url = f"{SERVER_URL}{joiner}options=-csearch_path%3D{schema}"
                try:
                    with tempfile.TemporaryDirectory() as folder:
                        results["postgres"].append(anyio.run(one_sync, emulator, url, Path(folder)))
                finally:
                    drop(schema)
        resets = []
        for _ in range(50):
            start = time.perf_counter()
            emulator.emulator.state.reset_everything()
            resets.append(time.perf_counter() - start)
    print("| backend | first sync of the standard seed, wall | this process's CPU |")
    print("|---|---|---|")
    for backend, runs in results.items():
        if len(runs) > 1:
            wall = statistics.median(w for w, _ in runs[1:])
            cpu = statistics.median(c for _, c in runs[1:])
            print(f"| {backend} | {wall:.2f} s | {cpu:.2f} s |")
    print(f"\nemulator full reset: median {statistics.median(resets) * 1000:.1f} ms of 50")


if __name__ == "__main__":
    main()
