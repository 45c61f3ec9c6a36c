import socket

import pytest

from tests.conftest import NetworkAccessError


def test_guard_refuses_a_public_address():
    with socket.socket() as sock, pytest.raises(NetworkAccessError):
        sock.connect(("93.184.216.34", 443))


def test_guard_refuses_a_host_lookup():
    with pytest.raises(NetworkAccessError):
        socket.getaddrinfo("huggingface.co", 443)


def test_guard_allows_loopback():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.socket() as client:
            client.connect(server.getsockname())
