/**
 * Supersampled shading (scene config raster.supersample = s > 1): the raster and the shading run
 * on a grid s times finer than the image, and the pre-blur image is box-filtered back (each output
 * pixel the mean of its s x s samples: the area filter of an anti-aliased silhouette). What is
 * not geometry stays on the output grid and is repeated over each pixel's samples (nearest
 * upsampling): the substrate texture, the surface grain and the proximity maps, so that away from
 * the silhouettes the supersampled image equals the one-sample image. Lengths that the fixed maps
 * measure on the raster (rim width, shadow length) are scaled by s; the proximity maps keep their
 * distances in output pixels, as the halo and crease widths are.
 */
import { lanesInstalled } from '../lanes/lanes.js';
import { copyShared } from '../lanes/shared.js';
import type { ProximityMaps } from './proximity.js';

/** Each value of a W x H map repeated over an s x s block: the (s W) x (s H) map, row-major. */
export function repeatPixels(a: ArrayLike<number>, W: number, H: number, s: number): Float64Array {
  if (a.length !== W * H) throw new Error(`repeatPixels: ${a.length} values for a ${W} x ${H} map`);
  const SW = s * W;
  const out = new Float64Array(SW * s * H);
  for (let y = 0; y < H; y++) {
    const row = out.subarray(s * y * SW, (s * y + 1) * SW);
    for (let x = 0; x < W; x++) row.fill(a[y * W + x], s * x, s * x + s);
    for (let k = 1; k < s; k++) out.copyWithin((s * y + k) * SW, s * y * SW, (s * y + 1) * SW);
  }
  return lanesInstalled() ? copyShared(out) : out;
}

/** The proximity maps of the output grid on the s x finer shading grid (distances unchanged). */
export function repeatProximity(m: ProximityMaps, W: number, H: number, s: number): ProximityMaps {
  const outside = repeatPixels(m.outside, W, H, s);
  return { outside, contact: m.contact === m.outside ? outside : repeatPixels(m.contact, W, H, s) };
}
