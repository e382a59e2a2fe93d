// The signed-in session, kept in localStorage so a reload stays signed in.

export interface Session {
  token: string;
  user: { id: string; name: string };
  expiresAt: string;
}

const KEY = 'banyan.session';

export function loadSession(): Session | undefined {
  try {
    const session = JSON.parse(localStorage.getItem(KEY) ?? 'null') as Session | null;
    if (!session || Date.parse(session.expiresAt) <= Date.now()) return undefined;
    return session;
  } catch {
    return undefined; // unreadable: sign in again
  }
}

export function saveSession(session: Session | undefined): void {
  if (session) localStorage.setItem(KEY, JSON.stringify(session));
  else localStorage.removeItem(KEY);
}

/** An invite opened before signing in, joined right after. */
export const pendingInvite = {
  get: () => sessionStorage.getItem('banyan.invite') ?? undefined,
  set: (code: string | undefined) => (code ? sessionStorage.setItem('banyan.invite', code) : sessionStorage.removeItem('banyan.invite')),
};
