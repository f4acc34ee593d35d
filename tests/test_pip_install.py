"""`pip install .` gives a working `wamulti` command: installed into a fresh venv (offline: its
dependencies come from the test venv through a .pth file), started on a free port with the
simulator backend and SQLite, answering /healthz, /openapi.json and /docs, with every module."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

from tests.server_process import API_KEY, ROOT, ServerProcess

pytestmark = pytest.mark.slow


def run(*args, **kwargs) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=240, **kwargs)
    assert done.returncode == 0, f"{args}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    venv = tmp_path_factory.mktemp("pip") / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", str(venv))
    python = venv / "bin" / "python"
    site = Path(run(str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip())
    # The dependencies (and pip, setuptools) of the test venv, without network: a .pth adds its site-packages.
    (site / "wamulti_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    build = tmp_path_factory.mktemp("pip-build")
    source = build / "source"  # a copy: setuptools writes build/ and *.egg-info next to setup.cfg
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".venv", ".git", "__pycache__", "data", "build",
                                                                "*.egg-info"))
    run(str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
        str(source), cwd=build, env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "TMPDIR": str(build)})
    return venv


def test_every_module_is_installed(venv):
    python = str(venv / "bin" / "python")
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip())
    wanted = {p.relative_to(ROOT) for p in (ROOT / "wamulti").rglob("*.py")}
    installed = {p.relative_to(site) for p in (site / "wamulti").rglob("*.py")}
    assert wanted == installed
    assert not (site / "tests").exists() and not (site / "bench").exists()


def test_the_wamulti_command_serves(venv, tmp_path):
    data = tmp_path / "data"
    server = ServerProcess(data)  # a free port, the simulator, no database: SQLite in DATA_DIR
    log = open(tmp_path / "wamulti.log", "wb")
    # Started from an empty directory, so nothing is imported from the work tree.
    proc = subprocess.Popen([str(venv / "bin" / "wamulti")], cwd=tmp_path, env=server.env,
                            stdout=log, stderr=subprocess.STDOUT)
    server.proc = proc
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, (tmp_path / "wamulti.log").read_text()
            try:
                health = server.request("GET", "/healthz", key=None, timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, "wamulti did not answer within 30 s"
                time.sleep(0.1)
        assert health.status == 200 and health.json["store"] == "sqlite"
        assert server.request("GET", "/openapi.json", key=None).json["openapi"] == "3.1.0"
        assert server.request("GET", "/docs/assets/js/swagger-ui-bundle.js", key=None).status == 200
        assert server.request("GET", "/api/clients", key=API_KEY).json == []
        assert server.terminate()[0] == 0
    finally:
        server.kill()
        log.close()
