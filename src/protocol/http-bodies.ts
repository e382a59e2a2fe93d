import { z } from 'zod';
import { commandSchemas } from './commands.js';
import {
  clientMsgId,
  description,
  emptyMessage,
  messageFields,
  hasContent,
  id,
  messageText,
  name,
  notPollAndEvent,
  pollAndEvent,
  storableString,
  type ProtocolLimits,
} from './limits.js';

// Request bodies and query strings of the HTTP API (docs/protocol.md §2 and docs/protocol.md §8).

const username = z.string().regex(/^[a-z0-9_.-]{3,32}$/, '3–32 characters of a-z 0-9 _ . -');
const password = z.string().min(8).max(256);
/**
 * What every way in (password, passkey, phone code, recovery, link) may add about the session it
 * starts (docs/protocol.md §2): the device's name for itself, and whether it wants a refresh token.
 */
export const sessionFields = {
  deviceName: storableString().trim().min(1).max(64).optional(),
  refresh: z.boolean().optional(),
};
/** base64url, as WebAuthn's JSON encodings carry binary values. */
const b64url = (max: number) =>
  z
    .string()
    .max(max)
    .regex(/^[A-Za-z0-9_-]*$/, 'base64url');
/** What a browser's `navigator.credentials.create()` gives, as JSON (`RegistrationResponseJSON`). */
const passkeyRegistration = z.object({
  id: b64url(1366).min(1),
  rawId: b64url(1366).min(1),
  type: z.literal('public-key'),
  response: z
    .object({
      clientDataJSON: b64url(8192),
      attestationObject: b64url(16_384),
      transports: z.array(z.string().max(32)).max(16).optional(),
    })
    .loose(),
  authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
  clientExtensionResults: z.record(z.string(), z.unknown()),
});
/** What `navigator.credentials.get()` gives, as JSON (`AuthenticationResponseJSON`). */
const passkeyAssertion = z.object({
  id: b64url(1366).min(1),
  rawId: b64url(1366).min(1),
  type: z.literal('public-key'),
  response: z.object({
    clientDataJSON: b64url(8192),
    authenticatorData: b64url(8192),
    signature: b64url(2048),
    userHandle: b64url(128).optional(),
  }),
  authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
  clientExtensionResults: z.record(z.string(), z.unknown()),
});
const challengeId = z.string().min(1).max(64);
/** A passkey's name, as its owner calls it ("Asha's phone"). */
const passkeyName = storableString().trim().min(1).max(64);
const role = z.enum(['admin', 'member']);
/** A phone number as typed: checked and normalised to E.164 by the phone feature. */
const phone = storableString().trim().min(1).max(40);
/** A one-time code: 6 digits. */
const phoneCode = z.string().regex(/^\d{6}$/, '6 digits');
/** A username to add someone by: as typed, any case, with or without a leading `@`. */
const usernameToFind = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^@?[a-z0-9_.-]{3,32}$/, '3–32 characters of a-z 0-9 _ . -, optionally after @')
  .transform((s) => s.replace(/^@/, ''));

export const groupSettings = z
  .object({
    adminsOnlyPost: z.boolean(),
    open: z.boolean(),
    approvalRequired: z.boolean(),
    /** Disappearing messages (docs/protocol.md §8 "Pins and disappearing messages"): null (off) or seconds; the server checks which it allows. */
    messageTtlS: z.number().int().min(1).max(100_000_000).nullable(),
  })
  .partial()
  .strict();

/**
 * Community settings live on its announcement group (who posts there, whether joining needs approval,
 * what becomes of an erased member's messages: docs/protocol.md §2 "Your data: export and erasure").
 */
export const communitySettings = z
  .object({ adminsOnlyPost: z.boolean(), approvalRequired: z.boolean(), erasedMessages: z.enum(['remove', 'anonymise']) })
  .partial()
  .strict();

const audience = z.enum(['everyone', 'shared', 'nobody']);

/** `PATCH /v1/me`: any of the fields; `privacy` fields each optional. */
export const updateMe = z.object({
  name: name.optional(),
  avatar: id.nullable().optional(),
  privacy: z.object({ groupAdd: audience, lastSeen: audience }).partial().strict().optional(),
});

/** How long a mute lasts: a minute up to a year. */
const muteSeconds = z
  .number()
  .int()
  .min(60)
  .max(365 * 24 * 3600);
export const notifyLevel = z.enum(['all', 'mentions', 'none']);

export function httpBodies(limits: ProtocolLimits) {
  const text = messageText(limits);
  return {
    /** `invite`: a community's (or a group's) invite code; the new account joins by it (docs/protocol.md §2). */
    /** Without `password`: an operator's account (a `scope: "server"` token), signed in by a link (docs/protocol.md §2 "Sign-in links"). */
    signUp: z.object({ username, password: password.optional(), name: name.optional(), invite: id.optional(), ...sessionFields }),
    signIn: z.object({
      username: storableString().min(1).max(64),
      password: z.string().min(1).max(256),
      /** The trusted-device token of an earlier sign-in (docs/protocol.md §2); anything else counts as none. */
      device: z.string().max(256).optional(),
      ...sessionFields,
    }),
    /** docs/protocol.md §2 "Passkeys". */
    addPasskey: z.object({ challengeId, response: passkeyRegistration, name: passkeyName.optional() }),
    renamePasskey: z.object({ name: passkeyName }),
    passkeySignIn: z.object({ challengeId, response: passkeyAssertion, ...sessionFields }),
    passkeySignUpOptions: z.object({ username, name: name.optional() }),
    passkeySignUp: z.object({ challengeId, response: passkeyRegistration, invite: id.optional(), ...sessionFields }),
    /** `DELETE /v1/me` (docs/protocol.md §2 "Your data: export and erasure"): the phrase, and the password when the account has one. */
    eraseMe: z.object({
      confirm: z.literal('delete my account', 'confirm must be "delete my account"'),
      password: z.string().min(1).max(256).optional(),
    }),
    /**
     * `currentPassword` may be left out only by a session that began by a phone code (or another
     * way in without the password) less than 10 minutes ago (docs/protocol.md §2).
     */
    changePassword: z.object({ currentPassword: z.string().min(1).max(256).optional(), newPassword: password }),
    /** docs/protocol.md §2 "Phone numbers and one-time codes": the number as typed (E.164, or as dialled in PHONE_DEFAULT_REGION). */
    phoneCode: z.object({
      phone,
      locale: z
        .string()
        .regex(/^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/)
        .max(35)
        .optional(),
    }),
    phoneSignIn: z.object({ phone, code: phoneCode, name: name.optional(), invite: id.optional(), ...sessionFields }),
    attachPhone: z.object({ phone, code: phoneCode }),
    /** docs/protocol.md §2 "Sessions and refresh tokens". */
    refreshSession: z.object({ refreshToken: z.string().min(1).max(256) }),
    /** docs/protocol.md §2 "Recovery codes". */
    newRecoveryCodes: z.object({ password: z.string().min(1).max(256) }),
    recover: z.object({
      username: storableString().min(1).max(64),
      recoveryCode: z.string().min(1).max(64),
      newPassword: password,
      ...sessionFields,
    }),
    /** docs/protocol.md §2 "Sign-in links". */
    newSignInLink: z.object({ username: usernameToFind }),
    redeemSignInLink: z.object({ code: z.string().min(1).max(128), ...sessionFields }),
    createGroup: z.object({
      name,
      description: description.optional(),
      members: z.array(id).max(limits.maxMembersPerCall, `at most ${limits.maxMembersPerCall} members per call`).optional(),
    }),
    updateGroup: z.object({ name: name.optional(), description: description.optional(), settings: groupSettings.optional() }),
    /** By id, or by a local account's username (answered alike: docs/protocol.md §8 "Privacy and safety"). */
    addMember: z
      .object({ userId: id.optional(), username: usernameToFind.optional(), role: role.optional() })
      .refine((b) => (b.userId === undefined) !== (b.username === undefined), 'give userId or username, not both'),
    postMessage: z.object(messageFields(limits)).refine(hasContent, emptyMessage).refine(notPollAndEvent, pollAndEvent),
    createCommunity: z.object({ name, description: description.optional(), settings: communitySettings.optional() }),
    updateCommunity: z.object({ name: name.optional(), description: description.optional(), settings: communitySettings.optional() }),
    createCommunityGroup: z.object({ name, description: description.optional(), settings: groupSettings.optional() }),
    createInvite: z.object({
      expiresInS: z
        .number()
        .int()
        .min(60)
        .max(365 * 24 * 3600)
        .optional(),
      maxUses: z.number().int().min(1).max(1_000_000).optional(),
      /** A group of the community: the link joins it too. */
      groupId: id.optional(),
    }),
    decideRequest: z.object({ groupId: id.optional() }),
    announce: z.object({ clientMsgId, text }),
    openDirect: z.object({ userId: id }),
    updateMe,
    ban: z.object({ reason: storableString().trim().max(500).optional() }),
    mute: z.object({ forS: muteSeconds }),
    report: z.object({ reason: storableString().trim().min(1).max(64), note: storableString().trim().max(2000).optional() }),
    resolveReport: z.object({ action: z.enum(['dismiss', 'delete', 'mute', 'remove', 'ban']), forS: muteSeconds.optional() }),
    notificationPreference: z.object({ level: notifyLevel, muteUntil: z.iso.datetime({ offset: true }).nullish() }).strict(),
    pushSubscription: z.object({
      endpoint: z.string().min(1).max(2048),
      keys: z.object({
        // RFC 8291: an uncompressed P-256 point (65 bytes) and a 16-byte secret, base64url.
        p256dh: z.string().regex(/^[A-Za-z0-9_-]{86,88}={0,2}$/, 'a base64url P-256 public key'),
        auth: z.string().regex(/^[A-Za-z0-9_-]{22,24}={0,2}$/, 'a base64url 16-byte secret'),
      }),
      expirationTime: z.number().nullish(),
    }),
    vote: z.object({ options: commandSchemas(limits).vote.shape.options }),
    rsvp: z.object({ answer: commandSchemas(limits).rsvp.shape.answer }),
    createWebhook: z.object({
      url: z.string().min(1).max(2048),
      events: z
        .array(z.enum(['announcement', 'message', 'mention', 'join_request', 'report', 'member']))
        .min(1)
        .max(6),
    }),
  };
}

export type HttpBodies = ReturnType<typeof httpBodies>;

/** `?before=&limit=` of message history. */
export const historyQuery = z.object({
  before: z.coerce.number().int().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(100).optional(),
});

export const pageQuery = z.object({
  cursor: storableString().min(1).max(256).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});

/**
 * `?q=&cursor=&limit=` of a community's member list: `q` is part of a display name, at least 3
 * characters so that the name index (trigrams) always serves it, never a scan of every user.
 */
export const memberQuery = pageQuery.extend({ q: storableString().trim().min(3, 'at least 3 characters').max(64).optional() });

export const seqParam = z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER);

/** `?status=&cursor=&limit=` of a report queue (open first by default). */
export const reportsQuery = pageQuery.extend({ status: z.enum(['open', 'resolved']).optional() });

/**
 * `?voters=` / `?users=` of a poll's or event's answers: names default on outside announcement
 * groups, a page of `limit` users at a time after `cursor` (the answer's `nextCursor`).
 */
export const answersQuery = z.object({
  voters: z.enum(['true', 'false']).optional(),
  users: z.enum(['true', 'false']).optional(),
  cursor: pageQuery.shape.cursor,
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
