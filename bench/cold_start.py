"""Cold-start import figures of the `api` Lambda beside Compox's server (issue 9).

Times, each in a fresh Python process and interleaved so machine noise hits both alike:
- `from functions.api.app import handler`, in the environment the API Lambda has: every variable that
  template.yaml gives ApiFunction (Globals and its own), with fake values, plus the ones the Lambda
  runtime sets (LAMBDA_TASK_ROOT, the X-Ray daemon's address, credentials), so Powertools and the X-Ray
  SDK behave as on AWS with `Tracing: Active`; then the first request (GET /health through the handler,
  with a sampled trace header) in the same process;
- `import compox.run_server` (compox 3.2.0, installed once into a venv of its own under .bench/).

Each figure is measured inside the child around the statement, so the interpreter's own start-up (the
same for both) is left out. Nothing connects anywhere: the credentials are fake and no AWS call is made.

Usage: python bench/cold_start.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
from stratus.local.template import load_template

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
COMPOX = "compox==3.2.0"
COMPOX_VENV = ROOT / ".bench" / "compox-venv"
TARGET_RATIO = 0.5
# What the Lambda runtime itself sets (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html),
# with the X-Ray daemon on a local port nothing listens on and fake credentials: no request leaves the host.
LAMBDA_RUNTIME_ENVIRONMENT = {
    "LAMBDA_TASK_ROOT": str(ROOT / "functions" / "api"),
    "AWS_LAMBDA_FUNCTION_NAME": "stratus-ApiFunction",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_SESSION_TOKEN": "bench",
    "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
    "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
    "AWS_EC2_METADATA_DISABLED": "true",
}
HANDLER_CHILD = """
import json, time
from types import SimpleNamespace
start = time.perf_counter()
from functions.api.app import handler
imported = time.perf_counter()
import os
os.environ["_X_AMZN_TRACE_ID"] = "Root=1-6745a1b2-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1"
context = SimpleNamespace(
    function_name="stratus-ApiFunction", memory_limit_in_mb=1024, aws_request_id="bench",
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:stratus-ApiFunction",
    get_remaining_time_in_millis=lambda: 29_000,
)
with open("events/apigw/get_health.json") as stream:
    event = json.load(stream)
answered = time.perf_counter()
response = handler(event, context)
done = time.perf_counter()
assert response["statusCode"] == 200, response
print(json.dumps({"import": imported - start, "first_request": done - answered}))
"""
COMPOX_CHILD = """
import json, time
start = time.perf_counter()
import compox.run_server
print(json.dumps({"import": time.perf_counter() - start}))
"""


def api_environment() -> dict[str, str]:
    """ApiFunction's variables from template.yaml: literals and parameter defaults as written, the rest
    (resource names, ARNs) fake."""
    template = load_template(TEMPLATE)
    parameters = template.get("Parameters", {})
    variables = {
        **template["Globals"]["Function"]["Environment"]["Variables"],
        **template["Resources"]["ApiFunction"]["Properties"].get("Environment", {}).get("Variables", {}),
    }
    environment = {}
    for name, value in variables.items():
        if isinstance(value, str | int | float):
            environment[name] = str(value)
        elif isinstance(value, dict) and value.get("Ref") in parameters:
            environment[name] = str(parameters[value["Ref"]].get("Default", ""))
        elif name.endswith("_ARN"):
            environment[name] = f"arn:aws:states:us-east-1:123456789012:stateMachine:bench-{name.lower()}"
        else:
            environment[name] = f"bench-{name.lower().replace('_', '-')}"
    return environment


def compox_python() -> Path:
    """The Python of a venv holding compox 3.2.0, made on first use and reused after."""
    python = COMPOX_VENV / "bin" / "python"
    check = [str(python), "-c", "import importlib.metadata as m; assert m.version('compox') == '3.2.0'"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    print(f"installing {COMPOX} into {COMPOX_VENV.relative_to(ROOT)} (once)", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(COMPOX_VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-qq", COMPOX], check=True)
    return python


def run_child(python: str, code: str, environment: dict[str, str]) -> dict[str, float]:
    """Run ``code`` in a fresh interpreter; its last stdout line is a JSON object of seconds."""
    result = subprocess.run(
        [python, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"child failed:\n{result.stderr}")
    figures: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def summary(samples: list[float]) -> str:
    """Median and p90 in milliseconds."""
    median, p90 = statistics.median(samples) * 1000, float(np.percentile(samples, 90)) * 1000
    return f"median {median:7.1f} ms   p90 {p90:7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=30, help="timed processes of each kind")
    arguments = parser.parse_args()
    compox = str(compox_python())
    base = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "POWERTOOLS_"))}
    handler_environment = {**base, **api_environment(), **LAMBDA_RUNTIME_ENVIRONMENT}
    compox_environment = {**base, **LAMBDA_RUNTIME_ENVIRONMENT}
    runs: dict[str, list[float]] = {"handler": [], "first_request": [], "compox": []}

    def handler_run() -> None:
        figures = run_child(sys.executable, HANDLER_CHILD, handler_environment)
        runs["handler"].append(figures["import"])
        runs["first_request"].append(figures["first_request"])

    def compox_run() -> None:
        runs["compox"].append(run_child(compox, COMPOX_CHILD, compox_environment)["import"])

    # One untimed run of each writes the bytecode caches; then alternate which goes first.
    run_child(sys.executable, HANDLER_CHILD, handler_environment)
    run_child(compox, COMPOX_CHILD, compox_environment)
    for index in range(arguments.runs):
        first, second = (handler_run, compox_run) if index % 2 == 0 else (compox_run, handler_run)
        first()
        second()
    cold = [
        imported + request for imported, request in zip(runs["handler"], runs["first_request"], strict=True)
    ]
    compox_median = statistics.median(runs["compox"])
    ratio = statistics.median(runs["handler"]) / compox_median
    print(f"api handler import      {summary(runs['handler'])}   ({arguments.runs} processes each)")
    print(f"compox 3.2.0 import     {summary(runs['compox'])}")
    print(f"first request (health)  {summary(runs['first_request'])}")
    # What a caller waits for: work the import leaves to the first request is not saved, only moved.
    print(
        f"import + first request  {summary(cold)}   ({statistics.median(cold) / compox_median:.2f}x compox)"
    )
    print(f"handler / compox        {ratio:5.2f}x   target <= {TARGET_RATIO}x")


if __name__ == "__main__":
    main()
