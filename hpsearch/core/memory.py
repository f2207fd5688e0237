"""How much memory a piece of work will take, checked before anything is allocated.

A config can ask for a network of 10^8 units or 10^9 generated rows; NumPy would
then fault in pages until the machine swaps or the OOM killer ends the search.
Every size a user controls is estimated first and refused with one line
("needs ~N GiB, more than the M GiB available") when it cannot fit.
"""

from __future__ import annotations

import resource

GIB = 2**30


def available_bytes() -> int:
    """Memory this process can still take: the system's available memory, capped by RLIMIT_AS if one is set."""
    import psutil

    available = psutil.virtual_memory().available
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        available = min(available, max(0, soft - psutil.Process().memory_info().vms))
    return int(available)


def shortfall(needed: int) -> str | None:
    """``None`` when ``needed`` bytes fit, else the reason in words."""
    available = available_bytes()
    if needed <= available:
        return None
    return f"needs ~{needed / GIB:.3g} GiB, more than the {available / GIB:.3g} GiB available"


def training_bytes(
    hidden: tuple[int, ...],
    *,
    n_features: int,
    n_classes: int,
    n_train: int,
    n_dev: int,
    batch_size: int,
    itemsize: int,
    optimizer_moments: int,
    keep_best: bool,
) -> int:
    """A generous estimate of one training run's peak memory.

    Parameters (weights, gradients, optimizer scratch and moments, best copy), the
    training and dev sets cast to the network's dtype with one-hot labels, and the
    per-layer caches of one mini-batch and of the dev set (about six arrays of a
    layer's width per example).
    """
    sizes = [n_features, *hidden, n_classes]
    parameters = sum(a * b + 2 * b for a, b in zip(sizes, sizes[1:]))
    copies = 3 + optimizer_moments + int(keep_best)  # weights, gradients, scratch, moments, best
    data = (n_train + n_dev) * (n_features + n_classes)
    activations = (min(batch_size, n_train) + n_dev) * 6 * sum(sizes)
    return itemsize * (parameters * copies + data + activations)
