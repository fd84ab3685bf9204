/**
 * Splits `segment train --seed` into its two parts, to tell which one moves a trained U-Net's
 * result (docs/segmentation.md, "Averaging the U-Net's weights"): writes an epoch-0 checkpoint
 * whose weights are initialised as `--seed INIT` would initialise them and whose data stream
 * (crop order, crops, augmentation) is the one `--seed DATA` would draw; `segment train --resume`
 * then trains it (trainUNet's Rng forks: init, split, data; a resumed run takes the weights, Adam's
 * state and the data Rng from the checkpoint). With INIT = DATA the result is byte-identical to a
 * plain `segment train --seed INIT`.
 *
 *   npx esbuild scripts/seg-split-seed.ts --bundle --platform=node --format=esm --packages=external --outfile=.tmp/split-seed.mjs
 *   node .tmp/split-seed.mjs PAIRS OUT INIT DATA [--interior-augment P] [--steps-per-epoch N]
 *   node dist/cli.js segment train --data PAIRS --out OUT --resume --epochs 5
 *
 * The network and crops are the tio2-sem pipeline's standard-budget ones (base 8, depth 4,
 * distance head, batch 4, 128 px crops, one crop per pair per epoch, masks not grown: the
 * rendered pairs' measured edge offset rounds to 0 px, which the script checks).
 */
import { Adam, Rng } from '../src/autodiff/index.js';
import { UNet, DEFAULT_UNET } from '../src/seg/unet.js';
import { DEFAULT_TRAIN, type Checkpoint, type TrainConfig } from '../src/seg/train.js';
import { edgeOffset, edgeProfile } from '../src/seg/align.js';
import { polarityFromMasks } from '../src/particles/polarity.js';
import { readSegDataset } from '../src/node/seg-dataset.js';
import { saveCheckpoint, hasCheckpoint } from '../src/node/seg-checkpoint.js';

const [pairs, out, initArg, dataArg, ...rest] = process.argv.slice(2);
if (!pairs || !out || initArg === undefined || dataArg === undefined) {
  console.error('usage: split-seed.mjs PAIRS OUT INIT DATA [--interior-augment P] [--steps-per-epoch N]');
  process.exit(2);
}
const flag = (name: string, fallback: number) => {
  const i = rest.indexOf(name);
  return i >= 0 ? Number(rest[i + 1]) : fallback;
};
if (hasCheckpoint(out)) throw new Error(`${out} already holds a model`);
const samples = readSegDataset(pairs);
const edge = edgeOffset(edgeProfile(samples));
if (Math.round(edge) !== 0) throw new Error(`the pairs' edge offset is ${edge} px: this script assumes masks that are not grown`);
const train: TrainConfig = {
  ...DEFAULT_TRAIN, epochs: 5, batch: 4, crop: 128, seed: Number(dataArg), growMasks: 0, stepsPerEpoch: flag('--steps-per-epoch', 0),
  augment: { ...DEFAULT_TRAIN.augment, interior: flag('--interior-augment', 0.5) },
};
// trainUNet: root = Rng(seed); init = root.fork(); split = root.fork(); data = root.fork().
const initRoot = new Rng(Number(initArg));
const model = new UNet({ ...DEFAULT_UNET, base: 8, depth: 4, distanceHead: true }, initRoot.fork());
const dataRoot = new Rng(Number(dataArg));
dataRoot.fork();
dataRoot.fork();
const dataRng = dataRoot.fork();
// Class weights over the whole set, as trainUNet computes them for a fresh run.
const counts = new Float64Array(3);
let total = 0;
for (const s of samples) for (let i = 0; i < s.classes.length; i++) counts[s.classes[i]]++, total++;
const classWeights = Array.from(counts, (n) => (n > 0 ? Math.pow(total / (3 * n), train.classWeightPower) : 0));
const names = samples.map((s) => s.name).sort();
const checkpoint: Checkpoint = {
  model: { unet: model.config, normalisation: train.normalisation, polarity: polarityFromMasks(samples), crop: train.crop },
  train, epoch: 0, step: 0, weights: model.stateDict(), optimizer: new Adam(model.parameters(), { lr: train.lr }).state(),
  rng: dataRng.state(), classWeights, split: { train: names, val: [] }, history: [],
};
saveCheckpoint(out, checkpoint);
console.log(`${out}: epoch-0 checkpoint, weights from seed ${initArg}, data stream from seed ${dataArg}`);
