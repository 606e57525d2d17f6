"""The peers of `npm run bench:features`: scikit-image (and OpenCV's HOG) on the same images.

Usage: features_peer.py kernels FILE COUNT SIZE  -> JSON timings per image, on float32 images
       features_peer.py cli FOLDER OUT [nohog]     -> reads PNGs with PIL and writes features as JSON
                                                      (nohog: the six scalars only, as medclass --features hogStats,glcm)
Runs under Debian's /usr/bin/python3 (python3-skimage, python3-opencv).
"""
import json
import os
import sys
import time

import numpy as np
from skimage.feature import graycomatrix, graycoprops, hog

ANGLES = [0, np.pi / 4, np.pi / 2, 3 * np.pi / 4]


def features(v, levels=32):
    h = hog(v.astype(np.float64), orientations=9, pixels_per_cell=(8, 8), cells_per_block=(2, 2), block_norm='L2-Hys')
    q = np.minimum(levels - 1, np.floor(v.astype(np.float64) * levels)).astype(np.uint8)
    m = graycomatrix(q, [1], ANGLES, levels=levels, symmetric=True, normed=True)
    props = [float(graycoprops(m, p).mean()) for p in ('energy', 'contrast', 'homogeneity', 'correlation')]
    return h, props


def per_image(fn, images, min_seconds=0.3, repeats=int(os.environ.get('BENCH_REPEATS', '5'))):
    """Milliseconds per image: the best of `repeats` runs of at least `min_seconds` (and the
    median, and the same of CPU time, the process's, as `stats`)."""
    for im in images[:4]:
        fn(im)
    runs = []
    cpu = []
    for _ in range(repeats):
        n = 0
        start = time.perf_counter()
        cpu_start = time.process_time()
        while True:
            for im in images:
                fn(im)
            n += len(images)
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds:
                runs.append(elapsed / n * 1000)
                cpu.append((time.process_time() - cpu_start) / n * 1000)
                break
    runs.sort()
    cpu.sort()
    per_image.stats = {'min': runs[0], 'median': runs[len(runs) // 2], 'cpuMin': cpu[0], 'cpuMedian': cpu[len(cpu) // 2]}
    return runs[0]


def kernels(path, count, size):
    images = np.fromfile(path, dtype=np.float32).reshape(count, size, size)
    out = {'skimageMs': per_image(features, images), 'skimageMedianMs': per_image.stats['median'],
           'skimageCpuMs': per_image.stats['cpuMin'], 'skimageCpuMedianMs': per_image.stats['cpuMedian']}
    try:
        import cv2
        descriptor = cv2.HOGDescriptor((size, size), (16, 16), (8, 8), (8, 8), 9)
        as_bytes = [np.round(im * 255).astype(np.uint8) for im in images]
        out['opencvHogMs'] = per_image(descriptor.compute, as_bytes)
        out['opencvHogCpuMs'] = per_image.stats['cpuMin']
        out['skimageHogMs'] = per_image(
            lambda v: hog(v.astype(np.float64), orientations=9, pixels_per_cell=(8, 8), cells_per_block=(2, 2), block_norm='L2-Hys'),
            images,
        )
    except ImportError:
        pass
    print(json.dumps(out))


def resize(v, size):
    """docs/features.md section 1: bilinear, half-pixel centres, in double, rounded once to float32."""
    def taps(n):
        s = (n / size) * (np.arange(size) + 0.5) - 0.5
        fl = np.floor(s)
        return np.maximum(0, fl).astype(int), np.minimum(n - 1, np.ceil(s)).astype(int), s - fl
    (ylo, yhi, fy), (xlo, xhi, fx) = taps(v.shape[0]), taps(v.shape[1])
    v = v.astype(np.float64)
    top = v[ylo][:, xlo] + (v[ylo][:, xhi] - v[ylo][:, xlo]) * fx
    bottom = v[yhi][:, xlo] + (v[yhi][:, xhi] - v[yhi][:, xlo]) * fx
    return (top + (bottom - top) * fy[:, None]).astype(np.float32)


def cli(folder, out_path, with_hog=True):
    from PIL import Image
    records = []
    for name in sorted(os.listdir(folder)):
        a = np.asarray(Image.open(os.path.join(folder, name)), dtype=np.float64)
        g = a if a.ndim == 2 else 0.299 * a[..., 0] + 0.587 * a[..., 1] + 0.114 * a[..., 2]
        v = (g / 255).astype(np.float32)
        if v.shape != (64, 64):
            v = resize(v, 64)
        h, props = features(v)
        record = {'file': name, 'hog': h.tolist()} if with_hog else {'file': name}
        record.update({'hogMean': float(h.mean()), 'hogVariance': float(h.var()),
                       'glcmEnergy': props[0], 'glcmContrast': props[1], 'glcmHomogeneity': props[2], 'glcmCorrelation': props[3]})
        records.append(record)
    with open(out_path, 'w') as f:
        json.dump({'images': records}, f)


if __name__ == '__main__':
    if sys.argv[1] == 'kernels':
        kernels(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        cli(sys.argv[2], sys.argv[3], with_hog=len(sys.argv) < 5 or sys.argv[4] != 'nohog')
