/**
 * The wasm backend's linear memory: its fixed layout, the per-call scratch heap, resident blocks
 * (operands that live in the module's memory across calls) and the staging of plain operands
 * (copied in before a kernel and out after it).
 *
 * Layout: [0, PARAM_BASE) holds the dynamic GEMMs' shared chunk counter; then one parameter
 * block per task, one small scratch area per task (the micro-kernel's edge tiles), a free page,
 * and from HEAP_BASE the resident blocks (up to resTop) followed by the scratch heap, which
 * every kernel call starts afresh at resTop.
 */
import type { Data } from '../../backend.js';
import { profileCopy } from '../../profile.js';
import { PARAM_SLOTS } from './params.js';

export const PAGE = 65536;
/** Most tasks (lanes) one call is split into. */
export const MAX_TASKS = 64;
export const PARAM_BASE = 4096;
/** Shared chunk counter of dynamically scheduled GEMMs. */
export const COUNTER = PARAM_BASE - 64;
export const PARAM_BYTES = PARAM_SLOTS * 4;
export const SCRATCH_BASE = PARAM_BASE + MAX_TASKS * PARAM_BYTES;
export const SCRATCH_BYTES = 4096;
export const HEAP_BASE = SCRATCH_BASE + MAX_TASKS * SCRATCH_BYTES + PAGE;

/** Thrown when a call would need memory past the ceiling; the kernel then declines the call. */
export class OutOfWasmMemory extends Error {}

export class WasmHeap {
  private heapTop = HEAP_BASE;
  /** Live resident blocks: start byte -> size in bytes. */
  private readonly blocks = new Map<number, number>();
  /** Free holes below resTop, sorted by address. */
  private holes: { at: number; bytes: number }[] = [];
  private resTop = HEAP_BASE;
  /** The memory's buffer objects that resident views were made on (a shared memory's buffer object changes when it grows; old ones stay valid). */
  private readonly ownBuffers = new WeakSet<ArrayBufferLike>();

  /** `memory` gives the (lazily created) module memory; `maxPages` is its ceiling. */
  constructor(private readonly memory: () => WebAssembly.Memory, readonly maxPages: number) {}

  // ---------------- scratch ----------------
  private reset(): void {
    this.heapTop = this.resTop;
  }

  /** Grows the memory so that it holds `end` bytes (throws OutOfWasmMemory past maxPages). */
  private ensure(end: number): void {
    const memory = this.memory();
    const need = Math.ceil(end / PAGE);
    const have = memory.buffer.byteLength / PAGE;
    if (need > have) {
      if (need > this.maxPages) throw new OutOfWasmMemory();
      memory.grow(need - have);
    }
  }

  /** Reserves `floats` f32 slots (64-byte aligned, with slack after), growing memory as needed. */
  alloc(floats: number): number {
    const ptr = this.heapTop;
    const end = ptr + Math.ceil((floats * 4 + 64) / 64) * 64;
    this.ensure(end);
    this.heapTop = end;
    return ptr;
  }

  /** Runs one kernel call: declines (false) when !ok or when memory runs out; the scratch heap is reset before and after. */
  guard(ok: boolean, body: () => void): boolean {
    if (!ok) return false;
    this.reset();
    try {
      body();
      return true;
    } catch (e) {
      if (e instanceof OutOfWasmMemory) return false;
      throw e;
    } finally {
      this.reset();
    }
  }

  // ---------------- resident buffers (zero-copy operands) ----------------
  /**
   * A zeroed Float32Array of n elements that lives in this backend's WebAssembly memory. Kernels
   * read such operands in place and write such outputs in place (no copy in or out), which is
   * what a caller that keeps its tensors on this backend gets. The view stays valid until
   * release(view) (also across memory growth: the memory is shared); using it afterwards is a
   * use-after-free. Needs a shared memory (SharedArrayBuffer), else throws.
   */
  resident(n: number): Float32Array {
    const memory = this.memory();
    if (!(typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer)) {
      throw new Error('wasm backend: resident buffers need a shared WebAssembly memory (SharedArrayBuffer)');
    }
    if (!Number.isInteger(n) || n < 0) throw new Error(`wasm backend: bad resident length ${n}`);
    // Slack after the data, as for scratch buffers: vector packing may read (never write) a few floats past the end.
    const bytes = Math.ceil((n * 4 + 64) / 64) * 64;
    let at = -1;
    for (let i = 0; i < this.holes.length; i++) {
      const h = this.holes[i]!;
      if (h.bytes < bytes) continue;
      at = h.at;
      if (h.bytes === bytes) this.holes.splice(i, 1);
      else { h.at += bytes; h.bytes -= bytes; }
      break;
    }
    if (at < 0) {
      at = this.resTop;
      if (Math.ceil((at + bytes) / PAGE) > this.maxPages) throw new Error(`wasm backend: no room for a resident buffer of ${n} floats (memory ceiling ${this.maxPages} pages)`);
      this.ensure(at + bytes);
      this.resTop = at + bytes;
      this.heapTop = this.resTop;
    }
    this.blocks.set(at, bytes);
    const buf = memory.buffer;
    this.ownBuffers.add(buf);
    const view = new Float32Array(buf, at, n);
    view.fill(0);
    return view;
  }

  /** Frees a view returned by resident() (throws on anything else, or on a second release). */
  release(view: Float32Array): void {
    const at = view.byteOffset;
    const bytes = this.blocks.get(at);
    if (!this.ownBuffers.has(view.buffer) || bytes === undefined || view.length * 4 > bytes) {
      throw new Error('wasm backend: release() of a view that is not a live resident buffer of this backend');
    }
    this.blocks.delete(at);
    // Insert the hole in address order and merge it with its neighbours.
    let i = 0;
    while (i < this.holes.length && this.holes[i]!.at < at) i++;
    this.holes.splice(i, 0, { at, bytes });
    if (i + 1 < this.holes.length && at + bytes === this.holes[i + 1]!.at) {
      this.holes[i]!.bytes += this.holes[i + 1]!.bytes;
      this.holes.splice(i + 1, 1);
    }
    if (i > 0 && this.holes[i - 1]!.at + this.holes[i - 1]!.bytes === at) {
      this.holes[i - 1]!.bytes += this.holes[i]!.bytes;
      this.holes.splice(i, 1);
      i--;
    }
    // A hole at the top gives its space back to the scratch heap.
    const last = this.holes[this.holes.length - 1];
    if (last && last.at + last.bytes === this.resTop) {
      this.resTop = last.at;
      this.holes.pop();
      this.heapTop = this.resTop;
    }
  }

  /** Bytes held by live resident buffers (for tests and memory reports). */
  residentBytes(): number {
    let s = 0;
    for (const b of this.blocks.values()) s += b;
    return s;
  }

  /** Byte address of x if it is a float32 view inside a live resident block, else -1. */
  addrOf(x: Data): number {
    if (!(x instanceof Float32Array) || !this.ownBuffers.has(x.buffer)) return -1;
    const at = x.byteOffset, end = at + x.length * 4;
    // Usually the view resident() returned (O(1)); a sub-view needs a scan.
    const own = this.blocks.get(at);
    if (own !== undefined && end <= at + own) return at;
    for (const [b, bytes] of this.blocks) if (at >= b && end <= b + bytes) return at;
    return -1;
  }

  // ---------------- operand staging ----------------
  /** An input operand's address: in place when resident, else copied into scratch. */
  input(x: Data, len = x.length): number {
    const at = this.addrOf(x);
    if (at >= 0) return at;
    const p = this.alloc(len);
    this.put(p, x, len);
    return p;
  }

  /**
   * An output's address: in place when resident and not overlapping any input (the kernels read
   * inputs while writing), else scratch that take() copies out.
   */
  output(out: Data, len: number, inputs: Data[]): number {
    const at = this.addrOf(out);
    if (at >= 0) {
      const end = at + len * 4;
      const overlaps = inputs.some((x) => {
        if (x.buffer !== out.buffer && !(this.ownBuffers.has(x.buffer) && this.ownBuffers.has(out.buffer))) return false;
        const a = x.byteOffset, b = a + x.length * 4;
        return a < end && at < b;
      });
      if (!overlaps) return at;
    }
    return this.alloc(len);
  }

  f32(): Float32Array {
    return new Float32Array(this.memory().buffer);
  }

  i32(): Int32Array {
    return new Int32Array(this.memory().buffer);
  }

  private put(ptr: number, src: Data, len = src.length): void {
    profileCopy(len * 4);
    this.f32().set(len === src.length ? src : src.subarray(0, len), ptr >> 2);
  }

  /** Copies a result out of scratch (nothing to do when dst is the resident output at ptr). */
  take(ptr: number, dst: Data): void {
    if (this.addrOf(dst) === ptr) return;
    profileCopy(dst.length * 4);
    dst.set(this.f32().subarray(ptr >> 2, (ptr >> 2) + dst.length));
  }
}
