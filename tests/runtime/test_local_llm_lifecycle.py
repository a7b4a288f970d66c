"""The local model server never outlives its parent, even when the parent is killed."""

import os
import signal
import subprocess
import sys
import time

import psutil

PARENT = """
import sys, time
from runtime.local_llm import LocalLLMServer
server = LocalLLMServer()
server.start()
print(server.port, flush=True)
time.sleep(600)
"""


def _llama_children(pid: int) -> list[psutil.Process]:
    return [p for p in psutil.Process(pid).children(recursive=True) if "runtime.llama_server" in " ".join(p.cmdline())]


def test_server_dies_with_a_killed_parent():
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True, cwd=os.getcwd())
    try:
        port = int(parent.stdout.readline().strip())
        children = _llama_children(parent.pid)
        assert len(children) == 1
        child = children[0]
        assert any(c.laddr.port == port for c in child.net_connections() if c.status == "LISTEN")
        os.kill(parent.pid, signal.SIGKILL)  # no atexit, no cleanup: only PDEATHSIG can save us
        parent.wait(timeout=10)
        gone, alive = psutil.wait_procs([child], timeout=15)
        assert alive == [], "llama.cpp server outlived its killed parent"
    finally:
        if parent.poll() is None:
            parent.kill()


def test_stop_terminates_and_frees_the_port():
    from runtime.local_llm import LocalLLMServer

    server = LocalLLMServer()
    server.start()
    assert server.healthy()
    server.stop()
    time.sleep(0.2)
    assert not server.healthy()
    server.stop()  # idempotent
