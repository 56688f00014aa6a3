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
  /**
   * How long the command may run: `bounded` (the default) gives all its etcd work one deadline; `self-timed` bounds
   * its own calls (doctor, which must report an unreachable etcd and go on); `until-signal` runs until SIGINT or
   * SIGTERM (ctx.signal) and exits 0 then (leases watch).
   */
  readonly lifetime?: CommandLifetime;
  readonly parse: (positionals: readonly string[], options: ArgReader) => A;
  /** Resolves with the exit code, or nothing for 0; throws for an operation that failed (exit 1). */
  readonly run: (args: A, ctx: CommandContext) => Promise<number | void>;
}

export type CommandLifetime = 'bounded' | 'self-timed' | 'until-signal';

export interface Command extends Omit<CommandSpec<unknown>, 'parse' | 'run'> {
  execute(positionals: readonly string[], options: ArgReader, ctx: CommandContext): Promise<number | void>;
}

export interface CommandGroup {
  readonly name: string;
  readonly summary: string;
  readonly commands: readonly Command[];
  /**
   * A command of its own (`flannelctl status`) rather than a group of subcommands: it holds one command with the
   * group's name, and its words on the command line are just that name.
   */
  readonly standalone?: boolean;
}

/** The words that name a command on the command line: `leases list`, or `status` for a standalone command. */
export function commandWords(group: CommandGroup, command: Pick<Command, 'name'>): string {
  return group.standalone ? command.name : `${group.name} ${command.name}`;
}

/** A group holding one command of the same name (`flannelctl status`). */
export function standaloneGroup(command: Command): CommandGroup {
  return { name: command.name, summary: command.summary, commands: [command], standalone: true };
}

export function defineCommand<A>(spec: CommandSpec<A>): Command {
  const { parse, run, ...grammar } = spec;
  return { ...grammar, execute: (positionals, options, ctx) => run(parse(positionals, options), ctx) };
}
