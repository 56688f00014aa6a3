export { BACKENDS, allocBackend, backendFactory, checkBackendConfig } from './backends.js';
export type { CheckedBackend } from './backends.js';
export { BACKEND_TYPES, FLANNEL_BACKEND_TYPES } from './names.js';
export type { BackendType } from './names.js';
