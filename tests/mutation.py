"""Mutation score of the rule modules, per module, with mutmut (``make mutate``).

    python -m tests.mutation run [MODULE ...]     mutate and test (all of MODULES by default)
    python -m tests.mutation report [MODULE ...]  the score table from the last runs
    python -m tests.mutation survivors [MODULE ...]  surviving mutant names, one a line
    python -m tests.mutation show MUTANT          the diff of one mutant
    python -m tests.mutation equivalents [--fix]  listed equivalents still name their mutants

A module is named by its path (``patrol/coverage.py``). Each one gets its own mutmut
workspace under ``.mutation/<module>/`` (git-ignored): a generated ``pyproject.toml`` whose
``[tool.mutmut]`` mutates that one file and selects the test files listed for it in
:data:`MODULES`, beside links to the packages and tests. mutmut runs those tests once
to learn which test reaches which function and then runs, for each mutant, only the
tests that reached its function. Results are cached there, but mutmut's cache only follows
the mutated functions: an edited test (or any other code the tests run) would leave a mutant
with the tests and the verdict of the old code. So the cache holds only while nothing under
the packages and tests changed (:func:`inputs_digest`); otherwise, and with ``run --rerun``,
the module's mutants are made, mapped to their tests and tested afresh.

Mutants that ``mypy --strict`` rejects (as ``make lint`` would) are not tested; the table
shows them as "typed" and leaves them out of the score. The rest are forked from mutmut's fork
server, which collected the tests and built the app once (``PATROL_TEST_PREBUILD``, see
``tests/conftest.py``): a mutant's test run then costs its tests, not a new app and engine.

The S3 server is started once for the whole run and each module gets a PostGIS cluster of
its own (or they are taken from ``S3_ENDPOINT_URL`` / ``DATABASE_URL``), handed to every test
run through the environment that ``tests/conftest.py`` reads; the few tests that need an
empty database (:data:`NEEDS_EMPTY_DATABASE`) are left out.

Surviving mutants judged equivalent (no test can tell them from the original) are listed
with a reason in ``tests/mutation_equivalents.toml``; the table counts them apart, and a run
does not test them again (``run --with-equivalents`` does, see :func:`to_test`).
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from infra.launchers import LocalServices

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".mutation"
EQUIVALENTS = ROOT / "tests" / "mutation_equivalents.toml"
PACKAGES = ("api", "patrol", "evidence", "geofence", "sync", "mobile_contract", "infra")

# The modules that hold the rules, each with the test files that exercise it. mutmut runs
# these once per module to learn which test reaches which function; each mutant is then
# tested by the tests that reached its function only.
MODULES: dict[str, tuple[str, ...]] = {
    "patrol/coverage.py": (
        "tests/patrol/test_coverage.py",
        "tests/patrol/test_coverage_answers.py",
        "tests/patrol/test_duty_figures.py",
        "tests/api/test_patrol_api.py",
    ),
    "patrol/duty.py": (
        "tests/patrol/test_duty_answers.py",
        "tests/patrol/test_duty.py",
        "tests/patrol/test_duty_figures.py",
        "tests/patrol/test_edges.py",
    ),
    "patrol/tracks.py": (
        "tests/patrol/test_track_answers.py",
        "tests/patrol/test_coverage_answers.py",
        "tests/patrol/test_tracks.py",
        "tests/patrol/test_track_walks.py",
        "tests/patrol/test_track_noise.py",
        "tests/patrol/test_edges.py",
        "tests/patrol/test_limit_edges.py",
        "tests/patrol/test_closed_patrol_http.py",
        "tests/patrol/test_sessions.py",
    ),
    "patrol/sessions.py": (
        "tests/patrol/test_session_answers.py",
        "tests/patrol/test_sessions.py",
        "tests/patrol/test_sign_in_reach.py",
        "tests/patrol/test_closed_patrol_http.py",
        "tests/api/test_sessions.py",
    ),
    "patrol/policy.py": (
        "tests/patrol/test_policy_answers.py",
        "tests/api/test_need_to_know.py",
        "tests/patrol/test_isolation.py",
        "tests/api/test_isolation.py",
    ),
    "patrol/_access.py": (
        "tests/patrol/test_access_answers.py",
        "tests/patrol/test_isolation.py",
        "tests/api/test_isolation.py",
    ),
    "evidence/cases/referrals.py": (
        "tests/cases/test_referral_answers.py",
        "tests/cases/test_referral_locks.py",
        "tests/cases/test_referrals.py",
        "tests/cases/test_referral_lateness.py",
        "tests/cases/test_package.py",
        "tests/cases/test_case_follows_referral.py",
    ),
    "evidence/cases/screening.py": (
        "tests/cases/test_screening.py",
        "tests/cases/test_threshold_edges.py",
        "tests/cases/test_finding_screening.py",
    ),
    "evidence/cases/finding_screening.py": ("tests/cases/test_finding_screening.py",),
    "evidence/custody.py": (
        "tests/evidence/test_custody_answers.py",
        "tests/evidence/test_custody.py",
        "tests/cases/test_package.py",
    ),
    "evidence/trust.py": (
        "tests/evidence/test_trust_answers.py",
        "tests/evidence/test_trust_edges.py",
        "tests/evidence/test_intake.py",
        "tests/evidence/test_capture_time.py",
    ),
    "evidence/access.py": (
        "tests/evidence/test_access_answers.py",
        "tests/evidence/test_access.py",
        "tests/api/test_need_to_know.py",
    ),
    "evidence/cases/access.py": (
        "tests/cases/test_case_access_answers.py",
        "tests/evidence/test_access_answers.py",
        "tests/evidence/test_access.py",
        "tests/api/test_need_to_know.py",
    ),
    "sync/cursor.py": (
        "tests/sync/test_cursor_answers.py",
        "tests/sync/test_pull.py",
        "tests/sync/test_pull_keyset.py",
        "tests/sync/test_pull_pages.py",
    ),
    "sync/push.py": (
        "tests/sync/test_push_answers.py",
        "tests/sync/test_push.py",
        "tests/sync/test_push_batching.py",
        "tests/sync/test_push_closed_patrol.py",
        "tests/sync/test_push_edges.py",
        "tests/sync/test_push_evidence.py",
        "tests/sync/test_push_replay_stable.py",
        "tests/sync/test_push_sign_in.py",
        # satellite results pushed, replayed and refused (their receipts)
        "tests/satellite_tasks/test_flow_api.py",
    ),
    "sync/pull.py": (
        "tests/sync/test_pull_answers.py",
        "tests/sync/test_pull.py",
        "tests/sync/test_pull_cases.py",
        "tests/sync/test_pull_keyset.py",
        "tests/sync/test_pull_pages.py",
        # a pull of a stream another pull holds: sync_busy (_BUSY_STATES)
        "tests/sync/test_push_edges.py",
    ),
    "sync/layers.py": (
        "tests/sync/test_layer_answers.py",
        "tests/sync/test_layers.py",
        "tests/sync/test_layer_identity.py",
        "tests/sync/test_layer_limits.py",
    ),
    "infra/scope.py": (
        "tests/patrol/test_access_answers.py",
        "tests/api/test_auth.py",
        "tests/api/test_isolation.py",
        "tests/patrol/test_isolation.py",
    ),
    "geofence/check.py": (
        "tests/geofence/test_check_answers.py",
        # the single check answered from memory, against the vectorised path
        "tests/geofence/test_in_memory_check.py",
        "tests/geofence/test_check.py",
        "tests/geofence/test_batch.py",
        # the PostGIS answers of a county the index does not hold (_postgis_run)
        "tests/geofence/test_index_budget.py",
        # batch answers built from the columns (BatchResult.hit_columns, positions)
        "tests/api/test_geofence_api.py",
        # whether the county covers a point, from the index's boundary (county_covers)
        "tests/geofence/test_county_covers.py",
    ),
}

# Tests that need an empty database: every mutmut run shares one, so they are left out.
NEEDS_EMPTY_DATABASE = (
    "tests/api/test_patrol_api.py::test_the_demo_county_shows_field_work_to_every_login",
)

# Every test run of a mutation run: without the tests that need an empty database, without
# pytest's cache (the concurrent runs of one module would all write it), and with a test cut
# off after a minute (twenty times the slowest one): a mutant that makes a loop page forever
# fails there instead of holding a worker until mutmut's CPU limit.
PYTEST_ARGS = [
    *(arg for test in NEEDS_EMPTY_DATABASE for arg in ("--deselect", test)),
    "--timeout=60",
    "-p",
    "no:cacheprovider",
]

# mutmut's exit codes, grouped as the table shows them (mutmut.stats.status_by_exit_code).
KILLED = "killed"
SURVIVED = "survived"
TIMEOUT = "timeout"
NO_TESTS = "no tests"
TYPED = "typed"  # rejected by mypy --strict: never tested
_STATUS = {1: KILLED, 3: KILLED, 0: SURVIVED, 5: NO_TESTS, 33: NO_TESTS, 36: TIMEOUT, 37: TYPED}
_STATUS |= {-24: TIMEOUT, 24: TIMEOUT, 152: TIMEOUT, 255: TIMEOUT}


def status_of(exit_code: int | None) -> str:
    if exit_code is None:
        return "not checked"
    return _STATUS.get(exit_code, "other")


def workspace(module: str) -> Path:
    return WORK / module.removesuffix(".py").replace("/", ".")


def dotted(module: str) -> str:
    return module.removesuffix(".py").replace("/", ".")


def module_of_mutant(name: str) -> str:
    """``patrol.coverage.x_area_month__mutmut_3`` -> ``patrol/coverage.py``."""
    for module in MODULES:
        if name.startswith(dotted(module) + "."):
            return module
    raise SystemExit(f"{name}: no module in tests/mutation.py MODULES has this mutant")


def _toml_list(items: Sequence[str]) -> str:
    return "[" + ", ".join(json.dumps(item) for item in items) + "]"


def type_check_command(module: str) -> list[str]:
    """mypy over the mutated module, run by mutmut in the workspace's ``mutants/`` copy; an
    error inside a mutant's function marks that mutant "caught by type check"."""
    return [
        sys.executable,
        "-m",
        "mypy",
        "--strict",
        # mutmut's own trampolines carry ignores that the mutated copy does not need
        "--no-warn-unused-ignores",
        "--follow-imports=silent",
        "--output=json",
        f"--cache-dir={WORK / '.mypy_cache'}",
        module,
    ]


def prepare(module: str) -> Path:
    """The module's mutmut workspace: links to the code and tests, its own pyproject."""
    if module not in MODULES:
        known = "\n  ".join(MODULES)
        raise SystemExit(f"{module}: not a mutation module; one of:\n  {known}")
    here = workspace(module)
    here.mkdir(parents=True, exist_ok=True)
    for name in (*PACKAGES, "tests"):
        link = here / name
        if not link.is_symlink():
            link.symlink_to(ROOT / name, target_is_directory=True)
    config = "\n".join(
        [
            "",
            "[tool.mutmut]",
            f"source_paths = {_toml_list(PACKAGES)}",
            f"only_mutate = {_toml_list([module])}",
            f"pytest_add_cli_args_test_selection = {_toml_list(MODULES[module])}",
            "pytest_add_cli_args = " + _toml_list(PYTEST_ARGS),
            # a test run per mutant starts the app again (session fixtures): a second or two
            # of CPU that the per-test durations mutmut measured do not include
            "timeout_constant = 10.0",
            "timeout_multiplier = 4.0",
            'on_dependency_change = "ignore"',
            # mutants are forked from a server process that collected the tests and built
            # the app once (tests/conftest.py), not from mutmut's own process, which has
            # run three whole sessions with open connections by then
            'process_isolation = "forkserver"',
            # mutants that mypy --strict rejects (as `make lint` would) are not tested
            f"type_check_command = {_toml_list(type_check_command(module))}",
            'forkserver_warmup = "collect"',
            "use_git_change_detection = false",
            "",
        ]
    )
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8") + config
    target = here / "pyproject.toml"
    if not target.exists() or target.read_text(encoding="utf-8") != text:
        target.write_text(text, encoding="utf-8")
    return here


def _local_services() -> Callable[..., AbstractContextManager[LocalServices]]:
    """:func:`infra.launchers.local_services`, imported when a run needs it (the other
    commands and ``make test``'s checks of the listing do not)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from infra.launchers import local_services  # noqa: PLC0415 (only the runner needs it)

    return local_services


@contextmanager
def services_env() -> Iterator[dict[str, str]]:
    """S3 for every test run: the one named in the environment, else started here once and
    stopped at the end. Each module gets a database of its own (:func:`module_database`)."""
    # mutmut's fork server builds the app once for all the mutants (tests/conftest.py)
    env = dict(os.environ) | {"PATROL_TEST_PREBUILD": "1"}
    if env.get("S3_ENDPOINT_URL"):
        yield env
        return
    local_services = _local_services()
    with local_services("patrol-mutation-", bucket="patrol-test", database=False) as found:
        store = found.object_store
        yield env | {
            "S3_ENDPOINT_URL": store.endpoint_url,
            "S3_BUCKET": store.bucket,
            "S3_ACCESS_KEY_ID": store.access_key_id,
            "S3_SECRET_ACCESS_KEY": store.secret_access_key,
            "S3_REGION": store.region,
        }


@contextmanager
def module_database(env: dict[str, str]) -> Iterator[dict[str, str]]:
    """A PostGIS cluster for one module's run, stopped at its end (or the ``DATABASE_URL``
    of the environment, shared). Every mutant's tests leave their counties behind, so a
    database shared by the whole run grew until tests that run the worker's jobs over every
    county (``run_patrol_jobs``) passed the 60 s cut-off in a later module's stats run."""
    if env.get("DATABASE_URL"):
        yield env
        return
    local_services = _local_services()
    with local_services("patrol-mutation-db-", object_store=False) as found:
        yield env | {"DATABASE_URL": found.database_url}


# mutmut's command line, with one change: its "clean run" (every listed test once more,
# unmutated, after the stats run) is skipped when the stats run of the same process ran them
# all. The stats run is that same run with the original code (mutmut stops if a test fails
# there), so the clean run proved nothing new and cost a whole run of the module's tests.
# (A file of its own would be imported as ``tests.…`` before mutmut puts its ``mutants/``
# copy first on the path, and pytest would then find two ``tests`` packages.)
MUTMUT_MAIN = """
import sys
from mutmut.__main__ import cli
from mutmut.workers.isolation import ForkServerRunner

stats_ran_whole = []
collect_stats, run_clean_tests = ForkServerRunner.collect_stats, ForkServerRunner.run_clean_tests

def collect_stats_once(self, tests):
    code = collect_stats(self, tests)
    stats_ran_whole.append(not tests and code == 0)  # no tests named: all of them
    return code

def clean_run_unless_stats_ran(self, tests):
    if stats_ran_whole and all(stats_ran_whole):
        print("    skipped: the stats run just ran these tests on the original code")
        return 0
    return run_clean_tests(self, tests)

ForkServerRunner.collect_stats = collect_stats_once
ForkServerRunner.run_clean_tests = clean_run_unless_stats_ran
sys.exit(cli())
"""


# A run stopped by hand (^C, SIGTERM): no module starts after it, and the running modules'
# mutmut processes are stopped with their fork servers and test runs (each runs in a process
# group of its own, so a signal to the run alone would leave them testing).
_STOP = threading.Event()
_RUNNING: set[subprocess.Popen[bytes]] = set()
_RUNNING_LOCK = threading.Lock()
STOPPED = 130


def _signal_group(child: subprocess.Popen[bytes], signum: int) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signum)


def stop_running(grace_s: float = 20.0) -> None:
    """Start no more modules; interrupt every running mutmut's process group (mutmut stops
    its workers on SIGINT), then kill what is left after ``grace_s``."""
    _STOP.set()
    with _RUNNING_LOCK:
        running = list(_RUNNING)
    for child in running:
        _signal_group(child, signal.SIGINT)
    deadline = time.monotonic() + grace_s
    for child in running:
        with suppress(subprocess.TimeoutExpired):
            child.wait(max(0.1, deadline - time.monotonic()))
        # the fork server and a test run may outlive mutmut itself
        _signal_group(child, signal.SIGKILL)


def mutmut(
    here: Path, args: Sequence[str], env: dict[str, str] | None = None, log: Path | None = None
) -> int:
    exe = Path(sys.executable).with_name("mutmut")
    if log is None:
        return subprocess.run([str(exe), *args], cwd=here, env=env, check=False).returncode
    if _STOP.is_set():
        return STOPPED
    command = [sys.executable, "-c", MUTMUT_MAIN, *args]
    with (
        log.open("w", encoding="utf-8") as out,
        subprocess.Popen(
            command,
            cwd=here,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        ) as child,
    ):
        with _RUNNING_LOCK:
            _RUNNING.add(child)
        try:
            if _STOP.is_set():  # stopped while this one started
                _signal_group(child, signal.SIGKILL)
            assert child.stdout is not None
            _timed_lines(child.stdout, out)
            return child.wait()
        finally:
            with _RUNNING_LOCK:
                _RUNNING.discard(child)


def _timed_lines(source: IO[bytes], out: IO[str], every_s: float = 10.0) -> None:
    """Copy mutmut's output to ``out``, each line after the seconds since the start, so the
    log shows how long each phase took (making mutants, mypy, the stats and clean runs of
    the tests, the mutants). Its progress line is redrawn in place for every mutant: one
    redraw in ``every_s`` seconds is kept."""
    started = last = time.monotonic()
    pending = b""
    while chunk := os.read(source.fileno(), 65536):
        pending += chunk
        *lines, pending = re.split(rb"(\r|\n)", pending)
        for text, end in zip(lines[::2], lines[1::2], strict=True):
            now = time.monotonic()
            if (end == b"\r" and now - last < every_s) or not text.strip():
                continue
            last = now if end == b"\r" else last
            line = text.decode("utf-8", "replace").rstrip()
            out.write(f"[{now - started:8.1f}s] {line}\n")
        out.flush()
    if pending.strip():
        out.write(f"[{time.monotonic() - started:8.1f}s] {pending.decode('utf-8', 'replace')}\n")


def inputs_digest() -> str:
    """A digest of everything a mutant's test run reads from the project: the packages, the
    tests and pyproject.toml (contents and paths)."""
    digest = hashlib.sha256()
    files = [ROOT / "pyproject.toml"]
    for name in (*PACKAGES, "tests"):
        files += (
            p for p in (ROOT / name).rglob("*") if p.is_file() and "__pycache__" not in p.parts
        )
    for path in sorted(files):
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def start_afresh_if_stale(here: Path, digest: str, *, rerun: bool) -> bool:
    """Drop the workspace's mutants, test map and results unless they were made from the
    code and tests of ``digest`` (always with ``rerun``); True if dropped."""
    stamp = here / "inputs.sha256"
    fresh = stamp.exists() and stamp.read_text(encoding="utf-8") == digest
    if fresh and not rerun:
        return False
    shutil.rmtree(here / "mutants", ignore_errors=True)
    stamp.unlink(missing_ok=True)
    return True


def results(module: str) -> dict[str, int | None]:
    meta = workspace(module) / "mutants" / (module + ".meta")
    if not meta.exists():
        return {}
    data: dict[str, int | None] = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
    return data


def equivalents() -> dict[str, str]:
    """Mutant name -> why it is equivalent, from tests/mutation_equivalents.toml."""
    if not EQUIVALENTS.exists():
        return {}
    data = tomllib.loads(EQUIVALENTS.read_text(encoding="utf-8"))
    return {entry["mutant"]: entry["reason"] for entry in data.get("equivalent", [])}


def listed_equivalents() -> list[dict[str, str]]:
    """The entries of tests/mutation_equivalents.toml in file order: mutant, change, reason."""
    if not EQUIVALENTS.exists():
        return []
    data = tomllib.loads(EQUIVALENTS.read_text(encoding="utf-8"))
    return list(data.get("equivalent", []))


@contextmanager
def _mutmut_config() -> Iterator[None]:
    """mutmut reads its settings from the working directory: a scratch one that names the
    packages is enough to make mutants (nothing is written under the project)."""
    import mutmut.configuration  # noqa: PLC0415 (only the mutation tools need it)

    here = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="patrol-mutants-") as scratch:
        config = f"[tool.mutmut]\nsource_paths = {_toml_list(PACKAGES)}\n"
        (Path(scratch) / "pyproject.toml").write_text(config, encoding="utf-8")
        os.chdir(scratch)
        mutmut.configuration.reset_config()
        try:
            yield
        finally:
            os.chdir(here)
            mutmut.configuration.reset_config()


def mutant_changes(module: str) -> dict[str, str]:
    """Every mutant of ``module`` by full name -> its change: the lines of its function that
    differ from the original, each stripped, marked ``-``/``+`` and joined with `` | ``. The
    numbers mutmut gives a function's mutants shift when code above them in the function
    changes; the change says which mutant a listed equivalent was judged on. The mutants are
    made and numbered as mutmut's own run makes them (``combine_mutations_to_source``)."""
    import libcst as cst  # noqa: PLC0415 (only the mutation tools need these)
    from mutmut.mutation.file_mutation import (  # noqa: PLC0415
        create_mutations,
        deep_replace,
        group_by_top_level_node,
    )
    from mutmut.mutation.trampoline_templates import mangle_function_name  # noqa: PLC0415

    source = (ROOT / module).read_text(encoding="utf-8")
    with _mutmut_config():
        tree, mutations, ignored_classes, _ = create_mutations(module, source, None, None)
    by_function = group_by_top_level_node(mutations)
    functions: list[tuple[cst.FunctionDef, str | None]] = []
    for top in tree.body:
        if isinstance(top, cst.FunctionDef):
            functions.append((top, None))
        elif (
            isinstance(top, cst.ClassDef)
            and isinstance(top.body, cst.IndentedBlock)
            and top.name.value not in ignored_classes
        ):
            methods = [f for f in top.body.body if isinstance(f, cst.FunctionDef)]
            functions += [(f, top.name.value) for f in methods]
    out = {}
    for function, class_name in functions:
        original = tree.code_for_node(function).splitlines()
        name = mangle_function_name(name=function.name.value, class_name=class_name)
        for i, mutation in enumerate(by_function.get(function, ()), start=1):
            mutated = deep_replace(function, mutation.original_node, mutation.mutated_node)
            assert isinstance(mutated, cst.FunctionDef)
            lines = tree.code_for_node(mutated).splitlines()
            changed = [
                line[0] + line[1:].strip()
                for line in difflib.unified_diff(original, lines, lineterm="", n=0)
                if line[:1] in "-+" and not line.startswith(("---", "+++"))
            ]
            out[f"{dotted(module)}.{name}__mutmut_{i}"] = " | ".join(changed)
    return out


def check_equivalents(*, fix: bool = False) -> int:
    """Each listed equivalent still names the mutant it was judged on (the same change); a
    mutant renumbered by an edit is found by its change within its function and, with
    ``fix``, renamed in the file. Anything else needs judging again. 0 if all hold."""
    entries = listed_equivalents()
    changes: dict[str, str] = {}
    for module in sorted({module_of_mutant(e["mutant"]) for e in entries}):
        changes |= mutant_changes(module)
    renames: dict[str, str] = {}
    problems = []
    for entry in entries:
        name, change = entry["mutant"], entry.get("change")
        if change is None:
            now = json.dumps(changes.get(name, "(no such mutant)"), ensure_ascii=False)
            problems.append(f"{name}: no change recorded; its change now: change = {now}")
        elif changes.get(name) != change:
            function = name.rpartition("__mutmut_")[0] + "__mutmut_"
            found = [n for n, c in changes.items() if n.startswith(function) and c == change]
            if len(found) == 1:
                renames[name] = found[0]
            else:
                problems.append(f"{name}: its change is gone or ambiguous; judge it again")
    for old, new in renames.items():
        print(f"renumbered: {old} -> {new}")
    if fix and renames:
        text = EQUIVALENTS.read_text(encoding="utf-8")
        for old, new in renames.items():
            text = text.replace(f'mutant = "{old}"\n', f'mutant = "{new}"\n')
        EQUIVALENTS.write_text(text, encoding="utf-8")
        renames = {}
    print("\n".join(problems))
    print(f"{len(entries)} listed equivalents, {len(renames)} renumbered, {len(problems)} to judge")
    return 1 if problems or renames else 0


@dataclass
class Row:
    module: str
    counts: Counter[str]
    equivalent: int
    seconds: float | None

    @property
    def mutants(self) -> int:
        """Every mutant: ``counts`` holds the explained equivalents apart from the survivors."""
        return sum(self.counts.values()) + self.equivalent

    @property
    def score(self) -> float | None:
        """(killed + timeouts + explained equivalents) / tested mutants (the ones mypy
        rejected are not tested: they count on neither side)."""
        tested = self.mutants - self.counts[NO_TESTS] - self.counts["not checked"]
        tested -= self.counts[TYPED]
        caught = self.counts[KILLED] + self.counts[TIMEOUT] + self.equivalent
        return None if tested <= 0 else 100.0 * caught / tested


def row(module: str, seconds: float | None = None) -> Row:
    found = results(module)
    known = equivalents()
    counts: Counter[str] = Counter(
        status_of(code) for name, code in found.items() if name not in known
    )
    # a listed equivalent counts as one whether it survived or was not tested again (None,
    # unless ``run --with-equivalents``); one that a test now kills counts as killed
    listed = [code for name, code in found.items() if name in known]
    equivalent = sum(1 for code in listed if code in (0, None))
    counts.update(status_of(code) for code in listed if code not in (0, None))
    return Row(module, counts, equivalent, seconds)


def survivors(module: str) -> list[str]:
    known = equivalents()
    return sorted(name for name, code in results(module).items() if code == 0 and name not in known)


def print_table(rows: Sequence[Row]) -> None:
    head = (
        "module",
        "mutants",
        "typed",
        "killed",
        "timeout",
        "equiv.",
        "survived",
        "other",
        "score",
        "time",
    )
    print(f"{head[0]:<30}" + "".join(f"{h:>9}" for h in head[1:]))
    total: Counter[str] = Counter()
    for r in rows:
        other = r.mutants - sum(r.counts[s] for s in (TYPED, KILLED, TIMEOUT, SURVIVED))
        other -= r.equivalent
        score = "-" if r.score is None else f"{r.score:.1f}%"
        spent = "" if r.seconds is None else f"{r.seconds / 60:.1f}m"
        cells: tuple[int, ...] = (r.mutants, r.counts[TYPED], r.counts[KILLED], r.counts[TIMEOUT])
        cells += (r.equivalent, r.counts[SURVIVED])
        print(
            f"{r.module:<30}"
            + "".join(f"{c:>9}" for c in (*cells, other))
            + f"{score:>9}{spent:>9}"
        )
        total.update(r.counts)
        total["equivalent"] += r.equivalent
    if len(rows) > 1:
        whole = Row("total", total, total.pop("equivalent"), None)
        other = (
            whole.mutants
            - sum(whole.counts[s] for s in (TYPED, KILLED, TIMEOUT, SURVIVED))
            - whole.equivalent
        )
        cells = (whole.mutants, total[TYPED], total[KILLED], total[TIMEOUT])
        cells += (whole.equivalent, total[SURVIVED])
        score = "-" if whole.score is None else f"{whole.score:.1f}%"
        print(f"{'total':<30}" + "".join(f"{c:>9}" for c in (*cells, other)) + f"{score:>9}")
    print(
        "score = (killed + timeout + equivalent) / mutants with tests, typed ones (rejected by "
        "mypy --strict) not counted; other = no tests, not checked, suspicious, segfault"
    )


def _expected_seconds(module: str) -> float:
    """How long the module's last run took (``seconds`` in its workspace), else a guess from
    the size of its source: the longest modules are started first."""
    last = workspace(module) / "seconds"
    if last.exists():
        return float(last.read_text(encoding="utf-8"))
    return (ROOT / module).stat().st_size / 50.0


_MAKING_MUTANTS = threading.Lock()  # mutant_changes works in a scratch working directory


def to_test(module: str, *, with_equivalents: bool) -> list[str]:
    """The module's mutants without a result yet, but for the listed equivalents: each was
    judged by hand with its change, which ``make test`` checks is still the mutant under its
    name (``tests/test_mutation_equivalents.py``), and counts as caught whatever a run says,
    so testing it again (every test that reaches it, none failing) changes no score. They
    took about a sixth of a whole run (all their tests each, where a killed mutant stops at
    its first failing test)."""
    with _MAKING_MUTANTS:
        names = list(mutant_changes(module))
    skip = set() if with_equivalents else set(equivalents())
    done = results(module)
    return [n for n in names if n not in skip and done.get(n) is None]


def run_module(
    module: str,
    env: dict[str, str],
    digest: str,
    *,
    children: int,
    rerun: bool,
    with_equivalents: bool = False,
) -> Row:
    """One module's mutmut run, its lines printed together once it ends."""
    here = prepare(module)
    if _STOP.is_set():
        print(f"== {module}: not run (the run was stopped)", flush=True)
        return row(module)
    log = here / "mutmut.log"
    lines = [f"== {module}: tests {' '.join(MODULES[module])}", f"   log: {log.relative_to(ROOT)}"]
    if start_afresh_if_stale(here, digest, rerun=rerun):
        lines.append("   afresh: mutants, their tests and results made again")
    started = time.monotonic()
    names = to_test(module, with_equivalents=with_equivalents)
    if names:
        with module_database(env) as own:
            code = mutmut(here, ["run", f"--max-children={children}", *names], own, log)
    else:
        code = 0
        lines.append("   nothing to test: every mutant has its result for this code and tests")
    spent = time.monotonic() - started
    if code == 0:
        (here / "inputs.sha256").write_text(digest, encoding="utf-8")
        (here / "seconds").write_text(f"{spent:.1f}", encoding="utf-8")
    else:
        lines.append(f"   mutmut run failed for {module} (exit {code}); see {log}")
    result = row(module, spent)
    score = "-" if result.score is None else f"{result.score:.1f} %"
    lines.append(f"   {spent / 60:.1f} min, score {score}")
    left = survivors(module)
    if left:
        lines.append("   survivors (show one: make mutate-show MUTANT=NAME):")
        lines += [f"     {name}" for name in left]
    print("\n".join(lines), flush=True)
    return result


def cmd_run(
    modules: Sequence[str], *, children: int, jobs: int, rerun: bool, with_equivalents: bool
) -> int:
    """The modules' runs, ``jobs`` at a time, the longest first: while one module makes its
    mutants, type-checks them and maps its tests (one process each), the other's mutants keep
    the second core busy."""
    digest = inputs_digest()
    order = sorted(modules, key=_expected_seconds, reverse=True)
    started = time.monotonic()
    previous = signal.signal(signal.SIGTERM, _interrupted)
    try:
        with services_env() as env, ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            print(f"{len(order)} modules, {jobs} at a time, {children} mutant(s) each", flush=True)
            runs = {
                m: pool.submit(
                    run_module,
                    m,
                    env,
                    digest,
                    children=children,
                    rerun=rerun,
                    with_equivalents=with_equivalents,
                )
                for m in order
            }
            try:
                done = {m: run.result() for m, run in runs.items()}
            except KeyboardInterrupt:
                print("stopping: the running modules' mutmut and their test runs", flush=True)
                stop_running()
                raise  # leaving the blocks waits for the module threads, then stops S3
    except KeyboardInterrupt:
        print(f"stopped after {(time.monotonic() - started) / 60:.1f} min", flush=True)
        return STOPPED
    finally:
        signal.signal(signal.SIGTERM, previous)
    print()
    print_table([done[m] for m in modules])
    print(f"whole run: {(time.monotonic() - started) / 60:.1f} min")
    return 0


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM stops a run as ^C does


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.mutation", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="mutate and test")
    run.add_argument("modules", nargs="*", help="module paths (default: all)")
    run.add_argument(
        "--max-children", type=int, default=1, help="mutants of one module tested at once"
    )
    run.add_argument("--jobs", type=int, default=2, help="modules run at once")
    run.add_argument(
        "--with-equivalents",
        action="store_true",
        help="test the listed equivalents too (they count as caught either way)",
    )
    run.add_argument("--rerun", action="store_true", help="make, map and test the mutants afresh")
    report = sub.add_parser("report", help="the score table from the last runs")
    report.add_argument("modules", nargs="*")
    left = sub.add_parser("survivors", help="surviving mutants not listed as equivalent")
    left.add_argument("modules", nargs="*")
    show = sub.add_parser("show", help="the diff of one mutant")
    show.add_argument("mutant")
    listed = sub.add_parser(
        "equivalents", help="each listed equivalent still names the mutant judged (its change)"
    )
    listed.add_argument("--fix", action="store_true", help="rename renumbered mutants in place")
    args = parser.parse_args(argv)

    if args.command == "equivalents":
        return check_equivalents(fix=args.fix)

    if args.command == "show":
        return mutmut(workspace(module_of_mutant(args.mutant)), ["show", args.mutant])
    modules = [m.strip() for m in args.modules if m.strip()] or list(MODULES)
    for module in modules:
        if module not in MODULES:
            prepare(module)  # exits with the list of known modules
    if args.command == "run":
        return cmd_run(
            modules,
            children=args.max_children,
            jobs=args.jobs,
            rerun=args.rerun,
            with_equivalents=args.with_equivalents,
        )
    if args.command == "report":
        print_table([row(m) for m in modules])
    else:
        for module in modules:
            print("\n".join(survivors(module)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
