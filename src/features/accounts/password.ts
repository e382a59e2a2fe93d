import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { hash as argon2Hash, verify as argon2Verify } from '@node-rs/argon2';

// Passwords are hashed with Argon2id (OWASP's first choice) at m=19456 KiB, t=2, p=1 by default
// (ARGON2_MEMORY_KIB, ARGON2_TIME_COST), a random salt each, in the PHC string format. Hashes
// made with scrypt (this server's earlier scheme, SCRYPT_LOG_N, r=8, p=1) still verify and are
// `stale`, so the next sign-in stores an Argon2id hash instead. PASSWORD_HASH=scrypt makes new
// hashes with scrypt again (for the sign-in benchmark, load/sign-in.mjs).

const r = 8;
const p = 1;
const keyLength = 32;
/** `@node-rs/argon2`'s Algorithm.Argon2id (a const enum, which isolated modules cannot import). */
const ARGON2ID = 2;

/**
 * Hashes at once. Each runs on one of libuv's 4 pool threads (Argon2id: 19 MiB; an old scrypt
 * hash: 128 MiB at N=2^17): a burst of sign-ins must neither exhaust memory nor leave the pool no
 * thread, and more than the machine's two cores would only share them. Callers wait in a FairLine
 * of this many places first (gateway/rate-limits.ts), so this one rarely queues. At ~15 ms per
 * Argon2id hash, two at a time serve ~100 sign-ins/s (BENCHMARKS.md, load/sign-in.mjs).
 */
export const HASHES_AT_ONCE = 2;

export interface Verified {
  ok: boolean;
  /** The hash was made another way or at a lower cost than this hasher's: store a new one. */
  stale: boolean;
}

export interface PasswordSettings {
  /** How new hashes are made. */
  scheme: 'argon2id' | 'scrypt';
  argon2MemoryKiB: number;
  argon2TimeCost: number;
  /** scrypt's N = 2^this, for new scrypt hashes (PASSWORD_HASH=scrypt) and staleness. */
  scryptLogN: number;
}

export class PasswordHasher {
  private readonly settings: PasswordSettings;
  private readonly N: number;
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private decoy: Promise<string> | undefined;

  /** A number is scrypt's cost alone (older callers and tests): new hashes are scrypt. */
  constructor(settings: PasswordSettings | number) {
    this.settings =
      typeof settings === 'number' ? { scheme: 'scrypt', scryptLogN: settings, argon2MemoryKiB: 19456, argon2TimeCost: 2 } : settings;
    this.N = 2 ** this.settings.scryptLogN;
  }

  async hash(password: string): Promise<string> {
    if (this.settings.scheme === 'argon2id') {
      const { argon2MemoryKiB: memoryCost, argon2TimeCost: timeCost } = this.settings;
      return this.slot(() => argon2Hash(password.normalize('NFKC'), { algorithm: ARGON2ID, memoryCost, timeCost, parallelism: 1 }));
    }
    const salt = randomBytes(16);
    const key = await this.slot(() => derive(password, salt, this.N, r, p, keyLength));
    return ['scrypt', this.N, r, p, salt.toString('base64'), key.toString('base64')].join('$');
  }

  /** Checks a password against a stored hash, or against a decoy when there is none (unknown username). */
  async verify(password: string, stored: string | undefined): Promise<Verified> {
    // Hash even for unknown usernames, so timing does not tell which usernames exist.
    const hashed = stored ?? (await this.decoyHash());
    if (hashed.startsWith('$argon2id$')) {
      const matches = await this.slot(() => argon2Verify(hashed, password.normalize('NFKC')).catch(() => false));
      const ok = stored !== undefined && matches;
      return { ok, stale: ok && this.argon2Stale(hashed) };
    }
    const [scheme, N, rs, ps, salt, key] = hashed.split('$');
    if (scheme !== 'scrypt' || !salt || !key) return { ok: false, stale: false };
    const expected = Buffer.from(key, 'base64');
    const actual = await this.slot(() => derive(password, Buffer.from(salt, 'base64'), Number(N), Number(rs), Number(ps), expected.length));
    const ok = stored !== undefined && timingSafeEqual(actual, expected);
    const weaker = Number(N) < this.N || Number(rs) !== r || Number(ps) !== p;
    return { ok, stale: ok && (this.settings.scheme !== 'scrypt' || weaker) };
  }

  private argon2Stale(stored: string): boolean {
    if (this.settings.scheme !== 'argon2id') return true;
    const params = /\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(stored);
    if (!params) return true;
    return Number(params[1]) < this.settings.argon2MemoryKiB || Number(params[2]) < this.settings.argon2TimeCost;
  }

  /** A hash of a random password at the current cost: verifying against it costs what a real check costs. */
  private decoyHash(): Promise<string> {
    this.decoy ??= this.hash(randomBytes(16).toString('hex'));
    return this.decoy;
  }

  private async slot<T>(work: () => Promise<T>): Promise<T> {
    // A slot is handed straight from a finished hash to the next waiter.
    if (this.running < HASHES_AT_ONCE) this.running++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}

function derive(password: string, salt: Buffer, N: number, r: number, p: number, length: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const options: ScryptOptions = { N, r, p, maxmem: 256 * N * r };
    scrypt(password.normalize('NFKC'), salt, length, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}
