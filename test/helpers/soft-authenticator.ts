import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';

// A tiny software WebAuthn authenticator (the tests' client, like a phone's screen lock would be):
// P-256 keys from node:crypto, attestation `none`, user present and verified, a signature counter.
// It answers the server's options as a browser's navigator.credentials would, in their JSON form.

const b64url = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');
const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest();

/** Just enough CBOR (RFC 8949) for an attestation object and a COSE key. */
type Cbor = number | string | Uint8Array | Map<Cbor, Cbor>;
function cbor(value: Cbor): Buffer {
  const head = (major: number, n: number) => {
    if (n < 24) return Buffer.from([(major << 5) | n]);
    if (n < 256) return Buffer.from([(major << 5) | 24, n]);
    if (n < 65536) return Buffer.from([(major << 5) | 25, n >> 8, n & 255]);
    const b = Buffer.alloc(5);
    b[0] = (major << 5) | 26;
    b.writeUInt32BE(n, 1);
    return b;
  };
  if (typeof value === 'number') return value >= 0 ? head(0, value) : head(1, -1 - value);
  if (typeof value === 'string') return Buffer.concat([head(3, Buffer.byteLength(value)), Buffer.from(value)]);
  if (value instanceof Uint8Array) return Buffer.concat([head(2, value.length), value]);
  return Buffer.concat([head(5, value.size), ...[...value].flatMap(([k, v]) => [cbor(k), cbor(v)])]);
}

const counterBytes = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

/** UP (user present), UV (user verified), AT (attested credential data follows). */
const FLAGS = { up: 0x01, uv: 0x04, at: 0x40 };

interface Credential {
  id: Buffer;
  privateKey: KeyObject;
  publicKey: KeyObject;
  rpId: string;
  userHandle: string;
  counter: number;
}

export interface RegistrationOptionsJson {
  challenge: string;
  rp: { id?: string; name: string };
  user: { id: string; name: string };
}
export interface AuthenticationOptionsJson {
  challenge: string;
  rpId?: string;
}

export class SoftAuthenticator {
  private readonly credentials: Credential[] = [];

  /** `origin`: what the "browser" writes into clientDataJSON. */
  constructor(readonly origin: string) {}

  /** The credential ids made so far (base64url), oldest first. */
  get credentialIds(): string[] {
    return this.credentials.map((c) => b64url(c.id));
  }

  /** A copy with the same keys and counters: what a cloned authenticator would be. */
  clone(): SoftAuthenticator {
    const copy = new SoftAuthenticator(this.origin);
    for (const c of this.credentials) copy.credentials.push({ ...c });
    return copy;
  }

  /** navigator.credentials.create(): a new resident credential. Overrides play attackers. */
  register(options: RegistrationOptionsJson, over: { credentialId?: string; origin?: string; rpId?: string; userVerified?: boolean } = {}) {
    const rpId = over.rpId ?? options.rp.id ?? new URL(this.origin).hostname;
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const id = over.credentialId ? Buffer.from(over.credentialId, 'base64url') : randomBytes(32);
    this.credentials.push({ id, privateKey, publicKey, rpId, userHandle: options.user.id, counter: 0 });
    const jwk = publicKey.export({ format: 'jwk' });
    const coseKey = new Map<Cbor, Cbor>([
      [1, 2], // kty: EC2
      [3, -7], // alg: ES256
      [-1, 1], // crv: P-256
      [-2, Buffer.from(jwk.x!, 'base64url')],
      [-3, Buffer.from(jwk.y!, 'base64url')],
    ]);
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(id.length);
    const flags = FLAGS.up | FLAGS.at | (over.userVerified === false ? 0 : FLAGS.uv);
    const authData = Buffer.concat([sha256(rpId), Buffer.from([flags]), counterBytes(0), Buffer.alloc(16), idLength, id, cbor(coseKey)]);
    const attestationObject = cbor(
      new Map<Cbor, Cbor>([
        ['fmt', 'none'],
        ['attStmt', new Map()],
        ['authData', authData],
      ]),
    );
    const clientData = JSON.stringify({
      type: 'webauthn.create',
      challenge: options.challenge,
      origin: over.origin ?? this.origin,
      crossOrigin: false,
    });
    return {
      id: b64url(id),
      rawId: b64url(id),
      type: 'public-key' as const,
      response: { clientDataJSON: b64url(Buffer.from(clientData)), attestationObject: b64url(attestationObject), transports: ['internal'] },
      authenticatorAttachment: 'platform' as const,
      clientExtensionResults: {},
    };
  }

  /**
   * navigator.credentials.get() with no allow list: signs with the given credential (the newest by
   * default), its counter one higher than last time (or `counter`).
   */
  signIn(options: AuthenticationOptionsJson, over: { credentialId?: string; origin?: string; rpId?: string; counter?: number } = {}) {
    const credential = over.credentialId
      ? this.credentials.find((c) => b64url(c.id) === over.credentialId)
      : this.credentials[this.credentials.length - 1];
    if (!credential) throw new Error('no such credential on this authenticator');
    credential.counter = over.counter ?? credential.counter + 1;
    const rpId = over.rpId ?? options.rpId ?? credential.rpId;
    const authData = Buffer.concat([sha256(rpId), Buffer.from([FLAGS.up | FLAGS.uv]), counterBytes(credential.counter)]);
    const clientData = Buffer.from(
      JSON.stringify({ type: 'webauthn.get', challenge: options.challenge, origin: over.origin ?? this.origin, crossOrigin: false }),
    );
    const signature = sign('sha256', Buffer.concat([authData, sha256(clientData)]), credential.privateKey);
    return {
      id: b64url(credential.id),
      rawId: b64url(credential.id),
      type: 'public-key' as const,
      response: {
        clientDataJSON: b64url(clientData),
        authenticatorData: b64url(authData),
        signature: b64url(signature),
        userHandle: credential.userHandle,
      },
      authenticatorAttachment: 'platform' as const,
      clientExtensionResults: {},
    };
  }
}
