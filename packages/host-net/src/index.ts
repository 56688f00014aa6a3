export { createHostNetwork, ipBatchLine, bridgeBatchLine } from './iproute2.js';
export type { IpRoute2Options } from './iproute2.js';
export { createIptablesFirewall, createNftablesFirewall, masqueradeRules, forwardRules, iptablesRestorePayload, nftablesScript } from './firewall.js';
export type { Firewall, FirewallPlan, FirewallFamily } from './firewall.js';
export { createCommandRunner } from './command-runner.js';
export type { CommandRunner, CommandResult } from './command-runner.js';
