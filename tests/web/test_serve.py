"""`leadloop serve`: granian, sized for the database, answering over HTTP."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from leadloop.web.management.commands.serve import granian_command, serve_size
from tests.common.conftest import clean_environ
from tests.sla.conftest import free_port


def test_serve_size_follows_where_the_database_runs() -> None:
    assert serve_size("sqlite", 2) == (4, 1)  # in the process: processes, one thread each
    assert serve_size("sqlite", 8) == (16, 1)
    assert serve_size("postgresql", 2) == (2, 2)  # over a socket: a second thread per process
    assert serve_size("postgresql", 0) == (1, 2)


def test_granian_command_serves_the_wsgi_application() -> None:
    command = granian_command(
        host="0.0.0.0", port=9000, workers=3, threads=2, backlog=512, access_log=False
    )
    assert command[:3] == [sys.executable, "-m", "granian"]
    assert command[-1] == "leadloop.wsgi:application"
    pairs = dict(zip(command[3:-2:2], command[4:-2:2], strict=True))
    assert pairs == {
        "--interface": "wsgi",
        "--host": "0.0.0.0",
        "--port": "9000",
        "--workers": "3",
        "--blocking-threads": "2",
        "--backlog": "512",
    }
    assert command[-2] == "--no-access-log"


def test_leadloop_serve_refuses_zero_processes_naming_the_option(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "leadloop"), "serve", "--workers=0"],
        env=clean_environ(tmp_path / "var"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "argument --workers: must be 1 or more, not 0" in done.stderr


def _request(url: str, data: bytes | None = None, **headers: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_leadloop_serve_answers_pages_and_the_database_over_http(tmp_path: Path) -> None:
    env = clean_environ(
        tmp_path / "var",
        DEBUG="false",
        SECRET_KEY="s" * 50,
        ALLOWED_HOSTS="127.0.0.1",
        LEADLOOP_SSL_REDIRECT="false",  # the TLS proxy in front is not here
    )
    leadloop = str(Path(sys.executable).parent / "leadloop")
    for command in (["migrate", "-v0"], ["collectstatic", "--no-input", "-v0"]):
        done = subprocess.run(
            [leadloop, *command], env=env, capture_output=True, text=True, timeout=300, check=False
        )
        assert done.returncode == 0, done.stderr
    port = free_port()
    server = subprocess.Popen(
        [leadloop, "serve", f"--port={port}", "--workers=2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        assert server.stdout.readline().strip() == (
            f"Serving on http://127.0.0.1:{port}/ with granian (sqlite): processes 2, threads per "
            "process 1."
        )
        for _ in range(200):
            try:
                status, body = _request(f"http://127.0.0.1:{port}/login/")
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("leadloop serve did not answer within 20 s")
        assert status == 200
        assert b'name="password"' in body
        # its style sheet, collected and served by the same processes (whitenoise)
        sheet = re.search(rb'href="(/static/[^"]+\.css)"', body)
        assert sheet is not None, body[:500]
        status, css = _request(f"http://127.0.0.1:{port}{sheet[1].decode()}")
        assert status == 200
        assert len(css) > 100
        # a post to a form that does not exist: looked up in the database, answered by name
        status, body = _request(
            f"http://127.0.0.1:{port}/f/nowhere",
            b"{}",
            Accept="application/json",
            **{"Content-Type": "application/json"},
        )
        assert status == 404
        assert json.loads(body)["detail"][0]["loc"] == ["slug"]
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    assert server.returncode == 0, stderr
