import { z } from 'zod';
import { errorStatus, type ErrorCode } from '../../protocol/errors.js';
import { httpReplies } from '../../protocol/http-replies.js';
import { errorBodySchema } from '../../protocol/server-frames.js';
import type { ReplyDoc, RouteRecord } from '../http.js';

// The API reference (OpenAPI 3.1) of the routes a router registered, from the zod schemas that
// parse their bodies and query strings and describe their replies. zod's own z.toJSONSchema
// (JSON Schema 2020-12, OpenAPI 3.1's dialect) converts; this file only assembles, so no second
// library has to keep up with zod's versions.

type Json = Record<string, unknown>;

/** JSON Schema for what a client sends (`input`) or receives (`output`); transforms and refinements have no JSON Schema: left open. */
export function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Json {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as Json;
  return rest;
}

const errorDescriptions: Record<ErrorCode, string> = {
  bad_request: 'Not JSON, or invalid fields (`details.issues`)',
  unauthorized: 'Missing, invalid, expired or revoked token',
  forbidden: 'Your role does not allow it',
  not_found: 'No such thing, or one you may not see',
  conflict: 'It exists already, or its state does not allow it',
  too_large: 'A body over the limit',
  rate_limited: 'Too many requests: wait `details.retryAfterMs` (also `Retry-After`, in seconds)',
  gone: 'It was there and is no more (a data export already downloaded or expired)',
  unavailable: 'Storage is down or the server is draining: nothing was stored; retry',
  internal: 'A bug on our side; `details.correlationId` finds it in the logs',
};

/** The error answers a route can give (docs/protocol.md §6): by how it is reached. */
function errorCodes(route: RouteRecord): ErrorCode[] {
  const codes: ErrorCode[] = ['bad_request'];
  if (route.access !== 'public') codes.push('unauthorized', 'forbidden');
  codes.push('not_found');
  if (route.method !== 'GET') codes.push('conflict');
  if (route.body || route.access === 'streamed') codes.push('too_large');
  if (route.pattern.startsWith('/v1/')) codes.push('rate_limited');
  if (route.pattern.endsWith('/download')) codes.push('gone');
  codes.push('internal', 'unavailable');
  return codes;
}

const ref = (kind: 'schemas' | 'responses', name: string) => ({ $ref: `#/components/${kind}/${name}` });

function response(reply: ReplyDoc, status: number): Json {
  const description = status === 204 ? 'No content' : `${status}`;
  if (reply === null) return { description };
  if (typeof reply === 'string') return { description: reply, content: { 'application/json': { schema: ref('schemas', reply) } } };
  if ('contentType' in reply && typeof reply.contentType === 'string') return { description, content: { [reply.contentType]: {} } };
  return { description, content: { 'application/json': { schema: jsonSchema(reply as z.ZodType, 'output') } } };
}

/** `?name=` parameters of a query schema (a zod object), each with its own schema. */
function queryParameters(query: z.ZodType): Json[] {
  const schema = jsonSchema(query, 'input') as { properties?: Record<string, Json>; required?: string[] };
  return Object.entries(schema.properties ?? {}).map(([name, property]) => ({
    name,
    in: 'query',
    required: schema.required?.includes(name) ?? false,
    schema: property,
  }));
}

const pathParameters = (pattern: string): Json[] =>
  pattern
    .split('/')
    .filter((segment) => segment.startsWith(':'))
    .map((segment) => ({ name: segment.slice(1), in: 'path', required: true, schema: { type: 'string' } }));

function operation(route: RouteRecord): Json {
  const { query, ...answers } = route.doc;
  const responses: Json = {};
  for (const [status, reply] of Object.entries(answers)) responses[status] = response(reply as ReplyDoc, Number(status));
  for (const code of errorCodes(route)) responses[String(errorStatus[code])] ??= ref('responses', code);
  const parameters = [...pathParameters(route.pattern), ...(query ? queryParameters(query) : [])];
  return {
    operationId: `${route.method.toLowerCase()}${route.pattern.replace(/[/:{}-](\w)/g, (_, c: string) => c.toUpperCase()).replace(/\W/g, '')}`,
    tags: [route.tag],
    ...(route.access === 'public' ? {} : { security: [{ bearer: [] }] }),
    ...(parameters.length ? { parameters } : {}),
    ...(route.body
      ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(route.body, 'input') } } } }
      : {}),
    ...(route.access === 'streamed'
      ? {
          requestBody: { required: true, content: { '*/*': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } } } },
        }
      : {}),
    responses,
  };
}

function components(): Json {
  const schemas: Json = { Error: jsonSchema(z.object({ error: errorBodySchema }), 'output') };
  for (const [name, schema] of Object.entries(httpReplies)) schemas[name] = jsonSchema(schema, 'output');
  const responses: Json = {};
  for (const code of Object.keys(errorStatus) as ErrorCode[]) {
    responses[code] = {
      description: `\`${code}\`: ${errorDescriptions[code]}`,
      ...(code === 'rate_limited' ? { headers: { 'Retry-After': { schema: { type: 'integer' }, description: 'seconds' } } } : {}),
      content: { 'application/json': { schema: ref('schemas', 'Error') } },
    };
  }
  return { schemas, responses, securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } };
}

/** The OpenAPI 3.1 document of `routes`, in the order they were registered. */
export function openApiDocument(routes: readonly RouteRecord[]): Json {
  const paths: Record<string, Json> = {};
  for (const route of routes) {
    const path = route.pattern.replace(/:(\w+)/g, '{$1}');
    paths[path] ??= {};
    paths[path][route.method.toLowerCase()] = operation(route);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Banyan HTTP API',
      version: '1.1',
      description:
        'Generated from the zod schemas that validate requests (npm run docs:api). The contract in prose: docs/protocol.md §8; the WebSocket protocol: docs/asyncapi.json.',
    },
    tags: [...new Set(routes.map((route) => route.tag))].map((name) => ({ name })),
    paths,
    components: components(),
  };
}
