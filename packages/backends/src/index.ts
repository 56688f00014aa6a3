export { BACKENDS, allocBackend, backendFactory, checkBackendConfig } from './backends.js';
export { BACKEND_TYPES } from './names.js';
