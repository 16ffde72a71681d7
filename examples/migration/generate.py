#!/usr/bin/env python3
"""Generates the migration example: N git repositories of a small Python
service that calls a legacy `http_client` module from several files of very
different sizes, and a matrix batch that edits, in every repo, exactly the
files using it (found by `select`), checked with py_compile.

    examples/migration/generate.py --repos 4 --out /tmp/migration
    kiln run /tmp/migration/batch.yaml

Each repo has one commit. Files using the legacy client: service/users.py (a
few lines), service/orders.py (about 60), service/catalog.py and
service/billing/invoices.py (a few hundred); files that do not:
service/models.py, service/util.py; and service/tests/test_users.py, which
uses it but is excluded. Small files are edited whole, large ones by
SEARCH/REPLACE blocks. With --migrated K the last K repos no longer use the
client: their jobs end "no matching files". With --land each repo gets a
bare "remote" beside it (its origin) and the batch lands the change: one
commit per repo on branch kiln/<batch>, pushed there. Deterministic for a
seed; running it again over the same directory changes nothing.
"""
import argparse
import os
import random
import subprocess
import sys

SYSTEM = ("You are a senior Python engineer applying one migration across many "
          "services. Change only what the migration needs; keep every other "
          "line, comment and name as it is.")

INSTRUCTIONS = ("Migrate from the legacy `http_client` module to `transport.Session`: "
                "replace `import http_client` with `from transport import Session`, "
                "`http_client.get(` with `Session().get(` and `http_client.post(` with "
                "`Session().post(`. Keep every other line as it is.")

# The shared, cached part of every prompt: the same in every repo, so one
# request writes it to the provider's cache and every other edit reads it.
GUIDE = """The transport library replaces the legacy http_client module in every service.

Reference (package `transport`, already installed in every service's environment):

class Session:
    Session(base_url: str = "", *, timeout: float = 10.0, retries: int = 3,
            backoff: float = 0.1, user_agent: str = "service")
        One session per upstream; thread-safe; reuses pooled connections.
        A Session() with no arguments talks to the service mesh's local proxy,
        which routes by path, so call sites need no base URL.
    get(path, **kwargs) -> Response: an idempotent GET; retried on connection
        errors and 5xx with exponential backoff and full jitter.
    post(path, *, json=None, **kwargs) -> Response: never retried (a POST may
        create a resource twice).
    put/delete(path, **kwargs): idempotent, retried like get.
    request(method, path, *, params=None, json=None, headers=None,
            timeout=None, idempotent=None) -> Response
    close(): closes the pooled connections; sessions are context managers.

class Response:
    status: int; headers: dict; body: bytes
    json() -> object: the body decoded; raises ValueError when it is not JSON.
    raise_for_status(): raises transport.StatusError for a 4xx or 5xx.

transport.TransportError(upstream, cause): connection failures and timeouts.
transport.StatusError(upstream, status, body): an error status after retries.

Compatibility with http_client:
- `http_client.get(url, timeout=N)` and `Session().get(url, timeout=N)` take
  the same arguments and return the same Response shape, so the call sites
  change in name only; `.json()` works the same.
- `http_client.post(url, json=..., timeout=N)` maps to `Session().post(...)`
  with the same arguments.
- The legacy module's implicit retries of POSTs are gone: that is intended.
- Timeouts keep their values in this step; a later change moves them to
  per-upstream defaults.

How to migrate a module:
1. Replace the import of the legacy module with the import of Session.
2. Rename each call site, keeping its arguments exactly as they are.
3. Change nothing else: no reformatting, no renamed variables, no new
   helpers, no reordered functions, no comments added or removed. Reviewers
   read the diff; a diff that is the migration and only the migration is
   approved in minutes, one with unrelated edits is sent back.
4. Files that do not use the legacy module are not touched at all.
5. Tests are migrated in a separate change (they mock the legacy module).

Behaviour that changes with the migration (none of it needs code changes in
this step, but reviewers ask):
- Connection reuse: Session pools connections per process, so a module that
  made many calls in a loop gets faster; nothing to change.
- Retries: GET, PUT and DELETE are retried up to 3 times with backoff
  (100 ms, 200 ms, 400 ms, with jitter); POST is never retried. The legacy
  client retried everything, including POSTs that create orders and
  invoices, which is how duplicate invoices happened last quarter.
- Errors: the legacy client returned a Response with status 0 on connection
  failures; Session raises transport.TransportError instead. Call sites that
  checked `resp.status == 0` are handled in the error-handling change, not
  here.
- Tracing: Session propagates the W3C traceparent of the current span, so
  upstream calls show up in the trace of the request that made them.
- Metrics: every call is counted per upstream and status in the mesh
  dashboards; the legacy client's per-module counters are retired.
- Headers: Session sends `user-agent: <service>/<version>`; the legacy
  client sent `python-requests`. Upstreams that allow-listed the old agent
  were updated before the migration started.
- Timeouts: `timeout=` keeps meaning seconds for the whole call, including
  retries' backoff, as it did in the legacy client.

What a correct edit of one module looks like:

    before                                      after
    import http_client                          from transport import Session
    resp = http_client.get(path, timeout=5)     resp = Session().get(path, timeout=5)
    resp = http_client.post(path, json=p,       resp = Session().post(path, json=p,
                            timeout=5)                                 timeout=5)

Every other line of the module is the same byte for byte, blank lines and
comments included, and the module still compiles.

Review notes from the first services migrated: a few diffs reformatted whole
files (rejected), one replaced `timeout=` values with constants (out of
scope), one left a stray `import http_client` behind (the module is deleted
next week, so that service would have failed to start). Check every call
site and the import.
"""

NOUNS = ["user", "order", "item", "invoice", "payment", "shipment", "review",
         "coupon", "address", "refund", "account", "report"]


def filler(rng, prefix, count):
    """Plain functions that do not touch the network."""
    out = []
    for i in range(count):
        a, b, c, m = rng.randint(2, 9), rng.randint(1, 97), rng.randint(2, 6), rng.randint(100, 999)
        out.append(
            f"def {prefix}_{i}(value):\n"
            f'    """Scales a {prefix} value into its bucket."""\n'
            f"    total = value * {a} + {b}\n"
            f"    for step in range({c}):\n"
            f"        total = (total + step) % {m}\n"
            f"    return total\n")
    return out


def calls(rng, nouns, legacy):
    """Functions that call another service, through the legacy client or not."""
    out = []
    for noun in nouns:
        timeout = rng.randint(2, 9)
        if legacy:
            get = f'http_client.get("/{noun}s/%d" % {noun}_id, timeout={timeout})'
            post = f'http_client.post("/{noun}s", json=payload, timeout={timeout})'
        else:
            get = f'Session().get("/{noun}s/%d" % {noun}_id, timeout={timeout})'
            post = f'Session().post("/{noun}s", json=payload, timeout={timeout})'
        out.append(
            f"def fetch_{noun}({noun}_id):\n"
            f'    """Fetches one {noun} from its upstream."""\n'
            f"    resp = {get}\n"
            f"    return resp.json()\n")
        out.append(
            f"def create_{noun}(payload):\n"
            f'    """Creates a {noun} upstream and returns it."""\n'
            f"    resp = {post}\n"
            f"    return resp.json()\n")
    return out


def module(doc, legacy, parts, rng):
    """A module: its docstring, the import, and the parts in a shuffled order."""
    rng.shuffle(parts)
    head = f'"""{doc}"""\n\n'
    head += "import http_client\n" if legacy else "from transport import Session\n"
    return head + "\n\n" + "\n\n".join(parts)


def make_repo(path, name, legacy, rng):
    files = {
        "README.md": f"# {name}\n\nA small service; `service/` is its package.\n",
        "transport.py": (
            '"""The shared transport library (the migration\'s target)."""\n\n\n'
            "class Session:\n"
            '    """One per upstream; reuses connections."""\n\n'
            "    def get(self, path, **kwargs):\n"
            "        raise NotImplementedError(path)\n\n"
            "    def post(self, path, **kwargs):\n"
            "        raise NotImplementedError(path)\n"),
        "service/__init__.py": f'"""The {name} service."""\n',
        "service/http_client.py": (
            '"""The legacy HTTP client the migration retires."""\n\n\n'
            "def get(url, timeout=10):\n"
            "    raise NotImplementedError(url)\n\n\n"
            "def post(url, json=None, timeout=10):\n"
            "    raise NotImplementedError(url)\n"),
        # Uses the client: small, medium, two large.
        "service/users.py": module("Users, from the accounts service.", legacy,
                                   calls(rng, ["user"], legacy)[:1], rng),
        "service/orders.py": module("Orders and their items.", legacy,
                                    calls(rng, ["order", "item"], legacy) +
                                    filler(rng, "order_weight", 5), rng),
        "service/catalog.py": module("The catalog: items, reviews and coupons.", legacy,
                                     calls(rng, ["review", "coupon"], legacy) +
                                     filler(rng, "catalog_rank", 34 + rng.randint(0, 6)), rng),
        "service/billing/__init__.py": '"""Billing."""\n',
        "service/billing/invoices.py": module(
            "Invoices, payments and refunds.", legacy,
            calls(rng, ["invoice", "payment", "refund"], legacy) +
            filler(rng, "invoice_total", 22 + rng.randint(0, 6)), rng),
        # Does not use it.
        "service/models.py": '"""Plain data of the service."""\n\n\n' + "\n\n".join(
            filler(rng, "model_key", 12)),
        "service/util.py": '"""Small helpers."""\n\n\ndef clamp(x, lo, hi):\n    return max(lo, min(hi, x))\n',
        # Uses it, but tests are not part of the change.
        "service/tests/__init__.py": "",
        "service/tests/test_users.py": (
            '"""Tests of service.users."""\n\nimport http_client\n\n\n'
            "def test_fetch_user_calls_the_client():\n"
            "    assert http_client.get is not None\n"),
    }
    for rel, text in files.items():
        full = os.path.join(path, rel)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(text)
    fresh = not os.path.isdir(os.path.join(path, ".git"))
    if fresh:
        subprocess.run(["git", "init", "-q", "-b", "main", path], check=True)
    subprocess.run(["git", "-C", path, "add", "-A"], check=True)
    # Idempotent: a rerun over the same repo makes no new commit.
    if fresh or subprocess.run(["git", "-C", path, "diff", "--cached", "--quiet"]).returncode:
        subprocess.run(["git", "-C", path, "-c", "user.email=kiln@example.com", "-c",
                        "user.name=kiln", "commit", "-q", "--allow-empty", "-m",
                        "service skeleton"], check=True, stdout=subprocess.DEVNULL)


def make_remote(path):
    """A bare repository beside the repo, as its `origin` (a stand-in for the
    forge): `land` pushes the branch there."""
    bare = path + ".remote.git"
    if not os.path.isdir(bare):
        subprocess.run(["git", "clone", "-q", "--bare", path, bare], check=True)
        subprocess.run(["git", "-C", bare, "config", "core.logAllRefUpdates", "always"],
                       check=True)
    subprocess.run(["git", "-C", path, "remote", "remove", "origin"],
                   stderr=subprocess.DEVNULL)
    subprocess.run(["git", "-C", path, "remote", "add", "origin", os.path.abspath(bare)],
                   check=True)
    subprocess.run(["git", "-C", path, "fetch", "-q", "origin"], check=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repos", type=int, default=4, help="repositories (default 4)")
    ap.add_argument("--migrated", type=int, default=0,
                    help="of them, the last ones already migrated (default 0)")
    ap.add_argument("--out", required=True, help="directory for the repos and batch.yaml")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--model", default="gpt-4o-mini")
    ap.add_argument("--land", action="store_true",
                    help="give each repo a bare remote (repos/<name>.remote.git, its origin) and "
                         "land the change: a commit on branch kiln/<batch>, pushed there")
    a = ap.parse_args()
    if a.repos < 1 or not 0 <= a.migrated <= a.repos:
        sys.exit("generate.py: --repos must be at least 1 and --migrated at most --repos")
    rng = random.Random(a.seed)
    names = [f"svc-{i:03d}" for i in range(a.repos)]
    for i, n in enumerate(names):
        make_repo(os.path.join(a.out, "repos", n), n, i < a.repos - a.migrated, rng)
        if a.land:
            make_remote(os.path.join(a.out, "repos", n))
    lines = [f"# generated by examples/migration/generate.py --repos {a.repos} "
             f"--migrated {a.migrated} --seed {a.seed}",
             "name: http-client-migration",
             "matrix:",
             "  repos:"]
    lines += [f"    - {{path: ./repos/{n}, name: {n}}}" for n in names]
    lines += ["  job:",
              "    name: migrate",
              f"    model: {a.model}",
              "    context:",
              f"      system: \"{SYSTEM}\"",
              "      instructions: |"]
    lines += ["        " + l if l else "" for l in GUIDE.strip().splitlines()]
    lines += [
              f"    instructions: \"{INSTRUCTIONS}\"",
              "    select:",
              "      glob: \"service/**/*.py\"",
              "      contains: \"\\\\bhttp_client\\\\b\"",
              "      exclude: [\"**/test_*.py\"]",
              "      max_files: 50",
              "    checks:",
              "      - {match: \"*.py\", command: \"python3 -m py_compile {file}\"}"]
    if a.land:
        lines += ["    land:",
                  "      branch: \"kiln/{batch}\"",
                  "      message: \"Migrate from http_client to transport.Session\\n\\n{summary}\"",
                  "      author: {name: Kiln, email: kiln@example.com}",
                  "      push: true",
                  "      remote: origin"]
    with open(os.path.join(a.out, "batch.yaml"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {a.repos} repos and {os.path.join(a.out, 'batch.yaml')}")


if __name__ == "__main__":
    main()
