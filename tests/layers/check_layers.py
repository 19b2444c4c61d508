#!/usr/bin/env python3
"""Fails when a header or source under src/ (or a public header) includes one from a layer it
must not depend on. The layers are the top-level directories of src/ plus the public headers
(include/amphora, "amphora"); ALLOWED below is the one statement of which may use which.

Usage: check_layers.py REPOSITORY_ROOT
"""
import pathlib
import re
import sys

# Each layer may include its own headers and those of the layers listed here; the public headers
# ("amphora") may be included from anywhere and include only each other and the standard library.
LOWER = ["amphora"]
ALLOWED = {
    "amphora": [],
    "core": LOWER,
    "graph": LOWER + ["core"],
    "ops": LOWER + ["core", "graph"],
    "passes": LOWER + ["core", "graph", "ops"],
    "runtime": LOWER + ["core", "graph", "ops", "passes"],
    # Beside ops: signal processing on tensors, no graphs.
    "audio": LOWER + ["core"],
    # Beside ops too: the English front end (libflite), text in, phone symbols out.
    "text": LOWER + ["core"],
    # The time-axis analysis and the stateful streamer run kernels much as a Session does.
    "stream": LOWER + ["core", "graph", "ops", "passes", "runtime"],
    # Beside the runtime: each implements runtime/backend.hpp and registers with it.
    "backends": LOWER + ["core", "graph", "ops", "passes", "runtime"],
    "pipeline": LOWER + ["core", "graph", "ops", "passes", "runtime", "stream", "audio",
                 "text"],
    # `amphora serve` (HTTP, cpp-httplib), under the CLI that starts it: the public API, with
    # the .npy reader and the audio files and mel of the layers below.
    "serve": LOWER + ["core", "audio"],
    # On top: everything but the backends, which it reaches through the API.
    "cli": LOWER + ["core", "graph", "ops", "passes", "runtime", "stream", "audio", "text",
                    "pipeline", "serve"],
    # On top too: the C ABI (include/amphora/amphora.h), built on the public C++ API alone, so
    # that what C programs get is what C++ programs get.
    "capi": LOWER,
    # The Python module (nanobind) likewise: Python gets what C++ programs get.
    "python": LOWER,
}

# The C ABI's header is C: it may include these headers of the C standard library.
C_HEADERS = {"stddef.h", "stdint.h"}

QUOTED = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
ANGLED = re.compile(r"^\s*#\s*include\s+<([^>]+)>", re.M)


def files(root, layer):
    directory = root / ("include/amphora" if layer == "amphora" else f"src/{layer}")
    return sorted(p for p in directory.rglob("*") if p.suffix in (".hpp", ".cpp", ".h"))


def main():
    root = pathlib.Path(sys.argv[1]).resolve()
    layers_on_disk = {p.name for p in (root / "src").iterdir() if p.is_dir()}
    problems = [f"src/{name}/ is in no layer: add it to ALLOWED in {__file__}"
                for name in sorted(layers_on_disk - set(ALLOWED))]
    for layer, allowed in ALLOWED.items():
        for path in files(root, layer):
            text = path.read_text()
            where = path.relative_to(root)
            for include in QUOTED.findall(text):
                target = include.split("/", 1)[0] if "/" in include else None
                if target not in ALLOWED:
                    problems.append(f"{where}: \"{include}\" is not a path from src/ or include/")
                elif target != layer and target not in allowed:
                    problems.append(f"{where}: {layer} must not include {target} (\"{include}\")")
            if layer == "amphora":
                # Installed headers: anything but the standard library would be a dependency of
                # every program using the API.
                for include in ANGLED.findall(text):
                    if path.suffix == ".h" and include in C_HEADERS:
                        continue
                    if "/" in include or "." in include:
                        problems.append(f"{where}: public header includes <{include}>")
    for problem in problems:
        print(problem)
    checked = sum(len(files(root, layer)) for layer in ALLOWED)
    print(f"{checked} files, {len(problems)} forbidden includes")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
