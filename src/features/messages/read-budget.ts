import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { AppError } from '../../protocol/errors.js';

export interface ReadBudgetSettings {
  rowsPerS: number;
  burstRows: number;
  bytesPerS: number;
  burstBytes: number;
}

/** What one read used: rows from the database, bytes in its answer. */
export interface ReadCost {
  rows: number;
  bytes: number;
}

/** Reads of one user running at once on this replica; more wait their turn, and past a queue they are refused. */
const READS_AT_ONCE = 1;
const READS_WAITING = 256;

/**
 * Each user's budget for `sync` and `history` (WebSocket and HTTP alike), per replica, in rows
 * read and in bytes answered: rows bound the database's work, bytes the JSON the server builds and
 * sends (one row can be 24 KB once escaped, so rows alone let a reader ask for 1 MiB replies at
 * the frame rate). A window of burst/rate seconds holding `burst` points gives the token bucket's
 * average rate and burst; rate-limiter-flexible keeps it. Bytes are known only once a read is
 * answered, so a user's reads run one at a time: the budget can be overdrawn by one answer, never
 * by a volley of reads sent together; and one user's large answers are built one after another,
 * with others' work in between, not all in one stall.
 */
export class ReadBudget {
  private readonly rows: RateLimiterMemory;
  private readonly bytes: RateLimiterMemory;
  private readonly turns = new Map<string, { running: number; waiting: (() => void)[] }>();

  constructor(settings: ReadBudgetSettings) {
    this.rows = new RateLimiterMemory({ points: settings.burstRows, duration: settings.burstRows / settings.rowsPerS });
    this.bytes = new RateLimiterMemory({ points: settings.burstBytes, duration: settings.burstBytes / settings.bytesPerS });
  }

  /**
   * Runs one read of at most `rows` rows (reserved up front, never more than the burst, so a read
   * always fits an unused budget): unused rows go back, the answer's bytes are charged.
   * `rate_limited` with `retryAfterMs` when either budget is spent or too many reads wait.
   */
  async spend<T>(userId: string, rows: number, read: () => Promise<{ result: T; cost: ReadCost }>): Promise<T> {
    await this.takeTurn(userId);
    try {
      const bytesSpent = await this.bytes.get(userId);
      if (bytesSpent && bytesSpent.consumedPoints >= this.bytes.points) throw tooMuch(bytesSpent.msBeforeNext);
      const reserved = Math.min(rows, this.rows.points);
      if (reserved > 0) {
        try {
          await this.rows.consume(userId, reserved);
        } catch (err) {
          if (!(err instanceof RateLimiterRes)) throw err;
          throw tooMuch(err.msBeforeNext);
        }
      }
      const { result, cost } = await read();
      if (cost.rows < reserved) await this.rows.reward(userId, reserved - cost.rows);
      if (cost.bytes > 0) await this.bytes.penalty(userId, cost.bytes);
      return result;
    } finally {
      this.endTurn(userId);
    }
  }

  private async takeTurn(userId: string): Promise<void> {
    const turn = this.turns.get(userId) ?? { running: 0, waiting: [] };
    this.turns.set(userId, turn);
    if (turn.running < READS_AT_ONCE) {
      turn.running++;
      return;
    }
    if (turn.waiting.length >= READS_WAITING) throw tooMuch(100);
    // endTurn hands its slot over: `running` stays counted.
    await new Promise<void>((resolve) => turn.waiting.push(resolve));
  }

  private endTurn(userId: string): void {
    const turn = this.turns.get(userId);
    if (!turn) return;
    const next = turn.waiting.shift();
    if (next) next();
    else if (--turn.running === 0) this.turns.delete(userId);
  }
}

const tooMuch = (msBeforeNext: number) =>
  new AppError('rate_limited', 'too much read: slow down', { retryAfterMs: Math.max(1, Math.ceil(msBeforeNext)) });
