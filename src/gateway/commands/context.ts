import type { Chat } from '../../platform/features.js';
import type { Command, CommandType } from '../../protocol/commands.js';

/** What a command handler gets: the domain and who is asking, on which connection. */
export interface CommandContext {
  chat: Chat;
  userId: string;
  connectionId: string;
}

/**
 * Returns the reply frame, or undefined for commands without a reply (typing). A thrown AppError
 * is answered as an error frame; a thrown Disconnect closes the socket with its code.
 */
export type CommandHandler<T extends CommandType> = (ctx: CommandContext, command: Command<T>) => Promise<string | undefined>;
