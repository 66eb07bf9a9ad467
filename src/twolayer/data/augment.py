"""Training-time augmentation of image rows, applied to each minibatch in place."""

from __future__ import annotations

import numpy as np

# the four 1-pixel moves and staying put
_SHIFTS = ((0, 0), (0, 1), (0, -1), (1, 0), (-1, 0))


def random_shift(image_shape, fill=None):
    """An ``augment(xb, rng)`` for the loop: each row moves one pixel up, down, left, right or
    not at all (chosen uniformly); the uncovered border takes the values of ``fill`` (an image:
    the preprocessed blank pixel), zeros by default.

    The rows that move are taken in order of their move and framed by a one-pixel border holding
    the fill values; a row shifted by (dy, dx) is then the window of its frame starting at
    (1 - dy, 1 - dx), so each move is one contiguous slice copy.
    """
    shape = tuple(image_shape)
    h, w = shape[0], shape[1]
    fill = np.zeros(shape) if fill is None else np.asarray(fill).reshape(shape)

    def augment(xb, rng):
        imgs = xb.reshape((len(xb),) + shape)
        choice = rng.integers(0, len(_SHIFTS), size=len(xb))
        counts = np.bincount(choice, minlength=len(_SHIFTS))
        moved = np.argsort(choice, kind="stable")[
            counts[0] :
        ]  # grouped by move, staying rows left out
        framed = np.empty((len(moved), h + 2, w + 2) + shape[2:], xb.dtype)
        framed[:, 1:-1, 1:-1] = imgs[moved]
        framed[:, 0, 1:-1] = fill[0]
        framed[:, -1, 1:-1] = fill[-1]
        framed[:, 1:-1, 0] = fill[:, 0]
        framed[:, 1:-1, -1] = fill[:, -1]
        out = np.empty((len(moved),) + shape, xb.dtype)
        start = 0
        for (dy, dx), n in zip(_SHIFTS[1:], counts[1:]):
            out[start : start + n] = framed[
                start : start + n, 1 - dy : 1 - dy + h, 1 - dx : 1 - dx + w
            ]
            start += n
        imgs[moved] = out
        return xb

    return augment
