/**
 * The shading stage as one fused autodiff op: an image-formation model (model.ts, models.ts)
 * applied to the raster's fragments, differentiable w.r.t. the raster (normals and coverage),
 * the parameter vector and the substrate texture T, with the model's hand-written backward.
 * With raster lanes installed, an image of 128 x 128 or more and every input in shared memory,
 * the rows are split over the lanes (lanes.ts); the results do not depend on the number of lanes.
 */
import { Tensor, allocData } from '../../autodiff/tensor.js';
import { record } from '../../autodiff/tape.js';
import { PARAM_INDEX } from '../params.js';
import { fragmentChannels, type Fragments } from '../raster/fragments.js';
import { takeF64Dirty, takeF64Shared, giveF64, releasingBackward } from '../scratch.js';
import { ALPHA_FULL, type FixedMaps } from './fixed-maps.js';
import { grainField } from './grain.js';
import { repeatPixels } from './supersample.js';
import { imageLanes, lanesInstalled, runBands, sumRows } from '../lanes/lanes.js';
import { allShared, allocOut } from '../lanes/shared.js';
import type { ImageFormationModel, ShadeBackRowsJob, ShadeRowsJob, ShadingContext } from './model.js';

/** The pre-blur image I [H, W] of a model on the fragments. */
export function shade(model: ImageFormationModel, fr: Fragments, params: Tensor, T: Tensor, maps: FixedMaps, ctx: ShadingContext): Tensor {
  const H = fr.height, W = fr.width, HW = H * W;
  const raster = fr.tensor;
  // The constants of this forward, also the backward's: parameter values as they are now.
  const k = model.constants(params.data, ctx);
  const { E, E2, Sh } = maps;
  const ss = ctx.supersample ?? 1;
  const Gr = !model.grain ? null : ss === 1 ? grainField(W, H, ctx.textureSeed) : repeatPixels(grainField(W / ss, H / ss, ctx.textureSeed), W / ss, H / ss, ss);
  const prox = model.proximity ? ctx.proximity : null;
  if (model.proximity && !prox) throw new Error(`shade: the ${model.name} model needs the proximity maps (ShadingContext.proximity)`);
  const Dh = prox ? prox.outside : null, Dc = prox ? prox.contact : null;
  const lanes = imageLanes(HW) && allShared(raster.data, T.data, E, E2, Sh, Gr, Dh, Dc) ? imageLanes(HW) : null;
  const out = allocOut(raster.dtype === 'float64' || params.dtype === 'float64' ? 'float64' : 'float32', HW, lanesInstalled());
  // per covered pixel (coverage > 0): L and Y / y0 (pixel i at 2 i, 2 i + 1; the rest unset)
  const LY = lanes ? takeF64Shared(2 * HW) : takeF64Dirty(2 * HW);
  const job: ShadeRowsJob<unknown> = {
    normalX: fr.normalX, normalY: fr.normalY, normalZ: fr.normalZ, alpha: fr.alpha, variation: fr.variation,
    T: T.data, E, E2, Sh, Gr, Dh, Dc, LY, out, k, alphaFull: ALPHA_FULL, W, rowLo: 0, rowHi: H,
  };
  runBands(lanes, model.rows, job, H, model.kernels[model.rows] as (j: typeof job) => number);
  const rec = record(model.opName, new Tensor(out, [H, W]), [raster, params, T], releasingBackward(model.opName, (gOut: Tensor) => shadeBackward(model, gOut, fr, params, k, T, maps, Gr, Dh, Dc, LY)));
  if (!rec.node) giveF64(LY);
  return rec;
}

/**
 * The backward of shade (its vector-Jacobian product). A top-level function rather than the
 * tape closure itself: a closure created anew on every render keeps losing its optimised code
 * (V8 deoptimises it on fresh type feedback), a named function keeps it.
 */
function shadeBackward(model: ImageFormationModel, gOut: Tensor, fr: Fragments, params: Tensor, k: unknown, T: Tensor, maps: FixedMaps, Gr: Float64Array | null, Dh: Float64Array | null, Dc: Float64Array | null, LY: Float64Array): (Tensor | null)[] {
  const H = fr.height, W = fr.width, HW = H * W;
  const raster = fr.tensor;
  const { E, E2, Sh } = maps;
  const G = gOut.data;
  const lanes = imageLanes(HW) && allShared(G, raster.data, T.data, E, E2, Sh, Gr, Dh, Dc, LY) ? imageLanes(HW) : null;
  // the raster's gradient only when it needs one (not for a cached raster: the GAN's case)
  const gR = raster.requiresGrad ? allocOut(raster.dtype, raster.size, lanes !== null) : null;
  const gc = gR ? fragmentChannels(gR, HW) : null;
  const gT = allocOut(T.dtype, HW, lanes !== null);
  const m = model.grads.length;
  const sums = lanes ? takeF64Shared(m * H) : takeF64Dirty(m * H);
  const job: ShadeBackRowsJob<unknown> = {
    G, normalX: fr.normalX, normalY: fr.normalY, normalZ: fr.normalZ, alpha: fr.alpha, variation: fr.variation, T: T.data, E, E2, Sh, Gr, Dh, Dc, LY,
    gNormalX: gc && gc.normalX, gNormalY: gc && gc.normalY, gNormalZ: gc && gc.normalZ, gAlpha: gc && gc.alpha, gVariation: gc && gc.variation,
    gT, sums, k, alphaFull: ALPHA_FULL, W, rowLo: 0, rowHi: H,
  };
  runBands(lanes, model.backRows, job, H, model.kernels[model.backRows] as (j: typeof job) => number);
  const tot = sumRows(sums, H, m);
  const gPv = allocData(params.dtype, params.size);
  model.grads.forEach((name, j) => (gPv[PARAM_INDEX[name]] = tot[j]));
  giveF64(LY, sums);
  return [gR ? new Tensor(gR, raster.shape) : null, new Tensor(gPv, params.shape), new Tensor(gT, T.shape)];
}
