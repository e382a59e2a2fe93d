/** A failure the server answered (an error frame or HTTP error body), or the connection's. */
export class BanyanError extends Error {
  constructor(
    /** A docs/protocol.md error code (`not_found`, `forbidden`, …); `unavailable` when disconnected. */
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
    /** The HTTP status, for HTTP failures. */
    readonly status?: number,
  ) {
    super(message);
    this.name = 'BanyanError';
  }

  /** Failures worth retrying with the same request: the server stored nothing, or we never heard. */
  get retryable(): boolean {
    return this.code === 'unavailable' || this.code === 'rate_limited' || this.code === 'internal';
  }
}
