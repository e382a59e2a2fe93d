// Classifies driver errors (postgres.js and PGlite both expose the SQLSTATE as `code`).

const codeOf = (err: unknown): string | undefined => {
  for (let e: unknown = err; e && typeof e === 'object'; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
};

/** An append to a group that does not exist (deleted meanwhile): the caller decides what it means. */
export class MissingGroup extends Error {
  constructor(readonly groupId: string) {
    super(`group ${groupId} does not exist`);
    this.name = 'MissingGroup';
  }
}

export const isUniqueViolation = (err: unknown) => codeOf(err) === '23505';
/** Deadlock or serialization failure: the statement did nothing and may simply be retried. */
export const isRetryableConflict = (err: unknown) => ['40P01', '40001'].includes(codeOf(err) ?? '');

const unavailableCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '08000',
  '08003',
  '08006',
  '53300', // too_many_connections
]);

/** True when the database could not be reached: the request may be retried, nothing was stored. */
export const isStorageUnavailable = (err: unknown) => {
  const code = codeOf(err);
  return code !== undefined && unavailableCodes.has(code);
};
