/** Test helpers for src/seg: masks drawn as text, naive reference implementations. */

/**
 * A label map from rows of characters: '.' = 0, '1'-'9' = that id, 'a'-'z' = 10.., '#' = 1.
 * All rows must have the same length.
 */
export function grid(rows: string[]): { data: Int32Array; width: number; height: number } {
  const width = rows[0].length;
  const height = rows.length;
  const data = new Int32Array(width * height);
  rows.forEach((row, y) => {
    if (row.length !== width) throw new Error(`row ${y} has length ${row.length}, expected ${width}`);
    for (let x = 0; x < width; x++) {
      const c = row[x];
      data[y * width + x] =
        c === '.' ? 0 : c === '#' ? 1 : c >= '0' && c <= '9' ? Number(c) : c.charCodeAt(0) - 87;
    }
  });
  return { data, width, height };
}

/** A filled digitised disk: pixel centres (x + 0.5, y + 0.5) within r of (cx, cy). */
export function drawDisk(out: ArrayLike<number> & { [i: number]: number }, width: number, height: number, cx: number, cy: number, r: number, value = 1): void {
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const dx = x + 0.5 - cx;
      const dy = y + 0.5 - cy;
      if (dx * dx + dy * dy <= r * r) out[y * width + x] = value;
    }
  }
}

/** Naive BFS connected components, numbered in raster order of first pixel. */
export function naiveComponents(mask: ArrayLike<number>, width: number, height: number, conn: 4 | 8): Int32Array {
  const out = new Int32Array(width * height);
  let next = 0;
  for (let s = 0; s < out.length; s++) {
    if (!mask[s] || out[s]) continue;
    out[s] = ++next;
    const stack = [s];
    while (stack.length) {
      const i = stack.pop()!;
      const x = i % width;
      const y = Math.floor(i / width);
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          if ((dx === 0 && dy === 0) || (conn === 4 && dx !== 0 && dy !== 0)) continue;
          const nx = x + dx;
          const ny = y + dy;
          if (nx < 0 || ny < 0 || nx >= width || ny >= height) continue;
          const j = ny * width + nx;
          if (mask[j] && !out[j]) {
            out[j] = next;
            stack.push(j);
          }
        }
      }
    }
  }
  return out;
}

/** Class probabilities [3, H, W] of a label image: P(background) 0 on the instances and 1 elsewhere, P(contour) 0 everywhere. */
export function probsOf(labels: Int32Array): Float32Array {
  const n = labels.length;
  const p = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    p[i] = labels[i] ? 0 : 1;
    p[n + i] = labels[i] ? 1 : 0;
  }
  return p;
}
