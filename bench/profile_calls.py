"""Where a tool call's server CPU goes: waves of 200 ``search_contacts`` calls against ours or the
bare server, the CPU per call of each wave, and optionally a py-spy profile of the server.

    python bench/profile_calls.py ours --waves 10
    python bench/profile_calls.py bare --waves 10 --py-spy /tmp/bare.txt   # pip install py-spy

The profile is py-spy's raw (collapsed) format: one stack per line with its sample count, for
flamegraph.pl or a grep. The waves are ``concurrency.py``'s (100 ms of API latency, the light
load generator); run both servers a few times, the machine's load moves the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import psutil  # noqa: E402
from common import BENCH, OUR_HTTP_ARGS, http_server, median, scratch_dir, server_env  # noqa: E402
from concurrency import ARGS, FLOOR_ARGS, IN_FLIGHT, LATENCY_MS, cpu_seconds  # noqa: E402
from emulator import EmulatorProcess, running_emulator  # noqa: E402
from loadgen import McpHttp, wave  # noqa: E402


async def _waves(emu: EmulatorProcess, url: str, pid: int, waves: int, spy_out: Path | None) -> list[float]:
    client = McpHttp(url)
    await client.open()
    proc = psutil.Process(pid)
    emu.latency(LATENCY_MS)
    spy = None
    try:
        await wave(client, "search_contacts", ARGS, IN_FLIGHT)  # warm-up
        if spy_out is not None:
            exe = shutil.which("py-spy") or "py-spy"
            spy = subprocess.Popen(  # noqa: ASYNC220 - started once, before the measured waves
                [exe, "record", "-p", str(pid), "-o", str(spy_out), "-f", "raw", "-r", "200", "--nonblocking"]
            )
            await asyncio.sleep(1)
        per_call = []
        for _ in range(waves):
            before = cpu_seconds(proc)
            w = await wave(client, "search_contacts", ARGS, IN_FLIGHT)
            await asyncio.sleep(0.05)
            if w.errors:
                raise RuntimeError(f"{len(w.errors)} call(s) failed: {w.errors[:3]}")
            per_call.append((cpu_seconds(proc) - before) / IN_FLIGHT)
        return per_call
    finally:
        emu.latency(0)
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("server", choices=("ours", "bare"))
    parser.add_argument("--waves", type=int, default=10)
    parser.add_argument("--py-spy", type=Path, help="record a py-spy profile of the server to this file")
    args = parser.parse_args()
    with running_emulator() as emu, scratch_dir() as data_dir:
        if args.server == "ours":
            argv, env = OUR_HTTP_ARGS, server_env(emu, data_dir, OUTPERFORM_MAX_CONNECTIONS=str(IN_FLIGHT * 2))
        else:
            argv = (str(BENCH / FLOOR_ARGS[0]), *FLOOR_ARGS[1:])
            env = {
                "PATH": os.environ.get("PATH", ""),
                "HOME": str(data_dir),
                "FLOOR_BASE_URL": emu.base_url,
                "FLOOR_ACCESS_TOKEN": emu.access_token(),
            }
        with http_server(argv, env, data_dir) as (url, proc):
            per_call = asyncio.run(_waves(emu, url, proc.pid, args.waves, args.py_spy))
    waves = ", ".join(f"{c * 1000:.2f}" for c in sorted(per_call))
    print(f"{args.server}: server CPU per call, median {median(per_call) * 1000:.2f} ms (waves, ms: {waves})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
