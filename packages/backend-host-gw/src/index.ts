export { hostGwBackend } from './host-gw-backend.js';
export { planRoutes } from './plan.js';
export type { PlannedRoute } from './plan.js';
