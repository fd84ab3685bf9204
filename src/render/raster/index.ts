export { softRasterize, coverageSupport, AREA_EPS, type SoftRasterOptions } from './soft.js';
export { hardRasterize, type HardRaster, type HardRasterOptions } from './hard.js';
export { toFragments, fragmentChannels, FRAGMENT_CHANNELS, type Fragments, type FragmentChannel } from './fragments.js';
