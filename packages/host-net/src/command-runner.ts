/**
 * Runs short commands through one long-lived `/bin/sh` instead of forking this process for each: the cost of a
 * fork grows with the forking process's memory (its page tables are copied), about 3-5 ms of CPU for a Node
 * daemon of 60-75 MiB, against a fraction of a millisecond for the shell. flanneld's firewall check runs every
 * --iptables-resync seconds (5 by default) for as long as it runs, so that difference is most of its idle CPU.
 *
 * Each command's stdout comes back with its exit status, framed by a random marker the shell prints after it;
 * stderr is dropped (callers read state, they do not report the tool's messages). When the shell is gone, commands
 * run as ordinary child processes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export interface CommandResult {
  readonly code: number | null;
  readonly stdout: string;
}

export interface CommandRunner extends AsyncDisposable {
  run(command: string, args: readonly string[]): Promise<CommandResult>;
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

export function createCommandRunner(): CommandRunner {
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
      for (const waiter of pending.splice(0)) waiter.resolve({ code: null, stdout: '' });
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
        pending.shift()?.resolve({ code: Number(end[1]), stdout });
      }
    });
    shell = child;
    holdProcess(child, false);
    return child;
  };

  const runInShell = (command: string, args: readonly string[]) =>
    new Promise<CommandResult>((resolve) => {
      const child = start();
      if (!child) return resolve({ code: null, stdout: '' });
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
    async run(command, args) {
      const result = queue.then(() => runInShell(command, args));
      queue = result.catch(() => undefined);
      const answer = await result;
      return answer.code === null ? runDirect(command, args) : answer;
    },
    async [Symbol.asyncDispose]() {
      shell?.kill();
      shell = undefined;
    },
  };
}

/** One child process for one command (no shell), as the fallback. */
export function runDirect(command: string, args: readonly string[]): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let stdout = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.once('error', () => resolve({ code: 127, stdout }));
    child.once('close', (code) => resolve({ code, stdout }));
  });
}
