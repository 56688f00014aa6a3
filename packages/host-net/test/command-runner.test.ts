import { describe, expect, it } from 'vitest';
import { createCommandRunner } from '../src/command-runner.js';

describe('createCommandRunner', () => {
  it('returns stdout and exit status of each command, quoting arguments as given', async () => {
    await using runner = createCommandRunner();
    expect(await runner.run('printf', ['%s|%s\n', "it's", 'a b'])).toEqual({ code: 0, stdout: "it's|a b\n" });
    expect(await runner.run('printf', ['no newline'])).toEqual({ code: 0, stdout: 'no newline' });
    expect(await runner.run('sh', ['-c', 'echo partial; exit 3'])).toEqual({ code: 3, stdout: 'partial\n' });
    expect((await runner.run('/nonexistent/tool', [])).code).toBe(127);
  });

  it('keeps answers apart when commands are issued at once, and drops stderr', async () => {
    await using runner = createCommandRunner();
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => runner.run('sh', ['-c', `echo out${i}; echo err${i} >&2`])));
    expect(answers.map((a) => a.stdout)).toEqual(Array.from({ length: 20 }, (_, i) => `out${i}\n`));
  });

  it('runs commands in one shell, not one process of ours each', async () => {
    await using runner = createCommandRunner();
    const first = await runner.run('sh', ['-c', 'echo $PPID']);
    const second = await runner.run('sh', ['-c', 'echo $PPID']);
    expect(first.stdout).toBe(second.stdout);
    expect(Number(first.stdout)).not.toBe(process.pid);
  });

  it('starts a new shell after the old one is gone', async () => {
    await using runner = createCommandRunner();
    const shellPid = Number((await runner.run('sh', ['-c', 'echo $PPID'])).stdout);
    process.kill(shellPid, 'SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await runner.run('echo', ['again'])).toEqual({ code: 0, stdout: 'again\n' });
  });

  it('keeps the process alive while a command is in flight, and not once the shell is idle', async () => {
    // Counted through Node's list of handles that keep the event loop alive (an unref'd one is not listed).
    const processHandles = () => process.getActiveResourcesInfo().filter((r) => r === 'ProcessWrap').length;
    await using runner = createCommandRunner();
    const before = processHandles();
    const answer = runner.run('sh', ['-c', 'sleep 0.2; echo late']);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(processHandles()).toBe(before + 1);
    expect((await answer).stdout).toBe('late\n');
    expect(processHandles()).toBe(before);
  });
});
