#!/usr/bin/env python3
"""A second fatal signal while the record tool's handler writes the trace still kills the process.

  second_signal.py LIBSMPLOCK_RECORD PROGRAM

PROGRAM is tests/record/killed.c (it raises SIGTERM on itself). The trace's unfinished file
(FILE.partial) is made a FIFO with no reader beforehand, so the handler's write stops in open(2):
a state the test waits for in /proc/<pid>/syscall, not a time. Then a second signal is sent:
SIGTERM again (the handler is SA_RESETHAND: the default action kills), SIGINT (another handled
signal: it finds the write claimed and kills by itself) and SIGQUIT. Each run must end by the
second signal, with no trace written. Without the handler (the library before signals.cpp) the
program dies at once and never waits in open: the test fails.
"""
import os
import signal
import subprocess
import sys
import tempfile
import time

OPEN_SYSCALLS = {"2", "257"}  # open, openat (x86_64)


def waits_in_open(pid):
    try:
        with open(f"/proc/{pid}/syscall") as f:
            return f.read().split(" ")[0] in OPEN_SYSCALLS
    except OSError:
        return False


def one(lib, program, second):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "t.json")
        os.mkfifo(out + ".partial")
        # The root pid is the program's own (exec keeps it): its trace is FILE, so FILE.partial.
        env = dict(os.environ, SMPLOCK_RECORD_OUT=out, SMPLOCK_RECORD_LIB=lib)
        p = subprocess.Popen(["/bin/sh", "-c", 'SMPLOCK_RECORD_ROOT=$$ LD_PRELOAD="$SMPLOCK_RECORD_LIB" exec "$0"',
                              program], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while not waits_in_open(p.pid):
            if p.poll() is not None or time.monotonic() > deadline:
                p.kill()
                p.wait()
                raise AssertionError(f"the handler never waited in the trace's open (exit {p.returncode})")
            time.sleep(0.01)  # polling a state, bounded by the deadline
        os.kill(p.pid, second)
        try:
            rc = p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            raise AssertionError(f"a second {signal.Signals(second).name} did not kill the process")
        assert rc == -second, f"exit {rc}, expected death by {signal.Signals(second).name}"
        assert not os.path.exists(out), "a trace was written though the write never finished"
        print(f"ok: SIGTERM's write stuck, then {signal.Signals(second).name} killed the process")


def main():
    lib, program = sys.argv[1], sys.argv[2]
    for second in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
        one(lib, program, second)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except AssertionError as e:
        print(f"FAIL: {e}", file=sys.stderr)
        sys.exit(1)
