"""A stdio MCP server tied to tether's life: `python tied.py TETHER_PID COMMAND [ARGS...]`.

The SDK starts each server in a session of its own, so that closing it kills the server's whole
process group; but nothing kills that group when tether itself is killed (kill -9, the OOM
killer) during a call: the server went on under PID 1. mcp/client.py starts every stdio server
through this script instead. It asks to be signalled when tether dies (Linux: PR_SET_PDEATHSIG;
elsewhere a thread watches its parent), starts the server in its own group (stdin, stdout and
stderr are the SDK's pipes, passed on), and on that signal kills the group: the server, what the
server started (npx's node, uvx's python), and itself. It exits as the server exits, so the SDK
sees the server's end. Run by path with `-I -S`: it needs the standard library alone."""

import os
import signal
import subprocess
import sys
import threading
import time

GONE = signal.SIGHUP  # what the kernel sends this process when tether dies
PR_SET_PDEATHSIG = 1


def end(*_) -> None:
    """Kill the group: the server, whatever it started, and this process."""
    os.killpg(0, signal.SIGKILL)


def watch(parent: int) -> None:
    """Be signalled when `parent` dies (a pid check after, for a death before the ask)."""
    signal.signal(GONE, end)
    asked = False
    if sys.platform.startswith("linux"):
        import ctypes

        asked = ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(GONE), 0, 0, 0) == 0
    if not asked:
        threading.Thread(target=poll, args=(parent,), daemon=True).start()
    if os.getppid() != parent:  # tether died before the kernel was asked
        end()


def poll(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    end()


def main() -> None:
    parent, argv = int(sys.argv[1]), sys.argv[2:]
    watch(parent)
    try:
        server = subprocess.Popen(argv)
    except OSError as e:
        print(f"cannot start {argv[0]}: {e.strerror or e}", file=sys.stderr)
        sys.exit(127)
    code = server.wait()
    sys.exit(code if code >= 0 else 128 - code)


if __name__ == "__main__":
    main()
