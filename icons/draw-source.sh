#!/usr/bin/env bash
# Draws icons/source.png (a keyhole on a calm blue tile) with ImageMagick; the platform set
# next to it is generated from it with: (cd ui && npx tauri icon ../icons/source.png -o ../icons)
set -euo pipefail
cd "$(dirname "$0")"
convert -size 1024x1024 xc:none \
  -fill '#234b6e' -draw "roundrectangle 64,64 960,960 200,200" \
  -fill '#f4f1ea' -draw "circle 512,420 512,580" \
  -fill '#f4f1ea' -draw "polygon 440,520 584,520 640,800 384,800" \
  -fill '#3aa6a0' -draw "circle 512,420 512,470" \
  -depth 8 PNG32:source.png
