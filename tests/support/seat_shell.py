"""A seat's confined shell driven on a real pty, as a terminal drives it: type a line, read until it is done."""

import fcntl
import os
import re
import select
import subprocess
import termios
import time

ESCAPES = re.compile(r"\x1b(\[[0-9;?]*[a-zA-Z]|\][^\x07]*\x07)")  # colours, bracketed paste, window titles

class ShellOnPty:
    """Run (argv, env, preexec_fn) from SeatHost.shell on a new pty, as its controlling terminal."""

    def __init__(self, argv, env, preexec_fn):
        self.master, terminal = os.openpty()

        def controlling_terminal_then_preexec():
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
            preexec_fn()

        self.process = subprocess.Popen(argv, stdin=terminal, stdout=terminal, stderr=terminal, env=env,
                                        preexec_fn=controlling_terminal_then_preexec, start_new_session=True,
                                        close_fds=True, cwd="/")
        os.close(terminal)
        self.seen = b""

    def run(self, command, timeout=60):
        """(exit status, output) of one command line typed into the shell (its output only, without colours)."""
        os.write(self.master, (command + '; echo "__D""ONE__$?"\n').encode())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(rb"__DONE__(\d+)", self.seen)
            if found:
                output, self.seen = self.seen[:found.start()], self.seen[found.end():]
                text = ESCAPES.sub("", output.decode(errors="replace")).replace("\r", "")
                return int(found.group(1)), text.split('"__D""ONE__$?"\n')[-1]
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                self.seen += chunk
        raise AssertionError(f"{command!r} did not finish within {timeout} s; the terminal shows {self.seen[-1500:]!r}")

    def close(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)
        os.close(self.master)
