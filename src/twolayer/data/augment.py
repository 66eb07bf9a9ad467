"""Training-time augmentation of image rows, applied to each minibatch in place."""
from __future__ import annotations

import numpy as np

# the four 1-pixel moves and staying put
_SHIFTS = ((0, 0), (0, 1), (0, -1), (1, 0), (-1, 0))


def random_shift(image_shape, fill=None):
    """An ``augment(xb, rng)`` for the loop: each row moves one pixel up, down, left, right or
    not at all (chosen uniformly); the uncovered border takes the values of ``fill`` (an image:
    the preprocessed blank pixel), zeros by default."""
    shape = tuple(image_shape)
    fill = np.zeros(shape) if fill is None else np.asarray(fill).reshape(shape)

    def augment(xb, rng):
        imgs = xb.reshape((len(xb),) + shape)
        choice = rng.integers(0, len(_SHIFTS), size=len(xb))
        for k, (dy, dx) in enumerate(_SHIFTS[1:], start=1):
            rows = np.flatnonzero(choice == k)
            if len(rows):
                imgs[rows] = np.roll(imgs[rows], (dy, dx), axis=(1, 2))
                edge_y = 0 if dy > 0 else -1
                edge_x = 0 if dx > 0 else -1
                if dy:
                    imgs[rows, edge_y] = fill[edge_y]
                if dx:
                    imgs[rows, :, edge_x] = fill[:, edge_x]
        return xb

    return augment
