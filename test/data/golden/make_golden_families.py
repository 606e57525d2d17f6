#!/usr/bin/python3
"""Golden vectors for the feature families beyond the seven (docs/features.md sections 6-12).

Run with Debian 12's python3-skimage (scikit-image 0.19.3, numpy 1.24, scipy 1.10):

    /usr/bin/python3 test/data/golden/make_golden_families.py

It decodes every image of images/ as docs/features.md section 1 says (BT.601 grey in double
rounded once to float32; for colour files each of R, G, B as sample / max rounded once to
float32), resizes with section 1's bilinear resize (double, rounded once to float32), and
computes each family with scikit-image / numpy on the float64 widening of the result. Before
writing anything it checks its own decoding and resize against s64_l32_pixels.json (bit for
bit) and its HOG and GLCM against s64_l32.json, so the new files rest on the same pixels as
the old ones. Output: the families_*.json files next to this script.
"""
import json
import math
import os
import sys

import numpy as np
import scipy
import scipy.stats
import skimage
from PIL import Image
from skimage.feature import graycomatrix, graycoprops, hog, local_binary_pattern
from skimage.filters import gabor

HERE = os.path.dirname(os.path.abspath(__file__))
IMAGES = os.path.join(HERE, 'images')
GLCM_PROPS = ['contrast', 'dissimilarity', 'homogeneity', 'ASM', 'energy', 'correlation']
ANGLES = [0, np.pi / 4, np.pi / 2, 3 * np.pi / 4]


def decode(path):
    """(grey float32 HxW, colour planes float32 3xHxW or None), docs/features.md section 1."""
    im = Image.open(path)
    mode = im.mode
    if mode == 'P':
        im = im.convert('RGBA' if 'transparency' in im.info else 'RGB')
        mode = im.mode
    a = np.array(im)
    if mode in ('I', 'I;16', 'I;16B'):
        return (a.astype(np.float64) / 65535).astype(np.float32), None
    if a.ndim == 2:
        return (a.astype(np.float64) / 255).astype(np.float32), None
    if a.shape[2] == 2:  # grey + alpha
        return (a[..., 0].astype(np.float64) / 255).astype(np.float32), None
    r, g, b = (a[..., k].astype(np.float64) for k in range(3))
    grey = ((0.299 * r + 0.587 * g + 0.114 * b) / 255).astype(np.float32)
    planes = np.stack([(c / 255).astype(np.float32) for c in (r, g, b)])
    return grey, planes


def taps(n_in, n_out):
    ratio = n_in / n_out
    lo, hi, f = [], [], []
    for x in range(n_out):
        s = ratio * (x + 0.5) - 0.5
        fl = math.floor(s)
        lo.append(max(0, fl))
        hi.append(min(n_in - 1, math.ceil(s)))
        f.append(s - fl)
    return np.array(lo), np.array(hi), np.array(f, dtype=np.float64)


def resize(v, size):
    """Section 1's bilinear resize: double, the ratio first, rounded once to float32."""
    if size == 0 or v.shape == (size, size):
        return v
    h, w = v.shape
    d = v.astype(np.float64)
    ylo, yhi, fy = taps(h, size)
    xlo, xhi, fx = taps(w, size)
    tl = d[ylo][:, xlo]
    tr = d[ylo][:, xhi]
    bl = d[yhi][:, xlo]
    br = d[yhi][:, xhi]
    fx = fx[None, :]
    fy = fy[:, None]
    top = tl + (tr - tl) * fx
    bottom = bl + (br - bl) * fx
    return (top + (bottom - top) * fy).astype(np.float32)


def quantise(v, levels):
    return np.minimum(levels - 1, np.floor(v.astype(np.float64) * levels)).astype(np.uint8 if levels <= 256 else np.uint16)


def histogram(v, bins):
    """numpy's histogram of the float64 widening over [0, 1], normalised to sum 1."""
    counts, _ = np.histogram(v.astype(np.float64), bins=bins, range=(0.0, 1.0))
    return counts / v.size


def moments(v, bins):
    """[mean, variance, skewness, kurtosis, entropy] (docs/features.md section 9)."""
    x = v.astype(np.float64).ravel()
    mean = x.mean()
    d = x - mean
    m2 = np.mean(d ** 2)
    m3 = np.mean(d ** 3)
    m4 = np.mean(d ** 4)
    if m2 == 0:
        skew, kurt = 0.0, 0.0
    else:
        skew = m3 / m2 ** 1.5
        kurt = m4 / m2 ** 2 - 3
        # the same as scipy's biased estimators (the docs name them)
        assert abs(skew - scipy.stats.skew(x)) <= 1e-9 * max(1, abs(skew)), (skew, scipy.stats.skew(x))
        assert abs(kurt - scipy.stats.kurtosis(x)) <= 1e-9 * max(1, abs(kurt)), (kurt, scipy.stats.kurtosis(x))
    p = histogram(v, bins)
    p = p[p > 0]
    entropy = float(-(p * np.log2(p)).sum())
    return [float(mean), float(m2), float(skew), float(kurt), entropy]


def lbp_offsets(points, radius):
    """The circle's sampling offsets as _local_binary_pattern makes them (R as a C float)."""
    r32 = float(np.float32(radius))
    rr = -r32 * np.sin(2 * np.pi * np.arange(points, dtype=np.double) / points)
    cc = r32 * np.cos(2 * np.pi * np.arange(points, dtype=np.double) / points)
    return [float(x) for x in np.round(rr, 5)], [float(x) for x in np.round(cc, 5)]


def lbp_histogram(v, method, points, radius):
    codes = local_binary_pattern(v.astype(np.float64), points, radius, method)
    bins = points + 2 if method == 'uniform' else 2 ** points
    assert codes.min() >= 0 and codes.max() < bins and np.all(codes == np.floor(codes))
    return np.bincount(codes.astype(np.int64).ravel(), minlength=bins) / codes.size


def glcm_angles(v, levels, distances):
    q = quantise(v, levels)
    P = graycomatrix(q, distances, ANGLES, levels=levels, symmetric=True, normed=True)
    return np.concatenate([graycoprops(P, prop).ravel() for prop in GLCM_PROPS])


def gabor_energies(v, frequencies, orientations):
    """Per frequency and orientation (theta = k pi / n): mean and population variance of the response's magnitude."""
    out = []
    for f in frequencies:
        for k in range(orientations):
            real, imag = gabor(v.astype(np.float64), f, theta=k * np.pi / orientations)
            mag = np.sqrt(real ** 2 + imag ** 2)
            out += [float(mag.mean()), float(mag.var())]
    return out


def num(x):
    """JS's Number-to-string for the radius in messages (1 not 1.0)."""
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def lbp_min_side(spec):
    return math.ceil(2 * max(c['radius'] for c in spec['lbp']) + 1)


def refusal(spec, w, h, colour):
    """The refusal the contract asks for, in the order docs/features.md section 1 step 3 checks them, or None."""
    feats = spec['features']
    m = spec['pixelsPerCell'] * spec['cellsPerBlock']
    if w < m or h < m:
        return ('imageTooSmall', f'image too small for one HOG block: {w}x{h} (width x height) to extract from, at least {m}x{m} needed '
                f'(pixelsPerCell {spec["pixelsPerCell"]} x cellsPerBlock {spec["cellsPerBlock"]})')
    if 'hog2' in feats:
        m2 = spec['pixelsPerCell2'] * spec['cellsPerBlock']
        if w < m2 or h < m2:
            return ('imageTooSmall', f'image too small for one HOG block at the second cell size: {w}x{h} (width x height) to extract from, '
                    f'at least {m2}x{m2} needed (pixelsPerCell2 {spec["pixelsPerCell2"]} x cellsPerBlock {spec["cellsPerBlock"]})')
    if 'lbp' in feats:
        r = max(c['radius'] for c in spec['lbp'])
        ml = lbp_min_side(spec)
        if w < ml or h < ml:
            return ('imageTooSmall', f'image too small for LBP at radius {num(r)}: {w}x{h} (width x height) to extract from, '
                    f'at least {ml}x{ml} needed (2 x radius + 1)')
    if ('colourHistogram' in feats or 'colourMoments' in feats) and not colour:
        return ('notColour', 'colour features need a colour image (RGB or RGBA); this one is grey')
    return None


def record(spec, file):
    grey, planes = decode(os.path.join(IMAGES, file))
    h, w = grey.shape
    size = spec['size']
    rw, rh = (size, size) if size else (w, h)
    out = {'file': file, 'width': w, 'height': h, 'colour': planes is not None, 'resizedWidth': rw, 'resizedHeight': rh}
    refused = refusal(spec, rw, rh, planes is not None)
    if refused:
        out['errorCode'], out['error'] = refused
        return out
    v = resize(grey, size)
    feats = spec['features']
    if 'hog2' in feats:
        p2 = spec['pixelsPerCell2']
        b = spec['cellsPerBlock']
        vec = hog(v.astype(np.float64), orientations=spec['orientations'], pixels_per_cell=(p2, p2), cells_per_block=(b, b),
                  block_norm='L2-Hys', transform_sqrt=False, feature_vector=True)
        out['hog2Length'] = int(vec.size)
        out['hog2'] = [float(x) for x in vec]
    if 'lbp' in feats:
        out['lbp'] = [float(x) for c in spec['lbp'] for x in lbp_histogram(v, c['method'], c['points'], c['radius'])]
    if 'glcmAngles' in feats:
        out['glcmAngles'] = [float(x) for x in glcm_angles(v, spec['levels'], spec['glcmDistances'])]
    if 'gabor' in feats:
        out['gabor'] = gabor_energies(v, spec['gaborFrequencies'], spec['gaborOrientations'])
    if 'intensityHistogram' in feats:
        out['intensityHistogram'] = [float(x) for x in histogram(v, spec['histogramBins'])]
    if 'intensityMoments' in feats:
        out['intensityMoments'] = moments(v, spec['histogramBins'])
    if 'colourHistogram' in feats or 'colourMoments' in feats:
        resized = [resize(planes[k], size) for k in range(3)]
        if 'colourHistogram' in feats:
            out['colourHistogram'] = [float(x) for p in resized for x in histogram(p, spec['histogramBins'])]
        if 'colourMoments' in feats:
            out['colourMoments'] = [x for p in resized for x in moments(p, spec['histogramBins'])]
    return out


GREY_FILES = [
    'camera.png', 'coins.png', 'moon.png', 'text.png', 'page.png', 'cell.png', 'brick.png', 'grass.png', 'gravel.png', 'horse.png',
    'checkerboard.png', 'astronaut_rgb.png', 'coffee_rgba.png', 'flat.png', 'hramp.png', 'vramp.png', 'dramp.png', 'pixel.png',
    'noise.png', 'disc.png', 'nonsquare_64x48.png', 'tiny_28x28.png', 'odd_65x65.png', 'camera_16bit.png', 'tiny_28x28_rgb.png',
    'resize_order.png',
]
RETINA = ['retina/test_0_100.png', 'retina/test_2_0.png', 'retina/test_3_101.png', 'retina/test_4_105.png']
GREY_FAMILIES = ['hog2', 'lbp', 'glcmAngles', 'intensityHistogram', 'intensityMoments']
BASE = {'levels': 32, 'orientations': 9, 'pixelsPerCell': 8, 'cellsPerBlock': 2, 'pixelsPerCell2': 16, 'glcmDistances': [1, 2, 3],
        'histogramBins': 32, 'gaborFrequencies': [0.1, 0.2, 0.4], 'gaborOrientations': 4}
DEFAULT_LBP = [{'method': 'uniform', 'points': 8, 'radius': 1}, {'method': 'uniform', 'points': 16, 'radius': 2},
               {'method': 'uniform', 'points': 24, 'radius': 3}, {'method': 'default', 'points': 8, 'radius': 1}]

FILES = {
    'families_s64': ({**BASE, 'size': 64, 'lbp': DEFAULT_LBP, 'features': GREY_FAMILIES}, GREY_FILES + RETINA),
    'families_s0': ({**BASE, 'size': 0, 'lbp': DEFAULT_LBP, 'features': GREY_FAMILIES}, GREY_FILES + RETINA),
    'families_s48_l8_b10': ({**BASE, 'size': 48, 'levels': 8, 'orientations': 12, 'pixelsPerCell2': 10, 'glcmDistances': [2, 5],
                             'histogramBins': 10,
                             'lbp': [{'method': 'uniform', 'points': 12, 'radius': 1.5}, {'method': 'default', 'points': 4, 'radius': 2}],
                             'features': GREY_FAMILIES}, GREY_FILES),
    'families_gabor_s48': ({**BASE, 'size': 48, 'lbp': DEFAULT_LBP, 'features': ['gabor']}, GREY_FILES + RETINA),
    'families_gabor_s0': ({**BASE, 'size': 0, 'lbp': DEFAULT_LBP, 'gaborFrequencies': [0.05, 0.3], 'gaborOrientations': 6, 'features': ['gabor']},
                          ['camera.png', 'tiny_28x28.png', 'nonsquare_64x48.png', 'text.png', 'checkerboard.png', 'flat.png'] + RETINA[:2]),
    'families_colour': ({**BASE, 'size': 48, 'histogramBins': 16, 'lbp': [{'method': 'uniform', 'points': 8, 'radius': 1}],
                         'features': ['lbp', 'intensityMoments', 'colourHistogram', 'colourMoments']},
                        ['astronaut_rgb.png', 'coffee_rgba.png', 'tiny_28x28_rgb.png'] + RETINA + ['camera.png', 'flat.png', 'camera_16bit.png']),
    'families_colour_s0': ({**BASE, 'size': 0, 'histogramBins': 7, 'lbp': DEFAULT_LBP, 'features': ['colourHistogram', 'colourMoments']},
                           ['astronaut_rgb.png', 'coffee_rgba.png', 'tiny_28x28_rgb.png'] + RETINA),
    'families_min_size_hog2': ({**BASE, 'size': 0, 'pixelsPerCell': 4, 'pixelsPerCell2': 7, 'lbp': [{'method': 'uniform', 'points': 8, 'radius': 7}],
                                'features': GREY_FAMILIES}, ['min_size/refuse_12x12.png', 'min_size/refuse_64x15.png', 'min_size/accept_16x16.png']),
    'families_min_size_lbp': ({**BASE, 'size': 0, 'pixelsPerCell': 4, 'pixelsPerCell2': 4, 'lbp': [{'method': 'uniform', 'points': 8, 'radius': 7.5}],
                               'features': GREY_FAMILIES}, ['min_size/refuse_12x12.png', 'min_size/refuse_64x15.png', 'min_size/accept_16x16.png']),
}


def self_check():
    """The decoding, resize, HOG and GLCM of this script against the existing golden files."""
    pixels = json.load(open(os.path.join(HERE, 's64_l32_pixels.json')))
    for r in pixels['images']:
        if 'resized' not in r:
            continue
        grey, _ = decode(os.path.join(IMAGES, r['file']))
        v = resize(grey, 64)
        assert v.ravel().tolist() == r['resized'], f'resize differs on {r["file"]}'
        assert quantise(v, 32).ravel().tolist() == r['quantised'], f'quantise differs on {r["file"]}'
    ref = json.load(open(os.path.join(HERE, 's64_l32.json')))
    for r in ref['images']:
        grey, _ = decode(os.path.join(IMAGES, r['file']))
        v = resize(grey, 64).astype(np.float64)
        vec = hog(v, orientations=9, pixels_per_cell=(8, 8), cells_per_block=(2, 2), block_norm='L2-Hys', feature_vector=True)
        assert np.linalg.norm(vec - np.array(r['hog'])) <= 1e-12 * np.linalg.norm(r['hog']) + 1e-15, f'HOG differs on {r["file"]}'
        P = graycomatrix(quantise(v, 32), [1], ANGLES, levels=32, symmetric=True, normed=True)
        for name, prop in [('glcmEnergy', 'energy'), ('glcmContrast', 'contrast'), ('glcmHomogeneity', 'homogeneity'), ('glcmCorrelation', 'correlation')]:
            assert abs(graycoprops(P, prop).mean() - r[name]) <= 1e-12 * max(1, abs(r[name])), f'{name} differs on {r["file"]}'


def main():
    self_check()
    reference = {'scikit-image': skimage.__version__, 'numpy': np.__version__, 'scipy': scipy.__version__, 'python': sys.version.split()[0]}
    for name, (spec, files) in FILES.items():
        spec = dict(spec)
        offsets = {f'{c["points"]},{num(c["radius"])}': dict(zip(('rows', 'cols'), lbp_offsets(c['points'], c['radius']))) for c in spec['lbp']}
        doc = {'spec': spec, 'reference': reference, 'lbpOffsets': offsets, 'images': [record(spec, f) for f in files]}
        with open(os.path.join(HERE, f'{name}.json'), 'w') as f:
            json.dump(doc, f, separators=(',', ':'))
            f.write('\n')
        print(f'{name}.json: {len(files)} records, {os.path.getsize(os.path.join(HERE, name + ".json")) // 1024} KB')


if __name__ == '__main__':
    main()
