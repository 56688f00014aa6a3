export { hostGwBackend } from './host-gw-backend.js';
export type { HostGwConfig } from './host-gw-backend.js';
export { inspectHostGw, routeInspection } from './inspect.js';
export type { HostGwInspectOptions } from './inspect.js';
export { planRepairs, planRoutes } from './plan.js';
export type { PlannedRoute, PlanOptions, RepairOptions, RouteRepairs, SkippedLease, StaleRoute } from './plan.js';
