import { Webhook as StandardWebhook } from 'standardwebhooks';

// Standard Webhooks signing (https://www.standardwebhooks.com), the one place it is done: the
// community webhooks (docs/protocol.md §8) and the phone-code sender (§2) sign through it.

/** The headers of a signed POST: `webhook-id` (the same on every retry), `webhook-timestamp`, `webhook-signature`. */
export function standardWebhookHeaders(secret: string, id: string, at: Date, body: string): Record<string, string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new StandardWebhook(secret).sign(id, at, body),
  };
}

/** True for a secret Standard Webhooks can sign with (`whsec_` and base64), without saying what it is. */
export function isWebhookSecret(secret: string): boolean {
  if (!/^whsec_[A-Za-z0-9+/=]{16,}$/.test(secret)) return false;
  try {
    new StandardWebhook(secret);
    return true;
  } catch {
    return false;
  }
}
