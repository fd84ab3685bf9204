import { describe, it, expect } from 'vitest';
import '../../src/autodiff/index.js';
import { imagingStatistics, calibrateImaging, calibratedRanges, profileDistance, NO_PROFILES } from '../../src/gan/imaging-calibration.js';
import { ParamMapping } from '../../src/gan/generator.js';
import { ParamNet } from '../../src/gan/models.js';
import { sceneStartOutputs } from '../../src/gan/trainer.js';
import { Rng } from '../../src/autodiff/rng.js';
import { Tensor } from '../../src/autodiff/tensor.js';
import { noGrad } from '../../src/autodiff/tape.js';
import { mergeSceneConfig } from '../../src/render/config.js';
import { presetConfig } from '../../src/render/presets/index.js';
import { scaleSceneConfig } from '../../src/gan/demo.js';
import { sampleScene, renderScene } from '../../src/render/scene.js';
import { paramsVector, PARAMETER_TABLE, paramIndex } from '../../src/render/params.js';

/** A 64 px image: a disc of grey `body` on `substrate`, plus white Gaussian noise of std `noise`. */
function disc(substrate: number, body: number, noise: number, rng: Rng): { width: number; height: number; data: Float32Array } {
  const W = 64;
  const data = new Float32Array(W * W);
  for (let y = 0; y < W; y++) for (let x = 0; x < W; x++) data[y * W + x] = ((x - 30) ** 2 + (y - 34) ** 2 < 18 ** 2 ? body : substrate) + noise * rng.normal();
  return { width: W, height: W, data };
}

describe('imagingStatistics', () => {
  it('without the profiles: the same levels, edge profile and residual, and no contact or body profile', () => {
    const images = Array.from({ length: 6 }, () => disc(0.1, 0.6, 0.01, new Rng(7)));
    const all = imagingStatistics(images)!;
    const none = imagingStatistics(images, NO_PROFILES)!;
    expect(all.contact).not.toBeNull();
    expect(all.bodyProfile).not.toBeNull();
    expect(none.contact).toBeNull();
    expect(none.bodyProfile).toBeNull();
    expect({ ...none, contact: all.contact, bodyProfile: all.bodyProfile, contactPixels: all.contactPixels }).toEqual(all);
  });
  it('reads the substrate and body levels and the residual of white noise', () => {
    const rng = new Rng(1);
    const s = imagingStatistics(Array.from({ length: 6 }, () => disc(0.1, 0.6, 0.01, rng)))!;
    expect(s.substrate).toBeCloseTo(0.1, 2);
    expect(s.body).toBeCloseTo(0.6, 2);
    // x - its 3 x 3 mean: variance (64 + 8) / 81 of the noise's
    expect(s.residual / 0.01).toBeGreaterThan(0.943 * 0.93);
    expect(s.residual / 0.01).toBeLessThan(0.943 * 1.07);
    // a sharp step: the profile is the two levels right up to the boundary
    expect(s.inside[1]).toBeCloseTo(0.6, 1);
    expect(s.outside[1]).toBeCloseTo(0.1, 1);
  });

  it('the contact profile sees a dark line where two particles meet, and not a dark line inside one particle', () => {
    const rng = new Rng(2);
    // two overlapping discs (a waist at x = 32, where the watershed parts them), and one disc
    const pair = (line: number[], depth: number) => {
      const data = new Float32Array(64 * 64);
      for (let y = 0; y < 64; y++)
        for (let x = 0; x < 64; x++) {
          const inside = (x - 20) ** 2 + (y - 32) ** 2 < 14 ** 2 || (x - 44) ** 2 + (y - 32) ** 2 < 14 ** 2;
          data[y * 64 + x] = (inside ? (line.includes(x) ? 0.6 - depth : 0.6) : 0.1) + 0.005 * rng.normal();
        }
      return { width: 64, height: 64, data };
    };
    const plain = imagingStatistics(Array.from({ length: 6 }, () => pair([], 0)))!;
    const creased = imagingStatistics(Array.from({ length: 6 }, () => pair([31, 32, 33], 0.15)))!;
    // a line elsewhere (x = 20, through the middle of one disc) is not a contact
    const elsewhere = imagingStatistics(Array.from({ length: 6 }, () => pair([19, 20, 21], 0.15)))!;
    expect(plain.contactPixels).toBeGreaterThan(30);
    expect(plain.contact![0]).toBeGreaterThan(0.97);
    expect(creased.contact![0]).toBeLessThan(0.85);
    expect(Math.abs(creased.contact![5] - 1)).toBeLessThan(0.03);
    expect(elsewhere.contact![0]).toBeGreaterThan(0.97);
    // a single disc has no contact
    const lone = imagingStatistics(Array.from({ length: 6 }, () => disc(0.1, 0.6, 0.005, rng)))!;
    expect(lone.contactPixels).toBe(0);
    expect(lone.contact![0]).toBeNaN();
  });

  it('returns null without enough substrate or body', () => {
    const flat = { width: 32, height: 32, data: new Float32Array(32 * 32).fill(0.2) };
    expect(imagingStatistics([flat])).toBeNull();
    expect(imagingStatistics([])).toBeNull();
  });
});

describe('calibrateImaging', () => {
  it('finds the levels and the noise of renders with hidden settings', async () => {
    const scene = scaleSceneConfig(presetConfig('tio2-sem'), 96, { keepParticleSize: true });
    const hidden = { substrateBrightness: 0.18, particleBrightness: 0.45, noiseGaussian: 0.02, noiseShot: 0.03, blurSigma: 1.4, edgeGain: 0.1, rimGain: 0.05, shadowStrength: 0.3, haloStrength: 0.3, haloWidth: 7, creaseStrength: 0.45 };
    const target = mergeSceneConfig(scene, { params: hidden });
    const rng = new Rng(7);
    const reals = noGrad(() => Array.from({ length: 12 }, () => ({ width: 96, height: 96, data: renderScene(sampleScene(target, rng), paramsVector(target), { masks: false }).image.data })));
    const cal = (await calibrateImaging(scene, reals, 8, 3))!;
    expect(cal).not.toBeNull();
    expect(Math.abs(cal.params.substrateBrightness - 0.18)).toBeLessThan(0.03);
    // the body level is matched (particleBrightness itself trades off against the rims it fits)
    expect(Math.abs(cal.synthetic.body - cal.real.body)).toBeLessThan(0.03);
    expect(Math.abs(cal.synthetic.residual / cal.real.residual - 1)).toBeLessThan(0.2);
    // the edge profile is closer to the hidden renders' than the preset's is
    const preset = imagingStatistics(noGrad(() => Array.from({ length: 12 }, () => ({ width: 96, height: 96, data: renderScene(sampleScene(scene, rng), paramsVector(scene), { masks: false }).image.data }))))!;
    expect(profileDistance(cal.synthetic, cal.real)).toBeLessThan(0.5 * profileDistance(preset, cal.real));
    // the halo and the creases the preset does not draw are found (hidden 0.3 and 0.45; the halo
    // trades off against the shadow and the blur on the profile: 0.1 and 0.3 when written)
    expect(cal.params.haloStrength).toBeGreaterThanOrEqual(0.1);
    expect(cal.params.creaseStrength).toBeGreaterThanOrEqual(0.15);
    expect(Math.abs(cal.synthetic.contact![0] - cal.real.contact![0])).toBeLessThan(0.03);
    // the preset's noise is lower than the hidden one: the calibration raises it
    expect(cal.params.noiseGaussian).toBeGreaterThan(scene.params.noiseGaussian * 1.5);
  }, 120_000);
});

describe('calibrated ranges and the GAN start', () => {
  it('bounds each parameter around its value, inside the table', () => {
    const r = calibratedRanges({ blurSigma: 1, edgeGain: 0, particleBrightness: 0.32 });
    expect(r.blurSigma[0]).toBeCloseTo(0.75);
    expect(r.blurSigma[1]).toBeCloseTo(1.25);
    expect(r.edgeGain[0]).toBe(0);
    expect(r.edgeGain[1]).toBeCloseTo(0.02);
    expect(r.particleBrightness[0]).toBe(0.3);
    expect(r.particleBrightness[1]).toBeCloseTo(0.4);
  });

  it('maps the ParamNet outputs into the narrowed ranges', () => {
    const m = new ParamMapping(['blurSigma', 'noiseGaussian'], presetConfig('tio2-sem').params, 'float32', { blurSigma: [0.75, 1.25] });
    const phys = m.physical([0.5, 0.5]);
    expect(phys.blurSigma).toBeCloseTo(1);
    const nr = PARAMETER_TABLE[paramIndex('noiseGaussian')];
    expect(phys.noiseGaussian).toBeCloseTo(0.5 * (nr.min + nr.max));
    const full = noGrad(() => m.map(new Tensor(Float32Array.from([1, 0]), [1, 2])));
    expect(full.data[paramIndex('blurSigma')]).toBeCloseTo(1.25);
  });

  it('starts the untrained ParamNet at the scene values', () => {
    const learned = ['blurSigma', 'particleBrightness', 'noiseGaussian'];
    const values = { ...presetConfig('tio2-sem').params, blurSigma: 1.1, particleBrightness: 0.37, noiseGaussian: 0.005 };
    const m = new ParamMapping(learned, values, 'float32', { blurSigma: [0.8, 1.3] });
    const s0 = sceneStartOutputs(m, values);
    const net = new ParamNet(5, 3, new Rng(2), new Rng(3), { hidden: 16, layers: 2, initialOutput: s0 });
    net.eval();
    const rng = new Rng(4);
    const phi = new Tensor(Float32Array.from({ length: 8 * 5 }, () => rng.uniform()), [8, 5]);
    const s = noGrad(() => net.forward(phi));
    for (let b = 0; b < 8; b++) {
      const phys = m.physical(s.data.subarray(b * 3, b * 3 + 3));
      expect(Math.abs(phys.blurSigma - 1.1)).toBeLessThan(0.1);
      expect(Math.abs(phys.particleBrightness - 0.37)).toBeLessThan(0.05);
      expect(Math.abs(phys.noiseGaussian - 0.005)).toBeLessThan(0.006);
    }
  });
});
