import type { CommandHandler } from './context.js';

export const ping: CommandHandler<'ping'> = async (_ctx, cmd) => JSON.stringify({ type: 'pong', re: cmd.id });
