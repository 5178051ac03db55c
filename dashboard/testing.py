"""Harness pieces for tests and benchmarks of a running dashboard (not used by the dashboard itself)."""
from __future__ import annotations

import socket


def stuck_log_client(port: int, host: str = "127.0.0.1") -> socket.socket:
    """A /ws/logs client that completes the WebSocket handshake and then never reads (4 KiB receive
    buffer): the slow reader the log hub must drop lines for without slowing anyone else."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect((host, port))
    s.sendall(f"GET /ws/logs?backlog=0 HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
              "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
              "Sec-WebSocket-Version: 13\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1)
        if not chunk:
            raise ConnectionError(f"the dashboard closed the connection during the handshake: {head!r}")
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        s.close()
        raise ConnectionError(f"the dashboard refused the WebSocket: {head.splitlines()[0]!r}")
    return s
