import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { Rng } from '../../src/autodiff/index.js';
import { ConfigError } from '../../src/errors.js';
import {
  icosphere, roundedPolyhedron, wire, signedVolume, boundingRadius, transformMesh, mergeMeshes,
  sampleLayout, layoutFeatures, hardRasterize, buildMasks, rejectReason, presetConfig, mergeSceneConfig,
  sampleScene, PRESET_NAMES, vertexNormals, type LayoutSpec,
} from '../../src/render/index.js';
import { sampleCount, sampleSize } from '../../src/render/layout.js';

describe('meshes', () => {
  it('geodesic sphere: 20 f^2 faces, outward, closed (volume close to 4/3 pi)', () => {
    const m = icosphere(5);
    expect(m.faces.length / 3).toBe(500);
    expect(m.positions.length / 3).toBe(10 * 25 + 2);
    expect(signedVolume(m)).toBeGreaterThan(0.95 * (4 / 3) * Math.PI);
  });
  it('rounded polyhedron: bounding radius 1, outward, convex-ish volume', () => {
    const m = roundedPolyhedron(new Rng(4));
    expect(boundingRadius(m)).toBeCloseTo(1, 5);
    const v = signedVolume(m);
    expect(v).toBeGreaterThan(0.8);
    expect(v).toBeLessThan((4 / 3) * Math.PI);
  });
  it('polyhedron sphericity: 0 is the rounded polytope, 1 a true sphere (ellipsoid when elongated), between curves the faces', () => {
    const opts = { facets: 14, irregularity: 0.25, roundness: 0.6, elongation: 1 };
    const radii = (m: ReturnType<typeof roundedPolyhedron>) => {
      const r: number[] = [];
      for (let i = 0; i < m.positions.length; i += 3) r.push(Math.hypot(m.positions[i], m.positions[i + 1], m.positions[i + 2]));
      return r;
    };
    // sphericity 0 (and absent) draws the same vertices as before the option existed
    expect(roundedPolyhedron(new Rng(9), { ...opts, sphericity: 0 }).positions).toEqual(roundedPolyhedron(new Rng(9), opts).positions);
    const poly = radii(roundedPolyhedron(new Rng(9), opts));
    const half = radii(roundedPolyhedron(new Rng(9), { ...opts, sphericity: 0.5 }));
    const sphere = radii(roundedPolyhedron(new Rng(9), { ...opts, sphericity: 1 }));
    const spread = (r: number[]) => Math.max(...r) - Math.min(...r);
    expect(spread(poly)).toBeGreaterThan(0.1);
    expect(spread(half)).toBeLessThan(0.6 * spread(poly));
    for (const r of sphere) expect(r).toBeCloseTo(1, 5);
    // with elongation a sphere becomes an ellipsoid: its radii span [1 / elong, 1] of the bounding radius
    const ell = radii(roundedPolyhedron(new Rng(9), { ...opts, elongation: 2, sphericity: 1 }));
    const e = Math.max(...ell) / Math.min(...ell);
    expect(e).toBeGreaterThan(1);
    expect(e).toBeLessThanOrEqual(2 + 1e-9);
  });
  it('wires: pentagonal / round, rounded / flat ends, outward orientation', () => {
    for (const ends of ['rounded', 'flat'] as const) {
      for (const sides of [5, 12]) {
        const m = wire(30, { sides, ends });
        expect(signedVolume(m)).toBeGreaterThan(0);
        let xmax = 0;
        for (let i = 0; i < m.positions.length; i += 3) xmax = Math.max(xmax, m.positions[i]);
        expect(xmax).toBeCloseTo(15, 5);
      }
    }
  });
});

const spec = (over: Partial<LayoutSpec> = {}): LayoutSpec => ({
  width: 256, height: 256, count: { min: 10, max: 25 }, baseRadius: 12,
  size: { type: 'lognormal', mu: 0, sigma: 0.2 },
  placement: { type: 'packed', dims: 3, maxAgglomerates: 3, rotation: 'uniform' }, ...over,
});

describe('layouts', () => {
  it('contact 1 is the default (same layouts); contact < 1 brings touching particles closer than their bounding spheres', () => {
    for (let seed = 0; seed < 20; seed++) {
      const a = sampleLayout(spec({ placement: { type: 'packed', dims: 3, maxAgglomerates: 3, rotation: 'uniform' } }), new Rng(seed));
      const b = sampleLayout(spec({ placement: { type: 'packed', dims: 3, maxAgglomerates: 3, contact: 1, rotation: 'uniform' } }), new Rng(seed));
      expect(b).toEqual(a);
    }
    const L = sampleLayout(spec({ placement: { type: 'packed', dims: 3, maxAgglomerates: 1, contact: 0.7, rotation: 'uniform' } }), new Rng(3));
    const ps = L.particles;
    let closest = Infinity;
    for (let i = 0; i < ps.length; i++)
      for (let j = i + 1; j < ps.length; j++) closest = Math.min(closest, Math.hypot(ps[i].x - ps[j].x, ps[i].y - ps[j].y, ps[i].z - ps[j].z) / (ps[i].scale + ps[j].scale));
    expect(closest).toBeCloseTo(0.7, 5);
  });
  it("outside 0 is the default (same layouts); outside o puts seeds and centres beyond the frame, up to o times its side", () => {
    for (let seed = 0; seed < 20; seed++) {
      const a = sampleLayout(spec(), new Rng(seed));
      const b = sampleLayout(spec({ placement: { type: 'packed', dims: 3, maxAgglomerates: 3, outside: 0, rotation: 'uniform' } }), new Rng(seed));
      expect(b).toEqual(a);
    }
    const beyond = (o: number, type: 'packed' | 'uniform') => {
      let out = 0, n = 0, seedsInCentre = true;
      for (let seed = 0; seed < 40; seed++) {
        const L = sampleLayout(spec({ placement: { type, dims: 3, maxAgglomerates: 3, outside: o, rotation: 'uniform' } }), new Rng(seed));
        for (const p of L.particles) {
          n++;
          expect(p.x).toBeGreaterThanOrEqual(-o * 256);
          expect(p.x).toBeLessThanOrEqual(256 * (1 + o));
          expect(p.y).toBeGreaterThanOrEqual(-o * 256);
          expect(p.y).toBeLessThanOrEqual(256 * (1 + o));
          if (p.x < 0 || p.x > 256 || p.y < 0 || p.y > 256) out++;
        }
        // the first particle of a packed layout is a seed: in the central 80 % unless outside > 0
        const s0 = L.particles[0];
        if (s0.x < 0.1 * 256 || s0.x > 0.9 * 256 || s0.y < 0.1 * 256 || s0.y > 0.9 * 256) seedsInCentre = false;
      }
      return { share: out / n, seedsInCentre };
    };
    expect(beyond(0, 'packed')).toEqual({ share: 0, seedsInCentre: true });
    const packed = beyond(0.35, 'packed');
    expect(packed.share).toBeGreaterThan(0.2);
    expect(packed.seedsInCentre).toBe(false);
    expect(beyond(0, 'uniform').share).toBe(0);
    expect(beyond(0.35, 'uniform').share).toBeGreaterThan(0.3); // 1 - 1 / 1.7^2 = 0.65 expected
    expect(() => mergeSceneConfig(presetConfig('tio2-sem'), { particles: { placement: { outside: 1.5 } } })).toThrow(/outside/);
  });

  it('packed particles touch a neighbour and never overlap (2-D and 3-D, contact factor c: centre distance >= c (r_i + r_j)); counts; above the stage', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e6 }), fc.constantFrom(2, 3), fc.constantFrom(1, 0.85, 0.6), fc.constantFrom('uniform' as const, 'size' as const), (seed, dims, c, attach) => {
        const L = sampleLayout(spec({ placement: { type: 'packed', dims: dims as 2 | 3, maxAgglomerates: 3, contact: c, attach, rotation: 'uniform' } }), new Rng(seed));
        const ps = L.particles;
        expect(ps.length).toBeLessThanOrEqual(25);
        const groups = new Set(ps.map((p) => p.group));
        expect(groups.size).toBeLessThanOrEqual(3);
        for (let i = 0; i < ps.length; i++) {
          expect(ps[i].z).toBeGreaterThanOrEqual(ps[i].scale - 1e-9);
          let touches = false;
          for (let j = 0; j < ps.length; j++) {
            if (i === j) continue;
            const d = Math.hypot(ps[i].x - ps[j].x, ps[i].y - ps[j].y, ps[i].z - ps[j].z);
            expect(d).toBeGreaterThanOrEqual(c * (ps[i].scale + ps[j].scale) * (1 - 1e-5));
            if (Math.abs(d - c * (ps[i].scale + ps[j].scale)) < 1e-6 * d) touches = true;
          }
          // every member of a multi-particle agglomerate touches someone
          if (ps.filter((p) => p.group === ps[i].group).length > 1) expect(touches).toBe(true);
        }
      }),
      { numRuns: 30 },
    );
  });
  it('log-uniform counts: within min..max, mostly small, the same range as uniform; uniform is the default', () => {
    const rng = new Rng(4);
    const draws = Array.from({ length: 4000 }, () => sampleCount({ min: 1, max: 30, dist: 'logUniform' }, rng));
    expect(Math.min(...draws)).toBe(1);
    expect(Math.max(...draws)).toBe(30);
    const below = (k: number) => draws.filter((n) => n <= k).length / draws.length;
    // P(n <= k) = ln(k + 1) / ln 31
    for (const k of [1, 3, 10]) expect(below(k)).toBeCloseTo(Math.log(k + 1) / Math.log(31), 1);
    const u = new Rng(4), v = new Rng(4);
    for (let i = 0; i < 50; i++) expect(sampleCount({ min: 2, max: 9 }, u)).toBe(sampleCount({ min: 2, max: 9, dist: 'uniform' }, v));
    expect(sampleCount({ min: 5, max: 5, dist: 'logUniform' }, rng)).toBe(5);
  });
  it('split lognormal (sigmaLow): the quartiles of ln s at mu -/+ 0.674 sigmaLow / sigma, median mu; without it the same draws as before', () => {
    const rng = new Rng(5);
    const ln = Array.from({ length: 20000 }, () => Math.log(sampleSize({ type: 'lognormal', mu: 0.1, sigma: 0.3, sigmaLow: 0.6 }, rng))).sort((a, b) => a - b);
    const q = (p: number) => ln[Math.floor(p * ln.length)];
    expect(q(0.5)).toBeCloseTo(0.1, 1);
    expect(q(0.25)).toBeCloseTo(0.1 - 0.6745 * 0.6, 1);
    expect(q(0.75)).toBeCloseTo(0.1 + 0.6745 * 0.3, 1);
    // skewed towards small sizes: the lower half spreads twice as far as the upper
    expect((q(0.5) - q(0.25)) / (q(0.75) - q(0.5))).toBeGreaterThan(1.7);
    // sigmaLow = sigma is the symmetric lognormal's distribution; sigmaLow absent its exact draws
    const u = new Rng(8), v = new Rng(8);
    for (let i = 0; i < 50; i++) expect(sampleSize({ type: 'lognormal', mu: 0, sigma: 0.45 }, u)).toBe(Math.exp(v.normal(0, 0.45)));
    const w = new Rng(8), x = new Rng(8);
    for (let i = 0; i < 50; i++) expect(sampleSize({ type: 'lognormal', mu: 0, sigma: 0.45, sigmaLow: 0.45 }, w)).toBeCloseTo(sampleSize({ type: 'lognormal', mu: 0, sigma: 0.45 }, x), 12);
  });
  it("attach 'size' grows agglomerates in proportion to their size: more uneven than 'uniform'", () => {
    // share of the particles in the largest agglomerate, 5 seeds, 20 particles, over 200 layouts
    const largestShare = (attach: 'uniform' | 'size') => {
      let sum = 0;
      for (let seed = 0; seed < 200; seed++) {
        const L = sampleLayout(spec({ count: { min: 20, max: 20 }, baseRadius: 6, placement: { type: 'packed', dims: 3, maxAgglomerates: 5, contact: 0.85, attach, rotation: 'uniform' } }), new Rng(seed));
        const sizes = new Map<number, number>();
        for (const p of L.particles) sizes.set(p.group, (sizes.get(p.group) ?? 0) + 1);
        sum += Math.max(...sizes.values()) / L.particles.length;
      }
      return sum / 200;
    };
    const uniform = largestShare('uniform');
    const size = largestShare('size');
    expect(size).toBeGreaterThan(uniform + 0.05);
    // 'uniform' is the default: the same layouts without the field
    const a = sampleLayout(spec(), new Rng(9));
    const b = sampleLayout(spec({ placement: { type: 'packed', dims: 3, maxAgglomerates: 3, attach: 'uniform', rotation: 'uniform' } }), new Rng(9));
    expect(b).toEqual(a);
  });
  it('crowded seeds (agglomerate seeds that find no free place) still give a valid packed layout', () => {
    // large particles in a small image: later seeds fail all their attempts; the growth loop must
    // only pick groups that have members (regression: it read a missing host and threw)
    let failedSeeds = 0;
    for (let seed = 0; seed < 200; seed++) {
      const L = sampleLayout(spec({ width: 40, height: 40, baseRadius: 14, count: { min: 6, max: 6 }, placement: { type: 'packed', dims: 2, maxAgglomerates: 5, rotation: 'uniform' } }), new Rng(seed));
      const groups = [...new Set(L.particles.map((p) => p.group))].sort((a, b) => a - b);
      expect(groups).toEqual(groups.map((_, i) => i)); // contiguous ids 0..k-1
      expect(L.particles.length).toBeGreaterThanOrEqual(1);
      if (groups.length < 5) failedSeeds++;
    }
    expect(failedSeeds).toBeGreaterThan(0);
  });
  it('seeded reproducibility, uniform counts, bimodal sizes, feature vector length', () => {
    const a = sampleLayout(spec(), new Rng(9));
    const b = sampleLayout(spec(), new Rng(9));
    expect(a).toEqual(b);
    const u = sampleLayout(spec({ count: { min: 7, max: 7 }, placement: { type: 'uniform', dims: 2, maxAgglomerates: 1, rotation: 'z' } }), new Rng(2));
    expect(u.particles.length).toBe(7);
    for (const p of u.particles) expect(p.rotation[1]).toBe(0); // z-only rotation
    const bi = sampleLayout(spec({ count: { min: 400, max: 400 }, placement: { type: 'uniform', dims: 2, maxAgglomerates: 1, rotation: 'uniform' }, baseRadius: 1, size: { type: 'bimodal', components: [{ mean: 0.8, std: 0.05, weight: 0.7 }, { mean: 0.3, std: 0.05, weight: 0.3 }] } }), new Rng(3));
    const small = bi.particles.filter((p) => p.scale < 0.55).length / 400;
    expect(small).toBeGreaterThan(0.22);
    expect(small).toBeLessThan(0.38);
    const f = layoutFeatures(a, 32);
    expect(f.length).toBe(161);
    expect(f[160]).toBeCloseTo(a.particles.length / 32, 6);
  });
});

describe('masks', () => {
  it('one sphere of radius r seen orthographically: area = pi r^2 within one pixel ring', () => {
    for (const r of [6.3, 11.7, 20.2]) {
      const s = transformMesh(icosphere(8), r, [1, 0, 0, 0], [32.3, 31.6, r]);
      const { mesh, faceOwner } = mergeMeshes([s]);
      const h = hardRasterize(mesh.positions, mesh.faces, faceOwner, { width: 64, height: 64 });
      let area = 0;
      for (const v of h.instances) if (v) area++;
      expect(Math.abs(area - Math.PI * r * r)).toBeLessThan(2 * Math.PI * r);
      const m = buildMasks(h.instances, 64, 64);
      let contour = 0, inner = 0;
      m.classes.forEach((c) => { if (c === 2) contour++; if (c === 1) inner++; });
      expect(contour + inner).toBe(area);
      expect(contour).toBeLessThan(2 * Math.PI * r + 8);
    }
  });
  it('two touching spheres: two instances, interiors separated by a one-pixel contour', () => {
    const r = 10;
    const a = transformMesh(icosphere(8), r, [1, 0, 0, 0], [20.2, 24.1, r]);
    const b = transformMesh(icosphere(8), r, [1, 0, 0, 0], [40.2, 24.1, r]);
    const { mesh, faceOwner } = mergeMeshes([a, b]);
    const h = hardRasterize(mesh.positions, mesh.faces, faceOwner, { width: 64, height: 48 });
    const m = buildMasks(h.instances, 64, 48);
    expect(new Set(m.instances).size).toBe(3);
    // 4-connected components of class 1
    const seen = new Uint8Array(64 * 48);
    let comps = 0;
    for (let s = 0; s < seen.length; s++) {
      if (m.classes[s] !== 1 || seen[s]) continue;
      comps++;
      const st = [s];
      seen[s] = 1;
      while (st.length) {
        const p = st.pop()!;
        for (const q of [p - 1, p + 1, p - 64, p + 64]) {
          if (q >= 0 && q < seen.length && Math.abs((q % 64) - (p % 64)) <= 1 && !seen[q] && m.classes[q] === 1) { seen[q] = 1; st.push(q); }
        }
      }
    }
    expect(comps).toBe(2);
    // no class-1 pixel of one instance is 4-adjacent to class-1 of the other
    for (let p = 0; p < 64 * 48 - 1; p++) {
      if (m.classes[p] === 1 && m.classes[p + 1] === 1) expect(m.instances[p]).toBe(m.instances[p + 1]);
    }
  });
  it('pieces under 50 px are removed; dilation grows the contour; rejection rules', () => {
    const W = 20, H = 20;
    const inst = new Uint16Array(W * H);
    for (let y = 2; y < 12; y++) for (let x = 2; x < 12; x++) inst[y * W + x] = 1; // 100 px
    for (let y = 15; y < 18; y++) for (let x = 15; x < 18; x++) inst[y * W + x] = 2; // 9 px
    const m = buildMasks(inst, W, H);
    expect(m.instances.includes(2)).toBe(false);
    const d = buildMasks(inst, W, H, { contourDilation: 1 });
    const count = (c: Uint8Array, v: number) => c.reduce((s, x) => s + (x === v ? 1 : 0), 0);
    expect(count(d.classes, 2)).toBeGreaterThan(count(m.classes, 2));
    const img = new Float32Array(W * H).fill(0.1);
    m.instances.forEach((v, i) => { if (v) img[i] = 0.8; });
    expect(rejectReason(img, m.instances)).toBeNull();
    expect(rejectReason(new Float32Array(W * H).fill(0.5), m.instances)).toMatch(/contrast/);
    expect(rejectReason(img, new Uint16Array(W * H).fill(1))).toMatch(/background/);
  });
});

describe('presets and config', () => {
  it('every preset samples a scene', () => {
    for (const p of PRESET_NAMES) {
      const s = sampleScene(p, new Rng(1));
      expect(s.layout.particles.length).toBeGreaterThan(0);
      expect(vertexNormals(s.mesh).length).toBe(s.mesh.positions.length);
    }
  });
  it('merge validates fields and names them', () => {
    const base = presetConfig('tio2-sem');
    const merged = mergeSceneConfig(base, { width: 128, shading: { model: 'him' }, params: { blurSigma: 2 } });
    expect(merged.width).toBe(128);
    expect(merged.shading.model).toBe('him');
    expect(merged.params.blurSigma).toBe(2);
    expect(base.width).toBe(256);
    // sigmaLow is optional: absent (the presets) or given
    expect(mergeSceneConfig(base, { particles: { size: { type: 'lognormal', mu: 0, sigma: 0.4, sigmaLow: 0.55 } } }).particles.size).toEqual({ type: 'lognormal', mu: 0, sigma: 0.4, sigmaLow: 0.55 });
    expect(base.particles.size).toEqual({ type: 'lognormal', mu: 0, sigma: 0.45 });
    const bad: [unknown, string, RegExp][] = [
      [{ width: 3 }, 'width', /integer in \[8, 2048\]/],
      [{ camera: { kind: 'fisheye' } }, 'camera.kind', /"orthographic", "perspective"/],
      [{ particles: { colour: 1 } }, 'particles.colour', /unknown field; allowed: shape/],
      [{ particles: { size: { type: 'weibull' } } }, 'particles.size.type', /lognormal/],
      [{ particles: { size: { type: 'lognormal', mu: 0 } } }, 'particles.size.sigma', /missing/],
      [{ particles: { size: { type: 'lognormal', mu: 0, sigma: 0.4, sigmaLow: 3 } } }, 'particles.size.sigmaLow', /\[0, 2\]/],
      [{ particles: { count: { min: 9, max: 3 } } }, 'particles.count.min', /larger/],
      [{ params: { blurSigma: 9 } }, 'params.blurSigma', /\[0.2, 4\]/],
      [{ shading: { noise: 'yes' } }, 'shading.noise', /true or false/],
      [{ particles: { size: { type: 'bimodal', components: [{ mean: 1, std: 0.1, weight: 1, extra: 2 }] } } }, 'particles.size.components[0].extra', /unknown/],
    ];
    for (const [patch, field, msg] of bad) {
      let err: unknown;
      try { mergeSceneConfig(base, patch); } catch (e) { err = e; }
      expect(err, field).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).field).toBe(field);
      expect((err as ConfigError).message).toMatch(msg);
    }
  });
});
