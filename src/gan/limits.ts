/**
 * Upper bounds on every size a GAN run takes from a flag or a run's config.json, checked before
 * anything is allocated or written, so that no setting can exhaust memory or run for ages: each
 * limit is far above what a real run uses (the paper: patch 256, batch 1, 64 filters, 50 epochs),
 * and the discriminator's activation memory is bounded as a whole (batch x filters x patch^2).
 */

/** Inclusive integer ranges of the GAN's size settings (flag name -> [min, max]). */
export const GAN_LIMITS = {
  patch: [32, 1024],
  epochs: [1, 100_000],
  'steps-per-epoch': [1, 1_000_000],
  configs: [1, 100_000],
  batch: [1, 256],
  'base-filters': [1, 256],
  'eval-samples': [1, 1024],
} as const satisfies Record<string, readonly [number, number]>;

/** The patch side must be a multiple of this: the discriminator halves it three times. */
export const PATCH_MULTIPLE = 8;

/** Budget for the discriminator's activations of one step (forward + backward), in bytes. */
export const MAX_STEP_ACTIVATION_BYTES = 4 * 2 ** 30;

/** Budget for the rendered evaluation samples kept per epoch (eval-samples x patch^2 float32). */
export const MAX_EVAL_SAMPLE_BYTES = 2 ** 30;

/**
 * Bytes of the discriminator's float32 activations for one step, an upper estimate: its first
 * layer has `baseFilters` channels at half the patch side, each later one twice the channels at
 * half the side (so each holds about half of the previous); real and fake batches, kept for the
 * backward pass, plus as much again for gradients.
 */
export function stepActivationBytes(batch: number, patch: number, baseFilters: number): number {
  const firstLayer = batch * baseFilters * (patch / 2) ** 2 * 4;
  return firstLayer * 2 /* layers: 1 + 1/2 + 1/4 ... */ * 2 /* real + fake */ * 2 /* gradients */;
}

/**
 * Why these sizes are refused, naming the setting (as its flag) and its limit, or null when they
 * are fine. Integers are checked against GAN_LIMITS, the patch against PATCH_MULTIPLE, and the
 * combination against MAX_STEP_ACTIVATION_BYTES.
 */
export function ganSizeProblem(sizes: Partial<Record<keyof typeof GAN_LIMITS, unknown>>): string | null {
  for (const [name, [lo, hi]] of Object.entries(GAN_LIMITS)) {
    const v = sizes[name as keyof typeof GAN_LIMITS];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) return `--${name} must be an integer in [${lo}, ${hi}] (got ${String(v)})`;
  }
  const { patch, batch, 'base-filters': filters, 'eval-samples': evalSamples } = sizes as { patch?: number; batch?: number; 'base-filters'?: number; 'eval-samples'?: number };
  if (patch !== undefined && patch % PATCH_MULTIPLE !== 0) return `--patch must be a multiple of ${PATCH_MULTIPLE} (got ${patch}): the discriminator halves it three times`;
  if (patch !== undefined && batch !== undefined && filters !== undefined) {
    const bytes = stepActivationBytes(batch, patch, filters);
    if (bytes > MAX_STEP_ACTIVATION_BYTES) {
      const gib = (b: number) => (b / 2 ** 30).toFixed(1);
      return `--batch ${batch} x --base-filters ${filters} at --patch ${patch} needs about ${gib(bytes)} GiB of activations per step, above the limit of ${gib(MAX_STEP_ACTIVATION_BYTES)} GiB; lower one of them`;
    }
  }
  if (patch !== undefined && evalSamples !== undefined && evalSamples * patch * patch * 4 > MAX_EVAL_SAMPLE_BYTES) {
    return `--eval-samples ${evalSamples} at --patch ${patch} keeps ${((evalSamples * patch * patch * 4) / 2 ** 30).toFixed(1)} GiB of samples per epoch, above the limit of 1 GiB; lower one of them`;
  }
  return null;
}
