"""The JUnit schema common CI servers read (Jenkins' xUnit plugin junit-10.xsd,
which pytest's own tests validate its xunit2 output against), and validation
against it.

The schema is not copied into this repository: it is taken, once, from the
source distribution of the installed pytest on PyPI and cached.

    python -m tests.junit_schema FILE.xml ...   exit 0 when every file validates
"""
from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import pytest

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "deploy-suite"
MEMBER = "testing/example_scripts/junit-10.xsd"


def schema_path() -> Path:
    target = CACHE / f"junit-10-pytest-{pytest.__version__}.xsd"
    if target.exists():
        return target
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
                        f"pytest=={pytest.__version__}", "-d", tmp], check=True, capture_output=True)
        sdist = next(Path(tmp).glob("pytest-*.tar.gz"))
        with tarfile.open(sdist) as tar:
            member = next(m for m in tar.getmembers() if m.name.endswith(MEMBER))
            data = tar.extractfile(member).read()
    CACHE.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return target


def problems(xml: Path) -> list[str]:
    """Why `xml` does not validate (empty: it does)."""
    import xmlschema

    schema = xmlschema.XMLSchema(str(schema_path()))
    return [f"{xml}: {e.reason} at {e.path}" for e in schema.iter_errors(str(xml))]


def main(argv: list[str]) -> int:
    found = [p for xml in argv for p in problems(Path(xml))]
    for line in found:
        print(line, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
