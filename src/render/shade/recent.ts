/**
 * The shading's memos (fixed maps, noise fields, ridge maps, grain) keep the last few results
 * they computed: a render with fixed (or not yet updated) settings asks for the same ones again.
 * This is their most-recently-used list, looked up by a predicate because each memo compares its
 * own key (sizes, seeds, a whole alpha channel).
 */
export class RecentResults<T> {
  private readonly entries: T[] = [];

  constructor(private readonly capacity: number) {}

  /** The most recent entry `match` accepts, moved to the front; undefined when there is none. */
  find(match: (entry: T) => boolean): T | undefined {
    const j = this.entries.findIndex(match);
    if (j < 0) return undefined;
    const entry = this.entries[j];
    if (j > 0) {
      this.entries.splice(j, 1);
      this.entries.unshift(entry);
    }
    return entry;
  }

  /** Puts `entry` in front, after removing the entries `replaces` accepts; the oldest goes beyond the capacity. */
  add(entry: T, replaces?: (old: T) => boolean): void {
    if (replaces) for (let j = this.entries.length - 1; j >= 0; j--) if (replaces(this.entries[j])) this.entries.splice(j, 1);
    this.entries.unshift(entry);
    if (this.entries.length > this.capacity) this.entries.pop();
  }

  clear(): void {
    this.entries.length = 0;
  }
}
