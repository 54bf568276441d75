"""The reconstruction family: a small PyTorch autoencoder on sliding windows (opt-in
torch extra, ``make anomaly-deep``).

Each fit trains a fresh ``lags → hidden → bottleneck → hidden → lags`` network on the
standardised windows of the training rows (full-batch Adam, a fixed number of epochs,
seeded, one thread), so the same rows give the same weights; the raw measure of a row is
the mean squared reconstruction error of its window. It follows the same refit schedule
as the other models (see :class:`anomaly.detectors.Detector`), so it is causal in the
same way. PyOD's own ``AutoEncoder`` fits through a training loop with validation splits
and progress bars per fit; refitting every few hundred rows needs the plain loop.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from anomaly.detectors import Detector
from anomaly.features import SlidingWindows
from tenfold.repro import pin_torch_kernels


class AutoencoderDetector(Detector):
    name = "autoencoder"
    family = "reconstruction"

    @property
    def context(self) -> int:
        return self.cfg.lags - 1

    def fit(self, past: np.ndarray) -> tuple[SlidingWindows, Any]:
        pin_torch_kernels()
        import torch
        from torch import nn

        windows = SlidingWindows(self.cfg.lags).fit(past)
        features = torch.from_numpy(np.array(windows.transform(past), dtype=np.float32))
        torch.set_num_threads(1)
        generator = torch.Generator().manual_seed(self.seed)
        width = features.shape[1]
        network = nn.Sequential(
            nn.Linear(width, self.cfg.hidden),
            nn.Tanh(),
            nn.Linear(self.cfg.hidden, self.cfg.bottleneck),
            nn.Tanh(),
            nn.Linear(self.cfg.bottleneck, self.cfg.hidden),
            nn.Tanh(),
            nn.Linear(self.cfg.hidden, width),
        )
        with torch.no_grad():
            for parameter in network.parameters():
                bound = 1.0 / np.sqrt(parameter.shape[-1])
                parameter.copy_((torch.rand(parameter.shape, generator=generator) * 2 - 1) * bound)
        optimiser = torch.optim.Adam(network.parameters(), lr=0.01)
        for _ in range(self.cfg.epochs):
            optimiser.zero_grad()
            loss = ((network(features) - features) ** 2).mean()
            loss.backward()
            optimiser.step()
        network.eval()
        return windows, network

    def raw(self, state: Any, rows: np.ndarray, n_new: int) -> np.ndarray:
        import torch  # loaded, and its kernels pinned, by the fit that made ``state``

        windows, network = state
        features = torch.from_numpy(np.array(windows.transform(rows)[-n_new:], dtype=np.float32))
        with torch.no_grad():
            error = ((network(features) - features) ** 2).mean(dim=1)
        return np.asarray(error.numpy(), dtype=float)
