/**
 * The window's field, bounded or periodic, on noiseless renders of a run's calibrated scene
 * (docs/realism.md, "A stationary field for the window"). A diagnostic, not part of any calibration.
 *
 * Reads RUN/gan/config.json's scene (a window: placement.outside = m > 0) and renders, without
 * noise and at the scene's image formation, four variants of it: the whole-object scene the
 * calibrations matched (window off, the counts divided by the field's area (1 + 2 m)^2), the
 * window with a bounded field (main's), with a periodic field (placement.field 'periodic'), and
 * uniform placement in the window (no agglomerates). Render i of every variant draws its layout
 * from its own stream (seed 8181 + 7919 i), so the variants share the particle count of each
 * render. Per variant: the scene statistics (src/gan/scene-stats.ts: Otsu coverage, particles per
 * component, large-component share, border share, median particle area), the exact coverage (the
 * hard instance map), the particles per render / with a visible part in the frame / with the
 * centre in the frame, the same coverages over the renders generate's rejection rule keeps, and,
 * over 4,000 layouts (no rendering), the share of all particle centres in the window and of
 * bounding discs that meet it (a stationary field: the window's area share, 1 / (1 + 2 m)^2).
 *
 * Usage (bundle with esbuild into the ignored .tmp/ of the repository, then run):
 *   npx esbuild scripts/window-field.ts --bundle --platform=node --format=esm --packages=external --outfile=.tmp/window-field.mjs
 *   node .tmp/window-field.mjs RUN/gan/config.json [RENDERS (default 128)]
 */
import { readFileSync } from 'node:fs';
import { mergeSceneConfig, type SceneConfig } from '../src/render/config.js';
import { sampleScene, renderScene } from '../src/render/scene.js';
import { paramsVector } from '../src/render/params.js';
import { sampleLayout } from '../src/render/layout.js';
import { windowFieldArea } from '../src/render/scene-window.js';
import { sceneStatistics } from '../src/gan/scene-stats.js';
import { Rng } from '../src/autodiff/rng.js';
import { noGrad } from '../src/autodiff/tape.js';

type Image = { width: number; height: number; data: ArrayLike<number> };
const LAYOUTS = 4000;

function variants(base: SceneConfig): { name: string; scene: SceneConfig }[] {
  const P = base.particles;
  const m = P.placement.outside ?? 0;
  if (!(m > 0)) throw new Error('the scene is not a window (particles.placement.outside is 0)');
  const whole = (n: number) => Math.max(1, Math.round(n / windowFieldArea(m)));
  const counts = `${P.count.min}-${P.count.max}`;
  return [
    { name: `whole objects, counts ${whole(P.count.min)}-${whole(P.count.max)}`, scene: mergeSceneConfig(base, { particles: { count: { min: whole(P.count.min), max: whole(P.count.max) }, placement: { outside: 0 } } }) },
    { name: `window ${m}, ${counts}, bounded field`, scene: mergeSceneConfig(base, { particles: { placement: { field: 'bounded' } } }) },
    { name: `window ${m}, ${counts}, periodic field`, scene: mergeSceneConfig(base, { particles: { placement: { field: 'periodic' } } }) },
    { name: `uniform placement, window ${m}, ${counts}`, scene: mergeSceneConfig(base, { particles: { placement: { type: 'uniform' } } }) },
  ];
}

function measure(scene: SceneConfig, renders: number): string {
  const W = scene.width, H = scene.height;
  const noiseless = mergeSceneConfig(scene, { shading: { noise: false } });
  const params = paramsVector(noiseless);
  const images: Image[] = [];
  const kept: Image[] = [];
  let exact = 0, keptExact = 0, keptPixels = 0, particles = 0, visible = 0, centred = 0;
  noGrad(() => {
    for (let i = 0; i < renders; i++) {
      const sc = sampleScene(noiseless, new Rng(8181 + 7919 * i));
      const r = renderScene(sc, params, { masks: true });
      const image = { width: W, height: H, data: r.image.data };
      images.push(image);
      const inst = r.hard!.instances;
      const ids = new Set<number>();
      for (const v of inst) if (v > 0) ids.add(v);
      const covered = inst.reduce((a, v) => a + (v > 0 ? 1 : 0), 0);
      exact += covered;
      if (!r.rejected) {
        kept.push(image);
        keptExact += covered;
        keptPixels += inst.length;
      }
      particles += sc.layout.particles.length;
      visible += ids.size;
      centred += sc.layout.particles.filter((p) => p.x >= 0 && p.x < W && p.y >= 0 && p.y < H).length;
    }
  });
  const st = sceneStatistics(images, 'bright');
  const P = scene.particles;
  const rng = new Rng(77);
  let all = 0, centreIn = 0, discIn = 0;
  for (let i = 0; i < LAYOUTS; i++) {
    for (const p of sampleLayout({ width: W, height: H, count: P.count, baseRadius: P.baseRadius, size: P.size, placement: P.placement }, rng).particles) {
      all++;
      if (p.x >= 0 && p.x < W && p.y >= 0 && p.y < H) centreIn++;
      if (p.x + p.scale > 0 && p.x - p.scale < W && p.y + p.scale > 0 && p.y - p.scale < H) discIn++;
    }
  }
  const f3 = (x: number) => x.toFixed(3);
  const keptCoverage = kept.length ? f3(sceneStatistics(kept, 'bright').coverage) : '-';
  return `${f3(st.coverage)} | ${f3(exact / (renders * W * H))} | ${(particles / renders).toFixed(1)} / ${(visible / renders).toFixed(1)} / ${(centred / renders).toFixed(1)} | ${st.particlesPerComponent.toFixed(2)} | ${f3(st.largeComponentAreaFraction)} | ${st.borderComponentFraction.toFixed(2)} | ${st.medianParticleArea.toFixed(0)} | ${f3(centreIn / all)} / ${f3(discIn / all)} | ${kept.length}, ${keptCoverage} / ${f3(keptExact / Math.max(1, keptPixels))}`;
}

function main(args: string[]): void {
  if (!args[0]) throw new Error('usage: window-field RUN/gan/config.json [RENDERS]');
  const renders = Number(args[1] ?? 128);
  const base: SceneConfig = JSON.parse(readFileSync(args[0], 'utf8')).gan.scene;
  console.log('| renders of the scene | coverage (Otsu) | exact coverage | particles per render / visible in the frame / centre in the frame | particles per component | large share | border share | median area | layouts: centres in the window / discs meeting it (share of all) | kept by the rejection rule: renders, coverage (Otsu / exact) |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const v of variants(base)) console.log(`| ${v.name} | ${measure(v.scene, renders)} |`);
}

if (process.argv[1] && /window-field\.m?js$/.test(process.argv[1])) main(process.argv.slice(2));
