#!/usr/bin/env python3
"""Makes crates/vision/testdata/plates/ from the seed-0 and seed-4 sets of gen_eval.py (committed
output; rerun only to change the test images):

    gen_eval.py --out /tmp/set0 --n 40 --seed 0
    gen_eval.py --out /tmp/set4 --n 600 --seed 4
    make_testdata.py --set /tmp/set0 --partial-set /tmp/set4 --out crates/vision/testdata/plates

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

# A plate covered in part that the detector boxes around its visible characters only (the box
# passes for a double-row plate; read as one line it is a fragment of a plate), from the seed-4 set.
PARTIAL = ["0165"]

ABOUT = ("Crops of images of evaluation sets made by models/plates/gen_eval.py (--seed 0; --seed 4 --n 600 for plate_s4_*): the region around the plate (3.5 plate widths wide, 0.6 as high), scaled so the plate is 110 px wide, JPEG quality 88. Base photos: fast-alpr 0.4.0 assets/test_image.png (MIT) and Debian opencv-doc 4.6.0 licenseplate_motion.jpg / pexels_double_decker_bus.jpg (Apache-2.0); plates rendered with WenQuanYi Micro Hei and DejaVu Sans. state: read (clear plate), covered (fully covered; plate_s4_* of the seed-4 set: covered in part), none (the photo's plate inpainted away, nothing pasted).")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", required=True)
    ap.add_argument("--partial-set", required=True, help="the seed-4 set (n 600), for PARTIAL")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    images = []
    for set_dir, seed, stems, prefix in ((a.set, 0, IMAGES, "plate_"), (a.partial_set, 4, PARTIAL, "plate_s4_")):
        images += crops(set_dir, seed, stems, prefix, a.out)
    with open(os.path.join(a.out, "plates.json"), "w", encoding="utf-8") as f:
        f.write(json.dumps(dict(about=ABOUT, images=images), ensure_ascii=False, indent=1) + "\n")


def crops(set_dir, seed, stems, prefix, out):
    """Writes the crops of `stems` of one set; returns their truth records."""
    gts = {json.loads(l)["image"]: json.loads(l) for l in open(os.path.join(set_dir, "gt.jsonl"), encoding="utf-8")}
    images = []
    for stem in stems:
        g = gts[stem + ".jpg"]
        im = cv2.imread(os.path.join(set_dir, "images", g["image"]))
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
        name = f"{prefix}{stem}.jpg"
        cv2.imwrite(os.path.join(out, name), crop, [cv2.IMWRITE_JPEG_QUALITY, 88])
        images.append(dict(file=name, source=f"seed{seed}/{g['image']}", base=g["base"], kind=g["kind"],
                           text=g["text"], colour=g["colour"], state=g["state"], cover=g["cover"]))
    return images


if __name__ == "__main__":
    main()
