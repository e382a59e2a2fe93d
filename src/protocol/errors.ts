// Error codes, their HTTP statuses, and WebSocket close codes, exactly as docs/protocol.md §7 lists them.

export const errorStatus = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  rate_limited: 429,
  gone: 410,
  unavailable: 503,
  internal: 500,
} as const;

export type ErrorCode = keyof typeof errorStatus;

export const CloseCode = {
  draining: 1001,
  invalidUtf8: 1007,
  tooLarge: 1009,
  serverError: 1011,
  slowConsumer: 4000,
  unauthorized: 4401,
  revoked: 4403,
  authTimeout: 4408,
  flooding: 4429,
} as const;

export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode];

/** A failure the caller is told about; the socket or request carries on. */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

/**
 * A failure that ends the connection with a close code from docs/protocol.md. Every close of a socket
 * is one of these, thrown by a command or handed to the transport's close; the message is the
 * close reason (uWS caps it at 123 bytes).
 */
export class Disconnect extends Error {
  constructor(
    readonly closeCode: CloseCodeValue,
    message: string,
  ) {
    super(message);
    this.name = 'Disconnect';
  }
}

export const notFound = (what: string) => new AppError('not_found', `${what} not found`);
export const forbidden = (message: string) => new AppError('forbidden', message);
export const conflict = (message: string, details?: Record<string, unknown>) => new AppError('conflict', message, details);
export const badRequest = (message: string, details?: Record<string, unknown>) => new AppError('bad_request', message, details);
