// The one place a client's address becomes the key every per-address limit counts (HTTP, sign-in,
// sign-up, the password line, WebSocket upgrades): an IPv4 address as itself, an IPv6 address by
// its /64, the block one subscriber usually holds and can fill with addresses at no cost.

const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;
/** IPv4 as IPv6 writes it (`::ffff:192.0.2.1`, how a dual-stack socket shows an IPv4 peer). */
const MAPPED_IPV4 = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

export function addressKey(address: string): string {
  const text = address.trim();
  if (IPV4.test(text)) return text;
  const mapped = MAPPED_IPV4.exec(text);
  if (mapped) return mapped[1]!;
  if (!text.includes(':')) return text.slice(0, 64);
  // A zone (`%eth0`) and brackets name no other block.
  const bare = text
    .replace(/^\[|\]$/g, '')
    .replace(/%.*$/, '')
    .toLowerCase();
  const [head = '', tail] = bare.split('::', 2);
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, '').slice(0, 4))
    .join(':')}::/64`;
}
