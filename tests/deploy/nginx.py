"""Debian's nginx running ``deploy/nginx/micromailer.conf`` as shipped, in front of a port of ours.

The test's main configuration stands in for the image's ``/etc/nginx/nginx.conf``: it keeps
everything under a temporary prefix and ``include``s a copy of the conf in which only the
upstream's address, the listen address and the directives a test names are changed. Each of
those must appear exactly once in the conf, so a renamed directive fails here rather than
leaving a test to exercise something else.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from tests.support.processes import ManagedProcess, clean_env, free_port
from tests.support.servers import unavailable

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "deploy" / "nginx" / "micromailer.conf"
NGINX = Path("/usr/sbin/nginx")

#: What the access log says of each request: enough to tell who answered it.
LOG_FORMAT = '$remote_addr "$request" $status upstream=$upstream_addr'

MAIN_CONF = """\
daemon off;
{user}
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;
events {{ worker_connections 256; }}
http {{
    log_format micromailer_test '{log_format}';
    access_log {prefix}/access.log micromailer_test;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {prefix}/micromailer.conf;
}}
"""


def rewritten_conf(upstream: str, listen: str, **directives: str) -> str:
    """The shipped conf with its upstream server and listen address replaced, and each
    ``directive=value`` set to ``value``."""
    text = CONF.read_text()
    replacements = {"server": f"{upstream}", "listen": listen, **directives}
    for directive, value in replacements.items():
        pattern = re.compile(rf"^(\s*{directive}) [^;]+;", re.MULTILINE)
        if directive == "server":  # the upstream's one server, not `server {`
            pattern = re.compile(r"^(\s*server) [^\s{;]+;", re.MULTILINE)
        text, count = pattern.subn(rf"\1 {value};", text)
        assert count == 1, f"{CONF.name}: expected one `{directive}` directive, found {count}"
    return text


class NginxProxy:
    """nginx on a free port of 127.0.0.1 with the conf, proxying to ``upstream_port``."""

    def __init__(self, prefix: Path, upstream_port: int, **directives: str) -> None:
        if not NGINX.exists():
            unavailable(f"{NGINX} is not installed (Debian's nginx-light: make deploy-tools)")
        self.prefix = prefix
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        prefix.mkdir(parents=True, exist_ok=True)
        (prefix / "micromailer.conf").write_text(rewritten_conf(
            f"127.0.0.1:{upstream_port}", f"127.0.0.1:{self.port}", **directives))
        # As root, nginx would run its workers as `nobody`, who cannot enter the test's
        # temporary directories: keep them as this user.
        user = "user root;" if os.geteuid() == 0 else ""
        (prefix / "nginx.conf").write_text(MAIN_CONF.format(
            user=user, prefix=prefix, log_format=LOG_FORMAT))
        self.process = ManagedProcess(
            ["-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", "stderr"],
            clean_env(), prefix / "nginx.log", program=[str(NGINX)],
        )

    def start(self) -> NginxProxy:
        self.process.start().wait_http(f"{self.url}/healthz", ok=(200, 502))
        return self

    def stop(self) -> None:
        self.process.stop()

    def access_log_line(self, marker: str, timeout: float = 10) -> str:
        """The access log's line for the one request whose line holds ``marker`` (nginx
        writes it as the request ends, which may be just after the client got its answer)."""
        log = self.prefix / "access.log"
        deadline = time.monotonic() + timeout
        while True:
            lines = [line for line in log.read_text().splitlines() if marker in line]
            if lines or time.monotonic() > deadline:
                assert len(lines) == 1, f"{len(lines)} access log lines hold {marker!r}"
                return lines[0]
            time.sleep(0.1)

    def error_log(self) -> str:
        return (self.prefix / "error.log").read_text(errors="replace")


__all__ = ["CONF", "NGINX", "NginxProxy", "rewritten_conf"]
