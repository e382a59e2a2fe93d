import {
  type AuthenticationResponseJSON,
  type AuthenticatorTransportFuture,
  generateAuthenticationOptions,
  generateRegistrationOptions,
  type RegistrationResponseJSON,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from '@simplewebauthn/server';
import { type Accounts, findAccountOfUser, waysIn, findUser, insertAccount, type SessionStart, type SignedIn } from '../accounts/index.js';
import { type ChatDeps, nowOf } from '../../platform/deps.js';
import type { Queryable, Tx } from '../../platform/db/connect.js';
import type { PasskeyRow } from '../../platform/db/schema.js';
import { transaction } from '../../platform/db/transaction.js';
import { newId } from '../../platform/ids.js';
import { AppError, badRequest, conflict, notFound } from '../../protocol/errors.js';
import {
  type ChallengePurpose,
  countPasskeys,
  deletePasskey,
  findPasskeyByCredential,
  insertChallenge,
  insertPasskey,
  listPasskeys,
  lockPasskeys,
  newPasskeyId,
  recordUse,
  renamePasskey,
  type SignUpHold,
  takeChallenge,
} from './queries.js';

/** How long a challenge can be answered (docs/protocol.md §2 "Passkeys"). */
export const CHALLENGE_TTL_MS = 5 * 60_000;
/** ES256 and RS256: what platform authenticators (phones, Windows Hello, security keys) make. */
const ALGORITHMS = [-7, -257];

/** The one answer to every passkey that does not pass, whichever check it failed. */
const refused = () => new AppError('unauthorized', 'the passkey was not accepted');

/** What the member sees of a passkey. */
export interface PasskeyView {
  id: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
}

const view = (row: PasskeyRow): PasskeyView => ({
  id: row.id,
  name: row.name,
  createdAt: row.createdAt.toISOString(),
  lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
});

/** The WebAuthn user handle of a user: its id's bytes (never the username). */
const userHandle = (userId: string) => new TextEncoder().encode(userId);

type SessionFields = Omit<SessionStart, 'method'>;

/**
 * Passkeys (WebAuthn, docs/protocol.md §2 "Passkeys"): registered by a signed-in member, or at a
 * passkey-only sign-up; a sign-in needs no username (discoverable credentials). Attestation `none`,
 * user verification required, signature counters checked. Challenges are rows, single use, so any
 * replica can take the answer to one another issued.
 */
export class Passkeys {
  /** The port listened on, for the default origin (`http://localhost:<port>`). */
  private port = 0;

  constructor(
    private readonly deps: ChatDeps,
    private readonly accounts: Accounts,
  ) {}

  /** Told by the composition root once the server listens. */
  listening(port: number): void {
    this.port = port;
  }

  private get rp() {
    const { rpId, rpName, origins } = this.deps.config.webauthn;
    return { id: rpId, name: rpName, origins: origins ?? [`http://localhost:${this.port}`] };
  }

  private now = () => new Date(nowOf(this.deps));

  private async challenge(purpose: ChallengePurpose, challenge: string, userId: string | null, signUp: SignUpHold | null) {
    const now = this.now();
    return insertChallenge(this.deps.db, {
      challenge,
      purpose,
      userId,
      signUp,
      now,
      expiresAt: new Date(now.getTime() + CHALLENGE_TTL_MS),
    });
  }

  private registrationOptions(user: { id: string; username: string; name: string }, exclude: PasskeyRow[]) {
    const rp = this.rp;
    return generateRegistrationOptions({
      rpName: rp.name,
      rpID: rp.id,
      userName: user.username,
      userID: userHandle(user.id),
      userDisplayName: user.name,
      attestationType: 'none',
      timeout: CHALLENGE_TTL_MS,
      excludeCredentials: exclude.map((p) => ({ id: p.credentialId, transports: transportsOf(p) })),
      authenticatorSelection: { residentKey: 'required', requireResidentKey: true, userVerification: 'required' },
      supportedAlgorithmIDs: ALGORITHMS,
    });
  }

  /** Checks a registration answer against its challenge; refused (401) for anything wrong. */
  private async verifyRegistration(response: unknown, challenge: string) {
    const rp = this.rp;
    let result: Awaited<ReturnType<typeof verifyRegistrationResponse>>;
    try {
      result = await verifyRegistrationResponse({
        response: response as RegistrationResponseJSON,
        expectedChallenge: challenge,
        expectedOrigin: rp.origins,
        expectedRPID: rp.id,
        requireUserVerification: true,
        supportedAlgorithmIDs: ALGORITHMS,
      });
    } catch (err) {
      this.deps.logger.debug('passkey registration refused', { err: err instanceof Error ? err.message : String(err) });
      throw refused();
    }
    if (!result.verified) throw refused();
    const { credential } = result.registrationInfo;
    return {
      credentialId: credential.id,
      publicKey: Buffer.from(credential.publicKey).toString('base64url'),
      counter: credential.counter,
      transports: (credential.transports ?? []).slice(0, 8),
    };
  }

  // Registration by a signed-in member.

  async optionsToRegister(userId: string) {
    const account = await findAccountOfUser(this.deps.db, userId);
    const user = await findUser(this.deps.db, userId);
    if (!account || !user) throw badRequest('this user has no local account');
    const options = await this.registrationOptions(
      { id: userId, username: account.username, name: user.name },
      await listPasskeys(this.deps.db, userId),
    );
    return { challengeId: await this.challenge('register', options.challenge, userId, null), options };
  }

  async register(userId: string, input: { challengeId: string; response: unknown; name?: string | undefined }): Promise<PasskeyView> {
    const taken = await takeChallenge(this.deps.db, input.challengeId, 'register', userId, this.now());
    if (!taken) throw refused();
    const credential = await this.verifyRegistration(input.response, taken.challenge);
    const count = await countPasskeys(this.deps.db, userId);
    const row = await insertPasskey(this.deps.db, {
      id: newPasskeyId(),
      userId,
      name: input.name ?? `Passkey ${count + 1}`,
      ...credential,
    });
    if (!row) throw conflict('this passkey is already registered');
    return view(row);
  }

  async list(userId: string): Promise<PasskeyView[]> {
    return (await listPasskeys(this.deps.db, userId)).map(view);
  }

  async rename(userId: string, id: string, name: string): Promise<PasskeyView> {
    const row = await renamePasskey(this.deps.db, userId, id, name);
    if (!row) throw notFound('passkey');
    return view(row);
  }

  /** Removes a passkey, unless it is the account's last way in (no password, no other passkey): 409. */
  async remove(userId: string, id: string): Promise<void> {
    await transaction(this.deps.db, async (tx) => {
      const all = await lockPasskeys(tx, userId);
      if (!all.some((p) => p.id === id)) throw notFound('passkey');
      if (all.length <= 1 && !(await this.hasOtherWayIn(tx, userId)))
        throw conflict('this is the last way to sign in to this account: add a password or another passkey first', {
          reason: 'last_way_in',
        });
      await deletePasskey(tx, userId, id);
    });
  }

  /** A way in besides passkeys (accounts' `waysIn` knows them all); a user with no local account keeps its external tokens. */
  private async hasOtherWayIn(db: Queryable, userId: string): Promise<boolean> {
    if ((await findAccountOfUser(db, userId)) === undefined) return true;
    const ways = await waysIn(db, userId);
    return ways.password || ways.phone;
  }

  // Sign-in, with no username.

  async optionsToSignIn() {
    const options = await generateAuthenticationOptions({
      rpID: this.rp.id,
      allowCredentials: [],
      userVerification: 'required',
      timeout: CHALLENGE_TTL_MS,
    });
    return { challengeId: await this.challenge('sign_in', options.challenge, null, null), options };
  }

  async signIn(input: { challengeId: string; response: AuthenticationResponseJSON } & SessionFields): Promise<Omit<SignedIn, 'device'>> {
    const taken = await takeChallenge(this.deps.db, input.challengeId, 'sign_in', null, this.now());
    const passkey = taken ? await findPasskeyByCredential(this.deps.db, input.response.id) : undefined;
    if (!taken || !passkey) throw refused();
    // A discoverable credential names its user: it must be the one the credential was registered to.
    const handle = input.response.response.userHandle;
    if (handle !== undefined && handle !== Buffer.from(userHandle(passkey.userId)).toString('base64url')) throw refused();
    const rp = this.rp;
    let newCounter: number;
    try {
      const result = await verifyAuthenticationResponse({
        response: input.response,
        expectedChallenge: taken.challenge,
        expectedOrigin: rp.origins,
        expectedRPID: rp.id,
        // The counter is checked below, atomically with recording the use.
        credential: {
          id: passkey.credentialId,
          publicKey: Buffer.from(passkey.publicKey, 'base64url'),
          counter: 0,
          transports: transportsOf(passkey),
        },
        requireUserVerification: true,
      });
      if (!result.verified) throw refused();
      newCounter = result.authenticationInfo.newCounter;
    } catch (err) {
      if (!(err instanceof AppError))
        this.deps.logger.debug('passkey sign-in refused', { err: err instanceof Error ? err.message : String(err) });
      throw refused();
    }
    if (!(await recordUse(this.deps.db, passkey.id, newCounter, this.now()))) {
      this.deps.logger.warn('passkey counter did not increase: refused (a cloned authenticator?)', {
        userId: passkey.userId,
        passkeyId: passkey.id,
        storedCounter: passkey.counter,
        counter: newCounter,
      });
      throw refused();
    }
    const user = await findUser(this.deps.db, passkey.userId);
    if (!user) throw refused();
    return this.accounts.startSession(
      { id: user.id, name: user.name },
      { method: 'passkey', deviceName: input.deviceName, refresh: input.refresh },
    );
  }

  // Passkey-only sign-up (no password).

  /**
   * Options for any username, taken or not: this request costs only the passkey allowance, so
   * telling a taken name here would let strangers test usernames far faster than sign-ups (counted
   * by SIGNUP_RATE_ADDRESS) can. A taken name is answered 409 at the sign-up itself.
   */
  async optionsToSignUp(input: { username: string; name?: string | undefined }) {
    const hold = { username: input.username, name: input.name ?? input.username, userId: newId('u') };
    const options = await this.registrationOptions({ id: hold.userId, username: hold.username, name: hold.name }, []);
    return { challengeId: await this.challenge('sign_up', options.challenge, null, hold), options };
  }

  /**
   * Creates the account (no password) with its passkey. With `join` (a sign-up through an invite),
   * inside the join's own transaction, like a password sign-up (docs/protocol.md §2).
   */
  async signUp<J>(
    input: { challengeId: string; response: unknown } & SessionFields,
    join?: (userId: string, createAccount: (tx: Tx) => Promise<void>) => Promise<J>,
  ): Promise<Omit<SignedIn, 'device'> & { invite?: J }> {
    const taken = await takeChallenge(this.deps.db, input.challengeId, 'sign_up', null, this.now());
    const hold = taken?.signUp;
    if (!taken || !hold) throw refused();
    const credential = await this.verifyRegistration(input.response, taken.challenge);
    const createAccount = async (db: Queryable) => {
      await transaction(db, async (tx) => {
        if (!(await insertAccount(tx, { userId: hold.userId, name: hold.name, username: hold.username, passwordHash: null })))
          throw conflict('username is taken');
        if (!(await insertPasskey(tx, { id: newPasskeyId(), userId: hold.userId, name: 'Passkey 1', ...credential })))
          throw conflict('this passkey is already registered');
      });
    };
    const invite = join ? await join(hold.userId, createAccount) : await createAccount(this.deps.db);
    const started = await this.accounts.startSession(
      { id: hold.userId, name: hold.name },
      { method: 'passkey', deviceName: input.deviceName, refresh: input.refresh },
    );
    return join ? { ...started, invite: invite as J } : started;
  }
}

/** Stored as the authenticator reported them at registration, so they are the library's own names. */
const transportsOf = (passkey: { transports: string[] }) => passkey.transports as AuthenticatorTransportFuture[];
