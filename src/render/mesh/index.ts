export * from './types.js';
export { icosphere } from './icosphere.js';
export { roundedPolyhedron, type PolyhedronOptions } from './polyhedron.js';
export { wire, type WireOptions } from './wire.js';
