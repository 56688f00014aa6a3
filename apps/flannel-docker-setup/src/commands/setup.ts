/**
 * The one command: decide the restart method (systemd only when it runs), call setupDocker, print the outcome:
 * a few human lines on stdout, or the whole result with --json.
 */
import type { Logger } from '@flannel-ts/core';
import { describeRestart, setupDocker, type DockerApi, type DockerHostOps, type RestartMethod, type SetupDockerResult } from '@flannel-ts/docker-integration';
import type { Invocation } from '../cli.js';

export interface SetupContext {
  readonly out: (line: string) => void;
  readonly log: Logger;
  readonly host: DockerHostOps;
  readonly docker: DockerApi;
  readonly sleep?: ((ms: number) => Promise<void>) | undefined;
  readonly signal?: AbortSignal | undefined;
}

export async function runSetup(invocation: Extract<Invocation, { kind: 'run' }>, ctx: SetupContext): Promise<SetupDockerResult> {
  const choice = invocation.restart;
  const restart: RestartMethod =
    choice.kind === 'systemd-if-running' ? ((await ctx.host.systemdRunning()) ? { kind: 'systemd', unit: choice.unit } : { kind: 'none', why: 'no-systemd' }) : choice;
  const result = await setupDocker(
    { ...invocation.request, restart },
    { log: ctx.log, host: ctx.host, docker: ctx.docker, ...(ctx.sleep ? { sleep: ctx.sleep } : {}), signal: ctx.signal },
  );
  if (invocation.options.json) ctx.out(JSON.stringify(result, null, 2));
  else for (const line of describeResult(result)) ctx.out(line);
  return result;
}

export function describeResult(result: SetupDockerResult): string[] {
  const lines = [`options: ${result.flags.join(' ')} (from ${result.subnetFile})`];
  const file = result.target.path;
  lines.push(result.written ? `wrote ${file}` : `${file} is up to date`);
  for (const address of result.removedAddresses) lines.push(`removed stale address ${address} from the bridge`);
  if (result.restart === 'done') lines.push(`restarted Docker (${describeRestart(result.restartMethod)})`);
  if (result.restart === 'skipped') {
    const why = result.restartMethod.kind === 'none' && result.restartMethod.why === 'no-systemd' ? 'systemd does not run here and no --restart-command was given' : '--no-restart';
    lines.push(`Docker needs a restart to use these options, not done (${why}): ${result.pending.join('; ')}`);
  }
  if (result.restart === 'not-needed') lines.push('Docker already runs on these options: nothing restarted');
  const state = result.state;
  if (state && result.restart !== 'skipped') {
    const bridge = state.bridge;
    const address = bridge?.addresses.find((a) => a.family === 4)?.cidr;
    const parts = [`${bridge?.name ?? state.network.bridge ?? 'bridge'} ${address ?? '(no IPv4 address)'} mtu ${bridge?.mtu ?? '?'}`];
    if (state.network.ipMasq !== undefined) parts.push(`ip-masq ${state.network.ipMasq}`);
    parts.push(`Docker ${state.version} answers`);
    lines.push(`verified: ${parts.join(', ')}`);
  }
  return lines;
}
