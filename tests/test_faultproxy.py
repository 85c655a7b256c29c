"""FaultProxy in front of real servers: moto's AWS API through boto3, OpenBao through hvac."""

from __future__ import annotations

import http.client
import json
import time
import uuid

import boto3
import botocore.config
import hvac
import hvac.exceptions
import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from abstractcore_secrets.testing import free_port
from abstractcore_secrets.testing.faultproxy import FaultProxy

pytestmark = pytest.mark.server

THROTTLING = b'{"__type":"ThrottlingException","message":"Rate exceeded"}'
AWS_JSON = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": "fault-1"}


@pytest.fixture
def moto_address(moto_server):
    """The session's real moto server."""
    return moto_server


@pytest.fixture
def proxy(moto_address):
    """A running proxy in front of moto."""
    with FaultProxy(moto_address) as running:
        yield running


@pytest.fixture
def secret_name(moto_address, aws_credentials):
    """A secret holding 'value-1', created straight in moto so the proxy counts nothing."""
    name = f"faultproxy-{uuid.uuid4().hex}"
    direct = boto3.client("secretsmanager", endpoint_url=moto_address)
    direct.create_secret(Name=name, SecretString="value-1")
    direct.close()
    return name


@pytest.fixture
def client(proxy, secret_name):
    """A boto3 Secrets Manager client through the proxy, making one attempt per call."""
    # total_max_attempts, not max_attempts: botocore's max_attempts counts retries after the
    # first, so max_attempts=1 would retry a throttled call once and succeed.
    config = botocore.config.Config(
        retries={"total_max_attempts": 1}, connect_timeout=1, read_timeout=1
    )
    aws = boto3.client("secretsmanager", endpoint_url=proxy.address, config=config)
    yield aws
    aws.close()


def secret_value(client, name):
    return client.get_secret_value(SecretId=name)["SecretString"]


class TestFaultProxy:
    def test_passes_requests_through(self, proxy, client, secret_name):
        """Without faults, boto3 creates and reads secrets through the proxy as if direct."""
        client.create_secret(Name=f"{secret_name}-new", SecretString="value-2")
        assert secret_value(client, f"{secret_name}-new") == "value-2"
        assert secret_value(client, secret_name) == "value-1"
        assert (proxy.requests, proxy.forwarded, proxy.paths) == (3, 3, ["/", "/", "/"])

    def test_respond_fakes_throttling_for_the_given_number_of_requests(
        self, proxy, client, secret_name
    ):
        """respond(times=1) makes one call a ThrottlingException, then requests pass again."""
        proxy.respond(400, THROTTLING, AWS_JSON, times=1)
        with pytest.raises(ClientError) as caught:
            secret_value(client, secret_name)
        assert caught.value.response["Error"] == {
            "Code": "ThrottlingException",
            "Message": "Rate exceeded",
        }
        assert caught.value.response["ResponseMetadata"]["RequestId"] == "fault-1"
        assert secret_value(client, secret_name) == "value-1"
        assert (proxy.requests, proxy.forwarded) == (2, 1)

    def test_delay_beyond_read_timeout_times_out_until_cleared(self, proxy, client, secret_name):
        """A delay longer than the read timeout is a ReadTimeoutError; clear() ends it."""
        proxy.delay(30)
        with pytest.raises(ReadTimeoutError):
            secret_value(client, secret_name)
        proxy.clear()
        assert secret_value(client, secret_name) == "value-1"
        assert proxy.requests == 2

    def test_stop_cuts_a_delay_short(self, proxy, client, secret_name):
        """stop() returns at once though a request sleeps, and that request is never forwarded."""
        proxy.delay(30)
        with pytest.raises(ReadTimeoutError):
            secret_value(client, secret_name)
        started = time.monotonic()
        proxy.stop()
        assert time.monotonic() - started < 5
        assert (proxy.requests, proxy.forwarded) == (1, 0)

    def test_drop_closes_the_connection_unanswered(self, proxy, client, secret_name):
        """A dropped request is a ConnectionClosedError; the next one gets through."""
        proxy.drop(times=1)
        with pytest.raises(ConnectionClosedError):
            secret_value(client, secret_name)
        assert secret_value(client, secret_name) == "value-1"
        assert (proxy.requests, proxy.forwarded) == (2, 1)

    def test_stop_refuses_connections_and_start_listens_again(self, proxy, client, secret_name):
        """After stop() even a kept-alive client cannot connect; start() serves the same port."""
        assert secret_value(client, secret_name) == "value-1"
        address = proxy.address
        proxy.stop()
        with pytest.raises(EndpointConnectionError):
            secret_value(client, secret_name)
        proxy.start()
        assert proxy.address == address
        assert secret_value(client, secret_name) == "value-1"
        assert (proxy.requests, proxy.forwarded) == (2, 2)

    def test_rejects_bad_arguments(self, proxy):
        """An upstream that is not plain http, or times below 1, is a ValueError."""
        with pytest.raises(ValueError, match="upstream must look like"):
            FaultProxy("https://127.0.0.1:8200")
        with pytest.raises(ValueError, match="times must be at least 1"):
            proxy.drop(times=0)

    def test_unreachable_upstream_is_bad_gateway(self):
        """With nothing listening upstream the proxy answers 502, and a broken chunk 400."""
        with FaultProxy(f"http://127.0.0.1:{free_port()}") as proxy:
            connection = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=5)
            connection.request("GET", "/v1/sys/health?standbyok=true")
            answer = connection.getresponse()
            assert (answer.status, answer.read()) == (502, b"fault proxy: upstream failed\n")
            connection.putrequest("POST", "/")
            connection.putheader("Transfer-Encoding", "chunked")
            connection.endheaders(b"zz\r\n")
            answer = connection.getresponse()
            assert answer.status == 400
            answer.read()
            connection.close()
        assert (proxy.requests, proxy.forwarded, proxy.paths) == (
            1,
            0,
            ["/v1/sys/health?standbyok=true"],
        )

    def test_vault_reads_pass_and_a_sealed_answer_is_vault_down(self, openbao):
        """hvac reads through the proxy; a faked 503 on one path is hvac's VaultDown."""
        openbao.put_kv("faultproxy-a", {"openai": "vault-a"})
        openbao.put_kv("faultproxy-b", {"openai": "vault-b"})
        sealed = b'{"errors":["Vault is sealed"]}'
        with FaultProxy(openbao.address) as proxy:
            vault = hvac.Client(url=proxy.address, token=openbao.root_token)
            kv = vault.secrets.kv.v2
            proxy.respond(503, sealed, {"Content-Type": "application/json"}, path_contains="-b")
            answer = kv.read_secret_version(
                path="faultproxy-a", mount_point="secret", raise_on_deleted_version=True
            )
            assert answer["data"]["data"] == {"openai": "vault-a"}
            with pytest.raises(hvac.exceptions.VaultDown, match="Vault is sealed"):
                kv.read_secret_version(
                    path="faultproxy-b", mount_point="secret", raise_on_deleted_version=True
                )
            vault.adapter.close()
        assert (proxy.requests, proxy.forwarded, proxy.paths) == (
            2,
            1,
            ["/v1/secret/data/faultproxy-a", "/v1/secret/data/faultproxy-b"],
        )

    def test_chunked_request_body_is_forwarded(self, openbao):
        """A chunked write reaches OpenBao whole, and its answer comes back with its status."""
        with FaultProxy(openbao.address) as proxy:
            connection = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=5)
            body = iter([b'{"data": {"openai": ', b'"chunked-value"}}'])
            connection.request(
                "POST",
                "/v1/secret/data/faultproxy-chunked",
                body=body,
                headers={"X-Vault-Token": openbao.root_token},
                encode_chunked=True,
            )
            answer = connection.getresponse()
            assert (answer.status, json.loads(answer.read())["data"]["version"]) == (200, 1)
            connection.close()
        stored = openbao.request("GET", "secret/data/faultproxy-chunked")
        assert stored["data"]["data"] == {"openai": "chunked-value"}
