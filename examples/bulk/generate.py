#!/usr/bin/env python3
"""Generates the bulk example: N small git repositories (Python services) and
a matrix batch that applies one change, M generated files, to every one.

    examples/bulk/generate.py --repos 20 --files 5 --out /tmp/bulk
    kiln run /tmp/bulk/batch.yaml

Each repository is a real git repo with one commit. Every repo gets the
same change (the same system prompt and instructions, no repo files in the
prompt prefix), so the whole batch is one cache group: one request writes
the prefix, the other N x M - 1 read it. File k depends on up to two
earlier files. Deterministic for a seed.
"""
import argparse
import os
import random
import subprocess
import sys

SYSTEM = (
    "You are a senior Python engineer applying one migration across many "
    "services. Keep every public function's signature; update imports; write "
    "complete modules that compile. ")

INSTRUCTIONS = """Migration to the shared transport library:
- Replace every use of the legacy `http_client` module with `transport.Session`,
  created once per service in `service/transport_setup.py` and passed in.
- Every outgoing call takes a `context` argument carrying the request id and
  deadline; propagate it from the handler that started the request.
- Retries: idempotent calls retry up to 3 times with exponential backoff and
  jitter (100 ms base); other calls do not retry.
- Errors: wrap transport errors in `service.errors.UpstreamError` with the
  upstream's name; never leak raw exceptions to callers.
- Logging: one structured line per outgoing call with method, upstream,
  status and duration; no payloads.
- Tests are out of scope for this change; keep modules importable without
  network access.

Reference: the transport library (package `transport`, already installed).

class Session:
    Session(base_url: str, *, timeout: float = 10.0, retries: int = 3,
            backoff: float = 0.1, user_agent: str = "service")
        One per service and upstream; thread-safe; reuses connections.
    request(method: str, path: str, *, context: Context, params: dict = None,
            json: object = None, headers: dict = None, idempotent: bool = None)
            -> Response
        Sends one request. `idempotent` defaults to True for GET, HEAD, PUT
        and DELETE and to False otherwise; only idempotent requests retry.
        Raises transport.TransportError (connection, timeout) and
        transport.StatusError (a 5xx after retries, or any 4xx).
    get/post/put/delete(path, **kwargs): shorthands for request().
    close(): closes pooled connections; sessions are also context managers.

class Context:
    Context(request_id: str, deadline: float)  # deadline: time.monotonic()
    remaining() -> float: seconds left, at least 0.
    child(timeout: float) -> Context: the same request id, the earlier of the
        two deadlines.

class Response:
    status: int; headers: dict; body: bytes
    json() -> object: the body decoded; raises ValueError when it is not JSON.

transport.TransportError(upstream: str, cause: Exception)
transport.StatusError(upstream: str, status: int, body: bytes)

Migration checklist per module:
1. Remove `from service import http_client` and every `http_client.` call.
2. Take `session: transport.Session` in the constructor (classes) or as the
   first parameter (module functions); never create sessions inside a module
   other than `service/transport_setup.py`.
3. Thread `context` through every function on the call path; functions that
   start work on their own (schedulers, consumers) create a Context with the
   module's default deadline (30 s unless the module says otherwise).
4. Map transport.TransportError and transport.StatusError to
   service.errors.UpstreamError, keeping the upstream name.
5. Log each outgoing call once: logger.info("upstream call", extra={
   "method": ..., "upstream": ..., "status": ..., "duration_ms": ...}).
6. Keep module-level names stable: other services import them.
7. Replace ad-hoc timeouts (`timeout=` literals, `socket.setdefaulttimeout`)
   with the context's remaining time: `context.child(timeout)`.
8. Delete helpers that only existed to wrap the legacy client (retry loops,
   URL builders duplicating the session's base URL), and their imports.
9. Module docstrings say which upstreams the module calls and which of its
   functions are idempotent.

Review notes from the first services migrated: sessions were created per
call (expensive: one TLS handshake per request), contexts were dropped at
thread boundaries (the deadline must travel with the work item), retries
were applied to POSTs that create resources (duplicates), and error
messages lost the upstream's name. Avoid all four.

Output: the whole migrated module, nothing else. Keep the module's existing
structure and comments where the migration does not touch them, so the diff
a reviewer reads is the migration and only the migration.
"""

MODULES = ["transport_setup", "clients", "billing", "inventory", "search",
           "notifications", "accounts", "reports", "exports", "webhooks",
           "scheduler", "cache", "audit", "metrics", "storage", "auth",
           "payments", "catalog", "shipping", "analytics"]


def git(repo, *args):
    subprocess.run(["git", "-C", repo, *args], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_repo(path, name):
    os.makedirs(os.path.join(path, "service"), exist_ok=True)
    files = {
        "README.md": f"# {name}\n\nA small service; `service/` is its package.\n",
        "service/__init__.py": f'"""The {name} service."""\n',
        "service/errors.py": (
            '"""Errors raised by the service."""\n\n\n'
            "class UpstreamError(Exception):\n"
            '    """A call to another service failed."""\n\n'
            "    def __init__(self, upstream, message):\n"
            "        super().__init__(f\"{upstream}: {message}\")\n"
            "        self.upstream = upstream\n"),
        "service/http_client.py": (
            '"""The legacy HTTP client the migration removes."""\n\n\n'
            "def get(url, timeout=10):\n"
            "    raise NotImplementedError('legacy client')\n"),
    }
    for rel, text in files.items():
        with open(os.path.join(path, rel), "w") as f:
            f.write(text)
    if not os.path.isdir(os.path.join(path, ".git")):
        subprocess.run(["git", "init", "-q", "-b", "main", path], check=True)
    git(path, "add", "-A")
    git(path, "-c", "user.email=kiln@example.com", "-c", "user.name=kiln",
        "commit", "-q", "--allow-empty", "-m", "service skeleton")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repos", type=int, default=20, help="repositories (default 20)")
    ap.add_argument("--files", type=int, default=5,
                    help=f"files per repository, at most {len(MODULES)} (default 5)")
    ap.add_argument("--out", required=True, help="directory for the repos and batch.yaml")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--model", default="gpt-4o-mini")
    ap.add_argument("--rpm", type=int, default=0,
                    help="requests per minute for the batch (0: the model's own limits)")
    a = ap.parse_args()
    if not 1 <= a.files <= len(MODULES):
        sys.exit(f"generate.py: --files must be 1..{len(MODULES)}")
    if a.repos < 1:
        sys.exit("generate.py: --repos must be at least 1")
    rng = random.Random(a.seed)
    os.makedirs(os.path.join(a.out, "repos"), exist_ok=True)
    names = [f"svc-{i:03d}" for i in range(a.repos)]
    for n in names:
        make_repo(os.path.join(a.out, "repos", n), n)

    lines = [f"# generated by examples/bulk/generate.py --repos {a.repos} "
             f"--files {a.files} --seed {a.seed}",
             "name: bulk-transport-migration"]
    if a.rpm:
        lines.append(f"policy: {{requests_per_minute: {a.rpm}}}")
    lines += ["matrix:", "  repos:"]
    lines += [f"    - {{path: ./repos/{n}, name: {n}}}" for n in names]
    lines += ["  job:",
              "    name: migrate",
              f"    model: {a.model}",
              "    context:",
              f"      system: \"{SYSTEM.strip()}\"",
              "      instructions: |"]
    lines += ["        " + l for l in INSTRUCTIONS.strip().splitlines()]
    lines.append("    files:")
    for k in range(a.files):
        mod = MODULES[k]
        deps = sorted(rng.sample(range(k), min(k, rng.randint(0, 2)))) if k else []
        dep_list = ", ".join(f"service/{MODULES[d]}.py" for d in deps)
        lines.append(f"      - {{path: service/{mod}.py, instructions: \"The {mod} module, "
                     f"migrated.\", deps: [{dep_list}], expected_tokens: "
                     f"{rng.randint(400, 1200)}}}")
    lines += ["    checks:",
              "      - {match: \"*.py\", command: \"python3 -m py_compile {file}\"}"]
    with open(os.path.join(a.out, "batch.yaml"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {a.repos} repos and {os.path.join(a.out, 'batch.yaml')}")


if __name__ == "__main__":
    main()
