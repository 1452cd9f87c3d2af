"""A fake metadata service (OpenStack and EC2 paths) for booting images here.

QEMU's user-mode network runs this file once per guest connection to
169.254.169.254:80 (slirp's guestfwd `cmd:`), with the connection as its stdin
and stdout; so it answers one HTTP request and exits. Standard library only:
it runs as `python3 metadata.py ROUTES.json LOG` with no package around it.
"""
from __future__ import annotations

import json
import sys
import time


def routes(hostname: str, public_key: str, instance_id: str, key_name: str = "boot-test") -> dict[str, str]:
    """Path (no leading slash) -> body, as Nova's metadata API serves them."""
    short = hostname.split(".")[0]
    meta = {
        "uuid": instance_id, "name": short, "hostname": hostname, "launch_index": 0,
        "availability_zone": "nova", "project_id": "boot-test", "devices": [],
        "public_keys": {key_name: public_key + "\n"},
        "keys": [{"name": key_name, "type": "ssh", "data": public_key + "\n"}],
    }
    ec2 = {
        "ami-id": "ami-00000001", "ami-launch-index": "0", "instance-id": instance_id,
        "instance-type": "m1.tiny", "hostname": hostname, "local-hostname": hostname,
        "placement/availability-zone": "nova",
        "public-keys/": f"0={key_name}", "public-keys/0/": "openssh-key",
        "public-keys/0/openssh-key": public_key + "\n",
    }
    out = {"": "1.0\n2009-04-04\nlatest\nopenstack", "openstack": "2012-08-10\nlatest",
           "openstack/": "2012-08-10\nlatest"}
    for version in ("latest", "2012-08-10"):
        base = f"openstack/{version}"
        out[base] = out[base + "/"] = "meta_data.json\nvendor_data.json"
        out[f"{base}/meta_data.json"] = json.dumps(meta)
        out[f"{base}/vendor_data.json"] = "{}"
    for version in ("latest", "2009-04-04"):
        out[version] = out[version + "/"] = "meta-data/"
        top = sorted({k.split("/")[0] + ("/" if "/" in k else "") for k in ec2})
        out[f"{version}/meta-data"] = out[f"{version}/meta-data/"] = "\n".join(top)
        out[f"{version}/meta-data/placement/"] = "availability-zone"
        for k, v in ec2.items():
            out[f"{version}/meta-data/{k}"] = v
    return out


def serve_one(table: dict[str, str], log_path: str) -> None:
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    request = inp.readline().decode("latin-1").split()
    while inp.readline() not in (b"\r\n", b"\n", b""):
        pass  # headers: nothing in them matters here
    if len(request) < 2:
        return
    path = request[1].split("?")[0].lstrip("/")
    body = table.get(path)
    status = "200 OK" if body is not None else "404 Not Found"
    data = (body if body is not None else "not found\n").encode()
    out.write(f"HTTP/1.0 {status}\r\nContent-Type: text/plain\r\nContent-Length: {len(data)}\r\n"
              f"Connection: close\r\n\r\n".encode() + (data if request[0] != "HEAD" else b""))
    out.flush()
    with open(log_path, "a") as log:
        log.write(f"{time.time():.3f} {request[0]} /{path} {status.split()[0]}\n")


def main() -> None:
    try:
        with open(sys.argv[1]) as f:
            table = json.load(f)
        serve_one(table, sys.argv[2])
    except Exception as e:  # stderr is the guest's socket too: report in the log only
        try:
            with open(sys.argv[2], "a") as log:
                log.write(f"{time.time():.3f} ERROR {type(e).__name__}: {e}\n")
        except Exception:
            pass


if __name__ == "__main__":
    main()
