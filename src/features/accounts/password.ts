import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

// scrypt (memory-hard, in Node's crypto) with a random salt per password. The parameters are
// stored with each hash, so they can be raised and older hashes still verify (and get rehashed).

// The cost N=2^logN is SCRYPT_LOG_N (config.ts): OWASP's current guidance, 17 (128 MiB), r=8, p=1.
const r = 8;
const p = 1;
const keyLength = 32;
/**
 * Derivations at once. Each takes 128·N·r bytes (128 MiB at N=2^17) on one of libuv's 4 pool
 * threads: a burst of sign-ins must neither exhaust memory nor leave the pool no thread. Callers
 * wait in a FairLine of this many places first (gateway/rate-limits.ts), so this one rarely queues.
 */
export const HASHES_AT_ONCE = 2;

export interface Verified {
  ok: boolean;
  /** The hash was made with a lower cost than this hasher's: store a new one. */
  stale: boolean;
}

export class PasswordHasher {
  private readonly N: number;
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private decoy: Promise<string> | undefined;

  constructor(logN: number) {
    this.N = 2 ** logN;
  }

  async hash(password: string): Promise<string> {
    const salt = randomBytes(16);
    const key = await this.derive(password, salt, this.N, r, p, keyLength);
    return ['scrypt', this.N, r, p, salt.toString('base64'), key.toString('base64')].join('$');
  }

  /** Checks a password against a stored hash, or against a decoy when there is none (unknown username). */
  async verify(password: string, stored: string | undefined): Promise<Verified> {
    // Hash even for unknown usernames, so timing does not tell which usernames exist.
    const [scheme, N, rs, ps, salt, key] = (stored ?? (await this.decoyHash())).split('$');
    if (scheme !== 'scrypt' || !salt || !key) return { ok: false, stale: false };
    const expected = Buffer.from(key, 'base64');
    const actual = await this.derive(password, Buffer.from(salt, 'base64'), Number(N), Number(rs), Number(ps), expected.length);
    const ok = stored !== undefined && timingSafeEqual(actual, expected);
    return { ok, stale: ok && (Number(N) < this.N || Number(rs) !== r || Number(ps) !== p) };
  }

  /** A hash of a random password at the current cost: verifying against it costs what a real check costs. */
  private decoyHash(): Promise<string> {
    this.decoy ??= this.hash(randomBytes(16).toString('hex'));
    return this.decoy;
  }

  private async derive(password: string, salt: Buffer, N: number, r: number, p: number, length: number): Promise<Buffer> {
    // A slot is handed straight from a finished derivation to the next waiter.
    if (this.running < HASHES_AT_ONCE) this.running++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await new Promise<Buffer>((resolve, reject) => {
        const options: ScryptOptions = { N, r, p, maxmem: 256 * N * r };
        scrypt(password.normalize('NFKC'), salt, length, options, (err, key) => (err ? reject(err) : resolve(key)));
      });
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}
