"""The small synthetic series the zoo tests train on."""
import numpy as np


def sines_with_anomalies(seed: int = 0, n_train: int = 900, n_test: int = 600, shift: tuple[int, int] = (400, 440)):
    """Three noisy sines; the test part has four two-point spikes and a level shift on channel 1
    over test rows [shift[0], shift[1]). Returns train, test and the test labels."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_train + n_test)
    clean = np.stack([np.sin(2 * np.pi * t / p + k) for k, p in enumerate((25, 40, 60))], axis=1)
    series = (clean + 0.1 * rng.standard_normal(clean.shape)).astype(np.float32)
    train, test = series[:n_train], series[n_train:].copy()
    labels = np.zeros(n_test, dtype=int)
    for position, channel, height in ((70, 0, 4.0), (190, 2, -4.0), (300, 1, 4.0), (520, 0, -4.0)):
        test[position:position + 2, channel] += height
        labels[position:position + 2] = 1
    test[shift[0]:shift[1], 1] += 2.0
    labels[shift[0]:shift[1]] = 1
    return train, test, labels
