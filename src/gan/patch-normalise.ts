/**
 * Per-patch normalisation on the tape: each sample of a batch [B, C, H, W] shifted to zero mean
 * and scaled to unit standard deviation over all its values, the way the classifier two-sample
 * test (c2st.ts, normalisePatch) sees patches, so that absolute grey levels cannot decide.
 * Built from differentiable ops (sub, mean, square, add, sqrt, div): gradients flow through the
 * statistics to whatever made the patch.
 */
import type { Tensor } from '../autodiff/tensor.js';
import { add, concat, div, mean, sqrt, square, sub } from '../autodiff/ops/index.js';

/** Added to the variance: keeps a flat patch finite (it maps to 0). */
export const NORMALISE_EPS = 1e-6;

/** Each sample [B, C, H, W] to zero mean and unit std over its C x H x W values. */
export function normaliseBatch(x: Tensor): Tensor {
  const c = sub(x, mean(x, [1, 2, 3], true));
  return div(c, sqrt(add(mean(square(c), [1, 2, 3], true), NORMALISE_EPS)));
}

/** What the GAN's discriminator is shown: the raw patches, or [raw, normalised] as two channels. */
export type DiscInput = 'raw' | 'raw+normalised';
export const DISC_INPUTS: readonly DiscInput[] = ['raw', 'raw+normalised'];

export function discInputChannels(kind: DiscInput): number {
  return kind === 'raw' ? 1 : 2;
}

/** x [B, 1, H, W] -> the discriminator's input for `kind` ([B, 1 or 2, H, W]). */
export function discInput(x: Tensor, kind: DiscInput): Tensor {
  return kind === 'raw' ? x : concat([x, normaliseBatch(x)], 1);
}
