/**
 * Background work: every loop of the server is a Job that the composition root's JobRunner
 * starts, runs one at a time, times, counts and stops. A job only says what one run does and when
 * the next is due. To add one: build it in its feature (a `job()` method or function), and add it
 * to the runner in platform/app.ts where its stop order fits (jobs stop in reverse).
 */
export interface Job {
  /** `feature.what` (e.g. `attachments.sweep`): the log's and the metrics' `job` label. */
  readonly name: string;
  /**
   * `periodic`: first runs one interval after start, then every interval (plus jitter).
   * `queued`: runs at start (work left from before) and whenever kicked; `everyMs`, when set, is
   * the longest it idles (a poll for work another replica stored, or that one left when it died).
   */
  readonly kind: 'periodic' | 'queued';
  /** The wait between runs (periodic), or the longest idle (queued; undefined: only on kicks). */
  readonly everyMs?: number;
  /** Up to this much is added to each wait at random, so replicas started together spread out. */
  readonly jitterMs?: number;
  /** Held for each run, so one replica at a time runs it (a run without it is skipped). */
  readonly lease?: JobLease;
  /** What kicks it (queued jobs): the runner binds it on registration. */
  readonly trigger?: JobTrigger;
  /** One run. Undefined: the next after the usual wait; a JobNext: as it says. */
  // biome-ignore lint/suspicious/noConfusingVoidType: a run with nothing to say about the next returns nothing.
  run(): Promise<JobNext | undefined | void>;
  /** After the last run, when the runner stops (settle work still in flight, send what is gathered). */
  stop?(): Promise<void> | void;
}

/** When the next run is due, as a run sees it. */
export interface JobNext {
  /** 0: at once (a full batch: more is waiting). */
  inMs: number;
  /**
   * Kicks do not bring it forward (a short wait that lets the next batch gather rows). A kick
   * meanwhile is not lost: it shortens the wait after the run that follows.
   */
  gather?: boolean;
}

/** A lease a run holds, so one replica runs the job at a time. */
export interface JobLease {
  /** Runs `run` while holding the lease; resolves `{ held: false }` without running it when another holds it. */
  hold<T>(name: string, run: () => Promise<T>): Promise<{ held: true; value: T } | { held: false }>;
}

/** The lease of a single process (embedded storage: one replica only), always held. */
export const processLease: JobLease = {
  hold: async (_name, run) => ({ held: true, value: await run() }),
};

/**
 * What kicks a queued job: work was stored (`notificationsOwed`), a slot freed, a change
 * gathered. Made by the job's owner, bound by the runner; kicks before then are dropped (a
 * queued job runs at start anyway).
 */
export class JobTrigger {
  private fire: ((afterMs: number) => void) | undefined;

  /** Run the job within `afterMs` (a later kick never postpones an earlier one). */
  kick(afterMs = 0): void {
    this.fire?.(afterMs);
  }

  /** For the runner. */
  bind(fire: ((afterMs: number) => void) | undefined): void {
    this.fire = fire;
  }
}
