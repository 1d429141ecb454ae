"""The listed equivalent mutants still name the mutants they were judged on.

An edit above a listed mutant in its function renumbers the function's mutants, and the
listing would then excuse another mutant (or none). Every entry records its mutant's change;
the mutants are made afresh from the code here and each entry's change must be found under
its name.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests import mutation

ROOT = Path(__file__).resolve().parent.parent


def test_every_listed_equivalent_names_the_mutant_judged() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tests.mutation", "equivalents"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    listed = len(mutation.listed_equivalents())
    assert f"{listed} listed equivalents, 0 renumbered, 0 to judge" in done.stdout


def test_a_renumbered_entry_is_renamed_and_a_lost_one_must_be_judged_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Three entries for infra/scope.py: one as judged, one whose change now lives under
    another number (as after an edit above it), one whose change no mutant makes."""
    listing = tmp_path / "equivalents.toml"
    listing.write_text(
        "\n".join(
            [
                "[[equivalent]]",
                'mutant = "infra.scope.x_scoped__mutmut_2"',
                'change = "-return stmt.where(model.county_id == principal.county_id) | '
                '+return stmt.where(model.county_id != principal.county_id)"',
                'reason = "as judged"',
                "",
                "[[equivalent]]",
                'mutant = "infra.scope.x_require_role__mutmut_3"',
                'change = "-allowed = \\", \\".join(r.value for r in roles) | +allowed = None"',
                'reason = "judged as number 3, now number 2"',
                "",
                "[[equivalent]]",
                'mutant = "infra.scope.x_require_role__mutmut_4"',
                'change = "-if principal.role not in roles: | +if principal.role is None:"',
                'reason = "a change no mutant makes any more"',
                "",
            ]
        ),
        encoding="utf-8",
    )
    monkeypatch.setattr(mutation, "EQUIVALENTS", listing)

    assert mutation.check_equivalents() == 1
    out = capsys.readouterr().out
    assert (
        "renumbered: infra.scope.x_require_role__mutmut_3 -> infra.scope.x_require_role__mutmut_2"
        in out
    )
    assert "infra.scope.x_require_role__mutmut_4: its change is gone or ambiguous" in out
    assert "3 listed equivalents, 1 renumbered, 1 to judge" in out

    assert mutation.check_equivalents(fix=True) == 1
    names = [e["mutant"] for e in mutation.listed_equivalents()]
    assert names == [
        "infra.scope.x_scoped__mutmut_2",
        "infra.scope.x_require_role__mutmut_2",
        "infra.scope.x_require_role__mutmut_4",
    ]
    capsys.readouterr()
    assert mutation.check_equivalents() == 1
    assert "3 listed equivalents, 0 renumbered, 1 to judge" in capsys.readouterr().out


def test_the_mutation_log_times_each_line_and_keeps_few_redraws(tmp_path: Path) -> None:
    """mutmut's output as the log keeps it: each line after the seconds since the start; the
    progress line it redraws in place for every mutant is kept once per interval."""
    script = (
        "import sys, time\n"
        "w = sys.stdout.write\n"
        "w('Generating mutants\\n'); sys.stdout.flush()\n"
        "for i in range(50): w(f'\\r{i}/50 mutants'); sys.stdout.flush()\n"
        "time.sleep(0.3)\n"
        "w('\\r50/50 mutants'); w('\\n\\nRunning mutation testing\\ntail')\n"
    )
    log = tmp_path / "mutmut.log"
    with (
        subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE) as child,
        log.open("w", encoding="utf-8") as out,
    ):
        assert child.stdout is not None
        mutation._timed_lines(child.stdout, out, every_s=0.2)
    assert child.returncode == 0
    lines = log.read_text(encoding="utf-8").splitlines()
    texts = [line.split("] ", 1)[1] for line in lines]
    assert texts[0] == "Generating mutants"
    assert texts[-3:] == ["50/50 mutants", "Running mutation testing", "tail"]
    assert len(texts) < 12  # not the 50 redraws of the burst: about one per 0.2 s
    stamps = [float(line[1 : line.index("s]")]) for line in lines]
    assert stamps == sorted(stamps)
    assert stamps[-1] >= 0.3


def test_a_run_tests_every_mutant_without_a_result_but_the_listed_equivalents(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A listed equivalent counts as caught whatever its run says, so a run leaves it out
    (``--with-equivalents`` does not); the table still counts it as equivalent."""
    every = list(mutation.mutant_changes("infra/scope.py"))
    judged, done, *rest = every
    monkeypatch.setattr(mutation, "equivalents", lambda: {judged: "as judged"})
    monkeypatch.setattr(mutation, "results", lambda _module: {done: 1})
    assert mutation.to_test("infra/scope.py", with_equivalents=False) == rest
    assert mutation.to_test("infra/scope.py", with_equivalents=True) == [judged, *rest]

    ran = {judged: None, done: 1} | dict.fromkeys(rest[:-1], 37) | {rest[-1]: 0}
    monkeypatch.setattr(mutation, "results", lambda _module: ran)
    counted = mutation.row("infra/scope.py")
    assert (counted.equivalent, counted.counts[mutation.KILLED]) == (1, 1)
    assert counted.counts[mutation.SURVIVED] == 1 and counted.counts["not checked"] == 0
    assert counted.score == 100.0 * 2 / 3
