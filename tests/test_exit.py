"""Exit and Ctrl-C, in real subprocesses (API.md §6).

- A script that submits work and simply ends still runs every task.
- Ctrl-C while the main thread waits (``get``, ``wait``, ``pool.wait``, a
  proxy use, or a task the main thread runs itself) raises KeyboardInterrupt
  within 0.2 s; tasks that have not started never run; the process exits as
  soon as the running task returns.
- A failure nobody observed is logged once at exit.

Each child prints ``READY`` when it is about to block, and the parent waits
until the child's main thread is asleep before it sends SIGINT (no sleeps).
Children and parent compare ``time.monotonic()``, a system-wide clock on
Linux, so the child reports when it caught the interrupt and the parent
knows when it sent it.
"""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="needs /proc and SIGINT")

TIMEOUT = 30


class _Child(subprocess.Popen[str]):
    """A child whose stdout is read line by line on a thread, with timeouts."""

    lines: queue.SimpleQueue[str]
    err: list[str]
    reader: threading.Thread
    err_reader: threading.Thread

    def expect(self, prefix: str) -> str:
        try:
            line = self.lines.get(timeout=TIMEOUT)
        except queue.Empty:
            line = "<nothing>"
        if not line.startswith(prefix):
            self.kill()
            self.wait(timeout=TIMEOUT)
            self.err_reader.join(TIMEOUT)
            pytest.fail(f"expected {prefix!r} from the child, got {line!r}\n{''.join(self.err)}")
        return line

    def rest(self, stdin: str = "") -> tuple[str, str]:
        """Write ``stdin``, wait for exit; (the rest of stdout, stderr)."""
        assert self.stdin is not None and self.stderr is not None
        try:
            self.stdin.write(stdin)
            self.stdin.close()
        except BrokenPipeError:
            pass
        try:
            self.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            self.wait(timeout=TIMEOUT)
            pytest.fail(f"the child did not exit\n{''.join(self.err)}")
        self.reader.join(TIMEOUT)
        self.err_reader.join(TIMEOUT)
        out = []
        while not self.lines.empty():
            out.append(self.lines.get())
        return "".join(out), "".join(self.err)

    def expect_stderr(self, text: str) -> None:
        deadline = time.monotonic() + TIMEOUT
        while text not in "".join(self.err):
            if time.monotonic() > deadline or not self.err_reader.is_alive():
                self.kill()
                pytest.fail(f"expected {text!r} on stderr, got {''.join(self.err)!r}")
            time.sleep(0.001)  # polling a condition, not ordering by sleeping


def _spawn(script: str, tmp_path: Path, *args: str) -> _Child:
    path = tmp_path / "child.py"
    path.write_text(textwrap.dedent(script))
    child = _Child(
        [sys.executable, str(path), str(tmp_path), *args],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=str(Path(__file__).resolve().parent.parent),
    )
    child.lines = queue.SimpleQueue()

    def read() -> None:
        assert child.stdout is not None
        for line in child.stdout:
            child.lines.put(line)

    def read_err() -> None:
        assert child.stderr is not None
        for line in child.stderr:
            child.err.append(line)

    child.err = []
    child.reader = threading.Thread(target=read, daemon=True)
    child.reader.start()
    child.err_reader = threading.Thread(target=read_err, daemon=True)
    child.err_reader.start()
    return child


def _wait_asleep(pid: int) -> None:
    """Until the child's main thread is sleeping (in a lock acquire, after READY)."""
    stat = Path(f"/proc/{pid}/task/{pid}/stat")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        state = stat.read_text().rsplit(")", 1)[1].split()[0]
        if state == "S":
            return
        time.sleep(0.001)  # polling a condition, not ordering by sleeping
    pytest.fail("the child's main thread never went to sleep")


def _ran(tmp_path: Path) -> set[str]:
    return {p.name[len("ran-"):] for p in tmp_path.glob("ran-*")}


# --------------------------------------------------------------------------
# Exit finishes work


def test_script_that_just_ends_runs_every_task(tmp_path: Path) -> None:
    proc = _spawn("""
        import sys, time, asynckit
        out = sys.argv[1] + "/lines"
        pool = asynckit.Pool(2)

        def log(tag):
            time.sleep(0.002)  # the main thread is long gone by the end
            with open(out, "a") as f:
                f.write(tag + "\\n")
            return tag

        def spawner(i):  # a task that submits more tasks
            log(f"spawner{i}")
            pool.do(log, pool.do(log, f"nested{i}"))  # nested{i} twice, in order

        for i in range(40):
            pool.do(log, f"plain{i}")
        for i in range(5):
            pool.do(spawner, i)
        pool.do(log, "chained-from").chain(log, "chain")
        asynckit.do(log, "default-pool")
        print("SUBMITTED", flush=True)
    """, tmp_path)
    out, err = proc.rest()
    assert proc.returncode == 0, err
    assert out.strip() == "SUBMITTED"
    lines = (tmp_path / "lines").read_text().split()
    expected = ([f"plain{i}" for i in range(40)] + [f"spawner{i}" for i in range(5)]
                + [f"nested{i}" for i in range(5)] * 2
                + ["chained-from", "chain", "default-pool"])
    assert sorted(lines) == sorted(expected)


@pytest.mark.timeout(60)
def test_work_that_becomes_ready_during_exit_still_runs(tmp_path: Path) -> None:
    # From Python 3.12 no thread can start once the interpreter is exiting:
    # a wide layer that becomes ready only then must run on the workers there
    # are, not be dropped (and no worker may die trying to start one).
    proc = _spawn("""
        import time, asynckit
        pool = asynckit.Pool(16)

        def step(x):
            time.sleep(0.05)
            return x + 1

        first = pool.do(step, 0)
        layer = [pool.do(step, first) for _ in range(16)]
        pool.do(lambda *ends: print("sum", sum(ends), flush=True), *layer)
    """, tmp_path)
    out, err = proc.rest()
    assert proc.returncode == 0, err
    assert out.split() == ["sum", "32"], (out, err)
    assert "Traceback" not in err, err


@pytest.mark.timeout(90)
@pytest.mark.parametrize("how", ["get", "exit"])
def test_ctrl_c_cancels_work_queued_in_the_process_pool(tmp_path: Path, how: str) -> None:
    # The processes backend hands ready tasks to its ProcessPoolExecutor at
    # once; on Ctrl-C those still in the executor's queue are cancelled
    # there, and a Ctrl-C during the exit hook is no hang either.
    proc = _spawn("""
        import sys, time, asynckit

        def slow(where, i):
            open(f"{where}/ran-{i}", "w").close()
            time.sleep(0.5)
            return i

        if __name__ == "__main__":
            where, how = sys.argv[1], sys.argv[2]
            pool = asynckit.Pool(2, backend="processes")
            values = [pool.do(slow, where, i) for i in range(40)]
            print("READY", flush=True)
            if how == "get":
                try:
                    values[-1].get()
                except KeyboardInterrupt:
                    print("CAUGHT", flush=True)
    """, tmp_path, how)
    proc.expect("READY")
    deadline = time.monotonic() + TIMEOUT
    while not _ran(tmp_path):  # a task has started in a worker process
        assert time.monotonic() < deadline, "no task ever started"
        time.sleep(0.01)  # polling a condition, not ordering by sleeping
    proc.send_signal(signal.SIGINT)
    out, err = proc.rest()
    assert "Traceback" not in err, err
    assert len(_ran(tmp_path)) < 40, "Ctrl-C cancelled nothing"
    if how == "get":
        assert "CAUGHT" in out, (out, err)


@pytest.mark.timeout(60)
def test_a_forked_child_drops_the_parents_work_and_exits(tmp_path: Path) -> None:
    # The parent's worker threads do not come along into a fork: the child
    # must not wait at exit for tasks that can never settle there, nor run
    # them; its waits on them raise CancelledError, and new work runs.
    # A fork-based ProcessPoolExecutor behind executor= does the same fork.
    proc = _spawn("""
        import concurrent.futures, multiprocessing, os, threading, asynckit

        def add(a, b):
            return a + b

        def say(line):  # one write per line: parent and child share the pipe
            os.write(1, (line + "\\n").encode())

        if __name__ == "__main__":
            fork = multiprocessing.get_context("fork")
            with concurrent.futures.ProcessPoolExecutor(1, mp_context=fork) as ex:
                print("executor", asynckit.Pool(executor=ex).do(add, 1, 2).get(20), flush=True)
            pool = asynckit.Pool(2)
            gate = threading.Event()
            blocked = pool.do(gate.wait)
            queued = [pool.do(add, blocked, 1) for _ in range(3)]
            pid = os.fork()
            if pid == 0:
                try:
                    queued[0].get(20)
                except asynckit.CancelledError:
                    say("child cancelled")
                say(f"child new {pool.do(add, 2, 3).get(20)}")
            else:
                gate.set()
                say(f"parent {[v.get(20) for v in queued]}")
                _, status = os.waitpid(pid, 0)
                say(f"child exit {status}")
    """, tmp_path)
    out, err = proc.rest()
    assert proc.returncode == 0, err
    lines = out.splitlines()
    assert lines[0] == "executor 3", (out, err)
    assert {"child cancelled", "child new 5", "parent [2, 2, 2]", "child exit 0"} \
        <= set(lines), (out, err)
    assert "Traceback" not in err, err


@pytest.mark.timeout(60)
def test_a_daemon_thread_that_keeps_submitting_does_not_keep_the_program_alive(
        tmp_path: Path) -> None:
    # The exit hook finishes what was submitted before it started and refuses
    # what other threads submit after (tasks may still submit nested work).
    # The daemon keeps about 100 calls pending, refilling as each ends, so
    # the pool never drains by itself: before, the exit hook waited forever.
    proc = _spawn("""
        import threading, time, asynckit
        pool = asynckit.Pool(2)
        room = threading.Semaphore(100)

        def work():
            time.sleep(0.001)  # a little I/O
            assert pool.do(abs, -1).get(20) == 1  # a task's own submission still runs
            room.release()

        def submitter():
            try:
                while True:
                    room.acquire()
                    pool.do(work)
            except RuntimeError as refused:
                print("REFUSED", refused, flush=True)

        threading.Thread(target=submitter, daemon=True).start()
        assert pool.do(abs, -1).get(20) == 1
        print("ENDING", flush=True)
    """, tmp_path)
    out, err = proc.rest()
    assert proc.returncode == 0, err
    assert "ENDING" in out and "Traceback" not in err, (out, err)


@pytest.mark.timeout(60)
def test_work_submitted_after_the_exit_hook_is_refused_not_dropped(tmp_path: Path) -> None:
    # A user's atexit handler runs after asynckit has finished the program's
    # work; nothing would run new work then, so it must be refused loudly.
    proc = _spawn("""
        import atexit, asynckit
        pool = asynckit.Pool(2)

        def late():
            attempts = (lambda: pool.do(print, "ran: pool"),
                        lambda: asynckit.do(print, "ran: default pool"),
                        lambda: asynckit.Pool(1).do(print, "ran: new pool"))
            for attempt in attempts:
                try:
                    attempt()
                except RuntimeError as error:
                    print("refused:", error, flush=True)

        atexit.register(late)
        pool.do(print, "early", flush=True)
    """, tmp_path)
    out, err = proc.rest()
    assert proc.returncode == 0, err
    lines = out.splitlines()
    assert lines[0] == "early"
    assert len(lines) == 4 and all("refused:" in line and "exiting" in line
                                   for line in lines[1:]), out


# --------------------------------------------------------------------------
# Ctrl-C

# The child: one worker, busy with `running` (it returns when the parent
# writes a line to stdin); behind it, tasks that must never run. The main
# thread then blocks in the way named by argv[2].
CTRL_C_CHILD = """
    import sys, threading, time, asynckit
    where, how = sys.argv[1], sys.argv[2]
    pool = asynckit.Pool(1)
    started = threading.Event()

    def mark(name, *inputs):
        open(f"{where}/ran-{name}", "w").close()
        return 1

    def running():
        started.set()
        sys.stdin.readline()
        if how == "top-level":
            # New work from a running task, after Ctrl-C ended the program:
            # cancelled, not run.
            assert asynckit.state(pool.do(mark, "spawned")) == "cancelled"
        mark("running")
        return 41

    blocker = pool.do(running)
    started.wait()
    unstarted = [pool.do(mark, f"queued{i}") for i in range(3)]
    dependent = pool.do(mark, "dependent", blocker)
    chained = blocker.chain(mark, "chained")
    try:
        print("READY", flush=True)
        if how == "get":
            blocker.get()
        elif how == "get-queued":  # a task not started: waited for, never run here
            unstarted[0].get()
        elif how == "get-timeout":
            blocker.get(timeout=60)
        elif how == "value-wait":
            blocker.wait()
        elif how == "value-wait-timeout":
            blocker.wait(60)
        elif how == "pool-wait-timeout":
            pool.wait(60)
        elif how == "as-completed":
            list(asynckit.as_completed([blocker]))
        elif how == "unwrap":
            asynckit.unwrap([blocker])
        elif how == "iterate-asynclist":
            list(asynckit.AsyncList([blocker]))
        elif how == "pool-wait":
            pool.wait()
        elif how == "proxy":
            blocker + 1
        elif how == "future-result":
            asynckit.future(blocker).result()
        elif how == "future-result-timeout":
            asynckit.future(blocker).result(timeout=60)
        elif how == "submit-result":  # a Future of a task not started: never run
            pool.submit(mark, "submitted").result()
        elif how == "top-level":
            threading.Event().wait()
    except KeyboardInterrupt as interrupt:
        # What it interrupted, if anything: asynckit's own internals (a
        # queue.Empty being handled) must not show.
        print("CAUGHT", time.monotonic(), type(interrupt.__context__).__name__, flush=True)
    else:
        print("NOT INTERRUPTED", flush=True)
    for value in (*unstarted, dependent, chained):
        assert asynckit.state(value) == "cancelled", (value, asynckit.state(value))
    print("STATES", asynckit.state(blocker), flush=True)
    # The program ends here: the exit hook waits for `running` only.
"""


@pytest.mark.timeout(60)
@pytest.mark.parametrize("how", [
    "get", "get-timeout", "value-wait", "value-wait-timeout", "pool-wait", "pool-wait-timeout",
    "proxy", "get-queued", "as-completed", "unwrap", "iterate-asynclist",
    "future-result", "future-result-timeout", "submit-result"])
def test_ctrl_c_in_a_wait_is_prompt_and_cancels_unstarted_work(tmp_path: Path, how: str) -> None:
    proc = _spawn(CTRL_C_CHILD, tmp_path, how)
    proc.expect("READY")
    _wait_asleep(proc.pid)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, caught, context = proc.expect("CAUGHT").split()
    assert float(caught) - sent < 0.2, f"KeyboardInterrupt took {float(caught) - sent:.3f} s"
    assert context == "NoneType", f"the interrupt was raised while handling {context}"
    assert proc.expect("STATES").split()[1] == "running"
    assert _ran(tmp_path) == set()
    # The only thing holding the process now is the running task.
    assert proc.poll() is None
    released = time.monotonic()
    out, err = proc.rest("go\n")
    exited = time.monotonic() - released
    assert proc.returncode == 0, err
    assert _ran(tmp_path) == {"running"}, err
    assert "Traceback" not in err, err
    assert exited < 2, f"the process took {exited:.2f} s to exit after the last task"


@pytest.mark.timeout(60)
def test_ctrl_c_reaching_top_level_cancels_unstarted_work(tmp_path: Path) -> None:
    # No try/except in the child: KeyboardInterrupt ends the program, and the
    # exit hook (which sees sys.last_type / sys.last_exc) cancels the rest.
    script = CTRL_C_CHILD.replace("    except KeyboardInterrupt as interrupt:",
                                  "    except ZeroDivisionError as interrupt:")
    proc = _spawn(script, tmp_path, "top-level")
    proc.expect("READY")
    _wait_asleep(proc.pid)
    proc.send_signal(signal.SIGINT)
    # The traceback is printed before the interpreter finalises; once the
    # main thread sleeps again, it is in the exit hook, waiting for `running`.
    # (Tasks that become ready before the hook runs may still start: the
    # hook is the first asynckit code to see this interrupt.)
    proc.expect_stderr("KeyboardInterrupt")
    _wait_asleep(proc.pid)
    out, err = proc.rest("go\n")
    assert proc.returncode in (-signal.SIGINT, 128 + signal.SIGINT, 1), (proc.returncode, err)
    assert "CAUGHT" not in out
    assert _ran(tmp_path) == {"running"}, (out, err)


@pytest.mark.timeout(60)
def test_ctrl_c_while_the_exit_hook_waits_cancels_unstarted_work(tmp_path: Path) -> None:
    proc = _spawn("""
        import signal, sys, threading, asynckit
        where = sys.argv[1]
        pool = asynckit.Pool(1)
        started = threading.Event()

        def interrupted(signum, frame):  # the default, plus a word to the parent
            print("SIGINT", flush=True)
            raise KeyboardInterrupt

        signal.signal(signal.SIGINT, interrupted)

        def mark(name):
            open(f"{where}/ran-{name}", "w").close()

        def running():
            started.set()
            sys.stdin.readline()
            spawned = pool.do(mark, "spawned")  # after Ctrl-C: cancelled, not run
            mark("running")
            assert asynckit.state(spawned) == "cancelled"

        pool.do(running)
        started.wait()
        for i in range(3):
            pool.do(mark, f"queued{i}")
        print("READY", flush=True)
        # ends: the exit hook waits in pool.wait()
    """, tmp_path)
    proc.expect("READY")
    _wait_asleep(proc.pid)
    proc.send_signal(signal.SIGINT)
    # The main thread sleeps only in the exit hook's wait: the hook catches
    # the interrupt (no traceback), cancels the queued tasks, and waits for
    # the running one (asleep again: the cancelling is done).
    proc.expect("SIGINT")
    _wait_asleep(proc.pid)
    out, err = proc.rest("go\n")
    assert _ran(tmp_path) == {"running"}, err
    assert "Traceback" not in err, err
    # Cancelled work is visible: status 130, as a shell expects after SIGINT,
    # and one line saying how much was cancelled.
    assert proc.returncode == 130, (proc.returncode, err)
    assert "asynckit: interrupted at exit (Ctrl-C): 3 task(s) that had not started " \
        "were cancelled" in err, err


@pytest.mark.timeout(90)
def test_a_second_ctrl_c_during_the_exit_hooks_cancel_sweep_is_handled(tmp_path: Path) -> None:
    # A long sweep (50,000 queued tasks), and a second SIGINT sent as soon as
    # the first has been seen: it lands while the first is being handled.
    proc = _spawn("""
        import signal, sys, threading, asynckit
        where = sys.argv[1]
        pool = asynckit.Pool(1)
        started = threading.Event()

        def interrupted(signum, frame):
            print("SIGINT", flush=True)
            raise KeyboardInterrupt

        signal.signal(signal.SIGINT, interrupted)

        def mark(name):
            open(f"{where}/ran-{name}", "w").close()

        def running():
            started.set()
            sys.stdin.readline()
            mark("running")

        pool.do(running)
        started.wait()
        for i in range(50_000):
            pool.do(mark, "queued")
        print("READY", flush=True)
    """, tmp_path)
    proc.expect("READY")
    _wait_asleep(proc.pid)
    proc.send_signal(signal.SIGINT)
    proc.expect("SIGINT")
    proc.send_signal(signal.SIGINT)
    proc.expect("SIGINT")
    _wait_asleep(proc.pid)
    out, err = proc.rest("go\n")
    assert _ran(tmp_path) == {"running"}, err
    assert "Exception ignored" not in err and "Traceback" not in err, err
    assert proc.returncode == 130, (proc.returncode, err)
    assert "50000 task(s) that had not started were cancelled" in err, err


@pytest.mark.timeout(90)
def test_ctrl_c_during_shutdown_cancel_futures_never_leaves_a_wait_hanging(
        tmp_path: Path) -> None:
    # SIGINT at a random moment of the cancel sweep, 20 times: whatever it
    # interrupts, the pool drains and pool.wait() returns.
    proc = _spawn("""
        import os, random, signal, sys, threading, asynckit
        for round in range(20):
            pool = asynckit.Pool(1)
            gate = threading.Event()
            pool.do(gate.wait, 30)
            values = [pool.do(abs, i) for i in range(5_000)]
            threading.Timer(random.uniform(0, 0.02), os.kill,
                            (os.getpid(), signal.SIGINT)).start()
            try:
                pool.shutdown(wait=False, cancel_futures=True)
                threading.Event().wait(0.05)  # the signal may come after the sweep
            except KeyboardInterrupt:
                pass
            gate.set()
            assert pool.wait(30), [asynckit.state(v) for v in values[:5]]
        print("DRAINED", flush=True)
    """, tmp_path)
    out, err = proc.rest()
    assert "DRAINED" in out, err


# --------------------------------------------------------------------------
# Unobserved errors at exit


def test_unobserved_error_alive_at_exit_is_logged_once(tmp_path: Path) -> None:
    proc = _spawn("""
        import asynckit

        class Unseen(Exception):
            pass

        class Seen(Exception):
            pass

        def fail(cls):
            raise cls("boom")

        pool = asynckit.Pool(2)
        first = pool.do(fail, Unseen)
        second = pool.do(lambda x: x, first)
        third = pool.do(lambda x: x, second)   # three failed values, one error
        observed = pool.do(fail, Seen)
        try:
            observed.get()
        except Seen:
            pass
        pool.wait()
        print("END", flush=True)
    """, tmp_path)
    out, err = proc.rest()
    assert proc.returncode == 0, err
    assert out.strip() == "END"
    assert err.count("nobody observed its error") == 1, err
    assert err.count("Unseen: boom") == 1, err
    assert "Traceback" in err
    assert "Seen: boom" not in err.replace("Unseen: boom", "")
