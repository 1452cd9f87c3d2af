"""Phase 07's flavors: the controller-side program converges Nova's flavors
(against a fake compute API), runs without the suite, and the README and the
inventory schema list the same flavors the module makes."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from deploy.inventory import InventoryError
from deploy.phases.p07_openstack_controller import flavors as suite_flavors
from deploy.schema_fields import FLAVOR_NAMES

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = Path(suite_flavors.__file__)


def standalone():
    """The file as the controller runs it: a module of no package (no relative import may run)."""
    spec = importlib.util.spec_from_file_location("flavors_on_the_controller", PROGRAM)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Response:
    def __init__(self, body: dict):
        self.body = body

    def json(self) -> dict:
        return self.body


class FakeCompute:
    """Nova's flavor API as the program uses it; records each change."""

    def __init__(self, flavors: list[dict] = ()):
        self.flavors = {f["id"]: dict(f) for f in flavors}
        self.calls: list[str] = []

    def get(self, path: str) -> Response:
        assert path == "/flavors/detail?is_public=None", path   # private flavors too: an id may be taken by one
        return Response({"flavors": [{"swap": "", "OS-FLV-EXT-DATA:ephemeral": 0,
                                      "os-flavor-access:is_public": True, **f} for f in self.flavors.values()]})

    def post(self, path: str, json: dict) -> Response:
        body = json["flavor"]
        assert path == "/flavors" and body["id"] not in self.flavors
        self.flavors[body["id"]] = {k: body[k] for k in ("id", "name", "vcpus", "ram", "disk")}
        self.calls.append(f"create {body['name']}")
        return Response({"flavor": body})

    def delete(self, path: str) -> None:
        del self.flavors[path.rsplit("/", 1)[1]]
        self.calls.append(f"delete {path}")


def test_missing_flavors_are_made_then_nothing_differs():
    program = standalone()
    want = program.wanted(FLAVOR_NAMES)
    nova = FakeCompute()
    assert program.converge(nova, want, apply=False) == [f"flavor {n} missing" for n in FLAVOR_NAMES]
    assert nova.calls == []   # check changes nothing
    program.converge(nova, want, apply=True)
    assert nova.calls == [f"create {n}" for n in FLAVOR_NAMES]
    assert program.converge(nova, want, apply=False) == []
    assert {f["name"]: f["id"] for f in nova.flavors.values()} == {n: program.FLAVORS[n][0] for n in FLAVOR_NAMES}


def test_a_flavor_of_another_size_is_replaced_under_its_id():
    program = standalone()
    nova = FakeCompute([{"id": "2", "name": "m1.small", "vcpus": 1, "ram": 2048, "disk": 20}])
    diffs = program.converge(nova, program.wanted(["m1.small"]), apply=True)
    assert diffs == ["flavor m1.small: id 2 1 vCPUs 2048 MiB 20 GB -> id 2 1 vCPUs 2048 MiB 2 GB"]
    assert nova.calls == ["delete /flavors/2", "create m1.small"]
    assert nova.flavors["2"]["disk"] == 2


def test_an_id_taken_by_another_flavor_is_named_not_deleted():
    program = standalone()
    nova = FakeCompute([{"id": "1", "name": "mine", "vcpus": 1, "ram": 64, "disk": 0}])
    with pytest.raises(SystemExit, match="flavor id 1 is taken by flavor 'mine'; m1.tiny needs it"):
        program.converge(nova, program.wanted(["m1.tiny"]), apply=True)
    assert nova.calls == [] and "1" in nova.flavors


def test_the_program_reads_its_files_and_exits_1_on_a_difference(tmp_path, monkeypatch):
    program = standalone()
    wanted = tmp_path / "flavors.json"
    wanted.write_text(json.dumps(program.wanted(["m1.tiny"])))
    nova = FakeCompute()
    monkeypatch.setattr(program, "compute_api", lambda auth: nova)
    assert program.main(["check", str(wanted), "auth.json"]) == 1
    assert program.main(["apply", str(wanted), "auth.json"]) == 0
    assert program.main(["check", str(wanted), "auth.json"]) == 0


def test_the_schema_lists_the_flavors_the_module_makes():
    assert tuple(suite_flavors.FLAVORS) == FLAVOR_NAMES


def test_every_disk_fits_the_labs_brick_and_holds_the_biggest_image():
    """8G bricks: Nova counts 7 GiB per compute; the debian image is 1 GiB virtual."""
    disks = [d for _, _, _, d in suite_flavors.FLAVORS.values()]
    assert 1 <= min(disks) and max(disks) <= 7, disks
    assert disks == sorted(disks) and len(set(disks)) == len(disks)


def test_readme_flavor_table_is_the_modules():
    assert suite_flavors.flavor_table() in (ROOT / "README.md").read_text()


def test_inventory_flavors_default_to_all_and_unknown_names_are_refused(tmp_path):
    from deploy.inventory import load_inventory

    text = (ROOT / "inventory.yaml").read_text().replace(
        "  flavors: [m1.tiny, m1.small, m1.medium, m1.large, m1.xlarge]", "  flavors: [m1.small, m1.huge]")
    assert "m1.huge" in text
    path = tmp_path / "inventory.yaml"
    path.write_text(text)
    with pytest.raises(InventoryError, match=r"openstack\.flavors\[1\]: 'm1.huge' is not known"):
        load_inventory(path, check_keys=False)
    path.write_text("".join(line for line in text.splitlines(keepends=True) if "flavors:" not in line))
    assert load_inventory(path, check_keys=False).flavors == FLAVOR_NAMES


def test_no_flavors_no_steps(default_inventory, tmp_path):
    import dataclasses

    from deploy.phases import Context
    from deploy.secrets import Secrets

    ctx = Context(dataclasses.replace(default_inventory, flavors=()), Secrets(tmp_path / "s.yaml"))
    assert suite_flavors.steps(ctx) == []
    ctx = Context(default_inventory, Secrets(tmp_path / "s.yaml"))
    commands = [s for s in suite_flavors.steps(ctx) if hasattr(s, "unless")]
    assert commands[0].unless.startswith(f"{suite_flavors.SCRIPT} check ")
