import { describe, expect, it } from 'vitest';
import { normaliseMesh, checkUserMesh, userMeshData, MAX_USER_MESH_FACES } from '../../src/render/mesh/user.js';
import { mergeSceneConfig } from '../../src/render/config.js';
import { presetConfig } from '../../src/render/presets/index.js';
import { ConfigError } from '../../src/errors.js';

// A tetrahedron with outward counter-clockwise faces, off-centre and scaled, plus an unused vertex.
const tet = [0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2];
const tetFaces = [0, 2, 1, 0, 1, 3, 0, 3, 2, 1, 2, 3];

describe('user particle meshes', () => {
  it('normalises: bounding-box centre at the origin, bounding radius 1, unused vertices dropped, order kept', () => {
    const pos = [...tet.slice(0, 6), 9, 9, 9, ...tet.slice(6)].map((v, i) => v * 5 + [10, -4, 7][i % 3]);
    const faces = tetFaces.map((v) => (v >= 2 ? v + 1 : v));
    const m = normaliseMesh(pos, faces);
    expect(m.positions.length).toBe(12);
    expect(Array.from(m.faces)).toEqual(tetFaces);
    let r = 0;
    const lo = [Infinity, Infinity, Infinity], hi = [-Infinity, -Infinity, -Infinity];
    for (let i = 0; i < 12; i += 3) {
      r = Math.max(r, Math.hypot(m.positions[i], m.positions[i + 1], m.positions[i + 2]));
      for (let k = 0; k < 3; k++) {
        lo[k] = Math.min(lo[k], m.positions[i + k]);
        hi[k] = Math.max(hi[k], m.positions[i + k]);
      }
    }
    expect(r).toBeCloseTo(1, 6);
    for (let k = 0; k < 3; k++) expect(lo[k] + hi[k]).toBeCloseTo(0, 6);
    expect(m.notes.join(' ')).toMatch(/1 vertex\(es\) used by no triangle dropped/);
    expect(m.notes.join(' ')).not.toMatch(/turned around/);
  });

  it('turns inward-facing meshes around (negative enclosed volume)', () => {
    const inward = tetFaces.map((_, i) => tetFaces[i - (i % 3) + [0, 2, 1][i % 3]]);
    const m = normaliseMesh(tet, inward);
    expect(Array.from(m.faces)).toEqual(tetFaces);
    expect(m.notes.join(' ')).toMatch(/turned around/);
  });

  it('refuses what cannot be rendered, in plain words', () => {
    expect(() => normaliseMesh([1, 1, 1, 1, 1, 1, 1, 1, 1], [0, 1, 2])).toThrow(/all vertices coincide/);
    expect(() => normaliseMesh(tet, [])).toThrow(/no triangles/);
    expect(() => normaliseMesh(tet, [0, 1, 7])).toThrow(/refers to vertex 7/);
    expect(() => normaliseMesh([0, 0, NaN, ...tet.slice(3)], tetFaces)).toThrow(/non-finite/);
    expect(() => normaliseMesh(tet, new Array(3 * (MAX_USER_MESH_FACES + 1)).fill(0))).toThrow(/at most/);
  });

  it('config field particles.mesh: data accepted (shape implied), paths and bad data refused with the field named', () => {
    const data = userMeshData('tet.ply', normaliseMesh(tet, tetFaces));
    const cfg = mergeSceneConfig(presetConfig('tio2-sem'), { particles: { mesh: data } });
    expect(cfg.particles.shape).toBe('mesh');
    expect(cfg.particles.mesh!.faces).toEqual(tetFaces);
    // an explicit other shape wins (the mesh is kept but not used)
    expect(mergeSceneConfig(presetConfig('tio2-sem'), { particles: { mesh: data, shape: 'sphere' } }).particles.shape).toBe('sphere');
    const field = (patch: unknown): string => {
      try {
        mergeSceneConfig(presetConfig('tio2-sem'), patch);
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as ConfigError).field;
      }
      throw new Error('accepted');
    };
    expect(field({ particles: { mesh: 'grain.ply' } })).toBe('particles.mesh');
    expect(field({ particles: { shape: 'mesh' } })).toBe('particles.mesh');
    expect(field({ particles: { mesh: { ...data, positions: [0, 0, 5] } } })).toBe('particles.mesh.positions');
    expect(field({ particles: { mesh: { ...data, faces: [0, 1, 9] } } })).toBe('particles.mesh.faces');
    expect(field({ particles: { mesh: { ...data, colour: 1 } } })).toBe('particles.mesh.colour');
    expect(() => checkUserMesh('particles.mesh', null)).toThrow(ConfigError);
  });
});
