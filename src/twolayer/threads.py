"""How many BLAS threads a training step uses: its own module so the policy can change alone."""

from __future__ import annotations

import contextlib
from typing import Any

SMALL_GEMM = (
    4_000_000  # multiply-adds in X·W1 below which a second BLAS thread costs more than it gains
)


def blas_threads_for(work):
    """One BLAS thread for small problems (measured: a digits-sized step is ~8% faster on one
    thread than on two, a CIFAR-sized step ~20% slower); otherwise leave the setting alone."""
    global _controller
    if work >= SMALL_GEMM:
        return contextlib.nullcontext()
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas")


_controller: Any = None  # a threadpoolctl.ThreadpoolController, made on first use
