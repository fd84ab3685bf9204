import type { Target } from '../../fuzz/targets.js';

/** A target whose every input raises a TypeError: what the harness must call a crash. */
export const PlantedCrash: Target = {
  name: 'planted',
  setup: () => {},
  run: () => {
    throw new TypeError('planted');
  },
};
