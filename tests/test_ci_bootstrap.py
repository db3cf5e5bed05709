"""The lock instance's name: unique per account, within Tablestore's rules (issue 17, point 6).

A Tablestore instance name is unique within a region across accounts, 3-16
letters, digits and hyphens, starts with a letter, does not end with a
hyphen, and may not contain ali, ay, ots, taobao or admin (Tablestore API,
CreateInstance, InstanceName). examples/bootstrap-state is planned by real
Terraform against the stand-in provider (tests/ci_standin.py).
"""

from __future__ import annotations

import pytest
from ci_standin import TERRAFORM, copy_example, ok, planned, standin, terraform, var_args

if TERRAFORM is None:
    pytest.skip("terraform not installed (README: Proving the Terraform)", allow_module_level=True)

ACCOUNT = "1234567890123456"


@pytest.fixture(scope="module")
def bootstrap(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("bootstrap")
    with standin(tmp) as env:
        workdir = copy_example("bootstrap-state", tmp / "bootstrap-state")
        ok(terraform(env, workdir, "init", "-input=false"))
        yield env, workdir


def test_default_name_is_derived_from_the_account(bootstrap):
    env, workdir = bootstrap
    values = planned(env, workdir, {"account_id": ACCOUNT})
    name = values["alicloud_ots_instance.lock"]["name"]
    assert name == "tfl" + ACCOUNT[-13:] and len(name) == 16
    assert values["alicloud_ots_table.lock"]["instance_name"] == name
    other = planned(env, workdir, {"account_id": "9876543210987654"})
    assert other["alicloud_ots_instance.lock"]["name"] != name  # a second user does not collide


def test_a_chosen_name_is_used(bootstrap):
    env, workdir = bootstrap
    values = planned(env, workdir, {"account_id": ACCOUNT, "lock_instance_name": "acme-tflock"})
    assert values["alicloud_ots_instance.lock"]["name"] == "acme-tflock"


@pytest.mark.parametrize(
    "name",
    [
        "imgpipe-tflock-prod",  # 19 characters
        "tf",  # too short
        "1tflock",  # starts with a digit
        "tflock-",  # ends with a hyphen
        "tf_lock",  # underscore
        "myots1",  # contains ots
        "photoadmin",  # contains admin
        "Alibaba-lock",  # contains ali, in any case
        "relay-lock",  # contains ay
    ],
)
def test_names_tablestore_refuses_are_refused_before_any_call(bootstrap, name):
    env, workdir = bootstrap
    done = terraform(
        env, workdir, "plan", *var_args({"account_id": ACCOUNT, "lock_instance_name": name})
    )
    assert done.returncode != 0
    assert "Tablestore naming rules" in " ".join(done.stderr.split()), done.stderr[-1500:]
