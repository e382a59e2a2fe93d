import { randomBytes } from 'node:crypto';

/** Opaque, unguessable ids: a short prefix that says what it names, then 96 random bits. */
export const newId = (prefix: 'u' | 'g' | 'c' | 's' | 'a' | 'r' | 'p' | 'w' | 'x') => `${prefix}_${randomBytes(12).toString('base64url')}`;

/** Invite codes carry 128 random bits. */
export const newInviteCode = () => randomBytes(16).toString('base64url');

/** A webhook message id (Standard Webhooks `webhook-id`): the same on every retry of one delivery. */
export const newWebhookMessageId = () => `msg_${randomBytes(16).toString('base64url')}`;
