"""Soak test: waves of mixed requests against the real app on 127.0.0.1; peak memory, disk, latency.

    nice -n 10 python -m bench.soak_app                          # 3 waves of 6 requests, at most 10 minutes
    nice -n 10 python -m bench.soak_app --waves 2 --max-seconds 300 --memory-limit-mb 4096

Starts `python app.py` (embedded default weights, HF_HUB_OFFLINE=1) on a free loopback port with its
own temporary and result folders, then sends each wave at once through gradio_client: plain
photos, the maximum settings (render size 2048 with restore), the same asked for with absurd numbers
(render_size=1e9, strength=1e9: clamped), NaN strength and a corrupt file (both refused), an
animated GIF, and a small batch. The server's resident memory is sampled every 0.1 s; its peak
(VmHWM), the disk used by its folders and each kind of request's latency are printed as tables.
Exits 1 if the peak passes --memory-limit-mb or the server dies.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.photo import gray_coffee
from tools.app_server import AppDidNotStart, running_app
from tools.proc_status import vm_kib


def disk_bytes(*folders: Path) -> int:
    return sum(p.stat().st_size for folder in folders if folder.exists() for p in folder.rglob("*") if p.is_file())


def make_inputs(folder: Path, megapixels: float) -> dict[str, Path]:
    """Test photos from scikit-image (gray, as scans), a corrupt file and an animated GIF."""
    coffee, big = gray_coffee(), gray_coffee(megapixels)
    paths = {"photo": folder / "photo.jpg", "small": folder / "small.jpg", "corrupt": folder / "corrupt.jpg",
             "gif": folder / "spin.gif"}
    big.save(paths["photo"], quality=90)
    coffee.save(paths["small"], quality=90)
    paths["corrupt"].write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    frames = [coffee.resize((300, 200)).rotate(a) for a in (0, 90, 180)]
    frames[0].save(paths["gif"], save_all=True, append_images=frames[1:], duration=100, loop=0)
    return paths


def requests_of_a_wave(paths: dict[str, Path], size: int) -> list[tuple[str, tuple, str]]:
    """(kind, args, api name); `size` of them, cycling through the mix (maximum settings first)."""
    from gradio_client import handle_file

    mix = [
        ("max: 2048 + restore", (handle_file(paths["photo"]), 2048, 1.0, "default", True), "/colorize"),
        ("plain 512", (handle_file(paths["photo"]), 512, 1.0, "default", False), "/colorize"),
        ("absurd numbers (clamped)", (handle_file(paths["photo"]), 1e9, 1e9, "default", True), "/colorize"),
        ("NaN strength (refused)", (handle_file(paths["small"]), 512, "nan", "default", False), "/colorize"),
        ("corrupt file (refused)", (handle_file(paths["corrupt"]), 512, 1.0, "default", False), "/colorize"),
        ("animated GIF", (handle_file(paths["gif"]), 512, 1.0, "default", False), "/colorize"),
        ("batch of 3", ([handle_file(paths["small"])] * 3, 512, 1.0, "default", False), "/colorize_batch"),
    ]
    return [mix[i % len(mix)] for i in range(size)]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], epilog="\n".join(__doc__.split("\n")[1:]),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--waves", type=int, default=3, help="[%(default)s]")
    p.add_argument("--requests-per-wave", type=int, default=6, help="sent at once [%(default)s]")
    p.add_argument("--megapixels", type=float, default=2.0, help="size of the main test photo [%(default)s]")
    p.add_argument("--max-seconds", type=float, default=600, help="no new wave after this [%(default)s]")
    p.add_argument("--request-timeout", type=float, default=900, help="[%(default)s]")
    p.add_argument("--memory-limit-mb", type=float, default=5120,
                   help="fail if the server's peak RSS passes this [%(default)s]")
    p.add_argument("--result-age", type=int, default=60,
                   help="COLORIZER_RESULT_MAX_AGE_S for the server, seconds [%(default)s]")
    args = p.parse_args()
    from gradio_client import Client

    start = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="soak-"))
    gradio_dir, work_dir = tmp / "gradio", tmp / "work"
    try:
        with running_app(tmp, timeout_s=180, COLORIZER_WEIGHTS="default",
                         COLORIZER_RESULT_MAX_AGE_S=str(args.result_age)) as (url, server):
            paths = make_inputs(tmp, args.megapixels)
            idle_rss = vm_kib("VmRSS", server.pid) * 1024
            samples: list[int] = []
            stop = threading.Event()

            def sample() -> None:
                while not stop.is_set() and server.poll() is None:
                    try:
                        samples.append(vm_kib("VmRSS", server.pid) * 1024)
                    except LookupError:  # it exited between the poll and the read
                        return
                    time.sleep(0.1)

            threading.Thread(target=sample, daemon=True).start()
            client = Client(url, verbose=False, download_files=str(tmp / "downloads"))
            latencies: dict[str, list[float]] = defaultdict(list)
            outcomes: dict[str, defaultdict] = defaultdict(lambda: defaultdict(int))
            waves = []

            def call(kind: str, call_args: tuple, api_name: str) -> None:
                t0 = time.monotonic()
                try:
                    client.predict(*call_args, api_name=api_name)
                    outcomes[kind]["ok"] += 1
                except Exception as err:  # noqa: BLE001 - refusals are expected for some kinds
                    outcomes[kind][type(err).__name__] += 1
                latencies[kind].append(time.monotonic() - t0)

            for wave in range(args.waves):
                if time.monotonic() - start > args.max_seconds or server.poll() is not None:
                    break
                t0 = time.monotonic()
                batch = requests_of_a_wave(paths, args.requests_per_wave)
                with ThreadPoolExecutor(len(batch)) as pool:
                    for future in [pool.submit(call, *item) for item in batch]:
                        future.result(timeout=args.request_timeout)
                waves.append((wave + 1, time.monotonic() - t0, max(samples, default=0),
                              disk_bytes(gradio_dir, work_dir)))
            time.sleep(min(args.result_age * 2 + 5, 150))  # let the cleanup run
            final_disk = disk_bytes(gradio_dir, work_dir)
            peak = vm_kib("VmHWM", server.pid) * 1024 if server.poll() is None else 0
            alive = server.poll() is None
            stop.set()
    except AppDidNotStart as err:
        print(err)
        return 1

    mib = 2**20
    print(f"# Soak: {len(waves)} waves of {args.requests_per_wave} requests at once, main photo "
          f"{args.megapixels:g} MP, {os.cpu_count()} cores, {time.monotonic() - start:.0f} s in all\n")
    print("| wave | seconds | server peak RSS so far (MiB) | disk in result + cache folders (MiB) |")
    print("|---:|---:|---:|---:|")
    for number, seconds, peak_so_far, disk in waves:
        print(f"| {number} | {seconds:.0f} | {peak_so_far / mib:.0f} | {disk / mib:.1f} |")
    print(f"\n- server RSS idle after start: {idle_rss / mib:.0f} MiB; peak (VmHWM): {peak / mib:.0f} MiB; "
          f"limit checked: {args.memory_limit_mb:.0f} MiB")
    print(f"- disk after the last wave plus {min(args.result_age * 2 + 5, 150)} s (results kept "
          f"{args.result_age} s): {final_disk / mib:.1f} MiB")
    print(f"- server alive at the end: {alive}\n")
    print("| request | count | outcomes | median s | max s |")
    print("|---|---:|---|---:|---:|")
    for kind, times in latencies.items():
        outcome = ", ".join(f"{k} {v}" for k, v in sorted(outcomes[kind].items()))
        print(f"| {kind} | {len(times)} | {outcome} | {statistics.median(times):.1f} | {max(times):.1f} |")
    ok = alive and peak <= args.memory_limit_mb * mib
    if not ok:
        print(f"\nFAILED: {'server died' if not alive else 'peak above the limit'}; log: {tmp / 'server.log'}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
