"""amphora from Python: Amphion's vocoders, models and text to speech on amphora's C++ runtime.

    import amphora
    vocoder = amphora.Vocoder("pkg/hifigan", threads=2)
    audio = vocoder.vocode(mel)            # mel: float32 [n_mels, T] -> T * hop_length samples

Compute releases the GIL; failures raise amphora.Error (see docs/python.md).
"""

import pkgutil

# The repository's python/ directory is on sys.path for the exporter (pytest.ini,
# PYTHONPATH=python) and holds these sources but not the compiled module, which `pip install .`
# puts beside their installed copy: extend_path lets the package find it there too.
__path__ = pkgutil.extend_path(__path__, __name__)

try:
    from . import _amphora
    from ._amphora import (  # noqa: E402
        Error,
        InternalError,
        InvalidArgumentError,
        InvalidModelError,
        IoError,
        Model,
        OutOfRangeError,
        StreamInfo,
        TensorInfo,
        UnsupportedError,
        Vocoder,
        VocoderStream,
    )
except ImportError as error:  # pragma: no cover - the message is the point
    raise ImportError(f"amphora's compiled module is not installed ({error}): run "
                      "scripts/setup.sh, or `pip install .` in the repository") from error
from .speech import Synthesizer  # noqa: E402

__version__: str = _amphora.__version__  # the library's release (CMakeLists.txt's project())

# Tracebacks and pickles name the errors as the package exports them: amphora.InvalidArgumentError.
for _error in (Error, InvalidArgumentError, InvalidModelError, UnsupportedError, IoError,
               OutOfRangeError, InternalError):
    _error.__module__ = __name__
del _error

__all__ = [
    "Error", "InvalidArgumentError", "InvalidModelError", "UnsupportedError", "IoError",
    "OutOfRangeError", "InternalError", "Model", "TensorInfo", "Vocoder", "VocoderStream",
    "StreamInfo", "Synthesizer", "__version__",
]
