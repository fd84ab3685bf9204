import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { mergeSceneConfig } from '../../src/render/config.js';
import { BASE_SCENE, LEARNED_BY_PRESET, PRESETS, PRESET_NAMES, defaultParams, presetConfig } from '../../src/render/presets/index.js';
import { PARAMETER_TABLE, PARAM_NAMES, paramsVector } from '../../src/render/params.js';
import { SHADING_MODELS } from '../../src/render/shade/models.js';
import { DEFAULT_AUGMENT } from '../../src/seg/augment.js';

// A preset is one data record (src/render/presets/<name>.ts) merged over BASE_SCENE by the
// same validating merge as a user's --config file. Every registered record is checked here.
describe('presets as data', () => {
  for (const name of PRESET_NAMES) {
    it(`${name}: a valid record (every parameter set and in range, learned names known and distinct, a known model)`, () => {
      const rec = PRESETS[name];
      expect(rec.name).toBe(name);
      expect(Object.keys(rec.params).sort()).toEqual([...PARAM_NAMES].sort());
      const cfg = presetConfig(name);
      for (const p of PARAMETER_TABLE) {
        expect(cfg.params[p.name], p.name).toBeGreaterThanOrEqual(p.min);
        expect(cfg.params[p.name], p.name).toBeLessThanOrEqual(p.max);
      }
      expect(paramsVector(cfg)).toEqual(defaultParams(name));
      expect(LEARNED_BY_PRESET[name].length).toBeGreaterThan(0);
      expect(new Set(LEARNED_BY_PRESET[name]).size).toBe(LEARNED_BY_PRESET[name].length);
      for (const l of LEARNED_BY_PRESET[name]) expect(PARAM_NAMES).toContain(l);
      expect(SHADING_MODELS).toContain(cfg.shading.model);
      // a preset is the same kind of thing as a user's config: merging the record again changes nothing
      expect(mergeSceneConfig(cfg, { ...rec.scene, params: rec.params })).toEqual(cfg);
      // and a fresh object every call
      expect(presetConfig(name)).not.toBe(cfg);
    });
  }

  it("segAugment: only the segmenter's augmentation settings, in their range; shaded presets other than tio2-sem keep the defaults", () => {
    for (const name of PRESET_NAMES) {
      const a = PRESETS[name].segAugment ?? {};
      for (const [k, v] of Object.entries(a)) {
        expect(Object.keys(DEFAULT_AUGMENT), `${name}: ${k}`).toContain(k);
        expect(v, `${name}: ${k}`).toBeGreaterThanOrEqual(0);
        expect(v, `${name}: ${k}`).toBeLessThanOrEqual(1);
      }
      // the shaded (SEM, HIM) presets keep the seg defaults, but for tio2-sem's interior re-shading
      // (measured on its pairs only): their pipeline outputs are unchanged
      if (presetConfig(name).shading.model !== 'transmission' && name !== 'tio2-sem') expect(PRESETS[name].segAugment, name).toBeUndefined();
    }
    expect(PRESETS['tio2-sem'].segAugment).toEqual({ interior: 0.5 });
    // nearly opaque TSEM particles: no particle-contrast augmentation (tio2-tsem.ts says why)
    expect(PRESETS['tio2-tsem'].segAugment?.fgContrast).toBe(0);
  });

  it('a record is validated like a user config: a parameter out of range or missing names the field', () => {
    const rec = PRESETS['tio2-sem'];
    const base = { ...structuredClone(BASE_SCENE), params: {} as Record<string, number> };
    expect(() => mergeSceneConfig(base as never, { ...rec.scene, params: { ...rec.params, blurSigma: 99 } })).toThrow(/params\.blurSigma/);
    const { noiseShot: _, ...missing } = rec.params;
    expect(() => mergeSceneConfig(base as never, { ...rec.scene, params: missing })).toThrow(ConfigError);
    expect(() => mergeSceneConfig(base as never, { ...rec.scene, params: missing })).toThrow(/params\.noiseShot/);
    expect(() => mergeSceneConfig(base as never, { ...rec.scene, shading: { model: 'xray' }, params: rec.params })).toThrow(/shading\.model/);
  });

  it('paramsVector: table order, and a clear error for a config without a parameter', () => {
    const cfg = presetConfig('sio2-him');
    const v = paramsVector(cfg);
    PARAMETER_TABLE.forEach((p, i) => expect(v[i]).toBe(cfg.params[p.name]));
    const { shininess: _, ...partial } = cfg.params;
    expect(() => paramsVector({ params: partial })).toThrow(/params\.shininess/);
  });

  it('an unknown preset name is a ConfigError naming the choices', () => {
    expect(() => presetConfig('gold-tem' as never)).toThrow(/tio2-sem, tio2-him, sio2-him, agnw-sem/);
  });
});
