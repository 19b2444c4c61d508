"""amphora.Synthesizer: the compiled one, plus speech as an iterator of chunks."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

import numpy as np

from . import _amphora

_DONE = object()


class _Stopped(Exception):
    """Raised in the synthesizer's callback once the consumer has stopped listening."""


class Synthesizer(_amphora.Synthesizer):
    """Text to speech: Synthesizer(voice, vocoder, threads=...).speak(text) -> samples."""

    def speak_chunks(self, text: str, *, speaker: int = 0, speed: float = 1.0,
                     chunk_frames: int = 16) -> Iterator[np.ndarray]:
        """Yields the speech as it is made (streamed, chunk_frames mel frames at a time): the
        first chunk comes after the first sentence's acoustic model, not the whole text's.

        speak_to() runs on a worker thread (it releases the GIL while computing); chunks reach
        this generator through a queue. Closing the generator early stops the synthesis at its
        next chunk. An amphora.Error from the synthesis is raised here, after the chunks made
        before it."""
        chunks: queue.Queue = queue.Queue()
        stopped = threading.Event()

        def on_audio(samples: np.ndarray) -> None:
            if stopped.is_set():
                raise _Stopped
            chunks.put(samples)

        def work() -> None:
            try:
                self.speak_to(text, on_audio, speaker=speaker, speed=speed, stream=True,
                              chunk_frames=chunk_frames)
                chunks.put(_DONE)
            except _Stopped:
                pass
            except BaseException as error:  # handed to the consumer, raised there
                chunks.put(error)

        worker = threading.Thread(target=work, name="amphora-speak", daemon=True)
        worker.start()
        try:
            while True:
                item = chunks.get()
                if item is _DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stopped.set()
            worker.join()
