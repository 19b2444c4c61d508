"""A vocoder as a Ray Serve deployment: replicas of amphora.Vocoder behind HTTP, scaled by hand
(--replicas N) or by load (--autoscale), one CPU and one intra-op thread per replica.

    python examples/ray/serve_vocoder.py PACKAGE [--replicas N | --autoscale] [--port 8000]
    curl --data-binary @mel.npy localhost:8000/vocode -o audio.f32       # whole
    curl -N --data-binary @mel.npy 'localhost:8000/stream?chunk_frames=16' -o audio.f32

The request body is a mel as .npy ([n_mels, T] or [1, n_mels, T]); the response is the samples,
float32 little-endian mono at the X-Sample-Rate header's rate. /stream sends them as the
vocoder's stream makes them final (its output equals /vocode's within 1e-4)."""

# No `from __future__ import annotations`: FastAPI reads the handlers' annotations (Request).
import argparse
import asyncio
import io

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response, StreamingResponse
from ray import serve

import amphora

api = FastAPI()

# Load-based scaling: a replica per two requests in flight, between one and four replicas.
AUTOSCALING = {"min_replicas": 1, "max_replicas": 4, "target_ongoing_requests": 2}


@api.exception_handler(amphora.Error)
def refuse(request: Request, error: amphora.Error) -> PlainTextResponse:
    """The library's message, as 400 for bad input (a wrong mel) and 500 for the rest."""
    status = 400 if isinstance(error, ValueError) else 500
    return PlainTextResponse(str(error), status_code=status)


def read_mel(body: bytes) -> np.ndarray:
    try:
        return np.load(io.BytesIO(body), allow_pickle=False)
    except (ValueError, OSError) as error:
        raise amphora.InvalidArgumentError(f"the request body is not a .npy mel: {error}")


@serve.deployment(ray_actor_options={"num_cpus": 1})
@serve.ingress(api)
class VocoderDeployment:
    def __init__(self, package: str, threads: int = 1):
        self.vocoder = amphora.Vocoder(package, threads=threads)
        self.headers = {"X-Sample-Rate": str(self.vocoder.sample_rate)}

    @api.post("/vocode")
    async def vocode(self, request: Request) -> Response:
        mel = read_mel(await request.body())
        # vocode() releases the GIL: on a worker thread it leaves the replica's loop free.
        audio = await asyncio.to_thread(self.vocoder.vocode, mel)
        return Response(audio.tobytes(), media_type="application/octet-stream",
                        headers=self.headers)

    @api.post("/stream")
    async def stream(self, request: Request, chunk_frames: int = 16) -> StreamingResponse:
        mel = read_mel(await request.body())
        mel = mel.reshape(mel.shape[-2:])
        stream = self.vocoder.stream()

        def chunks():  # a plain generator: Starlette runs it on a worker thread
            for start in range(0, mel.shape[1], chunk_frames):
                yield stream.push(mel[:, start:start + chunk_frames]).tobytes()
            yield stream.finish().tobytes()

        return StreamingResponse(chunks(), media_type="application/octet-stream",
                                 headers=self.headers)


def app(package: str, replicas: int | None = 1, autoscale: bool = False, threads: int = 1):
    """The application: `replicas` fixed replicas, or AUTOSCALING's range when autoscale."""
    options = {"autoscaling_config": AUTOSCALING} if autoscale else {"num_replicas": replicas}
    return VocoderDeployment.options(**options).bind(package, threads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("package", help="a vocoder package directory or .onnx")
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--autoscale", action="store_true", help="scale between 1 and 4 by load")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    serve.start(http_options={"host": "127.0.0.1", "port": args.port})
    serve.run(app(args.package, args.replicas, args.autoscale), blocking=True)


if __name__ == "__main__":
    main()
