"""The runner channel: length-prefixed JSON objects between the worker and its algorithm's process.

Stdlib only: the algorithm's process imports this before it confines itself. The worker reads what
the other end sends as plain JSON under a size cap, never pickle, so a hostile package can hand it
nothing but data; large data travels as files (gpu_worker.sandbox.folders), never through the channel.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
from collections.abc import Callable
from typing import Any

# Control messages only (progress, log lines, ids, sample manifests): inputs, outputs, checkpoint
# assets and session items are files. A message over this is a protocol error, not an allocation.
MAX_MESSAGE_BYTES = 8 * 1024 * 1024
_HEADER = struct.Struct("!I")
_READ_CHUNK_BYTES = 1024 * 1024


class ChannelClosedError(Exception):
    """The other end closed the channel (or its process ended)."""


class ProtocolError(Exception):
    """Bytes that are not a message: over the size cap, not JSON, or not a JSON object."""


class Channel:
    """One end of a stream socket carrying JSON objects. `send` is thread-safe; one thread receives."""

    def __init__(
        self,
        sock: socket.socket,
        max_bytes: int = MAX_MESSAGE_BYTES,
        default: Callable[[Any], Any] | None = None,
    ) -> None:
        self._socket = sock
        self._max_bytes = max_bytes
        # How values JSON lacks are encoded (the algorithm's side turns numpy scalars into numbers).
        self.default = default
        self._send_lock = threading.Lock()

    def fileno(self) -> int:
        """The socket's descriptor, for select."""
        return self._socket.fileno()

    def send(self, message: dict[str, Any]) -> None:
        """Send one object. Raises ProtocolError (too large), TypeError (not JSON), OSError (closed)."""
        body = json.dumps(message, separators=(",", ":"), default=self.default).encode()
        if len(body) > self._max_bytes:
            raise ProtocolError(f"a message of {len(body)} bytes is over the channel's {self._max_bytes}")
        with self._send_lock:
            self._socket.sendall(_HEADER.pack(len(body)) + body)

    def receive(self) -> dict[str, Any]:
        """The next object. Raises ChannelClosedError (end of stream), ProtocolError."""
        (size,) = _HEADER.unpack(self._read_exactly(_HEADER.size))
        if size > self._max_bytes:
            raise ProtocolError(f"a message of {size} bytes is over the channel's {self._max_bytes}")
        try:
            message = json.loads(self._read_exactly(size))
        except (ValueError, RecursionError) as exc:  # RecursionError: absurdly nested JSON
            raise ProtocolError("a message is not JSON") from exc
        if not isinstance(message, dict):
            raise ProtocolError("a message is not a JSON object")
        return message

    def _read_exactly(self, size: int) -> bytes:
        received = bytearray()
        while len(received) < size:
            try:
                chunk = self._socket.recv(min(size - len(received), _READ_CHUNK_BYTES))
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                raise ChannelClosedError("the channel was closed")
            received += chunk
        return bytes(received)

    def close(self) -> None:
        """Close this end; the other end's next receive raises ChannelClosedError."""
        self._socket.close()
