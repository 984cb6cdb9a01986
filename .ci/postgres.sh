#!/usr/bin/env bash
# Fails with one clear line when the PostgreSQL the tests use cannot be reached (every CI machine
# runs PostgreSQL 15 on 127.0.0.1:5432, trust authentication, database `test`).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
URL="${OUTPERFORM_TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/test}"
if ! out="$("$PY" - "$URL" 2>&1 <<'PYEOF'
import sys
import psycopg
try:
    with psycopg.connect(sys.argv[1], connect_timeout=5) as conn:
        print(conn.execute("SHOW server_version").fetchone()[0])
except psycopg.Error as exc:
    print(str(exc).strip().splitlines()[0])
    sys.exit(1)
PYEOF
)"; then
    echo "CI needs PostgreSQL for the store tests: cannot connect to $URL ($out)." >&2
    echo "Start PostgreSQL 15 on 127.0.0.1:5432 (trust auth, database test) or set OUTPERFORM_TEST_DATABASE_URL." >&2
    exit 1
fi
echo "PostgreSQL $out at $URL"
