import { describe, expect, it } from 'vitest';
import { normalisePhone } from '../../src/features/phone/numbers.js';
import { pickSender } from '../../src/features/phone/phone.js';
import { loadConfig } from '../../src/platform/config.js';
import { mayChangePasswordWithoutCurrent } from '../../src/platform/policy/index.js';
import { silentLogger } from '../helpers/fakes.js';

// docs/protocol.md §2 "Phone numbers and one-time codes": numbers in E.164, which sender
// OTP_SENDER picks, and when a password may be changed without the current one.

describe('phone numbers', () => {
  it('normalises to E.164, typed with +country or as dialled in the default region', () => {
    for (const typed of ['+91 98765 43210', '098765-43210', '98765 43210', '+919876543210'])
      expect(normalisePhone(typed, 'IN')).toBe('+919876543210');
    expect(normalisePhone('(415) 555-0123', 'US')).toBe('+14155550123');
  });

  it('refuses what cannot be a number with a 400 naming the field', () => {
    for (const typed of ['12345', '+447700900123', 'abc', '+91 98765'])
      expect(() => normalisePhone(typed, 'IN')).toThrow(expect.objectContaining({ code: 'bad_request', details: { field: 'phone' } }));
  });
});

describe('OTP_SENDER', () => {
  const deps = (env: Record<string, string>) => ({ config: loadConfig(env), logger: silentLogger });

  it('defaults to the console with embedded storage and to off with DATABASE_URL; console only when asked there', () => {
    expect(pickSender(deps({}), undefined)?.kind).toBe('console');
    expect(pickSender(deps({}), 'postgres://db/x')).toBeUndefined();
    expect(pickSender(deps({ OTP_SENDER: 'console' }), 'postgres://db/x')?.kind).toBe('console');
    expect(pickSender(deps({ OTP_SENDER: 'off' }), undefined)).toBeUndefined();
  });

  it('the webhook sender needs its URL and a whsec_ secret, and never prints the secret', () => {
    const url = 'https://sms.example.org/otp';
    expect(() => pickSender(deps({ OTP_SENDER: 'webhook' }), undefined)).toThrow(/OTP_WEBHOOK_URL/);
    const bad = 'not-a-secret-but-long-enough-1234';
    let message = '';
    try {
      pickSender(deps({ OTP_SENDER: 'webhook', OTP_WEBHOOK_URL: url, OTP_WEBHOOK_SECRET: bad }), undefined);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/OTP_WEBHOOK_SECRET/);
    expect(message).not.toContain(bad);
    const sender = pickSender(
      deps({ OTP_SENDER: 'webhook', OTP_WEBHOOK_URL: url, OTP_WEBHOOK_SECRET: `whsec_${'A'.repeat(32)}` }),
      undefined,
    );
    expect(sender?.kind).toBe('webhook');
    sender?.close();
  });
});

describe('mayChangePasswordWithoutCurrent', () => {
  const now = Date.parse('2026-12-08T05:00:00Z');
  const ago = (ms: number) => new Date(now - ms);

  it('only a session begun without the password, less than 10 minutes ago', () => {
    for (const method of ['phone', 'passkey', 'recovery', 'link'])
      expect(mayChangePasswordWithoutCurrent({ method, createdAt: ago(9 * 60_000) }, now)).toBe(true);
    expect(mayChangePasswordWithoutCurrent({ method: 'phone', createdAt: ago(10 * 60_000) }, now)).toBe(false);
    expect(mayChangePasswordWithoutCurrent({ method: 'password', createdAt: ago(1000) }, now)).toBe(false);
    expect(mayChangePasswordWithoutCurrent({ method: 'phone', createdAt: ago(-60_000) }, now)).toBe(false);
    expect(mayChangePasswordWithoutCurrent(undefined, now)).toBe(false);
  });
});
