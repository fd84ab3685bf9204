export * from './types.js';
export { icosphere } from './icosphere.js';
export { roundedPolyhedron, type PolyhedronOptions } from './polyhedron.js';
export { wire, type WireOptions } from './wire.js';
export { normaliseMesh, userMeshData, checkUserMesh, userMesh, MAX_USER_MESH_FACES, type UserMeshData, type NormalisedMesh } from './user.js';
