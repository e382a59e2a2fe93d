import type { Command, CommandType } from '../../protocol/commands.js';

/** Who is asking, on which connection; a feature's handlers hold their own services. */
export interface CommandContext {
  userId: string;
  connectionId: string;
}

/**
 * Returns the reply frame, or undefined for commands without a reply (typing). A thrown AppError
 * is answered as an error frame; a thrown Disconnect closes the socket with its code.
 */
export type CommandHandler<T extends CommandType> = (ctx: CommandContext, command: Command<T>) => Promise<string | undefined>;

/** Every command of a ready socket (`auth` is handled before a socket is ready), one handler each. */
export type CommandHandlers = { [T in Exclude<CommandType, 'auth'>]: CommandHandler<T> };
