/** Help and usage text; the option rows come from the flag table. */
import packageJson from '../package.json' with { type: 'json' };
import { FLAG_LIST, type FlagSpec, type Section } from './options.js';

export const PROGRAM = 'flannel-docker-setup';
export const VERSION: string = packageJson.version;

const SECTIONS: Record<Section, string> = {
  input: 'Input',
  'env-file': 'Env-file mode (the default; options as flannel\'s mk-docker-opts.sh)',
  'daemon-json': 'daemon.json mode',
  restart: 'Restart',
  verify: 'Verification',
  output: 'Output',
};

function optionRow(spec: FlagSpec<unknown>): [string, string] {
  const names = `${spec.short ? `-${spec.short}, ` : '    '}--${spec.flag}${spec.value ? ` ${spec.value}` : ''}`;
  const fallback = spec.shownDefault ?? (spec.kind === 'boolean' || spec.default === undefined || (Array.isArray(spec.default) && spec.default.length === 0) ? undefined : String(spec.default));
  return [`  ${names}`, `${spec.help}${fallback !== undefined ? ` (default ${fallback})` : ''}`];
}

const OPTION_WIDTH = 32;
const LINE_WIDTH = 116;

/** Two columns; long help wraps under itself, a long option name gets its help on the next line. */
function rows(list: readonly [string, string][]): string {
  return list
    .map(([left, right]) => {
      const lines = wrap(right, LINE_WIDTH - OPTION_WIDTH - 2);
      const indent = ' '.repeat(OPTION_WIDTH + 2);
      const first = left.length <= OPTION_WIDTH ? `${left.padEnd(OPTION_WIDTH)}  ${lines[0]}` : `${left}\n${indent}${lines[0]}`;
      return [first, ...lines.slice(1).map((line) => `${indent}${line}`)].join('\n');
    })
    .join('\n');
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  lines.push(line);
  return lines;
}

export function usageText(): string {
  return `Usage: ${PROGRAM} [options]\nRun \`${PROGRAM} --help\` for the modes and options.`;
}

export function helpText(): string {
  const optionSections = (Object.keys(SECTIONS) as Section[]).map(
    (section) => `${SECTIONS[section]}:\n${rows(FLAG_LIST.filter((spec) => spec.section === section).map(optionRow))}`,
  );
  return `${PROGRAM} ${VERSION}: puts Docker on this host's flannel subnet.

Waits for the subnet.env flanneld writes, turns it into Docker's options (--bip=$FLANNEL_SUBNET --mtu=$FLANNEL_MTU,
and --ip-masq=false when flanneld masquerades, true when it does not), writes them where Docker reads them,
restarts Docker if they changed, and checks that the daemon answers and docker0 has the subnet's gateway address
and the MTU. Running it again with the same subnet.env changes nothing.

Usage: ${PROGRAM} [options]

Modes:
  env file (default)  Writes the options as shell variables, the file and options of flannel's mk-docker-opts.sh
                      (-f -d -i -c -k -m): DOCKER_OPT_BIP, DOCKER_OPT_IPMASQ, DOCKER_OPT_MTU and DOCKER_OPTS.
                      Docker's unit reads the file and passes the combined variable to dockerd (deploy/ has
                      the systemd drop-in). Example, as distribution units name the variable:
                        ${PROGRAM} -f /run/flannel/subnet.env -d /run/flannel/docker -k DOCKER_NETWORK_OPTIONS
  daemon.json         Merges "bip", "mtu" and "ip-masq" into Docker's daemon.json, keeping every other key, the
                      key order, the indentation and the file's permissions (written atomically). Example:
                        ${PROGRAM} --daemon-json --daemon-json-file /etc/docker/daemon.json

Restart:
  systemd             When systemd runs (/run/systemd/system exists): systemctl restart docker (--docker-unit).
  a command           --restart-command "CMD" runs CMD with sh -c, for hosts without systemd. Example:
                        ${PROGRAM} --restart-command "service docker restart"
  none                --no-restart, or no systemd and no --restart-command: files only, and it says whether
                      Docker needs a restart. Use it in a unit that runs before docker.service.
  Nothing is restarted when the options and Docker are already in place. Before a restart, a docker0 address
  outside the new subnet is removed, so dockerd re-creates the bridge on --bip; and a setting that would be both
  a dockerd flag and in daemon.json (which makes dockerd refuse to start) is reported, with nothing changed.
  After it, the daemon (--docker-host) must answer on the new options within --verify-timeout.

${optionSections.join('\n\n')}

Other options:
${rows([
  ['  -h, --help', 'show this help (also -?)'],
  ['      --version', 'show the version'],
])}

Differences from mk-docker-opts.sh: subnet.env is parsed, not sourced (a relative -f works, nothing in it runs);
DOCKER_OPT_* variables of the environment are not copied into the file; bad FLANNEL_* values and a missing
subnet.env are errors (the script wrote DOCKER_OPTS=""); a route that already leads to the subnet is found
before the file is written.

Exit codes: 0 done or nothing to do, 1 failed (no subnet.env in time, bad values, conflict, restart or
verification failed), 2 usage error.`;
}
