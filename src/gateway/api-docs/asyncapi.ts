import { z } from 'zod';
import { type CommandType, commandSchemas } from '../../protocol/commands.js';
import type { ProtocolLimits } from '../../protocol/limits.js';
import { serverFrameSchema } from '../../protocol/server-frames.js';

// The WebSocket protocol (docs/protocol.md §3–§5) as AsyncAPI 3.0, from the zod schemas that parse
// the commands and describe the frames. Seen from the server: it receives commands on /v1/ws and
// sends frames there; each command's operation names the frame that answers it.

type Json = Record<string, unknown>;

/** AsyncAPI's default payload format is JSON Schema draft-07 (with its own additions). */
const draft07 = (schema: z.ZodType, io: 'input' | 'output'): Json => {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-07' }) as Json;
  return rest;
};

/** The frame answering each command besides `error` (docs/protocol.md §4); `typing` has none. */
const answers: Record<CommandType, string | null> = {
  auth: 'ready',
  send: 'ack',
  edit: 'ack',
  delete: 'ack',
  react: 'ack',
  read: 'ack',
  pin: 'ack',
  unpin: 'ack',
  vote: 'ack',
  rsvp: 'ack',
  typing: null,
  sync: 'synced',
  history: 'history',
  ping: 'pong',
};

/** A frame's `type`: its schema's constant, or the first alternative's (the `event` union). */
function frameType(payload: Json): string {
  const alternatives = (payload.oneOf ?? payload.anyOf) as Json[] | undefined;
  const properties = (alternatives?.[0] ?? payload).properties as Record<string, { const?: string }> | undefined;
  const type = properties?.type?.const;
  if (!type) throw new Error('a server frame without a constant type');
  return type;
}

const messageRef = (name: string) => ({ $ref: `#/channels/socket/messages/${name}` });

/** The AsyncAPI 3.0 document of the WebSocket protocol under `limits` (the server's protocol settings). */
export function asyncApiDocument(limits: ProtocolLimits): Json {
  const messages: Json = {};
  const operations: Json = {};
  for (const option of serverFrameSchema.options) {
    const payload = draft07(option, 'output');
    const type = frameType(payload);
    messages[`frame.${type}`] = { name: type, title: `${type} frame`, payload };
  }
  for (const [type, schema] of Object.entries(commandSchemas(limits)) as [CommandType, z.ZodType][]) {
    messages[`command.${type}`] = { name: type, title: `${type} command`, payload: draft07(schema, 'input') };
    const answer = answers[type];
    operations[`command.${type}`] = {
      action: 'receive',
      channel: { $ref: '#/channels/socket' },
      messages: [messageRef(`command.${type}`)],
      ...(answer
        ? { reply: { channel: { $ref: '#/channels/socket' }, messages: [messageRef(`frame.${answer}`), messageRef('frame.error')] } }
        : {}),
    };
  }
  const frames = Object.keys(messages).filter((name) => name.startsWith('frame.'));
  operations.frames = {
    action: 'send',
    channel: { $ref: '#/channels/socket' },
    summary: 'Answers, and what the server sends on its own: events, typing, presence…',
    messages: frames.map(messageRef),
  };
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Banyan WebSocket protocol',
      version: '1.1',
      description:
        'Generated from the zod schemas that parse commands and describe frames (npm run docs:api). One JSON object per text frame. Authenticate with `Authorization: Bearer <jwt>` on the upgrade or an `auth` command first. The contract in prose: docs/protocol.md §3–§7.',
    },
    defaultContentType: 'application/json',
    channels: {
      socket: { address: '/v1/ws', title: 'The WebSocket', messages, bindings: { ws: { method: 'GET' } } },
    },
    operations,
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
  };
}
