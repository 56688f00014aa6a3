/**
 * The one way host-net (and whoever else needs a host command) starts a program: a CommandRunner. Every kernel
 * read and write of this package goes through the runner it was given, so a caller can swap it (a shared shell, a
 * recorder in tests) and nothing else spawns.
 *
 * Two implementations. `createProcessRunner()` starts one child process per command: stdin, stdout, stderr and the
 * exit status, as a batch (`ip -batch -`) or a JSON read needs them. `createShellRunner()` runs short commands
 * through one long-lived `/bin/sh` instead: the cost of a fork grows with the forking process's memory (its page
 * tables are copied), about 3-5 ms of CPU for a Node daemon of 60-75 MiB, against a fraction of a millisecond for
 * the shell. flanneld's firewall check runs every --iptables-resync seconds (5 by default) for as long as it runs,
 * so that difference is most of its idle CPU. Through the shell, stderr is dropped (callers read state, they do
 * not report the tool's messages); commands with stdin, long-running ones and, when the shell is gone, every
 * command run as their own process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export interface CommandResult {
  /**
   * Exit status; null when the command was killed (timeout) or gave no answer. 127 when the program could not be
   * started (not installed), as a shell reports it.
   */
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  /** Written to the command's stdin, which is then closed; without it stdin is empty. */
  readonly input?: string | undefined;
  /** Killed after this long (the result's code is then null). */
  readonly timeoutMs?: number | undefined;
}

export interface CommandRunner {
  run(command: string, args: readonly string[], options?: RunOptions): Promise<CommandResult>;
  /**
   * Starts a long-running command (`ip monitor`) and hands each line of its stdout to `onLine` (and of its stderr to
   * `onErrorLine`, when given) until it exits or `signal` aborts (the command is then killed); resolves with its exit
   * status (127: could not start).
   */
  stream(command: string, args: readonly string[], onLine: (line: string) => void, signal: AbortSignal, onErrorLine?: (line: string) => void): Promise<number | null>;
}

/** Exit status for a program that could not be started, as a shell reports a missing one. */
export const COMMAND_NOT_FOUND = 127;

/** One child process per command. */
export function createProcessRunner(): CommandRunner {
  return {
    run: runProcess,
    stream: streamProcess,
  };
}

function runProcess(command: string, args: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
  return new Promise((resolve) => {
    const { input, timeoutMs } = options;
    const child = spawn(command, [...args], { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      resolve({ code: COMMAND_NOT_FOUND, stdout, stderr: stderr || err.message });
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    if (child.stdin) {
      // A command that fails early closes its stdin; its exit status tells what happened.
      child.stdin.on('error', () => undefined);
      child.stdin.end(input);
    }
  });
}

function streamProcess(command: string, args: readonly string[], onLine: (line: string) => void, signal: AbortSignal, onErrorLine?: (line: string) => void): Promise<number | null> {
  if (signal.aborted) return Promise.resolve(null);
  return new Promise((resolve) => {
    const child = spawn(command, [...args], { stdio: ['ignore', 'pipe', onErrorLine ? 'pipe' : 'ignore'] });
    const kill = () => child.kill();
    signal.addEventListener('abort', kill, { once: true });
    splitLines(child.stdout!, onLine);
    if (onErrorLine) splitLines(child.stderr!, onErrorLine);
    let settled = false;
    const done = (code: number | null) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', kill);
      resolve(code);
    };
    child.once('error', () => done(COMMAND_NOT_FOUND));
    child.once('exit', (code) => done(code));
  });
}

/** Hands each complete line of `stream` to `onLine`. */
function splitLines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let buffered = '';
  stream.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) onLine(line);
  });
}

/**
 * An idle shell must not keep the process alive; one with a command in flight must (or an awaited answer could
 * leave Node with nothing to wait on).
 */
function holdProcess(child: ChildProcess, hold: boolean): void {
  for (const handle of [child, child.stdout, child.stdin] as unknown as Array<{ ref?: () => void; unref?: () => void } | null>) {
    if (hold) handle?.ref?.();
    else handle?.unref?.();
  }
}

const quote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;

/** A command that has not answered by then is given up on (the shell is restarted, the command run directly). */
const ANSWER_TIMEOUT_MS = 10_000;

/**
 * Short commands through one long-lived `/bin/sh` (stderr dropped); see the top of this file. `direct` runs what
 * the shell does not: commands with stdin, streams, and every command once the shell is gone.
 */
export function createShellRunner(direct: CommandRunner = createProcessRunner()): CommandRunner & AsyncDisposable {
  const marker = `__flannel_done_${randomBytes(8).toString('hex')}`;
  let shell: ChildProcess | undefined;
  // Set when /bin/sh cannot be started: every command then runs directly.
  let unavailable = false;
  let buffered = '';
  const pending: Array<{ resolve: (result: CommandResult) => void }> = [];
  // One command at a time: the next is written when the previous one's marker arrived.
  let queue: Promise<unknown> = Promise.resolve();

  const start = (): ChildProcess | undefined => {
    if (unavailable) return undefined;
    if (shell) return shell;
    const child = spawn('/bin/sh', [], { stdio: ['pipe', 'pipe', 'ignore'] });
    const gone = () => {
      if (shell === child) shell = undefined;
      buffered = '';
      // Whatever was in flight fails over to a direct run (in run) with an exit status of null.
      for (const waiter of pending.splice(0)) waiter.resolve({ code: null, stdout: '', stderr: '' });
    };
    child.once('error', () => {
      unavailable = true;
      gone();
    });
    child.stdin!.on('error', () => undefined);
    child.once('exit', gone);
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      for (;;) {
        const end = new RegExp(`\n${marker} (\\d+)\n`).exec(buffered);
        if (!end) break;
        const stdout = buffered.slice(0, end.index);
        buffered = buffered.slice(end.index + end[0].length);
        pending.shift()?.resolve({ code: Number(end[1]), stdout, stderr: '' });
      }
    });
    shell = child;
    holdProcess(child, false);
    return child;
  };

  const runInShell = (command: string, args: readonly string[]) =>
    new Promise<CommandResult>((resolve) => {
      const child = start();
      if (!child) return resolve({ code: null, stdout: '', stderr: '' });
      const timer = setTimeout(() => child.kill(), ANSWER_TIMEOUT_MS);
      pending.push({
        resolve: (result) => {
          clearTimeout(timer);
          if (pending.length === 0) holdProcess(child, false);
          resolve(result);
        },
      });
      holdProcess(child, true);
      child.stdin!.write(`${[command, ...args].map(quote).join(' ')} 2>/dev/null </dev/null; printf '\\n%s %d\\n' ${marker} $?\n`);
    });

  return {
    async run(command, args, options = {}) {
      if (options.input !== undefined || options.timeoutMs !== undefined) return direct.run(command, args, options);
      const result = queue.then(() => runInShell(command, args));
      queue = result.catch(() => undefined);
      const answer = await result;
      return answer.code === null ? direct.run(command, args) : answer;
    },
    stream: (command, args, onLine, signal, onErrorLine) => direct.stream(command, args, onLine, signal, onErrorLine),
    async [Symbol.asyncDispose]() {
      shell?.kill();
      shell = undefined;
    },
  };
}
