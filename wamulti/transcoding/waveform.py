"""The 64-sample waveform WhatsApp draws under a voice note, computed from the decoded audio as it
streams (raw mono signed 16-bit little-endian samples), in memory that does not grow with its length.

Energy is summed per bin of samples; when the bins reach MAX_BINS, neighbours merge and bins hold
twice the samples from then on. At the end each of the 64 equal slices of the audio takes the
energy of the bins it overlaps, in proportion; its value is the RMS, scaled so the loudest is 100."""

from __future__ import annotations

import math
import sys
from array import array
from operator import mul

SLICES = 64
FIRST_BIN_SAMPLES = 80  # 10 ms at 8 kHz
MAX_BINS = 4096


class WaveformMeter:
    """Fed chunks of s16le mono samples (any sizes); gives the waveform and the sample count."""

    def __init__(self) -> None:
        self._bins: list[float] = []  # energy (sum of squares) of each full bin
        self._bin_samples = FIRST_BIN_SAMPLES
        self._open_energy = 0.0  # the bin being filled
        self._open_samples = 0
        self._odd_byte = b""  # half a sample left at a chunk's end
        self.samples = 0

    def feed(self, chunk: bytes) -> None:
        """Add the next bytes of the stream."""
        data = self._odd_byte + chunk
        cut = len(data) - len(data) % 2
        self._odd_byte = data[cut:]
        samples = array("h", data[:cut])
        if sys.byteorder == "big":
            samples.byteswap()
        self.samples += len(samples)
        at = 0
        while at < len(samples):
            take = min(self._bin_samples - self._open_samples, len(samples) - at)
            part = samples[at:at + take]
            self._open_energy += float(sum(map(mul, part, part)))
            self._open_samples += take
            at += take
            if self._open_samples == self._bin_samples:
                self._close_bin()

    @property
    def bins_kept(self) -> int:
        """Bins held now (at most MAX_BINS, whatever the length of the audio)."""
        return len(self._bins) + (1 if self._open_samples else 0)

    def _close_bin(self) -> None:
        self._bins.append(self._open_energy)
        self._open_energy, self._open_samples = 0.0, 0
        if len(self._bins) == MAX_BINS:
            self._bins = [self._bins[i] + self._bins[i + 1] for i in range(0, MAX_BINS, 2)]
            self._bin_samples *= 2

    def waveform(self) -> list[int]:
        """SLICES values from 0 to 100 (all 0 for silence or no audio)."""
        if self.samples == 0:
            return [0] * SLICES
        energy = [0.0] * SLICES
        slice_len = self.samples / SLICES
        start = 0
        for bin_energy, size in self._all_bins():
            _spread(energy, bin_energy, start, size, slice_len)
            start += size
        levels = [math.sqrt(e / slice_len) for e in energy]
        loudest = max(levels)
        if loudest <= 0:
            return [0] * SLICES
        return [min(100, round(100 * level / loudest)) for level in levels]

    def _all_bins(self):
        for bin_energy in self._bins:
            yield bin_energy, self._bin_samples
        if self._open_samples:
            yield self._open_energy, self._open_samples


def _spread(energy: list[float], bin_energy: float, start: int, size: int, slice_len: float) -> None:
    """Add a bin's energy to the slices its samples [start, start + size) fall in, by overlap."""
    end = start + size
    first = min(SLICES - 1, int(start / slice_len))
    last = min(SLICES - 1, int((end - 1) / slice_len))
    for index in range(first, last + 1):
        overlap = min(end, (index + 1) * slice_len) - max(start, index * slice_len)
        if overlap > 0:
            energy[index] += bin_energy * overlap / size
