/**
 * Path lengths through the particles, for transmission image formation (shade/transmission.ts).
 *
 * A transmission micrograph (TEM / STEM bright field, TSEM) records how much material the beam
 * crosses on its way down through the sample: its mass thickness. Per vertex of the (projected)
 * particle meshes this computes the total length t of the vertical line through the vertex's
 * (x, y) inside particles, summed over every particle the line crosses (a particle resting on
 * another adds its own chord), and the same sum weighted by each particle's diffraction
 * strength u_k in [0, 1]. The soft rasterizer blends these per-vertex values like any attribute
 * (nearest front face by height, soft at silhouettes, where the chords go to 0), which makes t a
 * soft, differentiable function of the projected vertices per pixel.
 *
 * A particle's chord at (x, y) is the highest minus the lowest height at which the line meets
 * its triangles (exact for convex particles: spheres, the rounded polyhedra; for a concave mesh
 * it also counts the gaps inside its hull). Heights are the camera's depth keys (camera.ts): with
 * the orthographic camera, the physical heights in pixels; with the perspective camera the lines
 * are the image's pixel rays and the chord an approximation.
 *
 * The values depend only on the geometry, never on the rendering parameters: computed once per
 * scene (scene.ts memoises them). Cost: for each vertex, the faces of the particles whose
 * bounding box holds it.
 */

export interface PathLengths {
  /** Per vertex: summed chord length through all particles at its (x, y), in pixels. */
  thickness: Float64Array;
  /** Per vertex: the chords weighted by each particle's diffraction strength u_k. */
  diffractionThickness: Float64Array;
}

/**
 * @param proj projected vertices (px, py, height) triples
 * @param faces vertex-index triples
 * @param faceOwner particle index of every face
 * @param diffraction diffraction strength u_k of every particle (index = faceOwner value)
 */
export function pathLengths(proj: ArrayLike<number>, faces: ArrayLike<number>, faceOwner: ArrayLike<number>, diffraction: ArrayLike<number>): PathLengths {
  const nv = proj.length / 3;
  const nf = faces.length / 3;
  const np = diffraction.length;
  // Faces of each particle (counting sort by owner) and the particle's 2-D bounding box.
  const start = new Int32Array(np + 1);
  for (let f = 0; f < nf; f++) {
    const k = faceOwner[f];
    if (!(k >= 0 && k < np)) throw new Error(`pathLengths: face ${f} belongs to particle ${k}, but only ${np} diffraction strengths were given`);
    start[k + 1]++;
  }
  for (let k = 0; k < np; k++) start[k + 1] += start[k];
  const order = new Int32Array(nf);
  const fill = start.slice(0, np);
  for (let f = 0; f < nf; f++) order[fill[faceOwner[f]]++] = f;
  const box = new Float64Array(4 * np).fill(NaN);
  for (let k = 0; k < np; k++) {
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (let j = start[k]; j < start[k + 1]; j++) {
      const f = order[j];
      for (let c = 0; c < 3; c++) {
        const v = faces[3 * f + c];
        const x = proj[3 * v], y = proj[3 * v + 1];
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
    box[4 * k] = x0, box[4 * k + 1] = y0, box[4 * k + 2] = x1, box[4 * k + 3] = y1;
  }
  const thickness = new Float64Array(nv);
  const diffractionThickness = new Float64Array(nv);
  for (let i = 0; i < nv; i++) {
    const x = proj[3 * i], y = proj[3 * i + 1];
    let t = 0, td = 0;
    for (let k = 0; k < np; k++) {
      if (!(x >= box[4 * k] && x <= box[4 * k + 2] && y >= box[4 * k + 1] && y <= box[4 * k + 3])) continue;
      const c = chord(proj, faces, order, start[k], start[k + 1], x, y);
      t += c;
      td += diffraction[k] * c;
    }
    thickness[i] = t;
    diffractionThickness[i] = td;
  }
  return { thickness, diffractionThickness };
}

/**
 * Highest minus lowest height at which the vertical line through (x, y) meets the faces
 * order[j0..j1) (0 when it meets fewer than one). A point on an edge or a vertex counts as inside
 * (relative tolerance 1e-9 of the doubled area), so a line through a mesh vertex finds the faces
 * around it.
 */
function chord(proj: ArrayLike<number>, faces: ArrayLike<number>, order: Int32Array, j0: number, j1: number, x: number, y: number): number {
  let lo = Infinity, hi = -Infinity;
  for (let j = j0; j < j1; j++) {
    const f = order[j];
    const a = 3 * faces[3 * f], b = 3 * faces[3 * f + 1], c = 3 * faces[3 * f + 2];
    const ax = proj[a], ay = proj[a + 1], bx = proj[b], by = proj[b + 1], cx = proj[c], cy = proj[c + 1];
    const area = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax);
    if (area === 0 || !Number.isFinite(area)) continue; // edge-on: the neighbours hold its line
    // Edge functions, signed like the area: all >= 0 inside.
    const s = area > 0 ? 1 : -1;
    const w0 = s * ((bx - x) * (cy - y) - (by - y) * (cx - x));
    const w1 = s * ((cx - x) * (ay - y) - (cy - y) * (ax - x));
    const w2 = s * ((ax - x) * (by - y) - (ay - y) * (bx - x));
    const tol = -1e-9 * Math.abs(area);
    if (w0 < tol || w1 < tol || w2 < tol) continue;
    const z = (w0 * proj[a + 2] + w1 * proj[b + 2] + w2 * proj[c + 2]) / (w0 + w1 + w2);
    if (z < lo) lo = z;
    if (z > hi) hi = z;
  }
  return hi > lo ? hi - lo : 0;
}
