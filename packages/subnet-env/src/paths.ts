/**
 * `@flannel-ts/subnet-env/paths`: where subnet.env lives by default, without the reader and writer (and core's IP
 * code under them), for the flags and help of the commands that name the file.
 */
export const DEFAULT_SUBNET_FILE = '/run/flannel/subnet.env';
