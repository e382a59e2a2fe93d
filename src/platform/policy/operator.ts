import { forbidden } from '../../protocol/errors.js';

// Who acts for the server's operator (docs/protocol.md §2 "Sign-in links"): a `scope: "server"`
// token only, minted by whoever holds the server's key (`banyan token --scope server`). No role in
// a community or group makes a member one: an admin can never sign in as, or set up, a member.

export interface Scoped {
  scope: 'user' | 'server';
}

/** The caller holds a server-scoped token, else `forbidden`. */
export function requireOperator<P extends Scoped>(principal: P): P {
  if (principal.scope !== 'server') throw forbidden('only a server-scoped token may do this');
  return principal;
}
