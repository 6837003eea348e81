"""Plan engine: pure data (frame, HTML, JSON) and execute() on a local-transport lab with real files."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from homelab_kit.errors import PlanError, StepFailed, UnsafePathError
from homelab_kit.lab.model import Lab
from homelab_kit.plans.plan import Plan, Step, execute, negate, no_output, script
from homelab_kit.plans.safety import rm_recursive
from homelab_kit.testing import FakeRunner


@pytest.fixture
def lab(tmp_path):
    doc = {
        "lab": {"name": "plantest"},
        "hosts": {"box": {"transport": "local", "os": "debian"}, "box2": {"transport": "local"}},
    }
    return Lab.from_dict(doc, path=tmp_path / "lab.toml")


def touch_plan(tmp_path, fail_marker=None):
    a, b, c = (tmp_path / n for n in "abc")
    steps = [
        Step("make a", "box", ("touch", str(a)), post=("test", "-e", str(a)), phase="one"),
        Step(
            "make b (needs a)",
            "box2",
            ("touch", str(b)),
            pre=("test", "-e", str(a)),
            post=("test", "-e", str(b)),
        ),
        Step(
            "make c unless blocked",
            "box",
            script(
                '[ ! -e "$1" ] || { echo "blocked by $1" >&2; exit 3; }; touch "$2"',
                str(fail_marker or "/nonexistent"),
                str(c),
            ),
            post=("test", "-e", str(c)),
        ),
        Step("always check", "box", ("test", "-e", str(b))),
    ]
    return Plan("touch things", tuple(steps), ("a note",), {"x": 1})


def test_plan_is_pure_data(tmp_path):
    plan = touch_plan(tmp_path)
    assert len(plan) == 4 and plan.hosts == ("box", "box2")
    frame = plan.to_frame()
    assert list(frame.columns) == [
        "phase",
        "title",
        "host",
        "command",
        "destructive",
        "postcondition",
        "note",
    ]
    assert frame.loc[1, "command"] == f"touch {tmp_path / 'a'}"
    html = plan._repr_html_()
    assert "touch things" in html and "a note" in html and "dry run" in html
    assert plan.to_dict()["steps"][1]["precondition"] == f"test -e {tmp_path / 'a'}"
    assert not (tmp_path / "a").exists()


def test_execute_runs_in_order_and_journals(lab, tmp_path):
    seen = []
    outcomes = execute(
        touch_plan(tmp_path), lab, progress=False, on_step=lambda i, s, st: seen.append((i, st))
    )
    assert [o.status for o in outcomes] == ["ok", "ok", "ok", "ok"]
    assert all((tmp_path / n).exists() for n in "abc")
    assert seen[:2] == [(1, "running"), (1, "ok")] and seen[-1] == (4, "ok")
    runs = lab.journal.frame("plan")
    assert list(runs["status"]) == ["ok"]
    steps = lab.journal.steps()
    assert list(steps["status"]) == ["ok"] * 4 and list(steps["host"]) == [
        "box",
        "box2",
        "box",
        "box",
    ]


def test_stops_at_first_failure_then_resumes(lab, tmp_path):
    marker = tmp_path / "blocker"
    marker.write_text("")
    plan = touch_plan(tmp_path, fail_marker=marker)
    with pytest.raises(StepFailed) as err:
        execute(plan, lab, progress=False)
    msg = str(err.value)
    assert "step 3 'make c unless blocked' on box failed" in msg
    assert "exited 3" in msg and f"blocked by {marker}" in msg and "sh -c" in msg
    assert err.value.step is plan.steps[2] and err.value.result.exit_code == 3
    assert not (tmp_path / "c").exists()
    marker.unlink()
    (tmp_path / "b").unlink()  # someone undid step 2: it must run again, step 1 must not
    outcomes = execute(plan, lab, progress=False)
    assert [o.status for o in outcomes] == ["skipped", "ok", "ok", "ok"]
    runs = lab.journal.frame("plan").sort_values("id")
    assert list(runs["status"]) == ["failed", "ok"]
    steps = lab.journal.steps()
    assert "failed" in set(steps["status"]) and "skipped" in set(steps["status"])


def test_precondition_failure_names_step_and_host(lab, tmp_path):
    plan = Plan("p", (Step("needs x", "box2", ("true",), pre=("test", "-e", str(tmp_path / "x"))),))
    with pytest.raises(
        StepFailed, match="step 1 'needs x' on box2 cannot start: its precondition does not hold"
    ):
        execute(plan, lab, journal=False, progress=False)


def test_postcondition_must_hold_after_running(lab, tmp_path):
    plan = Plan(
        "p", (Step("lies", "box", ("true",), post=("test", "-e", str(tmp_path / "never"))),)
    )
    with pytest.raises(StepFailed, match="ran but its postcondition still does not hold"):
        execute(plan, lab, journal=False, progress=False)


def test_destructive_steps_need_a_guard_and_it_is_rechecked_on_the_host(lab, tmp_path):
    with pytest.raises(PlanError, match="must be built through safety"):
        Step("rm", "box", ("rm", "-rf", "/x"), destructive=True)
    root = tmp_path / "state"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("x")
    (root / "link").symlink_to(outside)
    g = rm_recursive(str(root / "link"), allowed_roots=(str(root),))  # syntax alone: fine
    plan = Plan("p", (Step("rm link", "box", g.argv, destructive=True, guard=g.guard),))
    with pytest.raises(UnsafePathError, match="outside the allowed roots"):
        execute(plan, lab, progress=False)
    assert (outside / "keep").exists() and (root / "link").is_symlink()
    assert list(lab.journal.steps()["status"]) == ["refused"]


def test_check_helpers(lab, tmp_path):
    r = lab.runner("box")
    assert r.run(no_output(["true"])).ok
    assert not r.run(no_output(["echo", "x"])).ok
    assert r.run(no_output(["false"])).exit_code == 2
    assert r.run(negate(["false"])).ok and not r.run(negate(["true"])).ok
    # values stay single arguments: no shell injection through script()/no_output()
    evil = "x; touch pwned"
    assert r.run(script('cd "$1" && touch "$2"', str(tmp_path), evil)).ok
    assert (tmp_path / evil).exists() and not (tmp_path / "pwned").exists()


def test_execute_sends_checks_in_order_and_passes_step_options():
    """What execute() sends for each step, in order (FakeRunner: nothing runs): the postcondition
    first (holds → skipped), else precondition, the guard's realpath, the command, the post again."""
    state = "/var/lib/web"
    g = rm_recursive(f"{state}/cache", allowed_roots=(state,))
    done = ("test", "-e", f"{state}/done")
    steps = (
        Step("already done", "n100", ("touch", f"{state}/done"), post=done),
        Step(
            "clear cache",
            "n100",
            g.argv,
            pre=("id", "-u", "web"),
            post=("test", "!", "-e", f"{state}/cache"),
            destructive=True,
            guard=g.guard,
            sudo=True,
            cwd=state,
            env={"LC_ALL": "C"},
        ),
    )
    realpath = ("realpath", "-m", "--", f"{state}/cache", state)
    fake = FakeRunner(
        "n100",
        [
            (done, 0),
            (steps[1].post, 1),
            (steps[1].pre, (0, "990\n")),
            (realpath, f"{state}/cache\n{state}\n"),
            (g.argv, 0),
            (steps[1].post, 0),
        ],
    )
    lab = SimpleNamespace(runner=lambda host: fake)
    outcomes = execute(Plan("p", steps), lab, journal=False, progress=False)
    assert [o.status for o in outcomes] == ["skipped", "ok"]
    assert fake.argvs == [done, steps[1].post, steps[1].pre, realpath, g.argv, steps[1].post]
    assert fake.unused == []
    command = next(c for c in fake.calls if c.argv == g.argv)
    assert (command.sudo, command.cwd, command.env) == (True, state, {"LC_ALL": "C"})
    # a command that fails stops the run, naming the step, and its postcondition is not asked again
    fake = FakeRunner(
        "n100", [(steps[1].post, 1), (steps[1].pre, 0), (realpath, f"{state}/cache\n{state}\n")]
    )
    fake.once(g.argv, (1, "", "rm: cannot remove: Device or resource busy"))
    lab = SimpleNamespace(runner=lambda host: fake)
    with pytest.raises(StepFailed, match="step 1 'clear cache' on n100 failed.*resource busy"):
        execute(Plan("p", steps[1:]), lab, journal=False, progress=False)
    assert fake.argvs[-1] == g.argv and fake.unused == []
