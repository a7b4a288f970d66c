"""requirements.lock must agree with pyproject.toml: every install comes from the lock alone."""

from __future__ import annotations

import re

import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.support.paths import ROOT

LOCK_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")
# What the lock is resolved for (`make lock`): markers are evaluated against it.
LOCK_ENVIRONMENT = {"python_version": "3.11", "python_full_version": "3.11.0", "sys_platform": "linux"}


def _lock_pins() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        match = LOCK_PIN.match(line)
        if match:
            pins[canonicalize_name(match.group(1))] = Version(match.group(2))
    return pins


def _project_requirements() -> list[tuple[str, Requirement]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    found = [("dependencies", Requirement(text)) for text in project["dependencies"]]
    for extra, texts in project["optional-dependencies"].items():
        found += [(f"[{extra}]", Requirement(text)) for text in texts]
    return found


def _disagreements(pins: dict[str, Version], requirements: list[tuple[str, Requirement]]) -> list[str]:
    problems = []
    for where, requirement in requirements:
        if requirement.marker and not requirement.marker.evaluate(LOCK_ENVIRONMENT):
            continue
        pinned = pins.get(canonicalize_name(requirement.name))
        if pinned is None:
            problems.append(f"{where}: {requirement} is not in requirements.lock")
        elif not requirement.specifier.contains(pinned, prereleases=True):
            problems.append(f"{where}: {requirement} is not met by the locked {requirement.name}=={pinned}")
    return problems


def test_every_requirement_of_the_project_and_its_extras_is_locked_and_met() -> None:
    problems = _disagreements(_lock_pins(), _project_requirements())
    assert not problems, "pyproject.toml and requirements.lock disagree; run `make lock`:\n" + "\n".join(problems)


def test_the_check_names_a_requirement_the_lock_misses_or_does_not_meet() -> None:
    pins = {"fastapi": Version("0.100.0")}
    problems = _disagreements(
        pins, [("dependencies", Requirement("fastapi>=0.115")), ("[test]", Requirement("pytest>=8"))]
    )
    assert problems == [
        "dependencies: fastapi>=0.115 is not met by the locked fastapi==0.100.0",
        "[test]: pytest>=8 is not in requirements.lock",
    ]


def test_every_locked_package_carries_a_hash() -> None:
    entries = re.split(r"\n(?=[A-Za-z0-9])", (ROOT / "requirements.lock").read_text())
    pinned = [entry for entry in entries if LOCK_PIN.match(entry)]
    assert len(pinned) > 100
    assert [entry.split()[0] for entry in pinned if "--hash=sha256:" not in entry] == []


def test_torch_is_locked_to_the_cpu_build() -> None:
    assert _lock_pins()["torch"].local == "cpu"
