"""Progress lines on stderr ("[2/5] exporting ONNX ...") so long exports show where they are."""

import sys
import time


class Progress:
    def __init__(self, total_steps: int, stream=None, quiet: bool = False):
        self.total_steps = total_steps
        self.step = 0
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self._started = time.monotonic()
        self._step_started = self._started

    def begin(self, what: str) -> None:
        self.step += 1
        self._step_started = time.monotonic()
        self._write(f"[{self.step}/{self.total_steps}] {what} ...")

    def detail(self, text: str) -> None:
        """An indented line under the current step (a parity result, a chosen file)."""
        self._write(f"      {text}")

    def warn(self, text: str) -> None:
        # Warnings are shown even when quiet: they describe something the user should act on.
        print(f"amphora-export: warning: {text}", file=self.stream, flush=True)

    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def _write(self, line: str) -> None:
        if not self.quiet:
            print(line, file=self.stream, flush=True)
