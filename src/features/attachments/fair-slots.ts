/**
 * Runs work a few at a time, at most one per owner, owners served in turn: one owner's queue of
 * expensive jobs delays another owner's job by at most one job per slot, never by the whole queue.
 */
export class FairSlots {
  private running = 0;
  private readonly busy = new Set<string>();
  /** Each owner's waiting jobs; the map's order is the turn order (an owner served goes last). */
  private readonly queues = new Map<string, (() => void)[]>();
  private waitingCount = 0;

  constructor(
    private readonly concurrency: number,
    private readonly waitingPerOwner: number,
  ) {}

  get load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waitingCount };
  }

  /** Whether `owner` may queue one more job now. */
  admits(owner: string): boolean {
    return (this.queues.get(owner)?.length ?? 0) < this.waitingPerOwner;
  }

  async run<T>(owner: string, work: () => Promise<T>): Promise<T> {
    if (this.running < this.concurrency && !this.busy.has(owner)) this.take(owner);
    else await this.wait(owner);
    try {
      return await work();
    } finally {
      this.running--;
      this.busy.delete(owner);
      this.dispatch();
    }
  }

  private take(owner: string): void {
    this.running++;
    this.busy.add(owner);
  }

  /** Resolves once `dispatch` has handed this job a slot (already counted as taken). */
  private wait(owner: string): Promise<void> {
    return new Promise((resolve) => {
      const queue = this.queues.get(owner);
      if (queue) queue.push(resolve);
      else this.queues.set(owner, [resolve]);
      this.waitingCount++;
    });
  }

  private dispatch(): void {
    while (this.running < this.concurrency) {
      let next: string | undefined;
      for (const owner of this.queues.keys()) {
        if (!this.busy.has(owner)) {
          next = owner;
          break;
        }
      }
      if (next === undefined) return;
      const queue = this.queues.get(next)!;
      const resolve = queue.shift()!;
      // Re-inserted at the end: the next turn goes to someone else.
      this.queues.delete(next);
      if (queue.length > 0) this.queues.set(next, queue);
      this.waitingCount--;
      this.take(next);
      resolve();
    }
  }
}
