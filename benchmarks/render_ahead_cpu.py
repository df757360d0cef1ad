"""CPU per page of the render-ahead backfill: runs `manage.py trackpage_render_ahead` (in the
checkout given, so two checkouts can be compared in alternating rounds), reads its progress bar,
and stops it after `--pages` orders; between the first and the last progress tick it measures
wall time, the command's own CPU (/proc/<pid>/stat) and the CPU of every PostgreSQL backend of
the database (processes titled `postgres: … <database> …`, polled every 50 ms; a backend's last
reading is kept after it exits, so up to 50 ms per backend may be missed).

    .venv/bin/python benchmarks/render_ahead_cpu.py --checkout . --pages 3000 \\
        --database-url postgres://postgres@127.0.0.1:5432/h_reco_bench \\
        --cache-url rediscache://127.0.0.1:6380/5

The cache DB is emptied first (every page then renders); nothing else may use the database.
Last line: one JSON object (`pages`, `wall_s`, `pages_per_s`, `process_cpu_ms_per_page`,
`postgres_cpu_ms_per_page`, `load_before`, `load_after`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.harness import flush_redis

TICKS = os.sysconf("SC_CLK_TCK")
PROGRESS = re.compile(rb"\| *(\d+)/(\d+) \[")


def cpu_seconds(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS


def backends(database: str) -> dict[int, float]:
    found: dict[int, float] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as cmdline:
                title = cmdline.read()
        except OSError:
            continue
        if title.startswith(b"postgres:") and f" {database} ".encode() in title:
            seconds = cpu_seconds(int(name))
            if seconds is not None:
                found[int(name)] = seconds
    return found


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkout", default=".", help="the tree whose manage.py runs")
    parser.add_argument("--pages", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--cache-url", required=True)
    parser.add_argument("--log", default="var/render_ahead_cpu.log", help="the command's output")
    args = parser.parse_args()
    database = args.database_url.rsplit("/", 1)[1]
    flush_redis(args.cache_url)
    env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "CACHE_URL": args.cache_url,
        "CELERY_TASK_ALWAYS_EAGER": "1",
        "LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "manage.py", "trackpage_render_ahead"]
    command += ["--threads", str(args.threads), "--days", str(args.days)]
    Path(args.log).parent.mkdir(parents=True, exist_ok=True)
    load_before = loadavg()
    with open(args.log, "wb") as log, open(args.log, "rb") as reader:
        process = subprocess.Popen(command, cwd=args.checkout, env=env, stdout=log, stderr=log)
        tail, done = b"", 0
        seen: dict[int, float] = {}
        first: tuple[float, int, float, dict[int, float]] | None = None
        last: tuple[float, int, float] | None = None
        try:
            while process.poll() is None:
                time.sleep(0.05)
                tail = (tail + reader.read())[-4000:]
                seen.update(backends(database))
                if ticks := PROGRESS.findall(tail):
                    done = int(ticks[-1][0])
                own = cpu_seconds(process.pid) or 0.0
                if first is None and done > 0:
                    first = (time.monotonic(), done, own, dict(seen))
                if first is not None and done >= args.pages:
                    last = (time.monotonic(), done, own)
                    break
        finally:
            process.send_signal(signal.SIGTERM)  # the pool would finish every batch on SIGINT
            process.wait()
    if first is None or last is None:
        raise SystemExit(f"no {args.pages} pages rendered; see {args.log}")
    pages = last[1] - first[1]
    postgres = sum(cpu - first[3].get(pid, 0.0) for pid, cpu in seen.items())
    result = {
        "pages": pages,
        "wall_s": round(last[0] - first[0], 1),
        "pages_per_s": round(pages / (last[0] - first[0]), 1),
        "process_cpu_ms_per_page": round((last[2] - first[2]) * 1000 / pages, 2),
        "postgres_cpu_ms_per_page": round(postgres * 1000 / pages, 2),
        "load_before": load_before,
        "load_after": loadavg(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
