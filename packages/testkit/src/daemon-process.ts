import type { ChildProcess } from 'node:child_process';
import { spawnTracked, stopProcess } from './processes.js';
import { WaitAborted, waitFor } from './wait.js';

/** A long-running process under test (e.g. flanneld), with its output captured for assertions. */
export interface DaemonProcess extends AsyncDisposable {
  readonly child: ChildProcess;
  readonly pid: number | undefined;
  /** stdout and stderr so far. */
  output(): string;
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code once the process ends. */
  exited(): Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function startDaemon(command: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; echo?: boolean; wrapper?: readonly string[] } = {}): DaemonProcess {
  const [cmd, ...rest] = options.wrapper ? [...options.wrapper, command, ...args] : [command, ...args];
  const child = spawnTracked(cmd!, rest, { env: options.env ?? process.env });
  let output = '';
  const append = (chunk: Buffer) => {
    output += chunk.toString();
    if (options.echo || process.env['FLANNEL_TEST_LOG']) process.stderr.write(chunk);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : null))));
  return {
    child,
    pid: child.pid,
    output: () => output,
    waitForOutput: (pattern, timeoutMs = 15_000) =>
      waitFor(
        () => {
          const match = output.match(pattern);
          if (match) return match;
          if (child.exitCode !== null) throw new WaitAborted(`process exited (${child.exitCode}) before printing ${pattern}`);
          return undefined;
        },
        { timeoutMs, what: `output ${pattern}` },
      ).catch((err: Error) => {
        throw new Error(`${err.message}\n--- output ---\n${output}`);
      }),
    exited: () => exit,
    stop: (signal = 'SIGTERM') => stopProcess(child, signal),
    async [Symbol.asyncDispose]() {
      await stopProcess(child, 'SIGKILL', 2000);
    },
  };
}
