"""A Compox runner that misbehaves as its `behaviour` parameter asks: the ways an algorithm's process
ends (or does not) that the worker must turn into a clear outcome."""

import ctypes
import os
import signal
import subprocess
import threading
import time

import numpy as np
from compox.algorithm_utils.BaseRunner import BaseRunner
from compox.algorithm_utils.io_schemas import GenericSchema
from helpers.failures import fail_with_cause


def _memory_error(args):
    raise MemoryError


def _sigkill(args):
    os.kill(os.getpid(), signal.SIGKILL)  # as the kernel's OOM killer would


def _linger(args):
    threading.Thread(target=time.sleep, args=(3600,)).start()  # not a daemon


def _grandchild(args):
    # The output names both processes, for the test to check they end with the job.
    child = subprocess.Popen(["sleep", "3600"])  # noqa: S607
    return np.array([os.getpid(), child.pid])


def _busy(args):
    while True:  # never polls for a stop
        time.sleep(0.01)


BEHAVIOURS = {
    "exit": lambda args: os._exit(3),
    "segfault": lambda args: ctypes.string_at(0),
    "memory_error": _memory_error,
    "sigkill": _sigkill,
    "chained_error": lambda args: fail_with_cause(),
    "linger": _linger,
    "grandchild": _grandchild,
    "busy": _busy,
}


class Runner(BaseRunner):
    """Echo the input's `data`, after doing what `behaviour` asks."""

    def preprocess(self, input_data, args=None):
        return self.fetch_data(input_data["input_dataset_ids"], GenericSchema)[0]["data"]

    def inference(self, data, args=None):
        behaviour = args["behaviour"]
        if behaviour == "state":
            self.set_state({"loss": np.float32(0.5), "steps": np.int64(3), "history": np.arange(2)})
            return np.array([len(self.get_state())])
        result = BEHAVIOURS.get(behaviour, lambda args: None)(args)
        return data if result is None else result

    def postprocess(self, data, args=None):
        if args["behaviour"] == "foreign_output":
            return ["00000000-0000-4000-8000-000000000000"]
        return self.post_data([{"data": data}], GenericSchema)
