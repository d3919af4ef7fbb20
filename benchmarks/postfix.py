"""A private Postfix on loopback that limits each client to N messages per T seconds, as a relay does.

Debian's ``postfix`` package, our own configuration directory, queue and log under ``var/``, a
non-standard port on 127.0.0.1, and every message delivered to the ``discard`` transport. The
limit is anvil's: ``smtpd_client_message_rate_limit`` messages per ``anvil_rate_time_unit``;
past it Postfix answers ``450 4.7.1 Error: too much mail from 127.0.0.1`` at MAIL FROM. The
system's Postfix (``/etc/postfix``) is neither used nor started.
"""

import re
import shutil
import subprocess
import time
from collections import Counter
from pathlib import Path

MASTER = """\
{port} inet n - n - - smtpd
pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
"""

MAIN = """\
compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
maillog_file = {root}/maillog
maillog_file_prefixes = {root}
syslog_name = postfix-bench
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = relay.bench.invalid
mydestination =
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
default_transport = discard:bench
local_transport = discard:bench
relay_transport = discard:bench
alias_maps =
alias_database =
smtpd_client_message_rate_limit = {count}
anvil_rate_time_unit = {seconds}s
# Loopback is in mynetworks, which is exempt from anvil's limits by default: not here.
smtpd_client_event_limit_exceptions =
"""


def available():
    """True when Debian's Postfix is installed (``apt-get install postfix``)."""
    return shutil.which("postfix") is not None or Path("/usr/sbin/postfix").exists()


class Postfix:
    """``Postfix(root, port, count, seconds).start()``: a relay taking ``count`` messages per ``seconds`` per client."""

    def __init__(self, root, port=10587, count=100, seconds=10):
        self.root, self.port, self.count, self.seconds = Path(root).resolve(), port, count, seconds

    @property
    def url(self):
        return f"smtp://127.0.0.1:{self.port}"

    def _postfix(self, *args):
        return subprocess.run(
            ["/usr/sbin/postfix", "-c", str(self.root / "etc"), *args], capture_output=True, text=True, check=False
        )

    def start(self):
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
        (self.root / "etc").mkdir(parents=True)
        self.root.chmod(0o755)  # Postfix's own user must reach data/ (the umask may say otherwise)
        (self.root / "data").mkdir()
        (self.root / "queue").mkdir()
        shutil.chown(self.root / "data", "postfix")
        values = {"root": self.root, "port": f"127.0.0.1:{self.port}", "count": self.count, "seconds": self.seconds}
        (self.root / "etc" / "main.cf").write_text(MAIN.format(**values))
        (self.root / "etc" / "master.cf").write_text(MASTER.format(**values))
        for step in (("set-permissions",), ("check",), ("start",)):
            done = self._postfix(*step)
            if done.returncode != 0 and step != ("set-permissions",):
                raise RuntimeError(f"postfix {step[0]} failed: {done.stderr or done.stdout}")
        self._wait_listening()
        return self

    def _wait_listening(self, timeout=20):
        import socket

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    if sock.recv(100).startswith(b"220"):
                        return
            except OSError:
                time.sleep(0.1)
        raise TimeoutError(f"postfix did not listen on 127.0.0.1:{self.port}")

    def stop(self):
        if (self.root / "etc" / "main.cf").exists():
            self._postfix("stop")

    def log(self):
        path = self.root / "maillog"
        return path.read_text(errors="replace") if path.exists() else ""

    def accepted(self):
        """``Counter`` of Message-IDs Postfix took in (its cleanup logs each message once)."""
        return Counter(re.findall(r"cleanup\[\d+\]: \w+: message-id=(<[^>]*>)", self.log()))

    def refusals(self):
        """How many times Postfix said "too much mail" (anvil's limit)."""
        return self.log().count("too much mail") or self.log().count("Message delivery request rate limit exceeded")
