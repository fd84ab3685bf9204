/**
 * The soft rasterizer's output as the image formation reads it. softRasterize returns a tensor
 * [C + 1, H, W]; the renderer rasterizes the attributes (normal x, y, z, 1), so its raster is
 * [5, H, W], channel-major: the blended unit normal (x, y, z), the blended per-particle
 * brightness factor u in [-1, 1] (shaded models; 1, the particle indicator, for transmission,
 * which does not read it) and the soft coverage alpha (soft.ts). Fragments names those channels (as PyTorch3D's
 * Fragments names the rasterizer's outputs) with views of the tensor's data, no copies.
 */
import type { Tensor } from '../../autodiff/tensor.js';

/** The channels of the renderer's raster, in order. */
export const FRAGMENT_CHANNELS = ['normalX', 'normalY', 'normalZ', 'variation', 'alpha'] as const;
export type FragmentChannel = (typeof FRAGMENT_CHANNELS)[number];

export type Fragments = {
  /** The raster [5, H, W] on the tape (gradients flow back through it). */
  readonly tensor: Tensor;
  readonly width: number;
  readonly height: number;
} & { readonly [C in FragmentChannel]: Float32Array | Float64Array };

/** Channel views over a [5, H, W] raster tensor (or over its gradient's data, same layout). */
export function fragmentChannels(data: Float32Array | Float64Array, HW: number): Record<FragmentChannel, Float32Array | Float64Array> {
  const out = {} as Record<FragmentChannel, Float32Array | Float64Array>;
  FRAGMENT_CHANNELS.forEach((c, k) => (out[c] = data.subarray(k * HW, (k + 1) * HW)));
  return out;
}

/** Names the channels of the renderer's raster [5, H, W]. */
export function toFragments(tensor: Tensor): Fragments {
  if (tensor.ndim !== 3 || tensor.shape[0] !== FRAGMENT_CHANNELS.length) throw new Error(`fragments: the raster must be [5, H, W], got [${tensor.shape}]`);
  const height = tensor.shape[1], width = tensor.shape[2];
  return { tensor, width, height, ...fragmentChannels(tensor.data, width * height) };
}
