"""Writes keras_ref.json: images warped as Keras ImageDataGenerator does on its
scipy path (keras_preprocessing apply_affine_transform with
scipy.ndimage.affine_transform, then apply_transform's flips), for
TestMatchesKerasScipy. Run with numpy and scipy installed:

    python3 keras_ref.py > keras_ref.json
"""
import json

import numpy as np
import scipy.ndimage as ndi

H, W, C = 7, 8, 2


def offset_center(m, h, w):
    ox, oy = h / 2 - 0.5, w / 2 - 0.5
    return np.array([[1, 0, ox], [0, 1, oy], [0, 0, 1]]) @ m @ np.array([[1, 0, -ox], [0, 1, -oy], [0, 0, 1]])


def keras(x, theta=0, tx=0, ty=0, shear=0, zx=1, zy=1, flip_h=False, flip_v=False, fill_mode="nearest", cval=0.0, order=1):
    """x: (H, W, C) float; as apply_affine_transform(row_axis=0, col_axis=1, channel_axis=2) + flips."""
    m = np.eye(3)
    if theta:
        t = np.deg2rad(theta)
        m = m @ np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1]])
    if tx or ty:
        m = m @ np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]])
    if shear:
        s = np.deg2rad(shear)
        m = m @ np.array([[1, -np.sin(s), 0], [0, np.cos(s), 0], [0, 0, 1]])
    if zx != 1 or zy != 1:
        m = m @ np.array([[zx, 0, 0], [0, zy, 0], [0, 0, 1]])
    m = offset_center(m, x.shape[0], x.shape[1])
    chans = [ndi.affine_transform(x[:, :, k], m[:2, :2], m[:2, 2], order=order, mode=fill_mode, cval=cval) for k in range(x.shape[2])]
    x = np.stack(chans, axis=2)
    if flip_h:
        x = x[:, ::-1, :]
    if flip_v:
        x = x[::-1, :, :]
    return x


def main():
    rng = np.random.RandomState(7)
    pix = rng.randint(0, 256, size=(H, W, C)).astype(np.uint8)
    cases = [
        dict(theta=90),
        dict(theta=-33.3),
        dict(tx=1.6, ty=-2.3),
        dict(shear=25),
        dict(zx=1.3, zy=0.7),
        dict(flip_h=True, flip_v=True),
        dict(theta=21, tx=-0.8, ty=1.1, shear=-14, zx=0.85, zy=1.18, flip_h=True),
        dict(theta=21, tx=-0.8, ty=1.1, shear=-14, zx=0.85, zy=1.18, flip_v=True, fill_mode="constant", cval=40.0),
        dict(theta=-37, tx=1.9, ty=-1.4, shear=9, zx=1.2, zy=0.9, fill_mode="reflect"),
        dict(theta=-37, tx=1.9, ty=-1.4, shear=9, zx=1.2, zy=0.9, order=0),
        dict(theta=13, tx=2.2, ty=-3.1, zx=1.1, zy=1.25, fill_mode="constant", cval=5.0, order=0),
    ]
    for c in cases:
        out = keras(pix.astype(np.float64), **c)
        c["out"] = [round(float(v), 4) for v in out.ravel()]
    json.dump(dict(h=H, w=W, c=C, pix=[int(v) for v in pix.ravel()], cases=cases), __import__("sys").stdout)


main()
