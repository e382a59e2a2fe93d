import { BanyanError } from './errors.js';

// A short access token kept fresh with a refresh token (docs/protocol.md §2 "Sessions and refresh
// tokens"), for the HTTP calls and the socket alike: refreshed a little before it expires, and
// again when the server refuses it (401, close 4401). One refresh at a time: callers that need a
// token meanwhile wait for that one. The app hears each new pair through `onTokens`, to keep it.

export interface SessionTokens {
  token: string;
  /** When the access token expires (ISO 8601). */
  expiresAt: string;
  refreshToken: string;
  refreshExpiresAt?: string | undefined;
}

export interface TokenKeeperOptions {
  token: string;
  /** The access token's expiry as the sign-in gave it; unknown: refreshed only when refused. */
  expiresAt?: string | undefined;
  refreshToken: string;
  /** Called with every new pair (persist it: the old refresh token stops working soon). */
  onTokens?: ((tokens: SessionTokens) => void) | undefined;
  /**
   * The pair as the app has it stored now, read before each refresh: another tab or process of the
   * same session may have refreshed already, and its newer pair is taken instead of replaying an
   * old refresh token (which would end the session).
   */
  stored?: (() => SessionTokens | undefined) | undefined;
  /** Calls `POST /v1/sessions/refresh`. */
  refresh(refreshToken: string): Promise<SessionTokens>;
}

/** Refresh this long before expiry at most, and at a quarter of the token's life at least. */
const EARLY_MS = 60_000;

export class TokenKeeper {
  private token: string;
  private expiresAt: number | undefined;
  private refreshToken: string;
  private pending: Promise<string> | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Set once a refresh was refused: the session is over. */
  private ended: BanyanError | undefined;
  /** Told each refreshed access token (the client hands it to its open socket). */
  private readonly renewed: ((token: string) => void)[] = [];
  private stopped = false;

  constructor(private readonly options: TokenKeeperOptions) {
    this.token = options.token;
    this.refreshToken = options.refreshToken;
    this.expiresAt = options.expiresAt === undefined ? undefined : Date.parse(options.expiresAt);
    this.schedule(Date.now());
  }

  /** The access token to use now: refreshed first when it is about to expire. */
  async current(): Promise<string> {
    if (this.ended) throw this.ended;
    if (this.pending) return this.pending;
    if (this.expiresAt !== undefined && this.expiresAt - Date.now() < 2000) return this.refresh();
    return this.token;
  }

  /**
   * The server refused `used` (401, close 4401): a fresh token, refreshed unless another call
   * already replaced `used`. Throws `unauthorized` when the session has ended.
   */
  async refused(used: string): Promise<string> {
    if (this.ended) throw this.ended;
    if (this.pending) return this.pending;
    if (used !== this.token) return this.token;
    if (this.adoptStored() && used !== this.token) return this.token;
    return this.refresh();
  }

  /** Calls `fn` with each access token a refresh brings. */
  onRenewed(fn: (token: string) => void): void {
    this.renewed.push(fn);
  }

  /** Stops the early refresh timer (the client closed). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** Takes a newer pair another holder of the session stored; true when its access token is still good. */
  private adoptStored(): boolean {
    const stored = this.options.stored?.();
    if (!stored || stored.refreshToken === this.refreshToken) return false;
    const generation = (t: string) => Number(t.split('.')[1]);
    if (!(generation(stored.refreshToken) > generation(this.refreshToken))) return false;
    this.token = stored.token;
    this.refreshToken = stored.refreshToken;
    this.expiresAt = Date.parse(stored.expiresAt);
    this.schedule(Date.now());
    return this.expiresAt - Date.now() >= 2000;
  }

  private refresh(): Promise<string> {
    if (this.ended) return Promise.reject(this.ended);
    if (!this.pending && this.adoptStored()) return Promise.resolve(this.token);
    this.pending ??= this.options
      .refresh(this.refreshToken)
      .then(
        (tokens) => {
          this.token = tokens.token;
          this.refreshToken = tokens.refreshToken;
          this.expiresAt = Date.parse(tokens.expiresAt);
          this.schedule(Date.now());
          this.options.onTokens?.(tokens);
          for (const fn of this.renewed) fn(tokens.token);
          return tokens.token;
        },
        (err: unknown) => {
          // Refused: the session ended (signed out, replayed, expired). Anything else may pass.
          if (err instanceof BanyanError && err.code === 'unauthorized') {
            this.ended = err;
            clearTimeout(this.timer);
          }
          throw err;
        },
      )
      .finally(() => {
        this.pending = undefined;
      });
    return this.pending;
  }

  /** Arms the refresh a little before the access token expires. */
  private schedule(now: number): void {
    clearTimeout(this.timer);
    if (this.stopped || this.expiresAt === undefined) return;
    const lifeMs = this.expiresAt - now;
    const inMs = Math.max(0, lifeMs - Math.min(EARLY_MS, lifeMs / 4));
    this.timer = setTimeout(() => {
      // A failure here is retried by the next call that needs a token.
      this.refresh().catch(() => undefined);
    }, inMs);
    (this.timer as { unref?: () => void }).unref?.();
  }
}
