"""Writes the TorchScript fixtures of tests/unit/test_torchscript_backend.cpp (run from this
directory with Debian's torch 1.13; the outputs are committed, a few KB in all):

  tiny.ts           frozen trace of mel [batch, 4, frames] -> audio [batch, 1, frames * 2]
  tiny_input.npy    a mel [1, 4, 6]; tiny_expected.npy: PyTorch's output for it
  tiny_v99.ts       tiny.ts with its archive version record set to 99, which no LibTorch up to
                    at least 2.x reads: a file "from an incompatible PyTorch version"
"""
import zipfile

import numpy as np
import torch


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv1d(4, 3, kernel_size=3, padding=1)
        self.up = torch.nn.ConvTranspose1d(3, 1, kernel_size=4, stride=2, padding=1)

    def forward(self, mel):
        return torch.tanh(self.up(torch.nn.functional.leaky_relu(self.conv(mel), 0.1)))


def main():
    torch.manual_seed(0)
    module = Tiny().eval()
    mel = torch.randn(1, 4, 6, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        traced = torch.jit.freeze(torch.jit.trace(module, (mel,)))
        expected = traced(mel)
    torch.jit.save(traced, "tiny.ts")
    np.save("tiny_input.npy", np.array(mel.tolist(), dtype=np.float32))
    np.save("tiny_expected.npy", np.array(expected.tolist(), dtype=np.float32))

    with zipfile.ZipFile("tiny.ts") as src, zipfile.ZipFile("tiny_v99.ts", "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename.endswith("/version") or info.filename.endswith("/.data/version"):
                data = b"99\n"
            dst.writestr(info, data)


if __name__ == "__main__":
    main()
