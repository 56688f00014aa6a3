export { hostGwBackend } from './host-gw-backend.js';
export type { HostGwConfig } from './host-gw-backend.js';
export { planRoutes } from './plan.js';
export type { PlannedRoute, PlanOptions, SkippedLease } from './plan.js';
