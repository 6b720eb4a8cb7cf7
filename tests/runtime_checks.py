"""Shared runtime assertions: the GIL is released during a Rust call, and Ctrl-C stops it."""

import _thread
import threading
import time


def assert_gil_released(run):
    """`run()` must take ~1 s; a Python thread has to make progress in its middle."""
    stamps = []
    done = threading.Event()

    def spin():
        while not done.is_set():
            stamps.append(time.perf_counter())
            time.sleep(0.001)

    thread = threading.Thread(target=spin)
    thread.start()
    t0 = time.perf_counter()
    try:
        run()
    finally:
        t1 = time.perf_counter()
        done.set()
        thread.join()
    span = t1 - t0
    assert span > 0.2, f"the call was too short ({span:.3f} s) to say anything"
    lo, hi = t0 + 0.3 * span, t0 + 0.7 * span
    inside = [s for s in stamps if lo <= s <= hi]
    # With the GIL held for the whole Rust call the thread could not run at all in there.
    assert len(inside) > 0.2 * (hi - lo) / 0.001 * 0.1, (len(inside), span)


def assert_interruptible(run, limit=2.0):
    """`run()` would take much longer than `limit`; Ctrl-C after 0.5 s must stop it in time."""
    timer = threading.Timer(0.5, _thread.interrupt_main)
    t0 = time.perf_counter()
    timer.start()
    try:
        run()
    except KeyboardInterrupt:
        elapsed = time.perf_counter() - t0
    else:
        timer.cancel()
        raise AssertionError("the call finished without being interrupted")
    finally:
        timer.cancel()
    assert elapsed < limit, f"KeyboardInterrupt came after {elapsed:.2f} s"
