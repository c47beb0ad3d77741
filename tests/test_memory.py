"""The memory gate admits work by estimated bytes, and the estimate grows with what costs memory."""

from __future__ import annotations

import threading
import time

from colorizer.pipelines.memory import MemoryGate, estimate_request_bytes


def test_gate_runs_what_fits_together_and_the_rest_in_turn():
    gate = MemoryGate(budget=10)
    running, peak, lock = [0], [0], threading.Lock()

    def work(estimate: int) -> None:
        with gate.admit(estimate):
            with lock:
                running[0] += estimate
                peak[0] = max(peak[0], running[0])
            time.sleep(0.05)
            with lock:
                running[0] -= estimate

    threads = [threading.Thread(target=work, args=(size,)) for size in (4, 4, 8, 8, 25, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert not any(thread.is_alive() for thread in threads)  # the one above the budget ran too, alone
    assert peak[0] == 25  # never more than the budget at once, except that lone large one
    assert gate.in_use == 0 and gate.running == 0


def test_estimate_grows_with_photo_render_size_and_restore():
    base = estimate_request_bytes(4000, 3000, 512, False)
    assert estimate_request_bytes(8000, 6000, 512, False) > base
    assert estimate_request_bytes(4000, 3000, 2048, False) > base
    assert estimate_request_bytes(4000, 3000, 512, True) > base
    assert estimate_request_bytes(4000, 3000, 10**9, False) == estimate_request_bytes(4000, 3000, 2048, False)
