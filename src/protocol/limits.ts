import { z } from 'zod';

/** The configurable limits the wire schemas enforce. */
export interface ProtocolLimits {
  maxTextChars: number;
  /** Members one request may add (creating a group); more go through further calls or invites. */
  maxMembersPerCall: number;
}

/** Counts characters as code points, so an emoji is one character as users see it. */
export const charCount = (s: string) => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

/**
 * Text PostgreSQL can store as sent: no NUL (text and jsonb refuse it) and no lone surrogate
 * (it would be stored as U+FFFD, so an idempotency key would not match itself).
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is the one character PostgreSQL text cannot store.
const storable = /^[^\u0000\p{Cs}]*$/u;
const storableMessage = 'must be well-formed Unicode without NUL characters';
export const storableString = () => z.string().regex(storable, storableMessage);

/**
 * Characters that show nothing: white space, controls, format characters (zero-width space and
 * joiners, bidi marks), default-ignorables (Hangul fillers, variation selectors) and the blank
 * braille pattern, which clients render as empty.
 */
const invisibleOnly = /^[\p{White_Space}\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}\u2800]*$/u;
export const isInvisible = (s: string) => invisibleOnly.test(s);

/**
 * Control characters other than tab and line breaks mean nothing in a message, and one of them is
 * six bytes once JSON-escaped: refusing them bounds what a stored text can grow to in a reply (2×).
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to refuse control characters.
const controlCharacter = /[\u0001-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/u;

export const messageText = (limits: ProtocolLimits) =>
  storableString()
    .refine((s) => !controlCharacter.test(s), 'must not contain control characters (tab and line breaks are fine)')
    .trim()
    .min(1, { error: 'must not be empty', abort: true })
    .refine((s) => !isInvisible(s), 'must show something: only invisible characters')
    .refine((s) => charCount(s) <= limits.maxTextChars, `must be at most ${limits.maxTextChars} characters`);

// One RGI emoji (a skin tone, flag, keycap or ZWJ sequence is one; the v flag knows the set), or
// one pictographic character without its emoji variation selector ("❤" as keyboards often send it).
// Built from a string: the TypeScript target does not parse v-flag literals.
// biome-ignore lint/complexity/useRegexLiterals: a v-flag literal does not compile for this target.
const oneEmoji = new RegExp('^(?:\\p{RGI_Emoji}|\\p{Extended_Pictographic})$', 'v');
const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** Exactly one emoji grapheme, as a user picks it from an emoji keyboard. */
export const isOneEmoji = (s: string) => {
  if (s.length > 32 || !oneEmoji.test(s)) return false;
  let n = 0;
  for (const _ of graphemes.segment(s)) if (++n > 1) return false;
  return n === 1;
};

/** A short visible text (a poll's question and options, an event's title and place): trimmed, 1–`max` characters. */
const visibleText = (max: number) =>
  storableString()
    .refine((s) => !controlCharacter.test(s), 'must not contain control characters (tab and line breaks are fine)')
    .trim()
    .min(1, { error: 'must not be empty', abort: true })
    .refine((s) => !isInvisible(s), 'must show something: only invisible characters')
    .refine((s) => charCount(s) <= max, `must be at most ${max} characters`);

export const MIN_POLL_OPTIONS = 2;
export const MAX_POLL_OPTIONS = 12;
const POLL_OPTION_CHARS = 256;
const EVENT_TITLE_CHARS = 256;
const EVENT_LOCATION_CHARS = 512;

/** A poll (docs/protocol.md §8 "Polls and events"): a question and 2–12 different options; `multiple` lets a voter pick several. */
export const pollDefinition = (limits: ProtocolLimits) =>
  z.object({
    question: visibleText(limits.maxTextChars),
    options: z
      .array(visibleText(POLL_OPTION_CHARS))
      .min(MIN_POLL_OPTIONS, `at least ${MIN_POLL_OPTIONS} options`)
      .max(MAX_POLL_OPTIONS, `at most ${MAX_POLL_OPTIONS} options`)
      .refine((o) => new Set(o).size === o.length, 'options must differ'),
    multiple: z.boolean().optional(),
  });

/** An instant with its offset (`2026-12-05T09:00:00+05:30` or `…Z`), answered back in UTC. */
const instant = z.iso.datetime({ offset: true }).transform((s) => new Date(s).toISOString());

/** An event (meeting, shift): starts in the future, ends (when given) no earlier than it starts. */
export const eventDefinition = z
  .object({
    title: visibleText(EVENT_TITLE_CHARS),
    startsAt: instant,
    endsAt: instant.optional(),
    location: visibleText(EVENT_LOCATION_CHARS).optional(),
  })
  .refine((e) => Date.parse(e.startsAt) > Date.now(), { message: 'must be in the future', path: ['startsAt'] })
  .refine((e) => e.endsAt === undefined || Date.parse(e.endsAt) >= Date.parse(e.startsAt), {
    message: 'must not be before startsAt',
    path: ['endsAt'],
  });

/** Message text that may be empty (a message with files, a poll or an event): trimmed, at most maxTextChars. */
export const optionalMessageText = (limits: ProtocolLimits) =>
  storableString()
    .refine((s) => !controlCharacter.test(s), 'must not contain control characters (tab and line breaks are fine)')
    .trim()
    .refine((s) => s.length === 0 || !isInvisible(s), 'must show something: only invisible characters')
    .refine((s) => charCount(s) <= limits.maxTextChars, `must be at most ${limits.maxTextChars} characters`);

/** Text is needed unless the message carries something else (files, a poll, an event). */
export const hasContent = (m: { text: string; attachments?: string[] | undefined; poll?: unknown; event?: unknown }) =>
  m.text.length > 0 || (m.attachments?.length ?? 0) > 0 || m.poll !== undefined || m.event !== undefined;
export const emptyMessage = { message: 'must not be empty', path: ['text'] };
/** A message is a poll or an event, not both. */
export const notPollAndEvent = (m: { poll?: unknown; event?: unknown }) => m.poll === undefined || m.event === undefined;
export const pollAndEvent = { message: 'a message is a poll or an event, not both', path: ['event'] };

/** A new message's fields, the same in the `send` command and `POST …/messages` (refine with hasContent). */
export const messageFields = (limits: ProtocolLimits) => ({
  clientMsgId,
  text: optionalMessageText(limits).default(''),
  replyTo: positiveSeq.nullish(),
  mentions: mentions.optional(),
  attachments: attachmentIds.optional(),
  poll: pollDefinition(limits).optional(),
  event: eventDefinition.optional(),
});

export const id = storableString().min(1).max(64);
/** Uploads one message carries (docs/protocol.md §8 "Files (attachments)"). */
export const attachmentIds = z.array(storableString().min(1).max(64)).max(10, 'at most 10 attachments');
export const seq = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
export const positiveSeq = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);
export const clientMsgId = storableString().min(1).max(64);
export const mentions = z.array(id).max(256);
export const emoji = storableString().min(1).max(32).refine(isOneEmoji, 'must be exactly one emoji');
export const name = storableString().trim().min(1).max(128);
export const description = storableString().trim().max(2048);

/** Turns zod issues into the `details` of a bad_request error. */
export function issueDetails(error: z.ZodError): { issues: { path: string; message: string }[] } {
  return {
    issues: error.issues.slice(0, 20).map((i) => ({ path: i.path.join('.'), message: i.message })),
  };
}
