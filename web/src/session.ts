// The signed-in session, kept in localStorage so a reload stays signed in. With a refresh token
// (docs/protocol.md §2 "Sessions and refresh tokens"), the short access token is refreshed by the
// client and each new pair stored here, where every tab of this browser reads it.

export interface Session {
  token: string;
  user: { id: string; name: string };
  expiresAt: string;
  refreshToken?: string | undefined;
  refreshExpiresAt?: string | undefined;
}

const KEY = 'banyan.session';

/** The stored session, while its access token or its refresh token still works. */
export function loadSession(): Session | undefined {
  try {
    const session = JSON.parse(localStorage.getItem(KEY) ?? 'null') as Session | null;
    if (!session) return undefined;
    const until = Math.max(Date.parse(session.expiresAt), session.refreshExpiresAt ? Date.parse(session.refreshExpiresAt) : 0);
    return until > Date.now() ? session : undefined;
  } catch {
    return undefined; // unreadable: sign in again
  }
}

export function saveSession(session: Session | undefined): void {
  if (session) localStorage.setItem(KEY, JSON.stringify(session));
  else localStorage.removeItem(KEY);
}

/** A refresh's new pair, into the stored session of the same user. */
export function saveTokens(tokens: Pick<Session, 'token' | 'expiresAt' | 'refreshToken' | 'refreshExpiresAt'>): void {
  const session = loadSession();
  if (session) saveSession({ ...session, ...tokens });
}

/** The pair stored now (another tab may have refreshed it). */
export function storedTokens() {
  const session = loadSession();
  return session?.refreshToken ? { ...session, refreshToken: session.refreshToken } : undefined;
}

/** This browser as its owner would name it in a list of sessions: "Chrome on Android". */
export function deviceName(ua = navigator.userAgent): string {
  const browser = /Edg\//.test(ua)
    ? 'Edge'
    : /OPR\//.test(ua)
      ? 'Opera'
      : /SamsungBrowser/.test(ua)
        ? 'Samsung Internet'
        : /Firefox\//.test(ua)
          ? 'Firefox'
          : /Chrom(e|ium)\//.test(ua)
            ? 'Chrome'
            : /Safari\//.test(ua)
              ? 'Safari'
              : 'Browser';
  const os = /Android/.test(ua)
    ? 'Android'
    : /iPhone|iPad|iPod/.test(ua)
      ? 'iOS'
      : /Windows/.test(ua)
        ? 'Windows'
        : /Mac OS X|Macintosh/.test(ua)
          ? 'macOS'
          : /CrOS/.test(ua)
            ? 'ChromeOS'
            : /Linux/.test(ua)
              ? 'Linux'
              : undefined;
  return os ? `${browser} on ${os}` : browser;
}

/** An invite opened before signing in, joined right after. */
export const pendingInvite = {
  get: () => sessionStorage.getItem('banyan.invite') ?? undefined,
  set: (code: string | undefined) => (code ? sessionStorage.setItem('banyan.invite', code) : sessionStorage.removeItem('banyan.invite')),
};
