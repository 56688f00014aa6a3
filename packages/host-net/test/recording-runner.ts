/** A CommandRunner for tests: runs each command for real (optionally inside a namespace) and records it. */
import { createProcessRunner, type CommandRunner } from '../src/command-runner.js';

export interface RecordedCommand {
  readonly command: string;
  readonly args: readonly string[];
  readonly input: string | undefined;
  readonly kind: 'run' | 'stream';
}

export interface RecordingRunner extends CommandRunner {
  readonly commands: RecordedCommand[];
  /** Streams still running. */
  readonly streaming: Set<string>;
}

/** `netns` runs every command through `ip netns exec NS` (the firewall code has no namespace option of its own). */
export function createRecordingRunner(options: { readonly netns?: string } = {}): RecordingRunner {
  const real = createProcessRunner();
  const wrap = (command: string, args: readonly string[]): [string, readonly string[]] => (options.netns ? ['ip', ['netns', 'exec', options.netns, command, ...args]] : [command, args]);
  const commands: RecordedCommand[] = [];
  const streaming = new Set<string>();
  return {
    commands,
    streaming,
    run(command, args, runOptions) {
      commands.push({ command, args, input: runOptions?.input, kind: 'run' });
      return real.run(...wrap(command, args), runOptions);
    },
    async stream(command, args, onLine, signal, onErrorLine) {
      commands.push({ command, args, input: undefined, kind: 'stream' });
      const id = [command, ...args].join(' ');
      streaming.add(id);
      try {
        return await real.stream(...wrap(command, args), onLine, signal, onErrorLine);
      } finally {
        streaming.delete(id);
      }
    },
  };
}
