"""Traffic probes the checks send: a host connects to a listener this process
holds, and the listener reports where the connection came from. What is
verified is what arrived, not the rules that should make it arrive."""
from __future__ import annotations

import json
import shlex
import socket
import subprocess
import sys
import uuid

CONNECT_TIMEOUT = 10  # seconds; one hop on a lab network takes milliseconds

# Run on the host: bind the first free source port of [low, high] (an explicit
# source port, since the kernel's own choice is random), connect, send the token.
_FROM_PORT = """
import socket, sys
address, port, low, high, token, timeout = sys.argv[1:]
for source in range(int(low), int(high) + 1):
    s = socket.socket()
    try:
        s.bind(("", source))
        break
    except OSError:
        s.close()
else:
    sys.exit(f"no free source port in {low}-{high}")
s.settimeout(float(timeout))
try:
    s.connect((address, int(port)))
except OSError as e:
    sys.exit(f"from source port {source}: {e}")
s.sendall(token.encode())
print(source)
"""


def connection_source(remote, listen_on: str, source_ports: tuple[int, int] | None = None) -> tuple[str | None, str]:
    """Listen on `listen_on` (an address of this machine), have `remote`'s host
    connect and send a token, from a source port in `source_ports` when given;
    return (the source address seen, "") or (None, what failed)."""
    token = uuid.uuid4().hex
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        try:
            listener.bind((listen_on, 0))
        except OSError as e:
            return None, f"this machine cannot listen on {listen_on}: {e}"
        listener.listen(4)
        listener.settimeout(CONNECT_TIMEOUT)
        port = listener.getsockname()[1]
        if source_ports is None:
            send = f"exec 3<>/dev/tcp/{listen_on}/{port} && printf %s {token} >&3"
            command = f"timeout {CONNECT_TIMEOUT} bash -c {shlex.quote(send)}"
        else:
            low, high = source_ports
            command = shlex.join(["timeout", str(CONNECT_TIMEOUT + 2), "python3", "-c", _FROM_PORT, listen_on,
                                  str(port), str(low), str(high), token, str(CONNECT_TIMEOUT)])
        sent = remote.run(command, check=False)
        if not sent.ok:
            last = sent.stderr.strip().splitlines()[-1:]  # a traceback's last line says what failed
            return None, f"{listen_on}:{port}: {last[0] if last else f'exit {sent.rc}'}"
        try:
            connection, (address, _) = listener.accept()
        except socket.timeout:
            return None, f"{listen_on}:{port}: the client said it connected, the listener saw nothing"
        with connection:
            connection.settimeout(CONNECT_TIMEOUT)
            if connection.recv(64).decode(errors="replace") != token:
                return None, f"{listen_on}:{port}: a connection from {address} without the client's token"
        return address, ""


# Run in a namespace: try every (address, port) at once; print those that answered.
_CONNECT_ALL = """
import json, socket, sys
from concurrent.futures import ThreadPoolExecutor
targets, timeout = json.loads(sys.argv[1]), float(sys.argv[2])
def answers(target):
    address, port = target
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:  # refused, unreachable, or dropped (timeout)
        return False
with ThreadPoolExecutor(64) as pool:
    print(json.dumps([t for t, ok in zip(targets, pool.map(answers, targets)) if ok]))
"""


def answering_from_namespace(netns: str, targets: list[tuple[str, int]], timeout: float = 2.0) -> set[tuple[str, int]]:
    """The (address, port) pairs of `targets` that accept a TCP connection made
    from network namespace `netns` of this machine (as root)."""
    done = subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-c", _CONNECT_ALL,
                           json.dumps(targets), str(timeout)],
                          capture_output=True, text=True, timeout=60 + timeout * len(targets) / 32)
    if done.returncode != 0:
        raise RuntimeError(f"probe in namespace {netns} failed (exit {done.returncode}): {done.stderr.strip()[-300:]}")
    return {(a, p) for a, p in json.loads(done.stdout)}


# Run on a host: a TLS client that trusts the suite's authority but shows no
# certificate ("none") or a self-made one naming an admitted host ("foreign");
# print how the server took it. TLS 1.3 servers judge the client's certificate
# after the handshake, so the verdict is read from the first receive.
_TLS_STRANGER = """
import os, shutil, socket, ssl, subprocess, sys, tempfile
address, port, ca, kind, name, timeout = sys.argv[1:]
context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
context.load_verify_locations(ca)
context.check_hostname = False   # the client's side is under test here, not the server's name
folder = tempfile.mkdtemp()
try:
    if kind == "foreign":
        key, cert = os.path.join(folder, "key.pem"), os.path.join(folder, "cert.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-nodes", "-subj", "/CN=" + name, "-days", "1", "-keyout", key, "-out", cert],
                       check=True, capture_output=True)
        context.load_cert_chain(cert, key)
    try:
        raw = socket.create_connection((address, int(port)), timeout=float(timeout))
    except OSError as e:   # nothing to judge: no TLS server answered
        print(f"no server: {e}")
        sys.exit(0)
    with raw:
        try:
            tls = context.wrap_socket(raw)   # the handshake: the server's certificate is verified
        except ssl.SSLCertVerificationError as e:
            print(f"bad server certificate: {e}")
            sys.exit(0)
        except (ssl.SSLError, ConnectionError) as e:   # TLS 1.2 judges the client within the handshake
            print(f"refused: in the handshake: {e}")
            sys.exit(0)
        with tls:
            try:
                data = tls.recv(1)
                print("refused: closed" if not data else "accepted: it sent data")
            except socket.timeout:
                print("accepted: the connection stayed open, waiting for a request")
            except (ssl.SSLError, ConnectionError) as e:
                print(f"refused: {e}")
finally:
    shutil.rmtree(folder, ignore_errors=True)
"""


def tls_stranger(remote, address: str, port: int, ca_file: str, kind: str, name: str,
                 timeout: float = 5.0) -> str:
    """How the TLS server at address:port treats a client from `remote`'s host
    that has no certificate (kind "none") or a self-signed one for `name`
    ("foreign"): "refused: ...", "accepted: ...", "bad server certificate: ..."
    (not the suite's), or "no server: ..." when nothing answered the connection."""
    done = remote.run(shlex.join(["timeout", str(timeout + 20), "python3", "-c", _TLS_STRANGER, address, str(port),
                                  ca_file, kind, name, str(timeout)]), check=False)
    if not done.ok:
        last = done.stderr.strip().splitlines()[-1:]
        raise RuntimeError(f"TLS probe to {address}:{port} failed (exit {done.rc}): {last[0] if last else ''}")
    return done.stdout.strip()
