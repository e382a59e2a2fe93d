import { z } from 'zod';
import {
  emoji,
  emptyMessage,
  hasContent,
  id,
  issueDetails,
  messageFields,
  messageText,
  MAX_POLL_OPTIONS,
  notPollAndEvent,
  pollAndEvent,
  positiveSeq,
  seq,
  type ProtocolLimits,
} from './limits.js';
import { AppError } from './errors.js';
import { tryParseJson } from './json.js';

// Client → server WebSocket commands (docs/protocol.md §4). Unknown extra fields are ignored, so
// clients written against a later protocol keep working.

const commandId = z.union([z.string().min(1).max(64), z.number().int().safe()]);
const rsvpAnswer = z.enum(['going', 'maybe', 'no']);

export function commandSchemas(limits: ProtocolLimits) {
  const text = messageText(limits);
  const base = { id: commandId };
  return {
    auth: z.object({ ...base, type: z.literal('auth'), token: z.string().min(1).max(8192) }),
    send: z
      .object({
        ...base,
        type: z.literal('send'),
        group: id,
        ...messageFields(limits),
      })
      .refine(hasContent, emptyMessage)
      .refine(notPollAndEvent, pollAndEvent),
    edit: z.object({ ...base, type: z.literal('edit'), group: id, target: positiveSeq, text }),
    delete: z.object({ ...base, type: z.literal('delete'), group: id, target: positiveSeq }),
    react: z.object({ ...base, type: z.literal('react'), group: id, target: positiveSeq, emoji: emoji.nullable() }),
    read: z.object({ ...base, type: z.literal('read'), group: id, seq }),
    pin: z.object({ ...base, type: z.literal('pin'), group: id, target: positiveSeq }),
    unpin: z.object({ ...base, type: z.literal('unpin'), group: id, target: positiveSeq }),
    /** The caller's vote replaces their earlier one; no options retracts it. */
    vote: z.object({
      ...base,
      type: z.literal('vote'),
      group: id,
      target: positiveSeq,
      options: z
        .array(
          z
            .number()
            .int()
            .min(0)
            .max(MAX_POLL_OPTIONS - 1, 'no such option'),
        )
        .max(MAX_POLL_OPTIONS)
        .refine((o) => new Set(o).size === o.length, 'an option at most once'),
    }),
    rsvp: z.object({ ...base, type: z.literal('rsvp'), group: id, target: positiveSeq, answer: rsvpAnswer }),
    typing: z.object({ ...base, type: z.literal('typing'), group: id }),
    sync: z.object({
      ...base,
      type: z.literal('sync'),
      groups: z.record(id, seq).refine((g) => Object.keys(g).length <= 1000, 'at most 1000 groups per sync'),
    }),
    history: z.object({
      ...base,
      type: z.literal('history'),
      group: id,
      before: positiveSeq.optional(),
      limit: z.number().int().min(1).max(100).optional(),
    }),
    ping: z.object({ ...base, type: z.literal('ping') }),
  };
}

type Schemas = ReturnType<typeof commandSchemas>;
export type CommandType = keyof Schemas;
export type Command<T extends CommandType = CommandType> = z.output<Schemas[T]>;
export type AnyCommand = { [T in CommandType]: Command<T> }[CommandType];
export type CommandId = z.output<typeof commandId>;
/** A command as a client writes it; the client adds the id that correlates the reply. */
export type CommandBody<T extends CommandType = CommandType> = T extends CommandType ? Omit<Command<T>, 'id'> : never;

/** One message to send: the fields of `send` (and of `POST /v1/groups/:id/messages`, with the group in the path). */
export type SendInput = Pick<Command<'send'>, 'group' | 'clientMsgId' | 'text' | 'replyTo' | 'mentions' | 'attachments' | 'poll' | 'event'>;
/** What a message may carry besides its text, each optional. */
type Extras = 'attachments' | 'poll' | 'event';
/** A message with its optional fields settled: how one send is queued, stored and shown while pending. */
export type OutgoingMessage = { [K in Exclude<keyof SendInput, Extras>]-?: Exclude<SendInput[K], undefined> } & Pick<SendInput, Extras>;
/** A poll as `send` carries it. */
export type PollInput = NonNullable<SendInput['poll']>;
/** An event as `send` carries it. */
export type EventInput = NonNullable<SendInput['event']>;
export type RsvpAnswer = z.output<typeof rsvpAnswer>;

const envelope = z.object({ type: z.string().min(1).max(32), id: commandId.optional() }).loose();
/** The id alone, read when the envelope fails on its type: a valid id still earns `re` (docs/protocol.md §6). */
const idOnly = z.object({ id: commandId }).loose();

/**
 * Parses one text frame into a command: JSON once, then the schema of its type.
 * Throws AppError('bad_request') carrying the command id when one could be read.
 */
export function createCommandParser(limits: ProtocolLimits) {
  const schemas = commandSchemas(limits);
  return function parseCommand(frame: string): AnyCommand {
    const json = tryParseJson(frame);
    if (json === undefined) throw new CommandError(undefined, new AppError('bad_request', 'frame is not valid JSON'));
    const head = envelope.safeParse(json);
    if (!head.success) {
      const id = idOnly.safeParse(json);
      throw new CommandError(
        id.success ? id.data.id : undefined,
        new AppError('bad_request', 'frame must be an object with a type', issueDetails(head.error)),
      );
    }
    const schema = schemas[head.data.type as CommandType] as Schemas[CommandType] | undefined;
    if (!schema || !Object.hasOwn(schemas, head.data.type)) {
      throw new CommandError(head.data.id, new AppError('bad_request', `unknown type "${head.data.type}"`));
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw new CommandError(head.data.id, new AppError('bad_request', `invalid ${head.data.type}`, issueDetails(parsed.error)));
    }
    return parsed.data as AnyCommand;
  };
}

// `"id": "…"` or `"id": 123` as the object's first key (or second, after a short `type`), or as its last.
const idValue = String.raw`"id"\s*:\s*("(?:[^"\\]|\\.){1,64}"|-?\d{1,16})`;
const idFirst = new RegExp(String.raw`^\s*\{\s*(?:"type"\s*:\s*"[a-z_]{1,32}"\s*,\s*)?${idValue}\s*[,}]`);
const idLast = new RegExp(String.raw`[{,]\s*${idValue}\s*\}\s*$`);
const SCAN_CHARS = 256;

/**
 * The id of a frame refused by the rate limit, read by a bounded scan of its two ends rather than
 * parsing it (a refused frame may be 64 KiB); undefined when the id is elsewhere. In valid JSON
 * these anchored matches can only be a key of the top-level object.
 */
export function commandIdOf(frame: string): CommandId | undefined {
  const match = idFirst.exec(frame.slice(0, SCAN_CHARS)) ?? idLast.exec(frame.slice(-SCAN_CHARS));
  if (!match) return undefined;
  const parsed = commandId.safeParse(tryParseJson(match[1]!));
  return parsed.success ? parsed.data : undefined;
}

/** A parse failure, with the id of the command when it could be read, so the reply has `re`. */
export class CommandError extends Error {
  constructor(
    readonly commandId: CommandId | undefined,
    readonly error: AppError,
  ) {
    super(error.message);
  }
}
