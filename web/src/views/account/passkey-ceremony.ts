import type { BanyanHttp } from '../../../../src/client/http.js';
import { t } from '../../i18n/index.js';
import { deviceName } from '../../session.js';

// The browser's side of passkeys (docs/protocol.md §2 "Passkeys"): options from the server go to
// navigator.credentials through @simplewebauthn/browser, loaded only when a passkey is used (it
// stays out of the first screen's bundle), and the answer goes back with its challenge id.

type Options = Record<string, unknown>;

const webauthn = () => import('@simplewebauthn/browser');

/** Whether this browser can use passkeys at all (else the passkey buttons are not shown). */
export const hasPasskeys = () => typeof window !== 'undefined' && typeof window.PublicKeyCredential === 'function';

/** The person closed the prompt, or the device refused: a sentence, not an exception's name. */
async function ceremony<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    const name = (err as { name?: string; cause?: { name?: string } }).name;
    if (name === 'NotAllowedError' || name === 'AbortError' || (err as { cause?: { name?: string } }).cause?.name === 'NotAllowedError')
      throw new Error(t('auth.passkey.cancelled'));
    if (name === 'InvalidStateError') throw new Error(t('account.passkeys.already'));
    throw err;
  }
}

async function created(options: Options) {
  const { startRegistration } = await webauthn();
  // biome-ignore lint/suspicious/noExplicitAny: the server's options are WebAuthn's JSON, as the library takes them.
  const response = await ceremony(() => startRegistration({ optionsJSON: options as any }));
  return { ...response, response: { ...response.response }, clientExtensionResults: { ...response.clientExtensionResults } };
}

/** Signs in with any passkey of this site (no username). */
export async function usePasskey(http: BanyanHttp) {
  const { challengeId, options } = await http.passkeySignInOptions();
  const { startAuthentication } = await webauthn();
  // biome-ignore lint/suspicious/noExplicitAny: as above.
  const response = await ceremony(() => startAuthentication({ optionsJSON: options as any }));
  const answer = { ...response, clientExtensionResults: { ...response.clientExtensionResults } };
  return http.passkeySignIn({ challengeId, response: answer, refresh: true, deviceName: deviceName() });
}

/** Creates an account that signs in with this passkey only (joining by `invite` if given). */
export async function createPasskey(http: BanyanHttp, who: { username: string; name?: string }, invite?: string) {
  const { challengeId, options } = await http.passkeySignUpOptions(who);
  const response = await created(options);
  return http.passkeySignUp({ challengeId, response, refresh: true, deviceName: deviceName(), ...(invite ? { invite } : {}) });
}

/** Adds a passkey to the signed-in member's account. */
export async function addPasskey(http: BanyanHttp, name?: string) {
  const { challengeId, options } = await http.passkeyOptionsToAdd();
  const response = await created(options);
  return http.addPasskey({ challengeId, response, ...(name ? { name } : {}) });
}
