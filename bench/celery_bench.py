#!/usr/bin/python3
"""The dispatch peer: trivial tasks through Celery 5 on Redis, on this machine.

    /usr/bin/python3 bench/celery_bench.py [--tasks 100000] [--latency_tasks 2000]

Starts its own redis-server (no persistence) and celery workers (Debian's
python3-celery, python3-redis; tools/bootstrap.sh --bench installs them),
then measures what coordinator_bench measures for Kiln:

  throughput  --tasks trivial tasks, each published on its own, through
              workers with the default prefork pool (one process per core):
              tasks / (last task done - first publish).
  latency     --latency_tasks tasks through one worker process that takes
              one task at a time (prefetch 1, acks late): the gap from one
              task's end to the next task's start, i.e. the broker's hand-off
              of the next task, as coordinator_bench's one-slot dispatch
              latency (result sent -> next assignment).

Ends with one line: RESULT tasks=... tasks_per_s=... dispatch_p50_ms=...
dispatch_p99_ms=...
"""
import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

TASKS_MODULE = '''
import os, time
import redis
from celery import Celery

URL = os.environ["BENCH_REDIS"]
app = Celery("benchtasks", broker=URL)
app.conf.update(task_ignore_result=True, worker_hijack_root_logger=False,
                broker_connection_retry_on_startup=True)
store = redis.Redis.from_url(URL)

@app.task
def noop(i):
    store.incr("done")

@app.task
def timed(i):
    start = time.time()
    store.rpush("times", "%r %r" % (start, time.time()))
'''


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def percentile(values, p):
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))]


def start_worker(workdir, env, *args):
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "benchtasks", "worker", "--loglevel=WARNING",
         "--without-heartbeat", "--without-gossip", "--without-mingle", *args],
        cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=open(os.path.join(workdir, "worker.log"), "a"))


def wait_ready(store, worker, timeout=60):
    """A ping task round trip: the worker is consuming."""
    import benchtasks  # noqa: E402
    store.delete("done")
    benchtasks.noop.delay(-1)
    end = time.time() + timeout
    while time.time() < end:
        if int(store.get("done") or 0) >= 1:
            store.delete("done")
            return
        if worker.poll() is not None:
            sys.exit("celery_bench: the worker exited; see its log")
        time.sleep(0.05)
    sys.exit("celery_bench: the worker did not start")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=100000)
    ap.add_argument("--latency_tasks", type=int, default=2000)
    a = ap.parse_args()

    workdir = tempfile.mkdtemp(prefix="kiln-celery-bench.")
    with open(os.path.join(workdir, "benchtasks.py"), "w") as f:
        f.write(TASKS_MODULE)
    port = free_port()
    redis_proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", workdir],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = "redis://127.0.0.1:%d/0" % port
    env = dict(os.environ, BENCH_REDIS=url, PYTHONPATH=workdir)
    os.environ.update(BENCH_REDIS=url)
    sys.path.insert(0, workdir)
    workers = []
    try:
        import redis
        store = redis.Redis.from_url(url)
        for _ in range(100):
            try:
                store.ping()
                break
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        import benchtasks

        # Throughput: the default pool, one process per core.
        w = start_worker(workdir, env)
        workers.append(w)
        wait_ready(store, w)
        t0 = time.time()
        for i in range(a.tasks):
            benchtasks.noop.delay(i)
        published = time.time()
        while int(store.get("done") or 0) < a.tasks:
            if w.poll() is not None:
                sys.exit("celery_bench: the worker exited; see its log")
            time.sleep(0.02)
        t1 = time.time()
        w.terminate()
        w.wait()
        workers.clear()

        # Latency: one process, one task at a time.
        w = start_worker(workdir, env, "--concurrency=1", "--prefetch-multiplier=1",
                         "-O", "fair")
        workers.append(w)
        wait_ready(store, w)
        store.delete("times")
        for i in range(a.latency_tasks):
            benchtasks.timed.apply_async((i,), acks_late=True)
        while store.llen("times") < a.latency_tasks:
            if w.poll() is not None:
                sys.exit("celery_bench: the worker exited; see its log")
            time.sleep(0.02)
        spans = sorted(tuple(map(float, x.split())) for x in store.lrange("times", 0, -1))
        gaps = [(spans[i + 1][0] - spans[i][1]) * 1000 for i in range(len(spans) - 1)]

        rate = a.tasks / (t1 - t0)
        print("celery_bench: Celery %s on Redis, %d trivial tasks, prefork pool x %d"
              % (__import__("celery").__version__, a.tasks, os.cpu_count()))
        print("  publish            %.2f s (%.0f tasks/s)" % (published - t0, a.tasks / (published - t0)))
        print("  throughput         %.0f tasks/s" % rate)
        print("  dispatch latency   p50 %.2f ms, p99 %.2f ms over %d hand-offs (one task at a time)"
              % (percentile(gaps, 0.5), percentile(gaps, 0.99), len(gaps)))
        print("RESULT tasks=%d tasks_per_s=%.0f dispatch_p50_ms=%.3f dispatch_p99_ms=%.3f"
              % (a.tasks, rate, percentile(gaps, 0.5), percentile(gaps, 0.99)))
    finally:
        for w in workers:
            w.terminate()
            w.wait()
        redis_proc.terminate()
        redis_proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
