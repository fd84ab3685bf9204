#!/usr/bin/env bash
# Annotated pairs rendered with a preset's own default parameters (no training, no real image
# read), laid out as a `segment train --data` folder: OUT/images, OUT/masks (0/1/2), OUT/instances
# (16-bit ids), one NAME.png each; samples that fail the rejection rules are left out, as
# `generate` leaves them out. Used to pretrain a U-Net for `segment train --init`
# (docs/segmentation.md, "Starting the U-Net from pretrained weights").
#
#   scripts/render-seg-pairs.sh PRESET SEED N OUT     e.g. scripts/render-seg-pairs.sh tio2-sem 1 400 pairs/
set -euo pipefail
[ $# -eq 4 ] || { echo "usage: $0 PRESET SEED N OUT" >&2; exit 2; }
preset=$1 seed=$2 n=$3 out=$4
cli="$(cd "$(dirname "$0")/.." && pwd)/dist/cli.js"
raw="$out/render"
node "$cli" render --preset "$preset" --seed "$seed" --n "$n" --out "$raw" --quiet
mkdir -p "$out/images" "$out/masks" "$out/instances"
node -e '
const fs = require("node:fs"), path = require("node:path");
const [raw, out] = process.argv.slice(1);
let kept = 0, dropped = 0;
for (const d of fs.readdirSync(raw).filter((d) => /^\d+$/.test(d)).sort()) {
  const scene = JSON.parse(fs.readFileSync(path.join(raw, d, "scene.json"), "utf8"));
  if (scene.rejected) { dropped++; continue; }
  const name = `render_${d}.png`;
  for (const [from, to] of [["image.png", "images"], ["classes.png", "masks"], ["instances.png", "instances"]]) fs.copyFileSync(path.join(raw, d, from), path.join(out, to, name));
  kept++;
}
console.log(`${kept} pairs in ${out} (${dropped} failed the rejection rules)`);
' "$raw" "$out"
