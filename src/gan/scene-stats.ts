/**
 * Annotation-free scene statistics of micrographs: how many particles, how large, how densely
 * agglomerated, measured the same way on real images and on renders, so the two can be compared
 * without any mask. Both sides go through the classical baseline of src/seg (Gaussian smoothing
 * sigma 1 px, Otsu threshold, holes < 100 px filled): its connected components (8-connected, at
 * least 50 px) are the "Otsu components" (agglomerates and lone particles), and the
 * distance-transform watershed of `otsuInstances` splits them into particles (instances >= 50 px).
 *
 *  - coverage: fraction of pixels in Otsu components;
 *  - medianParticleArea: median area (px) of the particles that do not touch the image border
 *    (all particles when every one touches it);
 *  - particlesPerComponent: particles / components, over the components holding a particle;
 *  - largeComponentAreaFraction: share of the component area that lies in components larger than
 *    LARGE_COMPONENT_PARTICLES (12) median particles (dense agglomerates);
 *  - borderComponentFraction: share of the components that touch the image border. A tile of a
 *    micrograph is a window into a larger field, so most of its components are cut by its edge;
 *    a render whose particles all lie inside the frame shows whole ones (docs/realism.md).
 *  - medianLocalThickness (opt-in, `thickness`): the median over the components' pixels of the
 *    local thickness (src/particles/local-thickness.ts: the diameter of the largest disc inside
 *    the foreground that holds the pixel), the frame closed (a particle cut by the image border
 *    reads as thin as its part inside, on both sides alike). It makes no watershed pieces: on the
 *    realism tiles it reads the exact foreground's thickness alike on real tiles and windowed
 *    pairs (1.24 against 1.18 of it) where the median particle area reads the exact median at
 *    0.80 against 0.66-0.72, and it follows the particles' radius. It is an area-weighted
 *    thickness, not a particle area: the real particles are thinner for their area than the
 *    renders', so it does not set the large-component threshold (docs/realism.md "A size
 *    statistic without watershed pieces: the local thickness").
 *
 * Statistics of a set pool its images (sums of counts and areas, the median over all particles),
 * so large and small images weigh by their pixels. Compare sets of images of the same size: a
 * component cut by the image edge counts as smaller, so the field of view matters (the realism
 * command cuts real micrographs into tiles of the synthetic images' size for that reason).
 * Pure: runs in a browser.
 */
import { otsuInstances } from '../particles/instances.js';
import { fillHoles } from '../particles/instances.js';
import { applyThreshold, gaussianBlur, otsuThreshold } from '../particles/otsu.js';
import { connectedComponents, type Labelled } from '../particles/labels.js';
import { localThickness } from '../particles/local-thickness.js';
import { brightParticleView, type Polarity } from '../particles/polarity.js';
import { UserError } from '../errors.js';
import { median } from './median.js';

/** Components larger than this many median particles count as dense agglomerates. */
export const LARGE_COMPONENT_PARTICLES = 12;
/** Smallest component / particle kept, px (the baseline's and the paper's 50 px). */
const MIN_AREA = 50;

export interface SceneStatistics {
  images: number;
  /** Fraction of pixels in Otsu components. */
  coverage: number;
  /** Median area of the interior particles, px. */
  medianParticleArea: number;
  /** Particles per Otsu component. */
  particlesPerComponent: number;
  /** Share of the component area in components > 12 median particles. */
  largeComponentAreaFraction: number;
  /** Share of the components that touch the image border. */
  borderComponentFraction: number;
  /** Median local thickness of the Otsu foreground, px (option `thickness` only). */
  medianLocalThickness?: number;
  components: number;
  particles: number;
}

interface ImageCounts {
  pixels: number;
  /** Area of each component (>= MIN_AREA px), the particles found in it, whether it touches the border. */
  components: { area: number; particles: number; border: boolean }[];
  /** Areas of the particles not touching the border, and of all particles. */
  interior: number[];
  all: number[];
  /** Local thickness of each pixel of the components (option `thickness` only). */
  thickness: number[];
}

/**
 * The Otsu components of an image smoothed with sigma 1 px (holes < 100 px filled, 8-connected),
 * their areas, and the foreground of those >= MIN_AREA px.
 */
export function otsuComponents(smooth: ArrayLike<number>, width: number, height: number): { comps: Labelled; compArea: Int32Array; foreground: Uint8Array } {
  const mask = fillHoles(applyThreshold(smooth, otsuThreshold(smooth)), width, height, 100);
  const comps = connectedComponents(mask, width, height, 8);
  const compArea = new Int32Array(comps.count + 1);
  for (let i = 0; i < mask.length; i++) compArea[comps.labels[i]]++;
  const foreground = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) foreground[i] = comps.labels[i] && compArea[comps.labels[i]] >= MIN_AREA ? 1 : 0;
  return { comps, compArea, foreground };
}

/** Local thickness of the foreground pixels, the frame closed (see medianLocalThickness). */
export function foregroundThickness(foreground: Uint8Array, width: number, height: number): number[] {
  const t = localThickness(foreground, width, height, { borderIsBackground: true });
  const out: number[] = [];
  for (let i = 0; i < foreground.length; i++) if (foreground[i]) out.push(t[i]);
  return out;
}

function countImage(data: ArrayLike<number>, width: number, height: number, withThickness: boolean): ImageCounts {
  if (data.length !== width * height) throw new UserError(`scene statistics: ${data.length} values for a ${width} x ${height} image`);
  const smooth = gaussianBlur(data, width, height, 1);
  const { comps, compArea, foreground } = otsuComponents(smooth, width, height);
  const compBorder = new Uint8Array(comps.count + 1);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) if (x === 0 || y === 0 || x === width - 1 || y === height - 1) compBorder[comps.labels[y * width + x]] = 1;
  // The instances of the same smoothed image (otsuInstances' default sigma 1, done above; sigma 0
  // skips its own blur): identical to otsuInstances(data), one blur fewer.
  const inst = otsuInstances(smooth, width, height, { sigma: 0 });
  const instArea = new Int32Array(inst.count + 1);
  const instComp = new Int32Array(inst.count + 1);
  const instBorder = new Uint8Array(inst.count + 1);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const l = inst.labels[i];
      if (!l) continue;
      instArea[l]++;
      instComp[l] = comps.labels[i];
      if (x === 0 || y === 0 || x === width - 1 || y === height - 1) instBorder[l] = 1;
    }
  const perComp = new Int32Array(comps.count + 1);
  const interior: number[] = [];
  const all: number[] = [];
  for (let l = 1; l <= inst.count; l++) {
    if (instArea[l] === 0) continue;
    perComp[instComp[l]]++;
    all.push(instArea[l]);
    if (!instBorder[l]) interior.push(instArea[l]);
  }
  const components: ImageCounts['components'] = [];
  for (let c = 1; c <= comps.count; c++) if (compArea[c] >= MIN_AREA) components.push({ area: compArea[c], particles: perComp[c], border: compBorder[c] === 1 });
  const thickness = withThickness ? foregroundThickness(foreground, width, height) : [];
  return { pixels: width * height, components, interior, all, thickness };
}

/** Options of sceneStatistics. */
export interface SceneStatisticsOptions {
  /** Also measure the median local thickness (opt-in; the `realism` command's --thickness). */
  thickness?: boolean;
}

/**
 * The statistics of a set of greyscale [0, 1] images; `polarity` says whether the particles are
 * brighter (default) or darker than the stage (dark images are measured on 1 - image).
 */
export function sceneStatistics(
  images: readonly { width: number; height: number; data: ArrayLike<number> }[],
  polarity: Polarity = 'bright',
  options: SceneStatisticsOptions = {},
): SceneStatistics {
  const withThickness = !!options.thickness;
  if (images.length === 0) throw new UserError('scene statistics: no images');
  const counts = images.map((img) => countImage(polarity === 'bright' ? img.data : brightParticleView(img.data, polarity), img.width, img.height, withThickness));
  const interior = counts.flatMap((c) => c.interior);
  const medianParticleArea = median(interior.length ? interior : counts.flatMap((c) => c.all));
  const thickness = withThickness ? counts.flatMap((c) => c.thickness) : [];
  let pixels = 0;
  let covered = 0;
  let large = 0;
  let withParticles = 0;
  let particles = 0;
  let components = 0;
  let atBorder = 0;
  for (const c of counts) {
    pixels += c.pixels;
    for (const comp of c.components) {
      components++;
      if (comp.border) atBorder++;
      covered += comp.area;
      if (comp.area > LARGE_COMPONENT_PARTICLES * medianParticleArea) large += comp.area;
      if (comp.particles > 0) {
        withParticles++;
        particles += comp.particles;
      }
    }
  }
  return {
    images: images.length,
    coverage: covered / pixels,
    medianParticleArea,
    particlesPerComponent: withParticles ? particles / withParticles : NaN,
    largeComponentAreaFraction: covered ? large / covered : NaN,
    borderComponentFraction: components ? atBorder / components : NaN,
    ...(withThickness ? { medianLocalThickness: thickness.length ? median(thickness) : 0 } : {}),
    components: withParticles,
    particles,
  };
}

export const SCENE_STAT_ROWS: { key: keyof SceneStatistics; label: string; digits: number }[] = [
  { key: 'particlesPerComponent', label: 'particles per Otsu component', digits: 2 },
  { key: 'largeComponentAreaFraction', label: `area fraction in components > ${LARGE_COMPONENT_PARTICLES} median particles`, digits: 3 },
  { key: 'coverage', label: 'coverage (Otsu foreground)', digits: 3 },
  { key: 'medianParticleArea', label: 'median particle area (px)', digits: 0 },
  { key: 'medianLocalThickness', label: 'median local thickness (px)', digits: 1 },
  { key: 'borderComponentFraction', label: 'share of Otsu components cut by the image border', digits: 3 },
];

/**
 * Markdown table: real vs synthetic, with the relative difference (synthetic / real - 1). Rows
 * that a side lacks (the opt-in thickness) are left out.
 */
export function sceneStatsTable(real: SceneStatistics, synthetic: SceneStatistics): string {
  const lines = ['| statistic | real | synthetic | synthetic / real - 1 |', '| --- | --- | --- | --- |'];
  for (const r of SCENE_STAT_ROWS) {
    const a = real[r.key] as number | undefined;
    const b = synthetic[r.key] as number | undefined;
    if (a === undefined || b === undefined) continue;
    const rel = a ? b / a - 1 : NaN;
    lines.push(`| ${r.label} | ${a.toFixed(r.digits)} | ${b.toFixed(r.digits)} | ${Number.isFinite(rel) ? `${rel >= 0 ? '+' : ''}${(100 * rel).toFixed(0)} %` : '-'} |`);
  }
  lines.push(`| images / particles / components | ${real.images} / ${real.particles} / ${real.components} | ${synthetic.images} / ${synthetic.particles} / ${synthetic.components} | |`);
  return lines.join('\n');
}
