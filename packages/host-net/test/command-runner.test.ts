import { describe, expect, it } from 'vitest';
import { COMMAND_NOT_FOUND, createProcessRunner, createShellRunner } from '../src/command-runner.js';

describe('createShellRunner', () => {
  it('returns stdout and exit status of each command, quoting arguments as given', async () => {
    await using runner = createShellRunner();
    expect(await runner.run('printf', ['%s|%s\n', "it's", 'a b'])).toEqual({ code: 0, stdout: "it's|a b\n", stderr: '' });
    expect(await runner.run('printf', ['no newline'])).toEqual({ code: 0, stdout: 'no newline', stderr: '' });
    expect(await runner.run('sh', ['-c', 'echo partial; exit 3'])).toEqual({ code: 3, stdout: 'partial\n', stderr: '' });
    expect((await runner.run('/nonexistent/tool', [])).code).toBe(127);
  });

  it('keeps answers apart when commands are issued at once, and drops stderr', async () => {
    await using runner = createShellRunner();
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => runner.run('sh', ['-c', `echo out${i}; echo err${i} >&2`])));
    expect(answers.map((a) => a.stdout)).toEqual(Array.from({ length: 20 }, (_, i) => `out${i}\n`));
  });

  it('runs commands in one shell, not one process of ours each', async () => {
    await using runner = createShellRunner();
    const first = await runner.run('sh', ['-c', 'echo $PPID']);
    const second = await runner.run('sh', ['-c', 'echo $PPID']);
    expect(first.stdout).toBe(second.stdout);
    expect(Number(first.stdout)).not.toBe(process.pid);
  });

  it('starts a new shell after the old one is gone', async () => {
    await using runner = createShellRunner();
    const shellPid = Number((await runner.run('sh', ['-c', 'echo $PPID'])).stdout);
    process.kill(shellPid, 'SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await runner.run('echo', ['again'])).toEqual({ code: 0, stdout: 'again\n', stderr: '' });
  });

  it('keeps the process alive while a command is in flight, and not once the shell is idle', async () => {
    // Counted through Node's list of handles that keep the event loop alive (an unref'd one is not listed).
    const processHandles = () => process.getActiveResourcesInfo().filter((r) => r === 'ProcessWrap').length;
    await using runner = createShellRunner();
    const before = processHandles();
    const answer = runner.run('sh', ['-c', 'sleep 0.2; echo late']);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(processHandles()).toBe(before + 1);
    expect((await answer).stdout).toBe('late\n');
    expect(processHandles()).toBe(before);
  });

  it('runs commands with stdin, a timeout or a stream as their own process', async () => {
    await using runner = createShellRunner();
    const shellPid = (await runner.run('sh', ['-c', 'echo $PPID'])).stdout;
    const withInput = await runner.run('sh', ['-c', 'cat; echo $PPID; echo oops >&2'], { input: 'fed\n' });
    expect(withInput.stdout.split('\n')[0]).toBe('fed');
    expect(withInput.stdout.split('\n')[1]).not.toBe(shellPid.trim());
    expect(withInput.stderr).toBe('oops\n');
    const lines: string[] = [];
    expect(await runner.stream('sh', ['-c', 'echo one; echo two'], (line) => lines.push(line), new AbortController().signal)).toBe(0);
    expect(lines).toEqual(['one', 'two']);
    // stderr lines go to onErrorLine when it is given (the monitor reads iproute2's overrun reports there).
    const out: string[] = [];
    const err: string[] = [];
    expect(await runner.stream('sh', ['-c', 'echo one; echo lost >&2; echo two'], (line) => out.push(line), new AbortController().signal, (line) => err.push(line))).toBe(0);
    expect(out).toEqual(['one', 'two']);
    expect(err).toEqual(['lost']);
  });
});

describe('createProcessRunner', () => {
  const runner = createProcessRunner();

  it('returns stdout, stderr and the exit status, feeding stdin when given', async () => {
    expect(await runner.run('sh', ['-c', 'cat; echo err >&2; exit 4'], { input: 'in\n' })).toEqual({ code: 4, stdout: 'in\n', stderr: 'err\n' });
    expect(await runner.run('printf', ['%s', "it's"])).toEqual({ code: 0, stdout: "it's", stderr: '' });
  });

  it('reports a program that cannot start as a shell does (127), and kills one past its timeout', async () => {
    const missing = await runner.run('/nonexistent/tool', []);
    expect(missing.code).toBe(COMMAND_NOT_FOUND);
    expect(missing.stderr).toMatch(/ENOENT/);
    const started = Date.now();
    expect((await runner.run('sleep', ['5'], { timeoutMs: 100 })).code).toBeNull();
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('streams lines until the command exits or the signal aborts', async () => {
    const lines: string[] = [];
    expect(await runner.stream('sh', ['-c', 'printf "a\\nb\\n"; exit 2'], (line) => lines.push(line), new AbortController().signal)).toBe(2);
    expect(lines).toEqual(['a', 'b']);
    const stop = new AbortController();
    const seen: string[] = [];
    const ended = runner.stream('sh', ['-c', 'echo first; exec sleep 30'], (line) => {
      seen.push(line);
      stop.abort();
    }, stop.signal);
    expect(await ended).toBeNull();
    expect(seen).toEqual(['first']);
    expect(await runner.stream('/nonexistent/tool', [], () => undefined, new AbortController().signal)).toBe(COMMAND_NOT_FOUND);
    expect(await runner.stream('sh', ['-c', 'echo never'], () => undefined, AbortSignal.abort())).toBeNull();
  });
});
