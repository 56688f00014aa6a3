/**
 * The shape of a command: its grammar (for cac and for help), a parser from the command line to typed args, and a
 * handler `(args, ctx)`. `defineCommand` hides the args type so a group can hold different commands.
 */
import type { CommandContext } from './context.js';
import type { ArgReader } from './options.js';

export interface OptionSpec {
  /** Flag name without dashes, e.g. `subnet-len` or `no-ipv4`. */
  readonly flag: string;
  /** Value placeholder such as `<n>`; absent for a boolean flag. */
  readonly value?: string;
  readonly help: string;
}

export interface CommandSpec<A> {
  readonly name: string;
  /** Positional arguments in cac syntax: `<SUBNET>` required, `[FILE]` optional. */
  readonly args: string;
  readonly summary: string;
  /** Extra help paragraphs. */
  readonly details?: string;
  readonly options: readonly OptionSpec[];
  readonly examples: readonly string[];
  readonly parse: (positionals: readonly string[], options: ArgReader) => A;
  readonly run: (args: A, ctx: CommandContext) => Promise<void>;
}

export interface Command extends Omit<CommandSpec<unknown>, 'parse' | 'run'> {
  execute(positionals: readonly string[], options: ArgReader, ctx: CommandContext): Promise<void>;
}

export interface CommandGroup {
  readonly name: string;
  readonly summary: string;
  readonly commands: readonly Command[];
}

export function defineCommand<A>(spec: CommandSpec<A>): Command {
  const { parse, run, ...grammar } = spec;
  return { ...grammar, execute: (positionals, options, ctx) => run(parse(positionals, options), ctx) };
}
