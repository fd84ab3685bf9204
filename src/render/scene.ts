/**
 * Top level: sample a scene (layout + meshes) from a preset or config, and render it to a
 * differentiable image plus exact masks.
 */
import { Rng } from '../autodiff/rng.js';
import { Tensor, allocData, type DType } from '../autodiff/tensor.js';
import * as ops from '../autodiff/ops/index.js';
import { noGrad } from '../autodiff/tape.js';
import { sampleLayout, type Layout } from './layout.js';
import { icosphere } from './mesh/icosphere.js';
import { roundedPolyhedron } from './mesh/polyhedron.js';
import { wire } from './mesh/wire.js';
import { userMesh } from './mesh/user.js';
import { mergeMeshes, transformMesh, vertexNormals, type Mesh } from './mesh/types.js';
import { project, type Camera } from './camera.js';
import { softRasterize } from './raster/soft.js';
import { hardRasterize, type HardRaster } from './raster/hard.js';
import { formImage } from './form-image.js';
import { paramIndex, paramsVector } from './params.js';
import { buildMasks, rejectReason } from './masks.js';
import { modelPolarity } from './polarity.js';
import { imageFormationModel, isTransmission } from './shade/models.js';
import { farProximityMaps, proximityMaps, type ProximityMaps } from './shade/proximity.js';
import { pathLengths, type PathLengths } from './thickness.js';
import type { SceneConfig } from './config.js';
import { presetConfig, type PresetName } from './presets/index.js';

export interface Scene {
  config: SceneConfig;
  camera: Camera;
  layout: Layout;
  /** All particles in world coordinates, merged. */
  mesh: Mesh;
  /** Particle index of every face. */
  faceOwner: Uint16Array;
  /** Unit vertex normals (world). */
  normals: Float32Array;
  textureSeed: number;
  /**
   * Standard-normal noise image (H * W) used by the reparameterised noise. Drawn lazily on
   * first access from its own seed (mask-only export never pays for it); may be overwritten in
   * place or replaced.
   */
  noise: Float32Array;
}

/** H * W standard normals from their own generator. */
function normalImage(n: number, seed: number): Float32Array {
  const r = new Rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = r.normal();
  return out;
}

const sphereCache = new Map<number, Mesh>();
function unitSphere(freq: number): Mesh {
  let m = sphereCache.get(freq);
  if (!m) sphereCache.set(freq, (m = icosphere(freq)));
  return m;
}

/**
 * The mesh of one particle in its own frame (bounding radius 1; wires: radius 1, axis x; a
 * user's mesh: normalised to bounding radius 1 when the config was read, the same for every
 * particle, varied only by the layout's scale and rotation).
 */
function particleMesh(cfg: SceneConfig, shapeSeed: number): Mesh {
  const p = cfg.particles;
  const r = new Rng(shapeSeed);
  if (p.shape === 'sphere') return unitSphere(p.freq);
  if (p.shape === 'mesh') {
    if (!p.mesh) throw new Error("particles.shape 'mesh' without particles.mesh");
    return userMesh(p.mesh);
  }
  if (p.shape === 'polyhedron') return roundedPolyhedron(r, { freq: p.freq, ...p.polyhedron });
  return wire(0, p.wire); // placeholder, replaced in sampleScene (length depends on the radius)
}

export function sampleScene(preset: PresetName | SceneConfig, rng: Rng): Scene {
  const config = typeof preset === 'string' ? presetConfig(preset) : preset;
  const P = config.particles;
  const layout = sampleLayout(
    { width: config.width, height: config.height, count: P.count, baseRadius: P.baseRadius, size: P.size, placement: P.placement },
    rng,
  );
  const meshes = layout.particles.map((pt) => {
    let m: Mesh;
    if (P.shape === 'wire') {
      const r = new Rng(pt.shapeSeed);
      const len = P.wire.length * (1 + P.wire.lengthJitter * (2 * r.uniform() - 1));
      m = wire(len / pt.scale, P.wire);
    } else m = particleMesh(config, pt.shapeSeed);
    return transformMesh(m, pt.scale, pt.rotation, [pt.x, pt.y, pt.z]);
  });
  const { mesh, faceOwner } = mergeMeshes(meshes);
  const textureSeed = rng.nextUint32() | 0;
  const noiseSeed = rng.nextUint32();
  let noise: Float32Array | null = null;
  return {
    config,
    camera: { kind: config.camera.kind, width: config.width, height: config.height, fovDeg: config.camera.fovDeg },
    layout,
    mesh,
    faceOwner,
    normals: vertexNormals(mesh),
    textureSeed,
    get noise(): Float32Array {
      return (noise ??= normalImage(config.width * config.height, noiseSeed));
    },
    set noise(v: Float32Array) {
      noise = v;
    },
  };
}

/**
 * Each particle's diffraction strength u in [0, 1] (transmission: how near its crystal lattice is
 * to a Bragg orientation makes it darker than its mass thickness says), drawn from its shape seed:
 * fixed per particle, like its shape.
 */
export function diffractionStrengths(layout: Layout): Float64Array {
  return Float64Array.from(layout.particles, (pt) => new Rng((pt.shapeSeed ^ 0x5bd1e995) >>> 0).uniform());
}

/**
 * Each particle's brightness factor u in [-1, 1] (the shaded models' particleVariation), drawn
 * from its shape seed: fixed per particle, like its shape.
 */
export function particleVariations(layout: Layout): Float64Array {
  return Float64Array.from(layout.particles, (pt) => 2 * new Rng((pt.shapeSeed ^ 0x2c1b3c6d) >>> 0).uniform() - 1);
}

const variationCache = new WeakMap<Scene, Float64Array>();
/** u of the particle each vertex belongs to (the merged mesh's faces name their particle). */
function vertexVariation(scene: Scene): Float64Array {
  let v = variationCache.get(scene);
  if (v) return v;
  const perParticle = particleVariations(scene.layout);
  const faces = scene.mesh.faces;
  v = new Float64Array(scene.mesh.positions.length / 3);
  for (let f = 0; f < scene.faceOwner.length; f++) {
    const u = perParticle[scene.faceOwner[f]];
    v[faces[3 * f]] = u;
    v[faces[3 * f + 1]] = u;
    v[faces[3 * f + 2]] = u;
  }
  variationCache.set(scene, v);
  return v;
}

const pathLengthCache = new WeakMap<Scene, { positions: Float32Array; pl: PathLengths }>();
/** The scene's per-vertex path lengths (thickness.ts), memoised per scene and mesh positions. */
function scenePathLengths(scene: Scene, proj: Float64Array): PathLengths {
  const hit = pathLengthCache.get(scene);
  if (hit && hit.positions === scene.mesh.positions) return hit.pl;
  const pl = pathLengths(proj, scene.mesh.faces, scene.faceOwner, diffractionStrengths(scene.layout));
  pathLengthCache.set(scene, { positions: scene.mesh.positions, pl });
  return pl;
}

export interface RenderOptions {
  /** Compute instance / class masks and the rejection test (default true). */
  masks?: boolean;
  /** Make the projected vertices a leaf that requires gradients (for geometry gradients / benchmarks). */
  vertsRequireGrad?: boolean;
  /**
   * Reuse the soft raster of this scene from an earlier call (default false). The raster depends
   * only on the geometry, the camera and config.raster, never on the parameters, so a training
   * loop that renders the same fixed configurations again and again (the reference setup) can
   * skip the rasterizer after the first visit. Ignored with vertsRequireGrad. The cached raster
   * (5 H W numbers, 5 s^2 H W with raster.supersample s) lives as long as the Scene object; it is keyed on the mesh's position
   * array, the camera and config.raster, so replacing those invalidates it (editing the
   * positions in place does not: assign a new array).
   */
  cacheRaster?: boolean;
}

interface RasterCacheEntry {
  positions: Float32Array;
  key: string;
  dtype: DType;
  raster: Tensor;
  /** The proximity maps of the same geometry (null where no render of it needed them). */
  proximity: ProximityMaps | null;
}
const rasterCache = new WeakMap<Scene, RasterCacheEntry>();
const HALO_STRENGTH = paramIndex('haloStrength');
const CREASE_STRENGTH = paramIndex('creaseStrength');

export interface RenderResult {
  /** [1, 1, H, W] in [0, 1], differentiable w.r.t. params (and the vertices when asked). */
  image: Tensor;
  /** [5, sH, sW] (s = raster.supersample, default 1): the soft raster's channels (raster/fragments.ts: normal xyz, particle indicator, soft alpha). */
  raster: Tensor;
  /** The projected vertices (a leaf when vertsRequireGrad). */
  verts: Tensor;
  instances?: Uint16Array;
  classes?: Uint8Array;
  hard?: HardRaster;
  /** Why the sample fails the reference rejection rules, or null when kept. */
  rejected?: string | null;
}

/** Renders a scene with a parameter vector [P] (table order, src/render/params.ts; default: the scene config's). */
export function renderScene(scene: Scene, params: Tensor | ArrayLike<number> = paramsVector(scene.config), opts: RenderOptions = {}): RenderResult {
  const cfg = scene.config;
  const W = cfg.width, H = cfg.height;
  const ss = cfg.raster.supersample ?? 1;
  const p = params instanceof Tensor ? params : new Tensor(Float64Array.from(params), [params.length]);
  const dtype: DType = p.dtype;
  const proj = project(scene.camera, scene.mesh.positions);
  const nv = proj.length / 3;
  const vd = allocData(dtype, proj.length);
  vd.set(proj);
  const verts = new Tensor(vd, [nv, 3], !!opts.vertsRequireGrad);
  const ad = allocData(dtype, nv * 4);
  const transmission = isTransmission(cfg.shading.model);
  if (transmission) {
    // The transmission model reads path lengths (thickness.ts), not normals: (t, t_d, 0, 1).
    const pl = scenePathLengths(scene, proj);
    for (let i = 0; i < nv; i++) {
      ad[4 * i] = pl.thickness[i];
      ad[4 * i + 1] = pl.diffractionThickness[i];
      ad[4 * i + 2] = 0;
      ad[4 * i + 3] = 1;
    }
  } else {
    // Shaded models read normals and each particle's brightness factor u (raster channel 'variation').
    const u = vertexVariation(scene);
    for (let i = 0; i < nv; i++) {
      ad[4 * i] = scene.normals[3 * i];
      ad[4 * i + 1] = scene.normals[3 * i + 1];
      ad[4 * i + 2] = scene.normals[3 * i + 2];
      ad[4 * i + 3] = u[i];
    }
  }
  const attrs = new Tensor(ad, [nv, 4]);
  const useCache = !!opts.cacheRaster && !opts.vertsRequireGrad;
  const key = JSON.stringify([scene.camera, cfg.raster]);
  const hit = useCache ? rasterCache.get(scene) : undefined;
  // The exact instance map: for the masks, and for the proximity maps of the models that read them.
  let hard: HardRaster | undefined;
  const hardRaster = (): HardRaster => (hard ??= noGrad(() => hardRasterize(proj, scene.mesh.faces, scene.faceOwner, { width: W, height: H }, scene.normals)));
  const readsProximity = !transmission && imageFormationModel(cfg.shading.model).proximity;
  // With the halo and the crease off and no parameter gradient wanted, the maps cannot change the
  // image: far maps stand in for them and the distance transforms are skipped.
  const needsProximity = readsProximity && (p.requiresGrad || p.data[HALO_STRENGTH] !== 0 || p.data[CREASE_STRENGTH] !== 0);
  let raster: Tensor;
  let proximity: ProximityMaps | null;
  if (hit && hit.positions === scene.mesh.positions && hit.key === key && hit.dtype === dtype) {
    ({ raster, proximity } = hit);
    if (needsProximity && !proximity) proximity = hit.proximity = proximityMaps(hardRaster().instances, W, H);
  } else {
    // Supersampled (raster.supersample = s > 1): the raster covers an s x s finer grid (the
    // vertices' image coordinates scaled by s, heights unchanged) and the shading runs there;
    // formImage box-filters the pre-blur image back to W x H (anti-aliased silhouettes).
    const rv = ss === 1 ? verts : ops.mul(verts, new Tensor(allocData(dtype, 3).fill(ss).fill(1, 2), [1, 3]));
    raster = softRasterize(rv, scene.mesh.faces, attrs, {
      width: ss * W, height: ss * H, sigma: cfg.raster.sigma, gamma: cfg.raster.gamma, cutoff: cfg.raster.cutoff, background: transmission ? [0, 0, 0, 0] : [0, 0, 1, 0],
    });
    proximity = needsProximity ? proximityMaps(hardRaster().instances, W, H) : null;
    if (useCache) rasterCache.set(scene, { positions: scene.mesh.positions, key, dtype, raster, proximity });
  }
  if (readsProximity && !proximity) proximity = farProximityMaps(W, H);
  const image = formImage(raster, p, {
    model: cfg.shading.model,
    width: W,
    height: H,
    detectorAzimuthDeg: cfg.shading.detectorAzimuthDeg,
    detectorElevationDeg: cfg.shading.detectorElevationDeg,
    edgeWidth: cfg.shading.edgeWidth,
    shadowLength: cfg.shading.shadowLength,
    edgeScale: cfg.shading.edgeScale,
    supersample: ss,
    textureSeed: scene.textureSeed,
    noise: cfg.shading.noise ? scene.noise : null,
    proximity,
  });
  const res: RenderResult = { image, raster, verts };
  if (opts.masks ?? true) {
    noGrad(() => {
      const m = buildMasks(hardRaster().instances, W, H, { minArea: cfg.masks.minArea, contourDilation: cfg.masks.contourDilation });
      res.hard = hardRaster();
      res.instances = m.instances;
      res.classes = m.classes;
      res.rejected = rejectReason(image.data, m.instances, { minBackground: cfg.masks.minBackground, contrastFactor: cfg.masks.contrastFactor, polarity: modelPolarity(cfg.shading.model) });
    });
  }
  return res;
}

/** Masks only (no soft rasterization or shading): the fast path for dataset export. */
export function sceneMasks(scene: Scene): { instances: Uint16Array; classes: Uint8Array; hard: HardRaster } {
  const cfg = scene.config;
  const proj = project(scene.camera, scene.mesh.positions);
  const hard = hardRasterize(proj, scene.mesh.faces, scene.faceOwner, { width: cfg.width, height: cfg.height }, scene.normals);
  const m = buildMasks(hard.instances, cfg.width, cfg.height, { minArea: cfg.masks.minArea, contourDilation: cfg.masks.contourDilation });
  return { ...m, hard };
}

/** Scene params from its config (table order). */
export function sceneParams(scene: Scene, dtype: DType = 'float32'): Tensor {
  const v = paramsVector(scene.config);
  const d = allocData(dtype, v.length);
  d.set(v);
  return new Tensor(d, [d.length]);
}
