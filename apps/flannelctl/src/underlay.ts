/**
 * The interfaces this host reaches other hosts on (the interface of each family's default route), for refusing a
 * network config that would cover them: core's assertClearOfUnderlay decides, this only reads the kernel.
 */
import { assertClearOfUnderlay, type NetworkConfig, type UnderlayInterface } from '@flannel-ts/core';
import { createHostNetwork } from '@flannel-ts/host-net';

export async function localUnderlay(host = createHostNetwork()): Promise<UnderlayInterface[]> {
  const interfaces: UnderlayInterface[] = [];
  for (const family of [4, 6] as const) {
    const routes = await host.routes({ family }).catch(() => []);
    const dev = routes.find((r) => r.dst === 'default' && r.dev)?.dev;
    if (!dev || interfaces.some((i) => i.name === dev)) continue;
    const addresses = await host.addresses(dev).catch(() => []);
    interfaces.push({ name: dev, cidrs: addresses.filter((a) => !a.cidr.startsWith('fe80:')).map((a) => a.cidr) });
  }
  return interfaces;
}

/**
 * Throws ConfigError when the config's networks overlap this host's underlay; with `force` returns the problem
 * instead. `writing` says whether the caller was about to write the config (so the message can say it did not).
 */
export async function checkUnderlay(config: NetworkConfig, options: { force: boolean; writing: boolean }): Promise<string | undefined> {
  const { force, writing } = options;
  for (const underlay of await localUnderlay()) {
    try {
      assertClearOfUnderlay(config, underlay);
    } catch (err) {
      if (!force) {
        if (writing) (err as Error).message += '. Nothing was written (if this host is not one of the flannel hosts, --force writes it anyway)';
        throw err;
      }
      return (err as Error).message;
    }
  }
  return undefined;
}
