import { type HttpReplies, httpReplies } from '../protocol/http-replies.js';
import { errorBodySchema, parseServerFrame, type ServerFrame } from '../protocol/server-frames.js';

// The SDK's runtime checks of what the server sends, with the protocol's zod schemas (Node).
// The web client's bundle swaps this module for web/src/checks.ts: the same checks from JSON
// Schema generated from these zod schemas at build time, without zod in the browser.

export type ReplyName = keyof HttpReplies;
export interface Issue {
  path: string;
  message: string;
}
export type Checked<T> = { ok: true; value: T } | { ok: false; issues: Issue[] };
export interface ErrorBody {
  code: string;
  message: string;
  details?: Record<string, unknown> | undefined;
}

/** An HTTP answer checked against its reply schema. */
export function checkReply<K extends ReplyName>(name: K, value: unknown): Checked<HttpReplies[K]> {
  const parsed = httpReplies[name].safeParse(value);
  if (parsed.success) return { ok: true, value: parsed.data as HttpReplies[K] };
  return { ok: false, issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) };
}

/** The `error` object of a failed answer, if it has the protocol's shape. */
export function checkErrorBody(value: unknown): ErrorBody | undefined {
  const parsed = errorBodySchema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

/** One text frame; undefined for JSON or shapes this client does not know (a newer server's). */
export const readServerFrame: (text: string) => ServerFrame | undefined = parseServerFrame;
