export { createHostNetwork, ipBatchLine, bridgeBatchLine } from './iproute2.js';
export type { IpRoute2Options } from './iproute2.js';
export {
  createIptablesFirewall,
  createNftablesFirewall,
  masqueradeRules,
  forwardRules,
  iptablesRestorePayload,
  nftablesScript,
  iptablesHasRandomFully,
  readIptablesRules,
} from './firewall.js';
export type { Firewall, FirewallPlan, FirewallFamily, IptablesDump } from './firewall.js';
export { createProcessRunner, createShellRunner, COMMAND_NOT_FOUND } from './command-runner.js';
export type { CommandRunner, CommandResult, RunOptions } from './command-runner.js';
