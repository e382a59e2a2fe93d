import { createHmac, createPublicKey, type KeyObject } from 'node:crypto';
import { createVerifier, TokenError } from 'fast-jwt';
import {
  createRemoteJWKSet,
  createLocalJWKSet,
  decodeProtectedHeader,
  errors as joseErrors,
  jwtVerify,
  SignJWT,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import { z } from 'zod';
import { ConfigError, invalidSetting } from '../config.js';
import { AppError } from '../../protocol/errors.js';

/** Who is calling, as a verified token says. */
export interface Principal {
  userId: string;
  name: string;
  /** The token's `name` claim, when it has one: an external identity service's changes rename the user. */
  nameClaim?: string | undefined;
  sessionId: string | null;
  /** `server` tokens belong to backend services (announcements from an NGO's own system). */
  scope: 'user' | 'server';
  expiresAt: Date;
}

export interface TokenConfig {
  secret?: string | undefined;
  /** PEM (SPKI) public key, a JWK or JWKS as JSON, or an https URL of a JWKS. */
  publicKey?: string | undefined;
  issuer?: string | undefined;
  audience?: string | undefined;
}

/** Clock skew allowed between this server and the token's issuer. */
const IAT_SKEW_S = 60;

const claims = z.object({
  sub: z.string().min(1).max(64),
  exp: z.number(),
  iat: z.number().optional(),
  name: z.string().trim().min(1).max(128).optional().catch(undefined),
  sid: z.string().min(1).max(128).optional(),
  scope: z.string().optional(),
});

type Verifier = { algorithms: string[]; key: KeyObject | JWTVerifyGetKey };

/** Verified HS256 tokens kept (by fast-jwt, until their `exp`): every request of a client carries the same token. */
const VERIFIED_TOKENS_CACHED = 10_000;

/** Verifies and signs tokens; sign needs a secret (local accounts mint HS256 tokens). */
export class Tokens {
  /** Public keys (an external identity service), through jose: a remote JWKS is fetched, so asynchronous. */
  private readonly verifiers: Verifier[] = [];
  /**
   * HS256 with the shared secret, synchronous (fast-jwt; jose verifies only through WebCrypto's
   * promises): a WebSocket upgrade decided without an await completes inside uWS's handler, where
   * its 101 is one write and uWS's asynchronous-upgrade bug cannot strike (gateway/websocket.ts).
   */
  private readonly verifyHmac: ((token: string) => JWTPayload) | undefined;
  private readonly secret: Uint8Array | undefined;

  constructor(private readonly config: TokenConfig) {
    if (config.secret) {
      this.secret = new TextEncoder().encode(config.secret);
      this.verifyHmac = createVerifier({
        key: config.secret,
        algorithms: ['HS256'],
        // fast-jwt checks iss and aud only when present: configured ones are required, as jose does.
        requiredClaims: ['sub', 'exp', ...(config.issuer ? ['iss'] : []), ...(config.audience ? ['aud'] : [])],
        ...(config.issuer ? { allowedIss: config.issuer } : {}),
        ...(config.audience ? { allowedAud: config.audience } : {}),
        cache: VERIFIED_TOKENS_CACHED,
      }) as (token: string) => JWTPayload;
    }
    if (config.publicKey) this.verifiers.push(publicKeyVerifier(config.publicKey));
    if (!this.verifyHmac && this.verifiers.length === 0) throw new ConfigError('no JWT key configured: set JWT_SECRET or JWT_PUBLIC_KEY');
  }

  async verify(token: string): Promise<Principal> {
    const alg = algorithmOf(token);
    if (alg === 'HS256' && this.verifyHmac) return this.verifyShared(this.verifyHmac, token);
    const verifier = this.verifiers.find((v) => alg !== undefined && v.algorithms.includes(alg));
    if (!verifier) throw unauthorized(`token algorithm ${alg ?? 'none'} is not accepted`);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, verifier.key as KeyObject, {
        algorithms: verifier.algorithms,
        issuer: this.config.issuer,
        audience: this.config.audience,
        requiredClaims: ['sub', 'exp'],
      }));
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw unauthorized('token expired');
      if (err instanceof joseErrors.JOSEError) throw unauthorized(`token rejected: ${err.code}`);
      throw err;
    }
    return principalOf(payload);
  }

  /**
   * The principal of an HS256 token, verified without waiting; undefined when the token needs an
   * asynchronous verifier (a public key). A bad token throws `unauthorized`, as `verify` does.
   */
  verifyNow(token: string): Principal | undefined {
    return this.verifyHmac && algorithmOf(token) === 'HS256' ? this.verifyShared(this.verifyHmac, token) : undefined;
  }

  /** An HS256 token checked against the shared secret. */
  private verifyShared(verifyHmac: (token: string) => JWTPayload, token: string): Principal {
    let payload: JWTPayload;
    try {
      payload = verifyHmac(token);
    } catch (err) {
      if (err instanceof TokenError) {
        if (err.code === TokenError.codes.expired) throw unauthorized('token expired');
        throw unauthorized(`token rejected: ${err.code}`);
      }
      throw err;
    }
    return principalOf(payload);
  }

  /** An HMAC of `data` under the shared secret (base64url), for other things the server vouches for (device tokens). */
  mac(data: string): string {
    if (!this.secret) throw invalidSetting('JWT_SECRET', 'signing needs it', '');
    return createHmac('sha256', this.secret).update(data).digest('base64url');
  }

  async sign(p: { userId: string; name: string; sessionId?: string; scope?: 'server'; ttlSeconds: number }) {
    if (!this.secret) throw invalidSetting('JWT_SECRET', 'signing tokens needs it', '');
    const expiresAt = new Date(Math.floor(Date.now() / 1000 + p.ttlSeconds) * 1000);
    let jwt = new SignJWT({ name: p.name, ...(p.sessionId ? { sid: p.sessionId } : {}), ...(p.scope ? { scope: p.scope } : {}) })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(p.userId)
      .setIssuedAt()
      .setExpirationTime(expiresAt);
    if (this.config.issuer) jwt = jwt.setIssuer(this.config.issuer);
    if (this.config.audience) jwt = jwt.setAudience(this.config.audience);
    return { token: await jwt.sign(this.secret), expiresAt };
  }
}

const unauthorized = (message: string) => new AppError('unauthorized', message);

/** The header's `alg`; a token whose header does not decode is malformed. */
function algorithmOf(token: string): string | undefined {
  try {
    return decodeProtectedHeader(token).alg;
  } catch {
    throw unauthorized('token is malformed');
  }
}

/** A verified payload's claims, checked, as the principal they name. */
function principalOf(payload: JWTPayload): Principal {
  const parsed = claims.safeParse(payload);
  if (!parsed.success) throw unauthorized('token claims are invalid');
  const c = parsed.data;
  // A token issued in the future is forged or from a badly wrong clock: refused past a small skew.
  if (c.iat !== undefined && c.iat > Date.now() / 1000 + IAT_SKEW_S) throw unauthorized('token issued in the future');
  return {
    userId: c.sub,
    name: c.name ?? c.sub,
    nameClaim: c.name,
    sessionId: c.sid ?? null,
    scope: c.scope === 'server' ? 'server' : 'user',
    expiresAt: new Date(c.exp * 1000),
  };
}

/** A key that does not parse is a setting to fix, named as such: the process cannot verify anything without it. */
function publicKeyVerifier(source: string): Verifier {
  try {
    return parsePublicKey(source.trim());
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw invalidSetting('JWT_PUBLIC_KEY', err instanceof Error ? err.message : String(err));
  }
}

function parsePublicKey(trimmed: string): Verifier {
  if (/^https?:\/\//.test(trimmed)) {
    return { algorithms: ['EdDSA', 'ES256', 'RS256'], key: createRemoteJWKSet(new URL(trimmed)) };
  }
  if (trimmed.startsWith('{')) {
    const json = JSON.parse(trimmed) as { keys?: unknown[] };
    const jwks = (json.keys ? json : { keys: [json] }) as Parameters<typeof createLocalJWKSet>[0];
    return { algorithms: ['EdDSA', 'ES256', 'RS256'], key: createLocalJWKSet(jwks) };
  }
  const key = createPublicKey(trimmed.replace(/\\n/g, '\n'));
  const type = key.asymmetricKeyType;
  if (type === 'ed25519') return { algorithms: ['EdDSA', 'Ed25519'], key };
  if (type === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return { algorithms: ['ES256'], key };
  if (type === 'rsa') return { algorithms: ['RS256'], key };
  throw invalidSetting('JWT_PUBLIC_KEY', `unsupported key type ${type ?? 'unknown'} (use Ed25519, P-256 or RSA)`);
}
