/**
 * `@flannel-ts/docker-integration/options`: what a command line needs to take the integration's options (the
 * default paths and socket, the env variable name check, splitting --dockerd-args) without the setup code and
 * core's IP code under it, so `flannel-docker-setup --help` reads none of that. The main entry exports all of it too.
 */
export { splitCommandLine } from './flag-conflicts.js';

export const DEFAULT_DAEMON_JSON = '/etc/docker/daemon.json';
export const DEFAULT_DOCKER_HOST = 'unix:///var/run/docker.sock';
export const DEFAULT_DOCKER_OPTS_FILE = '/run/docker_opts.env';
export const DEFAULT_DOCKER_OPTS_KEY = 'DOCKER_OPTS';

const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A name sh and systemd's EnvironmentFile take as a variable. */
export function isVariableName(name: string): boolean {
  return VARIABLE_NAME.test(name);
}
