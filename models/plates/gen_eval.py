#!/usr/bin/env python3
"""Renders a synthetic Chinese licence-plate evaluation set onto REAL vehicle photos.

Deterministic by --seed (with the pinned packages of requirements.txt and the Debian fonts below).
Writes <out>/images/NNNN.jpg and <out>/gt.jsonl, one JSON object per image:
  image, text (plate string or null), colour (blue|yellow|green|white|black|null), kind, rows (1|2),
  state (read|covered|none), subset (clear|degraded|partial_cover|full_cover|none),
  cover (null | cloth|paper|mud|blank|tape), corners [[x,y] TL,TR,BR,BL] or null,
  vehicle_box [x1,y1,x2,y2], base (source photo).

Real photos, found under $XUELIANG_HOME/media/ (default ~/.cache/xueliang/media/) or --src; where
each comes from (package, version, member path, sha256) is in the plate artifacts of
models/manifest.toml, and the sha256 is checked here:
  fastalpr_test_image.png       PyPI fast-alpr 0.4.0 sdist, fast_alpr-0.4.0/assets/test_image.png (MIT)
  licenseplate_motion.jpg       Debian opencv-doc 4.6.0+dfsg-12, .../examples/data/licenseplate_motion.jpg (Apache-2.0)
  pexels_double_decker_bus.jpg  Debian opencv-doc 4.6.0+dfsg-12, .../opencv4/html/pexels_double_decker_bus.jpg
Each base lists where its real plate is (inpainted away first), the vehicle box and the plate anchor.
Fonts: Debian fonts-wqy-microhei (CJK) and fonts-dejavu-core (Latin):
  apt-get install fonts-wqy-microhei fonts-dejavu-core

Usage: gen_eval.py --out DIR [--n 600] [--seed 0] [--src DIR]
  `xueliang plates --eval DIR` measures the Rust plate reader on the result.
"""

import argparse
import hashlib
import json
import math
import os
import random

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

CJK_FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"          # Debian fonts-wqy-microhei
LATIN_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed-Bold.ttf"  # fonts-dejavu-core

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
DIGITS = "0123456789"
ALNUM = LETTERS + DIGITS

# Real photos. plate: the real plate's quad (inpainted away); anchor: centre and width (px, in the
# photo's own scale) of a Chinese plate mounted there; vbox: the vehicle's box.
BASES = [
    dict(file="fastalpr_test_image.png",
         sha256="c154c3e0873fa35076ecf4f611d345c092450217fe75737b2a77183018218255",
         plates=[[[312, 187], [392, 186], [392, 212], [312, 213]]],
         anchor=(352, 200), width=70, vbox=(40, 45, 452, 270), view="rear"),
    dict(file="licenseplate_motion.jpg",
         sha256="ea6fa9cea75df91bec656d1d3b903111a9c0708c6a3b88f405a5156de38ff9d6",
         plates=[[[224, 224], [362, 224], [362, 300], [224, 300]]],
         anchor=(293, 262), width=125, vbox=(0, 20, 600, 475), view="rear"),
    dict(file="pexels_double_decker_bus.jpg",
         sha256="e4c4dd62995cbe30501798f86fcf5973c7abe3ff9f7711fdb72c6d1f7f304484",
         plates=[[[414, 363], [446, 363], [446, 377], [414, 377]], [[523, 364], [546, 364], [546, 378], [523, 378]]],
         anchor=(430, 370), width=30, vbox=(60, 110, 485, 392), view="front"),
]

# kind -> (colour, rows, plate size mm, weight)
KINDS = {
    "blue":           ("blue", 1, (440, 140), 3),
    "yellow_single":  ("yellow", 1, (440, 140), 1),
    "yellow_double":  ("yellow", 2, (440, 220), 1.5),
    "trailer_挂":     ("yellow", 2, (440, 220), 1),
    "coach_学":       ("yellow", 1, (440, 140), 1),
    "green_small":    ("green", 1, (480, 140), 1.5),
    "green_large":    ("green", 1, (480, 140), 1),
    "police_警":      ("white", 1, (440, 140), 1),
    "hk_港":          ("black", 1, (440, 140), 0.7),
    "macao_澳":       ("black", 1, (440, 140), 0.6),
    "embassy_使":     ("black", 1, (440, 140), 0.7),
    "consulate_领":   ("black", 1, (440, 140), 0.6),
}


def plate_text(kind, r):
    p = r.choice(PROVINCES)
    l = r.choice(LETTERS)
    an = lambda n: "".join(r.choice(ALNUM if r.random() < 0.5 else DIGITS) for _ in range(n))
    dg = lambda n: "".join(r.choice(DIGITS) for _ in range(n))
    if kind in ("blue", "yellow_single", "yellow_double"):
        return p + l + an(5)
    if kind == "trailer_挂":
        return p + l + an(4) + "挂"
    if kind == "coach_学":
        return p + l + an(4) + "学"
    if kind == "police_警":
        return p + l + dg(4) + "警" if r.random() < 0.7 else p + l + an(4) + "警"
    if kind == "green_small":
        return p + l + r.choice("DF" * 4 + "ABCEGHJK") + r.choice(ALNUM) + dg(4)
    if kind == "green_large":
        return p + l + dg(5) + r.choice("DF" * 4 + "ABCEGHJK")
    if kind == "hk_港":
        return "粤Z" + an(4) + "港"
    if kind == "macao_澳":
        return "粤Z" + an(4) + "澳"
    if kind == "embassy_使":
        return "使" + dg(6) if r.random() < 0.5 else dg(6) + "使"
    if kind == "consulate_领":
        return r.choice("京沪粤川辽") + "A" + dg(4) + "领"
    raise ValueError(kind)


# ---------------------------------------------------------------------------------------------
# Rendering a plate (RGB canvas, 4 px per mm)
# ---------------------------------------------------------------------------------------------

PX = 4
_glyph_cache = {}


def glyph(ch, bold):
    key = (ch, bold)
    if key in _glyph_cache:
        return _glyph_cache[key]
    cjk = ord(ch) > 0x2E80
    font = ImageFont.truetype(CJK_FONT if cjk else LATIN_FONT, 240)
    im = Image.new("L", (360, 360), 0)
    d = ImageDraw.Draw(im)
    d.text((40, 20), ch, font=font, fill=255, stroke_width=(7 if cjk else 2) if bold else 0, stroke_fill=255)
    a = np.array(im)
    ys, xs = np.nonzero(a > 20)
    a = a[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    _glyph_cache[key] = a
    return a


def put_char(canvas, ch, box, colour):
    """Draws ch filling box (x, y, w, h in mm) height; aspect kept unless too wide."""
    x, y, w, h = [v * PX for v in box]
    g = glyph(ch, True).astype(np.float32) / 255.0
    gh, gw = g.shape
    th = int(round(h))
    tw = int(round(gw * th / gh))
    if tw > w:
        tw = int(round(w))
    g = cv2.resize(g, (max(tw, 1), th), interpolation=cv2.INTER_AREA)
    x0 = int(round(x + (w - tw) / 2))
    y0 = int(round(y))
    reg = canvas[y0:y0 + th, x0:x0 + tw]
    g = g[:reg.shape[0], :reg.shape[1], None]
    reg[:] = reg * (1 - g) + np.array(colour, np.float32) * g


COLOURS = {  # background, text, border (RGB)
    "blue": ((18, 70, 185), (245, 245, 245), (235, 235, 235)),
    "yellow": ((242, 190, 15), (15, 15, 15), (20, 20, 20)),
    "white": ((238, 238, 238), (15, 15, 15), (20, 20, 20)),
    "black": ((18, 18, 18), (240, 240, 240), (230, 230, 230)),
    "green": ((90, 195, 120), (12, 12, 12), (20, 20, 20)),
}
RED = (205, 25, 25)


def layout(kind, text):
    """Returns [(char, (x,y,w,h) mm)] and dot positions."""
    colour, rows, (W, H), _ = KINDS[kind]
    out, dots = [], []
    if rows == 2:
        # upper row: 2 chars 80 x 60 (GA 36 double-row), dot between; lower row 5 chars 65 x 110
        out.append((text[0], (110 - 5, 15, 80, 60)))
        out.append((text[1], (250 + 5, 15, 80, 60)))
        dots.append((220, 45))
        for i, ch in enumerate(text[2:]):
            out.append((ch, (27.5 + i * 80, 95, 65, 110)))
    elif len(text) == 8:
        x = 15.5
        for i, ch in enumerate(text):
            out.append((ch, (x, 25, 43, 90)))
            x += 43 + (49 if i == 1 else 9)
        dots.append((15.5 + 43 + 9 + 43 + 24.5, 70))
    else:
        x = 15.5
        for i, ch in enumerate(text):
            out.append((ch, (x, 25, 45, 90)))
            x += 45 + (34 if i == 1 else 12)
        dots.append((15.5 + 45 + 12 + 45 + 17, 70))
    if text.startswith("使"):
        dots = []
    return out, dots


def render_plate(kind, text, r, blank=False):
    colour, rows, (W, H), _ = KINDS[kind]
    bg, fg, border = COLOURS[colour]
    jit = lambda c, s=14: tuple(int(np.clip(v + r.uniform(-s, s), 0, 255)) for v in c)
    bg, fg = jit(bg), jit(fg, 8)
    c = np.zeros((H * PX, W * PX, 3), np.float32)
    c[:] = bg
    if kind == "green_small":  # gradient: pale at the top to green at the bottom
        top = np.array(jit((228, 246, 232), 6), np.float32)
        bot = np.array(jit((70, 190, 105), 10), np.float32)
        t = np.linspace(0, 1, H * PX)[:, None, None]
        c[:] = top * (1 - t) + bot * t
    elif kind == "green_large":  # yellow left part (province+letter), green right
        c[:] = np.array(jit((70, 180, 95)), np.float32)
        c[:, : int(120 * PX)] = np.array(jit((225, 205, 40)), np.float32)
    # border line inset 3 mm, 2 mm thick, rounded corners approximated
    b = int(3 * PX)
    cv2.rectangle(c, (b, b), (W * PX - b, H * PX - b), border, int(1.8 * PX), lineType=cv2.LINE_AA)
    # rivets
    for rx in (0.22, 0.78):
        cv2.circle(c, (int(W * PX * rx), int((12 if rows == 1 else 9) * PX)), int(3 * PX),
                   tuple(min(255, v + 40) for v in bg), -1, lineType=cv2.LINE_AA)
    if not blank:
        chars, dots = layout(kind, text)
        for ch, box in chars:
            col = fg
            if ch == "警" or (ch == "使" and kind == "embassy_使") or ch == "领":
                col = RED
            put_char(c, ch, box, col)
        for dx, dy in dots:
            cv2.circle(c, (int(dx * PX), int(dy * PX)), int(5 * PX), fg, -1, lineType=cv2.LINE_AA)
    return np.clip(c, 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------------------------
# Covers
# ---------------------------------------------------------------------------------------------

def cover(plate, kind, text, mode, full, r):
    """Returns covered plate (RGB). full: every character hidden; else >= 3 characters hidden."""
    H, W = plate.shape[:2]
    out = plate.astype(np.float32)
    chars, _ = layout(kind, text)
    if full:
        x0, x1 = 0, W
        y0, y1 = 0, H
    else:
        n = len(chars)
        k = r.randint(3, n - 1)
        start = r.choice([0, n - k]) if r.random() < 0.7 else r.randint(0, n - k)
        sel = chars[start:start + k]
        x0 = int(min(b[0] for _, b in sel) * PX) - 4 * PX
        x1 = int(max(b[0] + b[2] for _, b in sel) * PX) + 4 * PX
        y0, y1 = 0, H
        if KINDS[kind][1] == 2:  # double row: cover whole rows region of the selected chars
            y0 = int(min(b[1] for _, b in sel) * PX) - 4 * PX
            y1 = int(max(b[1] + b[3] for _, b in sel) * PX) + 4 * PX
            x0, x1 = min(x0, int(20 * PX)), max(x1, W - int(20 * PX))
    x0, y0 = max(0, x0), max(0, y0)
    mask = np.zeros((H, W), np.float32)
    if mode == "mud":
        for _ in range(int(60 if full else 30)):
            cx, cy = r.uniform(x0, x1), r.uniform(y0, y1)
            ax, ay = r.uniform(0.05, 0.2) * W, r.uniform(0.15, 0.5) * H
            cv2.ellipse(mask, (int(cx), int(cy)), (int(ax), int(ay)), r.uniform(0, 180), 0, 360, 1.0, -1)
        mask[:, :x0] = 0
        mask[:, x1:] = 0
        mask = cv2.GaussianBlur(mask, (0, 0), 3 * PX)
        mask = np.clip(mask * 1.6, 0, 1)
        col = np.array([r.uniform(70, 120), r.uniform(55, 90), r.uniform(30, 60)], np.float32)
        tex = col + np.random.RandomState(r.randint(0, 1 << 30)).normal(0, 12, (H, W, 1)).astype(np.float32)
    else:
        mask[y0:y1, x0:x1] = 1
        if mode == "cloth":
            col = np.array([r.uniform(0, 255) for _ in range(3)], np.float32)
            yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
            a = r.uniform(0, math.pi)
            fold = 0.75 + 0.25 * np.sin((xx * math.cos(a) + yy * math.sin(a)) / (r.uniform(8, 25) * PX) + r.uniform(0, 6))
            tex = col * fold[..., None]
            tex += np.random.RandomState(r.randint(0, 1 << 30)).normal(0, 6, (H, W, 1)).astype(np.float32)
        elif mode == "paper":
            col = np.array([r.uniform(215, 250)] * 3, np.float32) - np.array([0, 0, r.uniform(0, 20)], np.float32)
            tex = np.broadcast_to(col, (H, W, 3)).copy()
            tex += np.random.RandomState(r.randint(0, 1 << 30)).normal(0, 3, (H, W, 1)).astype(np.float32)
        elif mode == "tape":
            col = np.array(r.choice([(20, 20, 20), (200, 30, 30), (40, 40, 160), (230, 230, 230)]), np.float32)
            tex = np.broadcast_to(col, (H, W, 3)).copy()
        else:  # blank: plate background colour
            tex = np.broadcast_to(plate[H // 2, int(W * 0.03) + 8 * PX].astype(np.float32), (H, W, 3)).copy()
            bord = int(6 * PX)
            mask[:bord] = 0; mask[-bord:] = 0; mask[:, :bord] = 0; mask[:, -bord:] = 0
        # slightly rotated / ragged edge
        if not full or mode != "blank":
            M = cv2.getRotationMatrix2D((W / 2, H / 2), r.uniform(-4, 4), 1.0)
            mask = cv2.warpAffine(mask, M, (W, H))
        mask = cv2.GaussianBlur(mask, (0, 0), 0.8 * PX)
    out = out * (1 - mask[..., None]) + tex * mask[..., None]
    return np.clip(out, 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------------------------
# Compositing
# ---------------------------------------------------------------------------------------------

def rot(yaw, pitch, roll):
    cy, sy = math.cos(yaw), math.sin(yaw)
    cp, sp = math.cos(pitch), math.sin(pitch)
    cr, sr = math.cos(roll), math.sin(roll)
    Ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    Rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    Rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return Rz @ Rx @ Ry


def dst_quad(center, width, aspect, yaw, pitch, roll):
    w, h = width, width / aspect
    pts = np.array([[-w / 2, -h / 2, 0], [w / 2, -h / 2, 0], [w / 2, h / 2, 0], [-w / 2, h / 2, 0]])
    R = rot(yaw, pitch, roll)
    P = pts @ R.T
    f = 3.5 * width
    q = np.stack([center[0] + f * P[:, 0] / (f + P[:, 2]), center[1] + f * P[:, 1] / (f + P[:, 2])], 1)
    return q.astype(np.float32)


def paste(img, plate_rgb, quad, r, light):
    H, W = plate_rgb.shape[:2]
    tw = max(8, int(np.linalg.norm(quad[1] - quad[0]) * 2))
    th = max(4, int(tw * H / W))
    p = cv2.resize(plate_rgb, (tw, th), interpolation=cv2.INTER_AREA).astype(np.float32)
    # lighting on the plate: gradient + optional shadow band
    g = np.linspace(light[0], light[1], tw, dtype=np.float32)[None, :, None]
    p = p * g
    if r.random() < 0.25:
        x0 = r.randint(0, tw - 1)
        p[:, x0:] *= r.uniform(0.45, 0.75)
    src = np.float32([[0, 0], [tw - 1, 0], [tw - 1, th - 1], [0, th - 1]])
    M = cv2.getPerspectiveTransform(src, quad)
    warped = cv2.warpPerspective(p, M, (img.shape[1], img.shape[0]), flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.ones((th, tw), np.float32), M, (img.shape[1], img.shape[0]), flags=cv2.INTER_LINEAR)
    out = img.astype(np.float32) * (1 - mask[..., None]) + warped[..., ::-1] * mask[..., None]
    return np.clip(out, 0, 255).astype(np.uint8)


def degrade(img, r, strength):
    """strength 0 (clear) .. 1 (degraded). Returns img and a dict of applied parameters."""
    info = {}
    im = img.astype(np.float32)
    # global light / gamma
    gain = r.uniform(0.75, 1.2) if strength < 0.5 else r.uniform(0.35, 1.3)
    gamma = r.uniform(0.85, 1.2) if strength < 0.5 else r.uniform(0.7, 2.2)
    im = 255 * np.clip(im / 255 * gain, 0, 1) ** gamma
    info.update(gain=round(gain, 2), gamma=round(gamma, 2))
    im = np.clip(im, 0, 255).astype(np.uint8)
    # blur
    if strength >= 0.5:
        if r.random() < 0.5:
            k = r.randint(5, 13)
            ker = np.zeros((k, k), np.float32)
            ker[k // 2, :] = 1
            Mr = cv2.getRotationMatrix2D((k / 2 - 0.5, k / 2 - 0.5), r.uniform(0, 180), 1)
            ker = cv2.warpAffine(ker, Mr, (k, k))
            ker /= ker.sum()
            im = cv2.filter2D(im, -1, ker)
            info["motion_blur"] = k
        else:
            s = r.uniform(1.0, 2.2)
            im = cv2.GaussianBlur(im, (0, 0), s)
            info["gauss_blur"] = round(s, 2)
    else:
        s = r.uniform(0.0, 0.8)
        if s > 0.3:
            im = cv2.GaussianBlur(im, (0, 0), s)
        info["gauss_blur"] = round(s, 2)
    # noise
    ns = r.uniform(0, 4) if strength < 0.5 else r.uniform(4, 14)
    im = np.clip(im.astype(np.float32) + np.random.RandomState(r.randint(0, 1 << 30)).normal(0, ns, im.shape), 0, 255).astype(np.uint8)
    info["noise"] = round(ns, 1)
    q = r.randint(75, 95) if strength < 0.5 else r.randint(30, 70)
    info["jpeg"] = q
    return im, info


def default_media_dir():
    home = os.environ.get("XUELIANG_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "xueliang")
    return os.path.join(home, "media")


def check_inputs(src):
    """Fails with a clear message when a photo or a font is missing or not the pinned one."""
    problems = []
    for b in BASES:
        path = os.path.join(src, b["file"])
        if not os.path.isfile(path):
            problems.append(f"missing {path} (fetch the plate media artifacts, see models/manifest.toml)")
            continue
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        if digest != b["sha256"]:
            problems.append(f"{path}: sha256 {digest}, expected {b['sha256']}")
    for font, pkg in ((CJK_FONT, "fonts-wqy-microhei"), (LATIN_FONT, "fonts-dejavu-core")):
        if not os.path.isfile(font):
            problems.append(f"missing {font}: apt-get install {pkg}")
    if problems:
        raise SystemExit("gen_eval.py: " + "; ".join(problems))


def prepare_bases(src):
    check_inputs(src)
    out = []
    for b in BASES:
        im = cv2.imread(os.path.join(src, b["file"]))
        assert im is not None, b["file"]
        m = np.zeros(im.shape[:2], np.uint8)
        for q in b["plates"]:
            cv2.fillPoly(m, [np.int32(q)], 255)
        m = cv2.dilate(m, np.ones((5, 5), np.uint8))
        clean = cv2.inpaint(im, m, 7, cv2.INPAINT_TELEA)
        out.append((b, clean))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--src", default=default_media_dir(), help="folder with the real photos [$XUELIANG_HOME/media]")
    a = ap.parse_args()
    r = random.Random(a.seed)
    os.makedirs(os.path.join(a.out, "images"), exist_ok=True)
    bases = prepare_bases(a.src)
    kinds = list(KINDS)
    weights = [KINDS[k][3] for k in kinds]
    subsets = ["clear"] * 50 + ["degraded"] * 16 + ["partial_cover"] * 12 + ["full_cover"] * 14 + ["none"] * 8
    gt = open(os.path.join(a.out, "gt.jsonl"), "w", encoding="utf-8")
    for i in range(a.n):
        # round-robin kinds for the first pass so every kind is present, then weighted
        kind = kinds[i % len(kinds)] if i < 2 * len(kinds) else r.choices(kinds, weights)[0]
        subset = r.choice(subsets)
        b, base = bases[i % len(bases)] if r.random() < 0.5 else r.choice(bases)
        colour, rows, (Wmm, Hmm), _ = KINDS[kind]
        text = plate_text(kind, r)
        # plate width in the output image
        if subset == "degraded":
            pw = r.uniform(55, 140)
        else:
            pw = r.uniform(90, 240)
        s = pw / b["width"] * (440 / Wmm if Wmm != 440 else 1.0) * (Wmm / 440)
        img = cv2.resize(base, None, fx=s, fy=s, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
        flip = r.random() < 0.5
        ax, ay = b["anchor"][0] * s, b["anchor"][1] * s
        vb = [v * s for v in b["vbox"]]
        if flip:
            img = img[:, ::-1].copy()
            ax = img.shape[1] - ax
            vb = [img.shape[1] - vb[2], vb[1], img.shape[1] - vb[0], vb[3]]
        # colour jitter of the scene (white balance)
        wb = np.array([r.uniform(0.9, 1.1) for _ in range(3)], np.float32)
        img = np.clip(img.astype(np.float32) * wb, 0, 255).astype(np.uint8)
        # crop a window of at most 1280 x 960 containing the vehicle box if it fits
        H, W = img.shape[:2]
        cw, ch = min(W, 1280), min(H, 960)
        lo_x = int(max(0, min(vb[2] - cw, ax - cw + pw)))
        hi_x = int(min(W - cw, max(vb[0], ax - pw)))
        lo_y = int(max(0, min(vb[3] - ch, ay - ch + pw)))
        hi_y = int(min(H - ch, max(vb[1], ay - pw)))
        x0 = r.randint(min(lo_x, hi_x), max(lo_x, hi_x))
        y0 = r.randint(min(lo_y, hi_y), max(lo_y, hi_y))
        img = img[y0:y0 + ch, x0:x0 + cw].copy()
        ax, ay = ax - x0, ay - y0
        vb = [max(0, vb[0] - x0), max(0, vb[1] - y0), min(cw, vb[2] - x0), min(ch, vb[3] - y0)]
        # plate pose
        big = subset == "degraded"
        yaw = math.radians(r.uniform(-35, 35) if big else r.uniform(-25, 25))
        pitch = math.radians(r.uniform(-25, 25) if big else r.uniform(-15, 15))
        roll = math.radians(r.uniform(-8, 8) if big else r.uniform(-5, 5))
        centre = (ax + r.uniform(-0.05, 0.05) * pw, ay + r.uniform(-0.05, 0.05) * pw)
        # double-row plates sit a little higher (rear of trucks): same anchor
        quad = None
        cov = None
        state = "read"
        if subset != "none":
            plate = render_plate(kind, text, r)
            if subset in ("partial_cover", "full_cover"):
                state = "covered"
                full = subset == "full_cover"
                cov = r.choice(["cloth", "paper", "mud", "tape"] + (["blank"] if full else []))
                plate = render_plate(kind, text, r, blank=True) if cov == "blank" else cover(plate, kind, text, cov, full, r)
            # plate-level dirt for degraded
            quad = dst_quad(centre, pw, Wmm / Hmm, yaw, pitch, roll)
            light = (r.uniform(0.75, 1.1), r.uniform(0.75, 1.1)) if not big else (r.uniform(0.4, 1.2), r.uniform(0.4, 1.2))
            img = paste(img, plate, quad, r, light)
        else:
            state = "none"
        img, info = degrade(img, r, 1.0 if subset == "degraded" else 0.0)
        name = f"{i:04d}.jpg"
        cv2.imwrite(os.path.join(a.out, "images", name), img, [cv2.IMWRITE_JPEG_QUALITY, info["jpeg"]])
        rec = dict(image=name, text=None if state == "none" else text,
                   colour=None if state == "none" else colour, kind=kind if state != "none" else None,
                   rows=rows if state != "none" else None, state=state, subset=subset, cover=cov,
                   corners=None if quad is None else [[round(float(x), 1), round(float(y), 1)] for x, y in quad],
                   plate_width=round(pw, 1), yaw=round(math.degrees(yaw), 1), pitch=round(math.degrees(pitch), 1),
                   vehicle_box=[round(v, 1) for v in vb], base=b["file"], flip=flip, effects=info)
        gt.write(json.dumps(rec, ensure_ascii=False) + "\n")
    gt.close()
    print(f"wrote {a.n} images to {a.out}")


if __name__ == "__main__":
    main()
