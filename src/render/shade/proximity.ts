/**
 * The proximity maps of the SEM halo and crease terms (sem.ts), from the exact instance map of
 * the hard rasterizer (raster/hard.ts: the owning particle of each pixel centre, 0 = substrate):
 *  - outside[i]: distance (px) from pixel i to the particles' silhouette, 0 on particle pixels:
 *    the Euclidean distance from its centre to the nearest particle pixel's centre minus 0.5
 *    (half a pixel: the silhouette runs between the two);
 *  - contact[i]: the same distance to the contact pixels, the particle pixels with a 4-neighbour
 *    of another particle (where two silhouettes meet or one particle overlaps another); 0 on
 *    them, CONTACT_NONE where the image has none.
 * They depend only on the geometry, never on the parameters: fixed maps without gradient, like
 * the rim and shadow maps (fixed-maps.ts). Exact squared Euclidean distance transform
 * (Felzenszwalb & Huttenlocher 2012: lower envelope of parabolas, one pass per axis, O(H W)).
 */
import { lanesInstalled } from '../lanes/lanes.js';
import { copyShared } from '../lanes/shared.js';

export interface ProximityMaps {
  outside: Float64Array;
  contact: Float64Array;
}

/** The contact distance where no two particles meet (beyond every allowed width: the profile is 0 there). */
export const CONTACT_NONE = 1e6;
const FAR = 1e20;

/** In place: f[k] (squared distances along one line, FAR = none) -> min_q (k - q)^2 + f[q]. */
function edt1d(f: Float64Array, n: number, v: Int32Array, z: Float64Array, d: Float64Array): void {
  let k = 0;
  v[0] = 0;
  z[0] = -Infinity;
  z[1] = Infinity;
  for (let q = 1; q < n; q++) {
    if (f[q] >= FAR) continue;
    if (f[v[k]] >= FAR) {
      // the envelope so far holds only an empty line start: replace it
      v[k] = q;
      continue;
    }
    let s = (f[q] + q * q - (f[v[k]] + v[k] * v[k])) / (2 * q - 2 * v[k]);
    while (s <= z[k]) {
      k--;
      s = (f[q] + q * q - (f[v[k]] + v[k] * v[k])) / (2 * q - 2 * v[k]);
    }
    k++;
    v[k] = q;
    z[k] = s;
    z[k + 1] = Infinity;
  }
  if (f[v[0]] >= FAR) {
    d.fill(FAR, 0, n); // no seed on this line
  } else {
    k = 0;
    for (let q = 0; q < n; q++) {
      while (z[k + 1] < q) k++;
      const t = q - v[k];
      d[q] = t * t + f[v[k]];
    }
  }
  for (let q = 0; q < n; q++) f[q] = d[q];
}

/**
 * Euclidean distance (px, between pixel centres) from every pixel to the nearest pixel with
 * seed[i] != 0; FAR's square root where there is none.
 */
export function distanceTransform(seed: ArrayLike<number>, W: number, H: number): Float64Array {
  // Columns first by two scans (the distance to the nearest seed in the column, squared), then
  // each row by the lower envelope of parabolas.
  const g = new Float64Array(W * H);
  const cap = W + H; // longer than any in-image distance: "none in this column"
  for (let x = 0; x < W; x++) {
    let d = cap;
    for (let i = x; i < W * H; i += W) {
      d = seed[i] ? 0 : d + 1;
      g[i] = d;
    }
    d = cap;
    for (let i = x + (H - 1) * W; i >= 0; i -= W) {
      d = seed[i] ? 0 : d + 1;
      if (d < g[i]) g[i] = d;
    }
  }
  for (let i = 0; i < g.length; i++) g[i] = g[i] >= cap ? FAR : g[i] * g[i];
  const f = new Float64Array(W), d = new Float64Array(W), z = new Float64Array(W + 1);
  const v = new Int32Array(W);
  for (let y = 0; y < H; y++) {
    const row = g.subarray(y * W, (y + 1) * W);
    f.set(row);
    edt1d(f, W, v, z, d);
    row.set(f);
  }
  for (let i = 0; i < g.length; i++) g[i] = Math.sqrt(g[i]);
  return g;
}

/** The halo's and the crease's distance maps of an instance map (in shared memory when raster lanes are installed). */
export function proximityMaps(instances: Uint16Array, W: number, H: number): ProximityMaps {
  const contactSeed = new Uint8Array(W * H);
  let any = false;
  for (let y = 0; y < H; y++) {
    for (let x = 0, i = y * W; x < W; x++, i++) {
      const a = instances[i];
      if (a === 0) continue;
      let b: number;
      if (
        (x > 0 && (b = instances[i - 1]) !== 0 && b !== a) ||
        (x < W - 1 && (b = instances[i + 1]) !== 0 && b !== a) ||
        (y > 0 && (b = instances[i - W]) !== 0 && b !== a) ||
        (y < H - 1 && (b = instances[i + W]) !== 0 && b !== a)
      ) {
        contactSeed[i] = 1;
        any = true;
      }
    }
  }
  const outside = distanceTransform(instances, W, H);
  for (let i = 0; i < outside.length; i++) outside[i] = instances[i] !== 0 ? 0 : Math.min(CONTACT_NONE, outside[i] - 0.5);
  let contact: Float64Array;
  if (any) {
    contact = distanceTransform(contactSeed, W, H);
    for (let i = 0; i < contact.length; i++) contact[i] = contactSeed[i] ? 0 : Math.min(CONTACT_NONE, contact[i] - 0.5);
  } else contact = new Float64Array(W * H).fill(CONTACT_NONE);
  return lanesInstalled() ? { outside: copyShared(outside), contact: copyShared(contact) } : { outside, contact };
}

const farMaps = new Map<string, ProximityMaps>();

/**
 * Maps with every distance at CONTACT_NONE (no halo, no crease anywhere), one read-only pair per
 * size: what a render passes when both strengths are 0 and no gradient is wanted, where the maps
 * cannot change the image.
 */
export function farProximityMaps(W: number, H: number): ProximityMaps {
  const shared = lanesInstalled();
  const key = `${W}x${H}${shared ? ' shared' : ''}`;
  let maps = farMaps.get(key);
  if (!maps) {
    const far = new Float64Array(W * H).fill(CONTACT_NONE);
    maps = shared ? { outside: copyShared(far), contact: copyShared(far) } : { outside: far, contact: far };
    farMaps.set(key, maps);
  }
  return maps;
}
