import { describe, expect, it } from 'vitest';
import { RecentResults } from '../../src/render/shade/recent.js';

describe('RecentResults (the shading memos)', () => {
  it('finds by predicate and moves the hit to the front, so the least recently used goes first', () => {
    const r = new RecentResults<number>(3);
    r.add(1);
    r.add(2);
    r.add(3); // front to back: 3 2 1
    expect(r.find((e) => e === 1)).toBe(1); // 1 3 2
    r.add(4); // 4 1 3; 2 dropped
    expect(r.find((e) => e === 2)).toBeUndefined();
    expect(r.find((e) => e === 1)).toBe(1);
    expect(r.find((e) => e === 3)).toBe(3);
    expect(r.find((e) => e === 4)).toBe(4);
  });

  it('add removes the entries its predicate replaces; clear empties it', () => {
    const r = new RecentResults<{ key: string; v: number }>(4);
    r.add({ key: 'a', v: 1 });
    r.add({ key: 'b', v: 2 });
    r.add({ key: 'a', v: 3 }, (old) => old.key === 'a');
    expect(r.find((e) => e.key === 'a')?.v).toBe(3);
    expect(r.find((e) => e.key === 'a' && e.v === 1)).toBeUndefined();
    r.clear();
    expect(r.find(() => true)).toBeUndefined();
  });
});
