import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { badRequest } from '../../protocol/errors.js';

// Outbound requests to URLs that users give (push endpoints, webhooks) must not reach the
// server's own network: the address is checked after DNS resolution, by the lookup the socket
// itself uses, so the address checked is the address connected to (no DNS rebinding window).

const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  blocked.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const)
  blocked.addSubnet(net, prefix, 'ipv6');

/** True for loopback, private, link-local, shared, reserved and multicast addresses (IPv4-mapped IPv6 included). */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return blocked.check(address, 'ipv4');
  if (family === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped) return blocked.check(mapped[1]!, 'ipv4');
    return blocked.check(address, 'ipv6');
  }
  return true;
}

export class PrivateAddressError extends Error {
  readonly code = 'EPRIVATEADDRESS';
}

/**
 * What a refused target's delivery records, the same whether its name resolved to a private
 * address, did not resolve at all, or its scheme is not allowed: the log must not tell an admin
 * which internal names exist (docs/protocol.md §8).
 */
export const REFUSED_TARGET = 'refused: not a reachable public address';

/** Lookup failures that say the name does not exist (not a resolver having trouble: that is retried). */
const NO_SUCH_NAME = new Set(['ENOTFOUND', 'ENODATA', 'EAI_NONAME', 'EAI_NODATA']);

/** True when a request failed because its target may never be reached: private, internal or no such name. */
export function isRefusedTarget(err: unknown): boolean {
  if (err instanceof PrivateAddressError) return true;
  const code = (err as { code?: unknown } | undefined)?.code;
  const syscall = (err as { syscall?: unknown } | undefined)?.syscall;
  return typeof code === 'string' && NO_SUCH_NAME.has(code) && (syscall === undefined || syscall === 'getaddrinfo');
}

/** Runs at most `limit` lookups at once; the rest wait their turn. */
function limitLookups(limit: number | undefined) {
  if (limit === undefined) return (run: (done: () => void) => void) => run(() => {});
  let running = 0;
  const waiting: (() => void)[] = [];
  return (run: (done: () => void) => void) => {
    const start = () => {
      running++;
      let finished = false;
      run(() => {
        if (finished) return;
        finished = true;
        running--;
        waiting.shift()?.();
      });
    };
    if (running < limit) start();
    else waiting.push(start);
  };
}

/** A `lookup` for sockets that fails on private addresses unless allowed; at most `maxLookups` at once. */
export function guardedLookup(allowPrivate: boolean, maxLookups?: number): LookupFunction {
  const limited = limitLookups(maxLookups);
  return (hostname, options, callback) => {
    limited((done) =>
      dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
        done();
        guarded(allowPrivate, hostname, options, callback, err, addresses as LookupAddress[]);
      }),
    );
  };
}

/** Passes on the lookup's answer without its private addresses (unless allowed); none left is an error. */
function guarded(
  allowPrivate: boolean,
  hostname: string,
  options: Parameters<LookupFunction>[1],
  callback: Parameters<LookupFunction>[2],
  err: NodeJS.ErrnoException | null,
  addresses: LookupAddress[],
): void {
  if (err) {
    callback(err, '', 0);
    return;
  }
  const usable = allowPrivate ? addresses : addresses.filter((a) => !isPrivateAddress(a.address));
  if (usable.length === 0) callback(new PrivateAddressError(`${hostname} resolves only to private addresses`), '', 0);
  else if ((options as { all?: boolean }).all) (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, usable);
  else callback(null, usable[0]!.address, usable[0]!.family);
}

/**
 * Checks a user-given URL before it is stored: https (http too when private targets are allowed,
 * for local development), no credentials, and a literal address that is not private. Names are
 * checked again at every connection by guardedLookup.
 */
export function checkTargetUrl(raw: string, allowPrivate: boolean, what: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw badRequest(`${what} must be a URL`, { field: what });
  }
  if (url.protocol !== 'https:' && !(allowPrivate && url.protocol === 'http:')) throw badRequest(`${what} must be https`, { field: what });
  if (url.username || url.password) throw badRequest(`${what} must not carry credentials`, { field: what });
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!allowPrivate && (isIP(host) ? isPrivateAddress(host) : host === 'localhost' || host.endsWith('.localhost'))) {
    throw badRequest(`${what} must not be a private or loopback address`, { field: what });
  }
  return url;
}
