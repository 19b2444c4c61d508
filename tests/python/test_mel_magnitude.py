"""--mel-magnitude: the graph's STFT and inverse (Conv and ConvTranspose kernels) against
torch.stft and an explicit overlap-add, the framings it refuses, and the exporter's package."""
import json

import pytest
import torch
import torch.nn.functional as F

from amphora_export import mel_magnitude as mm
from amphora_export import quality
from amphora_export.errors import ExportError
from amphora_export.vocoder import VocoderExportOptions, export_vocoder

MEL = {"sample_rate": 16000, "n_fft": 256, "win_length": 256, "hop_length": 64, "n_mels": 20,
       "fmin": 0.0, "fmax": 8000.0, "center": False, "norm": None}


class Fixed(torch.nn.Module):
    """An export module whose audio is given: what MelMagnitude does after it is all that runs."""

    def __init__(self, audio: torch.Tensor):
        super().__init__()
        self.audio = audio

    def forward(self, mel):
        return (self.audio,)


def test_the_graph_kernels_invert_each_other_in_the_interior():
    """Conv with the analysis kernel, then ConvTranspose with the synthesis kernel, gives the
    audio back wherever all the frames overlap it: the DFT rows, the window and the envelope's
    constant are right."""
    module = mm.MelMagnitude(Fixed(None), MEL)
    audio = torch.randn(2, 1, 64 * 30, generator=torch.Generator().manual_seed(0))
    spectrum = F.conv1d(audio, module.analysis, stride=module.hop, padding=module.pad)
    assert spectrum.shape == (2, 2 * (256 // 2 + 1), 30)
    back = F.conv_transpose1d(spectrum, module.synthesis, stride=module.hop, padding=module.pad)
    inner = slice(256, 64 * 30 - 256)
    assert float((back - audio)[..., inner].abs().max()) < 1e-5


def test_the_graph_equals_the_float64_reference():
    generator = torch.Generator().manual_seed(1)
    frames = 40
    audio = torch.randn(1, 1, frames * 64, generator=generator) * 0.3
    log_mel = quality.amphion_mel(audio[:, 0], MEL)
    assert log_mel.shape == (1, 20, frames)
    graph = mm.MelMagnitude(Fixed(audio), MEL)(log_mel)[0]
    want = mm.reference(audio, log_mel, MEL)
    assert graph.shape == audio.shape
    assert float((graph.double() - want).abs().max()) < 1e-5 * float(want.abs().max())


def test_the_output_takes_the_mels_magnitude():
    """Audio of the right phase but a tenth of the level comes out at the mel's level: the
    magnitude is the mel's, not the generator's."""
    audio = torch.randn(1, 1, 64 * 60, generator=torch.Generator().manual_seed(2)) * 0.3
    log_mel = quality.amphion_mel(audio[:, 0], MEL)
    quiet = mm.reference(audio * 0.1, log_mel, MEL)
    loud = mm.reference(audio, log_mel, MEL)
    assert float((quiet - loud).abs().max()) < 1e-6 * float(loud.abs().max())
    assert float(quality.log_mel_l1(audio[0, 0].numpy(), quiet[0, 0].float().numpy(), MEL)) < \
        float(quality.log_mel_l1(audio[0, 0].numpy(), (audio * 0.1)[0, 0].numpy(), MEL))


@pytest.mark.parametrize("change, why", [({"center": True}, "center True"),
                                         ({"win_length": 200}, "win_length 200"),
                                         ({"hop_length": 100}, "hop 100"),
                                         ({"hop_length": 256}, "does not overlap-add")])
def test_framings_it_cannot_invert_are_refused(change, why):
    with pytest.raises(ExportError, match=why):
        mm.check_framing({**MEL, **change})


def test_the_exporter_writes_a_mel_magnitude_package(tmp_path):
    manifest = export_vocoder(VocoderExportOptions(
        output=str(tmp_path / "pkg"), family="hifigan", random_init=True, formats=("onnx",),
        mel_magnitude=True, quiet=True))
    assert manifest["mel_magnitude"] is True
    assert manifest["parity"]["onnx"]["passed"] is True
    written = json.loads((tmp_path / "pkg" / "amphora.json").read_text())
    assert written["mel_magnitude"] is True


def test_a_spectral_head_is_refused(tmp_path):
    with pytest.raises(ExportError, match="vocos already predicts its spectrum"):
        export_vocoder(VocoderExportOptions(output=str(tmp_path / "pkg"), family="vocos",
                                            random_init=True, formats=("onnx",),
                                            mel_magnitude=True, quiet=True))
    assert not (tmp_path / "pkg").exists()
