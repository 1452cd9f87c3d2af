"""The kept-connection reading against two small local HTTP servers: one that
closes after every answer without saying so (Debian's uwsgi APIs before the
fix), one that says `Connection: close`. The reading must tell them apart."""
import socket
import threading

import pytest

from checks.openstack import kept_connection_problem


def serve(say_close: bool):
    listener = socket.create_server(("127.0.0.1", 0))

    def run():
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            with client:
                request = b""
                while b"\r\n\r\n" not in request:
                    chunk = client.recv(4096)
                    if not chunk:
                        break
                    request += chunk
                body = b"" if request.startswith(b"HEAD") else b"ok"
                header = b"Connection: close\r\n" if say_close else b""
                # no Content-Length on a bodied answer: ended by the close, like uwsgi's
                client.sendall(b"HTTP/1.1 200 OK\r\n" + header + b"\r\n" + body)

    threading.Thread(target=run, daemon=True).start()
    return listener


@pytest.mark.parametrize("say_close, broken", [(False, True), (True, False)])
def test_a_server_that_closes_silently_is_named(say_close, broken):
    listener = serve(say_close)
    try:
        problem = kept_connection_problem(f"http://127.0.0.1:{listener.getsockname()[1]}")
    finally:
        listener.close()
    if broken:
        assert problem is not None and "after a HEAD answered 200 without 'Connection: close'" in problem
    else:
        assert problem is None
