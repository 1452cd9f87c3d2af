"""The operator's SSH key for the lab's hosts."""
from __future__ import annotations

from pathlib import Path

from .system import sh


def ensure_key(path: Path) -> str:
    """Create the key pair at `path` (mode 0600) if missing; return the public key."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "embedded-lab-operator", "-f", str(path)])
    path.chmod(0o600)
    pub = path.with_name(path.name + ".pub")
    if not pub.exists():
        pub.write_text(sh(["ssh-keygen", "-y", "-f", str(path)]).stdout)
    return pub.read_text().strip()
