"""Run every benchmark and print one table: ``python bench/run.py`` (``--quick`` for a CI smoke run).

Each figure is a ratio against a baseline measured in the same run (these machines are noisy):
the direct API call, the 100 ms latency floor, a minimal MCPServer, the issue's budgets, and the
peer (FastMCP ``from_openapi``). The emulator runs in a process of its own on loopback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import concurrency  # noqa: E402
import context  # noqa: E402
import memory  # noqa: E402
import overhead  # noqa: E402
import peer  # noqa: E402
import startup  # noqa: E402
from common import Config, Report, Row, machine  # noqa: E402
from emulator import running_emulator  # noqa: E402

MODULES = {
    "context": context,
    "startup": startup,
    "overhead": overhead,
    "concurrency": concurrency,
    "memory": memory,
}
COLUMNS = ("measure", "ours", "baseline", "ratio", "target", "met?")


def cells(row: Row) -> tuple[str, ...]:
    met = "" if row.met is None else ("yes" if row.met else "**NO**")
    rate = "" if row.ratio is None else f"{row.ratio:.2f}×"
    return (
        row.measure.replace("  ", "  ↳ ", 1) if row.measure.startswith("  ") else row.measure,
        row.ours,
        row.baseline,
        rate,
        row.target,
        met,
    )


def table(rows: list[Row]) -> str:
    data = [COLUMNS, *(cells(r) for r in rows)]
    widths = [max(len(r[i]) for r in data) for i in range(len(COLUMNS))]
    lines = []
    for n, r in enumerate(data):
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |")
        if n == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds and calls: a smoke run for CI")
    parser.add_argument("--only", default="", help=f"comma-separated subset of: {', '.join(MODULES)}")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON to this file")
    args = parser.parse_args()
    chosen = [m.strip() for m in args.only.split(",") if m.strip()] or list(MODULES)
    unknown = [m for m in chosen if m not in MODULES]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")

    cfg = Config(quick=args.quick)
    report = Report()
    info = machine()
    load_before = os.getloadavg()
    started = time.perf_counter()
    with running_emulator() as emu:
        for name in chosen:
            t0 = time.perf_counter()
            print(f"running {name} ...", file=sys.stderr, flush=True)
            MODULES[name].run(emu, cfg, report)
            print(f"  {name}: {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - started
    load_after = os.getloadavg()

    order = ["overhead", "concurrency", "token refresh", "start-up", "context", "memory", "peer"]
    rows = sorted(report.rows, key=lambda r: order.index(r.section) if r.section in order else len(order))
    mode = "quick" if args.quick else "full"
    print(f"# outperform-mcp benchmarks ({mode}), {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(
        f"machine: {info['nproc']} cores, {info['cpu']}, Python {info['python']}, {info['os']}; "
        f"mcp {info['mcp']}, httpx {info['httpx']}, httpx2 {info['httpx2']}, pydantic {info['pydantic']}, "
        f"fastmcp {info['fastmcp']}"
    )
    print(f"load average (1 min) before/after: {load_before[0]:.2f} / {load_after[0]:.2f}; run took {elapsed:.0f} s")
    if not peer.available():
        print("peer: fastmcp is not installed (pip install 'outperform-mcp[bench]'), peer rows skipped")
    print()
    print(table(rows))
    if report.notes:
        print()
        for note in report.notes:
            print(f"- {note}")
    missed = [r.measure.strip() for r in rows if r.met is False]
    print()
    print(f"targets met: {sum(r.met is True for r in rows)}/{sum(r.met is not None for r in rows)}")
    if missed:
        print("missed: " + "; ".join(missed))
    if args.json:
        payload = {"machine": info, "mode": mode, "elapsed_s": elapsed, "rows": [r.__dict__ for r in rows]}
        args.json.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
