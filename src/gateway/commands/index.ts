import type { FeatureModule } from '../../platform/module.js';
import type { CommandHandler, CommandHandlers } from './context.js';

const ping: CommandHandler<'ping'> = async (_ctx, cmd) => JSON.stringify({ type: 'pong', re: cmd.id });

// Listed through `satisfies`: a command added to the protocol and not here fails to compile.
const everyCommand = {
  send: true,
  edit: true,
  delete: true,
  react: true,
  read: true,
  pin: true,
  unpin: true,
  vote: true,
  rsvp: true,
  typing: true,
  sync: true,
  history: true,
  ping: true,
} satisfies Record<keyof CommandHandlers, true>;
const commandTypes = Object.keys(everyCommand) as (keyof CommandHandlers)[];

/**
 * The features' command handlers as one table. Checked at start: every command of docs/protocol.md §4
 * has exactly one handler, so a feature that forgets to register one fails the first test, not a client.
 */
export function assembleCommands(modules: readonly FeatureModule[]): CommandHandlers {
  const table: Partial<Record<keyof CommandHandlers, unknown>> = { ping };
  for (const module of modules) {
    for (const [type, handler] of Object.entries(module.commands ?? {})) {
      if (table[type as keyof CommandHandlers]) throw new Error(`command ${type} is registered twice (again by ${module.name})`);
      table[type as keyof CommandHandlers] = handler;
    }
  }
  const missing = commandTypes.filter((type) => !table[type]);
  if (missing.length > 0) throw new Error(`no feature handles the commands ${missing.join(', ')}`);
  return table as CommandHandlers;
}

export type { CommandContext, CommandHandler, CommandHandlers } from './context.js';
