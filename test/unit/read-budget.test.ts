import { describe, expect, it } from 'vitest';
import { ReadBudget } from '../../src/features/messages/read-budget.js';

const settings = { rowsPerS: 1000, burstRows: 1000, bytesPerS: 1000, burstBytes: 4000 };
const refusal = { code: 'rate_limited', details: { retryAfterMs: expect.any(Number) } };

describe('ReadBudget', () => {
  it('runs one read of a user at a time; a volley cannot overdraw the byte budget by more than one answer', async () => {
    const budget = new ReadBudget(settings);
    let running = 0;
    let most = 0;
    const read = async () => {
      most = Math.max(most, ++running);
      // Another read of the volley would start here, were reads of one user not one at a time.
      await new Promise((r) => setImmediate(r));
      running--;
      return { result: 'ok', cost: { rows: 1, bytes: 1500 } };
    };
    const answers = await Promise.allSettled(Array.from({ length: 10 }, () => budget.spend('u', 10, read)));
    expect(most).toBe(1);
    // 1500 bytes each against 4000: three are answered (the third overdraws), the rest refused before reading.
    expect(answers.filter((a) => a.status === 'fulfilled')).toHaveLength(3);
    for (const a of answers.filter((a) => a.status === 'rejected')) expect((a as PromiseRejectedResult).reason).toMatchObject(refusal);
    // Another user has a budget of their own.
    await expect(budget.spend('v', 10, read)).resolves.toBe('ok');
  });

  it('refuses past 256 waiting reads, and a failed read gives its turn back', async () => {
    const budget = new ReadBudget({ ...settings, burstBytes: 1_000_000, bytesPerS: 1_000_000 });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow = async () => {
      await gate;
      return { result: 'ok', cost: { rows: 0, bytes: 0 } };
    };
    const queued = Array.from({ length: 257 }, () => budget.spend('u', 1, slow));
    await expect(budget.spend('u', 1, slow)).rejects.toMatchObject(refusal);
    release();
    await Promise.all(queued);
    await expect(budget.spend('u', 1, () => Promise.reject(new Error('db down')))).rejects.toThrow('db down');
    await expect(budget.spend('u', 1, slow)).resolves.toBe('ok');
  });

  it('rows are reserved up front and the unused part is given back', async () => {
    const budget = new ReadBudget({ ...settings, burstRows: 100, rowsPerS: 1 });
    for (let i = 0; i < 50; i++) await budget.spend('u', 10, async () => ({ result: 1, cost: { rows: 1, bytes: 0 } }));
    // 50 rows used of 100: a read of 50 still fits, then nothing does.
    await expect(budget.spend('u', 50, async () => ({ result: 1, cost: { rows: 50, bytes: 0 } }))).resolves.toBe(1);
    await expect(budget.spend('u', 1, async () => ({ result: 1, cost: { rows: 1, bytes: 0 } }))).rejects.toMatchObject(refusal);
  });
});
