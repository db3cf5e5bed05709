"""Every merge's apply runs, in order (issue 17, point 2).

A stand-in for GitHub's concurrency groups, as documented: a group runs one
job or run at a time; "any previously pending job or workflow in the
concurrency group will be canceled" when another one arrives ("Using
concurrency"), unless the group has `queue: max`, which keeps up to 100
pending and runs them in order (GitHub changelog 2026-05-07, "GitHub Actions
concurrency groups now allow larger queues"); `cancel-in-progress` cancels
the running one. The workflow's own `concurrency` blocks (workflow level and
the apply job's) are read from terraform.yml and their expressions
evaluated for each run; then three merges arrive while the first apply
waits for its reviewer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import yaml

from imgpipe import REPO_ROOT

WORKFLOW = REPO_ROOT / ".github" / "workflows" / "terraform.yml"

# What the workflow had before issue 17: the stand-in must drop the middle merge.
BEFORE = {
    "concurrency": {
        "group": "terraform-${{ github.event.pull_request.number || github.ref }}",
        "cancel-in-progress": "${{ github.event_name == 'pull_request' }}",
    },
    "jobs": {
        "apply": {
            "concurrency": {
                "group": "terraform-apply-${{ needs.env.outputs.env }}",
                "cancel-in-progress": False,
            }
        }
    },
}


class Ctx:
    """A GitHub expression context: a missing property is null (falsy, '')."""

    def __init__(self, **values: object) -> None:
        self._values = values

    def __getattr__(self, name: str) -> object:
        return self._values.get(name.replace("_", "-"), self._values.get(name, NULL))

    def __bool__(self) -> bool:
        return bool(self._values)

    def __str__(self) -> str:
        return ""


NULL = Ctx()


def evaluate(text: object, context: dict[str, object]) -> object:
    """`${{ ... }}` with the operators the workflow uses (&&, ||, ==, !=, format)."""
    if not isinstance(text, str):
        return text

    def one(expression: str) -> object:
        python = expression.replace("&&", " and ").replace("||", " or ")
        return eval(python, {"__builtins__": {}}, context)

    whole = re.fullmatch(r"\$\{\{(.*)\}\}", text.strip(), re.S)
    if whole:
        return one(whole.group(1))
    return re.sub(r"\$\{\{(.*?)\}\}", lambda m: str(one(m.group(1))), text)


def _format(template: str, *args: object) -> str:
    for i, arg in enumerate(args):
        template = template.replace(f"{{{i}}}", str(arg))
    return template


@dataclass
class Group:
    queue_max: bool
    running: str | None = None
    pending: list[str] = field(default_factory=list)


@dataclass
class GitHubStandIn:
    workflow: dict
    groups: dict[str, Group] = field(default_factory=dict)
    cancelled: list[str] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)
    holding: dict[str, list[str]] = field(default_factory=dict)  # run -> groups it holds

    def _enter(self, block: dict, item: str, context: dict) -> bool:
        name = str(evaluate(block["group"], context))
        group = self.groups.setdefault(name, Group(queue_max=block.get("queue") == "max"))
        if group.running is None:
            group.running = item
            return True
        if evaluate(block.get("cancel-in-progress", False), context):
            self.cancelled.append(group.running)
            group.running = item
            return True
        if not group.queue_max and group.pending:
            self.cancelled.extend(group.pending)  # the previously pending one is replaced
            group.pending.clear()
        group.pending.append(item)
        return False

    def _context(self, run: str, event: str, pr: int | None) -> dict:
        pull = Ctx(number=pr) if pr else NULL
        github = Ctx(
            event_name=event,
            run_id=run,
            ref="refs/heads/main" if event == "push" else f"refs/pull/{pr}/merge",
            event=Ctx(pull_request=pull),
        )
        return {
            "github": github,
            "needs": Ctx(env=Ctx(outputs=Ctx(env="prod"))),
            "format": _format,
        }

    def arrive(self, run: str, event: str, pr: int | None = None) -> None:
        self.holding[run] = []
        context = self._context(run, event, pr)
        top = self.workflow.get("concurrency")
        if top and not self._enter(top, run, context):
            return
        self._start_jobs(run, event, pr)

    def _start_jobs(self, run: str, event: str, pr: int | None) -> None:
        if event == "push":
            block = self.workflow["jobs"]["apply"].get("concurrency")
            if block:
                self._enter(block, f"{run}/apply", self._context(run, event, pr))

    def finish_running_apply(self) -> bool:
        """The running apply is approved and completes; GitHub starts what waits."""
        for group in self.groups.values():
            if group.running and group.running.endswith("/apply"):
                run = group.running.split("/")[0]
                self.applied.append(run)
                group.running = group.pending.pop(0) if group.pending else None
                self._release_run(run)
                return True
        return False

    def _release_run(self, run: str) -> None:
        for group in self.groups.values():
            if group.running == run:
                group.running = group.pending.pop(0) if group.pending else None
                if group.running:
                    self._start_jobs(group.running, "push", None)


def three_merges(workflow: dict) -> GitHubStandIn:
    github = GitHubStandIn(workflow)
    for run in ("merge-1", "merge-2", "merge-3"):  # merge-1's apply waits for a reviewer
        github.arrive(run, "push")
    while github.finish_running_apply():
        pass
    return github


def test_the_stand_in_drops_the_middle_merge_as_github_did():
    github = three_merges(BEFORE)
    assert github.applied == ["merge-1", "merge-3"]
    assert github.cancelled == ["merge-2"]


def test_every_merge_is_applied_in_order():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    github = three_merges(workflow)
    assert github.applied == ["merge-1", "merge-2", "merge-3"]
    assert github.cancelled == []


def test_a_new_push_to_a_pull_request_still_replaces_its_running_plan():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    github = GitHubStandIn(workflow)
    github.arrive("push-1", "pull_request", pr=5)
    github.arrive("other-pr", "pull_request", pr=6)
    github.arrive("push-2", "pull_request", pr=5)
    assert github.cancelled == ["push-1"]  # pull request 6 is untouched


def test_applies_join_their_queue_in_push_order_whatever_the_tests_take():
    """The apply job waits for nothing slow, so its place in the queue is its push's.

    Three merges pushed a minute apart; each run's jobs start at its push.
    The `env` job takes seconds, the tests (`checks`) minutes, different for
    each merge. An apply joins the apply group when every job it `needs` is
    done: after `checks` (as before issue 23) the merge with the quickest
    tests is applied first; after `env` alone, the first pushed is.
    """
    pushed = {"merge-1": 0.0, "merge-2": 1.0, "merge-3": 2.0}
    minutes = {"env": {"merge-1": 0.1, "merge-2": 0.1, "merge-3": 0.1}}
    minutes["checks"] = {"merge-1": 9.0, "merge-2": 3.0, "merge-3": 5.0}

    def queue_order(needs: list[str]) -> list[str]:
        joins = {run: at + max(minutes[job][run] for job in needs) for run, at in pushed.items()}
        return sorted(joins, key=joins.__getitem__)

    assert queue_order(["env", "checks"]) == ["merge-2", "merge-3", "merge-1"]  # the old wiring
    needs = yaml.safe_load(WORKFLOW.read_text())["jobs"]["apply"]["needs"]
    assert queue_order(needs) == ["merge-1", "merge-2", "merge-3"]
