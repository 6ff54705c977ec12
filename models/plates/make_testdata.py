#!/usr/bin/env python3
"""Makes crates/vision/testdata/plates/ from a seed-0 set of gen_eval.py (committed output; rerun
only to change the test images):

    gen_eval.py --out /tmp/set0 --n 40 --seed 0
    make_testdata.py --set /tmp/set0 --out crates/vision/testdata/plates

Each test image is the region around the plate (3.5 plate widths wide, 0.6 as high, the plate at
60 % height), scaled so the plate is 110 px wide, JPEG quality 88; plates.json keeps the truth.
"""

import argparse
import json
import os

import cv2
import numpy as np

IMAGES = ["0000", "0004", "0006", "0007", "0008", "0009", "0010", "0011", "0013", "0014", "0018",
          "0020", "0023", "0024", "0026"]

ABOUT = ("Crops of images of the seed-0 evaluation set made by models/plates/gen_eval.py (--seed 0): the region around the plate (3.5 plate widths wide, 0.6 as high), scaled so the plate is 110 px wide, JPEG quality 88. Base photos: fast-alpr 0.4.0 assets/test_image.png (MIT) and Debian opencv-doc 4.6.0 licenseplate_motion.jpg / pexels_double_decker_bus.jpg (Apache-2.0); plates rendered with WenQuanYi Micro Hei and DejaVu Sans. state: read (clear plate), covered (fully covered), none (the photo's plate inpainted away, nothing pasted).")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    gts = {json.loads(l)["image"]: json.loads(l) for l in open(os.path.join(a.set, "gt.jsonl"), encoding="utf-8")}
    images = []
    for stem in IMAGES:
        g = gts[stem + ".jpg"]
        im = cv2.imread(os.path.join(a.set, "images", g["image"]))
        pw = g["plate_width"]
        if g["corners"]:
            q = np.array(g["corners"])
            cx, cy = q[:, 0].mean(), q[:, 1].mean()
        else:  # no plate: where one would be
            x1, y1, x2, y2 = g["vehicle_box"]
            cx, cy = (x1 + x2) / 2, y1 + 0.62 * (y2 - y1)
        cw = 3.5 * pw
        ch = 0.6 * cw
        x0, y0 = int(max(0, cx - cw / 2)), int(max(0, cy - 0.6 * ch))
        x1, y1 = int(min(im.shape[1], cx + cw / 2)), int(min(im.shape[0], cy + 0.4 * ch))
        s = 110.0 / pw
        crop = cv2.resize(im[y0:y1, x0:x1], None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        name = f"plate_{stem}.jpg"
        cv2.imwrite(os.path.join(a.out, name), crop, [cv2.IMWRITE_JPEG_QUALITY, 88])
        images.append(dict(file=name, source=f"seed0/{g['image']}", base=g["base"], kind=g["kind"],
                           text=g["text"], colour=g["colour"], state=g["state"], cover=g["cover"]))
    with open(os.path.join(a.out, "plates.json"), "w", encoding="utf-8") as f:
        f.write(json.dumps(dict(about=ABOUT, images=images), ensure_ascii=False, indent=1) + "\n")


if __name__ == "__main__":
    main()
