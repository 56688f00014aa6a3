export { hostGwBackend } from './host-gw-backend.js';
export type { HostGwConfig } from './host-gw-backend.js';
export { inspectHostGw } from './inspect.js';
export type { HostGwInspectOptions } from './inspect.js';
export { planRoutes } from './plan.js';
export type { PlannedRoute, PlanOptions, SkippedLease } from './plan.js';
