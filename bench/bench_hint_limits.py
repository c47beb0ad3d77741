"""Huge hints texts against the real app: how fast they are refused, and the app's memory meanwhile.

    python -m bench.bench_hint_limits                 # a 76 MB text, 3 times alone, then 4 at once

Starts `python app.py` (embedded default, offline) on a free loopback port and sends `/colorize` calls
whose hints text is --megabytes of valid JSON points, as a raw HTTP call the way any client sends it.
Times each refusal from the moment the request is sent (the body's upload included) to the answer,
and reads the server's peak resident memory (VmHWM) before and after four such calls at once.
Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tools.app_server import running_app
from tools.proc_status import vm_kib


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--megabytes", type=float, default=76.0, help="size of the hints text [%(default)s]")
    p.add_argument("--repeats", type=int, default=3, help="single calls timed [%(default)s]")
    args = p.parse_args(argv)
    point = '[1, 1, "#ff0000"]'
    text = "[" + ",".join([point] * int(args.megabytes * 1e6 / (len(point) + 1))) + "]"
    body = json.dumps({"data": [None, 384, 1.0, "default", False, text, None, None]}).encode()
    headers = {"content-type": "application/json"}
    with tempfile.TemporaryDirectory() as tmp, running_app(Path(tmp)) as (url, proc):
        def call(_: int = 0) -> tuple[float, int, str]:
            started = time.perf_counter()
            answer = httpx.post(url + "gradio_api/call/colorize", content=body, headers=headers, timeout=120)
            return time.perf_counter() - started, answer.status_code, answer.text[:200]

        before = vm_kib("VmHWM", proc.pid) / 1024
        alone = [call() for _ in range(args.repeats)]
        Path(f"/proc/{proc.pid}/clear_refs").write_text("5")
        with ThreadPoolExecutor(4) as pool:
            together = list(pool.map(call, range(4)))
        peak = vm_kib("VmHWM", proc.pid) / 1024
    print(f"hints text {len(text) / 1e6:.1f} MB; {platform.processor() or platform.machine()}, {os.cpu_count()} cores\n")
    print("| | seconds to the answer | answer |\n|---|---:|---|")
    for i, (seconds, status, answer) in enumerate(alone):
        print(f"| alone, call {i + 1} | {seconds:.2f} | {status} {answer} |")
    print(f"| four at once, slowest | {max(s for s, _, _ in together):.2f} | {together[0][1]} |")
    print(f"\nserver memory: peak {before:.0f} MiB after start; peak {peak:.0f} MiB through four at once")


if __name__ == "__main__":
    main()
