"""The runner channel: JSON objects framed by length, under a size cap, and nothing else."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator

import pytest

from gpu_worker.sandbox.protocol import Channel, ChannelClosedError, ProtocolError


@pytest.fixture
def ends() -> Iterator[tuple[Channel, socket.socket]]:
    """A channel and the raw socket of its other end."""
    ours, theirs = socket.socketpair()
    with ours, theirs:
        yield Channel(ours, max_bytes=1024), theirs


def test_channel_round_trips_an_object() -> None:
    left, right = socket.socketpair()
    with left, right:
        Channel(left).send({"id": 1, "method": "log", "params": {"message": "héllo"}})

        assert Channel(right).receive() == {"id": 1, "method": "log", "params": {"message": "héllo"}}


def test_channel_refuses_a_message_over_its_cap(ends: tuple[Channel, socket.socket]) -> None:
    channel, other = ends
    other.sendall(struct.pack("!I", 1025) + b"{}")

    with pytest.raises(ProtocolError, match="over the channel"):
        channel.receive()


def test_channel_refuses_bytes_that_are_not_json(ends: tuple[Channel, socket.socket]) -> None:
    channel, other = ends
    other.sendall(struct.pack("!I", 3) + b"\x80\x04K")  # a pickle, which is never unpickled

    with pytest.raises(ProtocolError, match="not JSON"):
        channel.receive()


def test_channel_refuses_json_that_is_not_an_object(ends: tuple[Channel, socket.socket]) -> None:
    channel, other = ends
    other.sendall(struct.pack("!I", 2) + b"[]")

    with pytest.raises(ProtocolError, match="not a JSON object"):
        channel.receive()


def test_channel_reports_the_other_end_closing(ends: tuple[Channel, socket.socket]) -> None:
    channel, other = ends
    other.sendall(struct.pack("!I", 10) + b"{")
    other.close()

    with pytest.raises(ChannelClosedError):
        channel.receive()


def test_channel_refuses_to_send_a_message_over_its_cap(ends: tuple[Channel, socket.socket]) -> None:
    channel, _ = ends

    with pytest.raises(ProtocolError):
        channel.send({"message": "x" * 2048})
