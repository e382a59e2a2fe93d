import { type Schema, Validator } from '@cfworker/json-schema';
import schemas from 'banyan:protocol-schemas';
import type { Checked, ErrorBody, ReplyName } from '../../src/client/checks.js';
import type { HttpReplies } from '../../src/protocol/http-replies.js';
import type { ServerFrame } from '../../src/protocol/server-frames.js';

// The SDK's runtime checks in the browser: src/client/checks.ts with the same answers, from JSON
// Schema that web/build.mjs generates from the protocol's zod schemas (z.toJSONSchema), checked
// by a small validator. web/build.mjs puts this module in place of src/client/checks.ts.

const validators = new Map<string, Validator>();
function validator(key: string, schema: object): Validator {
  let v = validators.get(key);
  if (!v) {
    v = new Validator({ ...schema, $defs: schemas.$defs } as Schema, '2020-12');
    validators.set(key, v);
  }
  return v;
}

export function checkReply<K extends ReplyName>(name: K, value: unknown): Checked<HttpReplies[K]> {
  const result = validator(name, schemas.replies[name]).validate(value);
  if (result.valid) return { ok: true, value: value as HttpReplies[K] };
  return {
    ok: false,
    issues: result.errors.map((e) => ({ path: e.instanceLocation.replace(/^#\/?/, '').replaceAll('/', '.'), message: e.error })),
  };
}

export function checkErrorBody(value: unknown): ErrorBody | undefined {
  return validator('errorBody', schemas.errorBody).validate(value).valid ? (value as ErrorBody) : undefined;
}

export function readServerFrame(text: string): ServerFrame | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  return validator('frame', schemas.frame).validate(json).valid ? (json as ServerFrame) : undefined;
}
