"""The daemon speaks systemd's notify protocol: READY=1 once the store is open and the
port is listening, WATCHDOG=1 pings when the service manager sets a watchdog, STOPPING=1
on SIGTERM. A datagram socket stands in for the service manager."""
import os
import socket
import time

from harness import Daemon, Workdir, check, run

CONFIG = """
store:
  path: {store}
accounts:
  - name: acme-fr
sources:
  - name: acme-export
    type: export
    account: acme-fr
    channel: export
"""


def test(binary):
    with Workdir() as work:
        config_path = os.path.join(work, "replywatch.yml")
        with open(config_path, "w") as f:
            f.write(CONFIG.format(store=os.path.join(work, "replywatch.db")))
        sock_path = os.path.join(work, "notify.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(sock_path)
        sock.settimeout(10)
        os.environ["NOTIFY_SOCKET"] = sock_path
        os.environ["WATCHDOG_USEC"] = "400000"  # the daemon pings on its one-second tick
        try:
            daemon = Daemon(binary, config_path, work)
        finally:
            del os.environ["NOTIFY_SOCKET"]
            del os.environ["WATCHDOG_USEC"]
        messages = []
        deadline = time.time() + 10
        while time.time() < deadline and not any("WATCHDOG=1" in m for m in messages):
            messages.append(sock.recv(4096).decode())
        ready = [i for i, m in enumerate(messages) if "READY=1" in m.split("\n")]
        check(ready, "no READY=1 received: %r" % messages)
        # READY comes once the port is open: the daemon answers by then.
        check(daemon.request("/-/ready")[0] == 200, "READY=1 sent but /-/ready is not 200")
        check(any("WATCHDOG=1" in m for m in messages[ready[0]:]), "no WATCHDOG=1 ping: %r" % messages)
        check(daemon.stop() == 0, "exit code on SIGTERM")
        rest = []
        try:
            while True:
                rest.append(sock.recv(4096).decode())
                if any("STOPPING=1" in m for m in rest):
                    break
        except socket.timeout:
            pass
        check(any("STOPPING=1" in m for m in rest), "no STOPPING=1 on SIGTERM: %r" % rest)
        sock.close()


if __name__ == "__main__":
    run(test)
