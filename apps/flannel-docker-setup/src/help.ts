/** Help, usage and man page, from the flag table through core's one help renderer (the style of all three tools). */
import { renderHelp, renderManPage, type HelpDocument, type HelpOption } from '@flannel-ts/core/command-line';
import packageJson from '../package.json' with { type: 'json' };
import { FLAG_LIST, type FlagSpec, type Section } from './options.js';

export const PROGRAM = 'flannel-docker-setup';
export const VERSION: string = packageJson.version;

const SECTIONS: Record<Section, string> = {
  input: 'Input',
  'env-file': 'Env-file mode',
  'daemon-json': 'daemon.json mode',
  restart: 'Restart',
  verify: 'Verification',
  output: 'Output',
};

function optionRow(spec: FlagSpec<unknown>): HelpOption {
  const fallback = spec.shownDefault ?? (spec.kind === 'boolean' || spec.default === undefined || (Array.isArray(spec.default) && spec.default.length === 0) ? undefined : String(spec.default));
  return { flag: spec.flag, short: spec.short, value: spec.value, help: spec.help, default: fallback };
}

export function usageText(): string {
  return `Usage: ${PROGRAM} [options]\nRun \`${PROGRAM} --help\` for the modes and options.`;
}

export function helpDocument(): HelpDocument {
  return {
    program: PROGRAM,
    version: VERSION,
    summary: "puts Docker on this host's flannel subnet",
    description:
      'Waits for the subnet.env flanneld writes, turns it into Docker\'s options (--bip=$FLANNEL_SUBNET --mtu=$FLANNEL_MTU, and ' +
      '--ip-masq=false when flanneld masquerades, true when it does not), writes them where Docker reads them, restarts Docker if they ' +
      'changed, and checks that the daemon answers and docker0 has the subnet\'s gateway address and the MTU. Running it again with ' +
      'the same subnet.env changes nothing.',
    usage: [`${PROGRAM} [options]`],
    sections: [
      {
        title: 'Modes',
        text: `  env file (default)  Writes the options as shell variables, the file and options of flannel's mk-docker-opts.sh
                      (-f -d -i -c -k -m): DOCKER_OPT_BIP, DOCKER_OPT_IPMASQ, DOCKER_OPT_MTU and DOCKER_OPTS.
                      Docker's unit reads the file and passes the combined variable to dockerd (deploy/ has
                      the systemd drop-in). Example, as distribution units name the variable:
                        ${PROGRAM} -f /run/flannel/subnet.env -d /run/flannel/docker -k DOCKER_NETWORK_OPTIONS
  daemon.json         Merges "bip", "mtu" and "ip-masq" into Docker's daemon.json, keeping every other key, the
                      key order, the indentation and the file's permissions (written atomically). Example:
                        ${PROGRAM} --daemon-json --daemon-json-file /etc/docker/daemon.json`,
      },
      {
        title: 'Restart',
        text: `  systemd             When systemd runs (/run/systemd/system exists): systemctl restart docker (--docker-unit).
  a command           --restart-command "CMD" runs CMD with sh -c, for hosts without systemd. Example:
                        ${PROGRAM} --restart-command "service docker restart"
  none                --no-restart, or no systemd and no --restart-command: files only, and it says whether
                      Docker needs a restart. Use it in a unit that runs before docker.service.
  Nothing is restarted when the options and Docker are already in place. Before a restart, a docker0 address
  outside the new subnet is removed, so dockerd re-creates the bridge on --bip; and a setting that would be both
  a dockerd flag and in daemon.json (which makes dockerd refuse to start) is reported, with nothing changed.
  After it, the daemon (--docker-host) must answer on the new options within --verify-timeout.`,
      },
      ...(Object.keys(SECTIONS) as Section[]).map((section) => ({ title: `${SECTIONS[section]} options`, options: FLAG_LIST.filter((spec) => spec.section === section).map(optionRow) })),
      {
        title: 'Other options',
        options: [
          { flag: 'help', short: 'h', help: 'show this help (also -?)' },
          { flag: 'version', help: 'show the version' },
        ],
      },
      {
        title: 'Differences from mk-docker-opts.sh',
        text: `  subnet.env is parsed, not sourced (a relative -f works, nothing in it runs); DOCKER_OPT_* variables of the
  environment are not copied into the file; bad FLANNEL_* values and a missing subnet.env are errors (the script wrote
  DOCKER_OPTS=""); a route that already leads to the subnet is found before the file is written.`,
      },
    ],
    examples: [
      `${PROGRAM}`,
      `${PROGRAM} -f /run/flannel/subnet.env -d /run/flannel/docker -k DOCKER_NETWORK_OPTIONS --no-restart`,
      `${PROGRAM} --daemon-json --restart-command "service docker restart" --wait 120`,
    ],
    exitStatus: '0 done or nothing to do, 1 failed (no subnet.env in time, bad values, conflict, restart or verification failed), 2 usage error.',
  };
}

export const helpText = (): string => renderHelp(helpDocument()).trimEnd();

/** The man page, for the build (scripts/write-man-page.mjs). */
export const manPage = (): { program: string; page: string } => ({ program: PROGRAM, page: renderManPage(helpDocument()) });
