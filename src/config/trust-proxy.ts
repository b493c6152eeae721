import ipaddr from 'ipaddr.js';

/**
 * `TRUST_PROXY`, read as Express' `trust proxy` reads it (proxy-addr): `true`, `false`, a hop
 * count, or a comma list of addresses, CIDRs (`10.0.0.0/8`, `10.0.0.0/255.0.0.0`) and the names
 * `loopback`, `linklocal`, `uniquelocal`.
 */
export type TrustProxy = boolean | number | readonly string[];

/** The ranges behind proxy-addr's names. */
const NAMED_RANGES: Readonly<Record<string, readonly string[]>> = {
  loopback: ['127.0.0.1/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

/**
 * The widest range an ingress can need is a private block (`10.0.0.0/8`, `fc00::/7`); a wider one
 * trusts a large share of the internet.
 */
const WIDEST_IPV4_PREFIX = 8;
const WIDEST_IPV6_PREFIX = 7;

const IPV6_SPACE = 1n << 128n;
/** `::ffff:0:0/96`: IPv4 as proxy-addr compares it with an IPv6 range. */
const IPV4_MAPPED_START = 0xffffn << 32n;
const IPV4_SPACE = 1n << 32n;

/** One trusted range as an interval of the IPv6 space (IPv4 as its mapped addresses). */
interface Interval {
  readonly start: bigint;
  readonly end: bigint;
}

interface ParsedRange {
  readonly interval: Interval;
  /** Prefix length in the address's own family (an IPv4-mapped range counts as IPv4). */
  readonly prefix: number;
  readonly family: 'ipv4' | 'ipv6';
}

function toBigInt(bytes: readonly number[]): bigint {
  return bytes.reduce((acc, b) => (acc << 8n) | BigInt(b), 0n);
}

/** Parses one entry as proxy-addr does (same library, same rules), or explains why it cannot. */
function parseRange(note: string): ParsedRange | string {
  const slash = note.lastIndexOf('/');
  const addressText = slash === -1 ? note : note.slice(0, slash);
  if (!ipaddr.isValid(addressText)) return `"${note}" is not an address, a CIDR or one of loopback, linklocal, uniquelocal`;
  const address = ipaddr.parse(addressText);
  const max = address.kind() === 'ipv6' ? 128 : 32;
  const rangeText = slash === -1 ? undefined : note.slice(slash + 1);
  let prefix: number | null;
  if (rangeText === undefined) prefix = max;
  else if (/^\d+$/.test(rangeText)) prefix = Number(rangeText);
  else if (address.kind() === 'ipv4' && ipaddr.isValid(rangeText)) prefix = ipaddr.parse(rangeText).prefixLengthFromSubnetMask();
  else prefix = null;
  if (prefix === null || prefix <= 0 || prefix > max) return `"${note}" has an invalid range`;

  const bits = address.kind() === 'ipv6' ? 128 : 32;
  const value = toBigInt(address.toByteArray());
  const size = 1n << BigInt(bits - prefix);
  const start = (value / size) * size;
  if (address.kind() === 'ipv4') {
    return { interval: { start: IPV4_MAPPED_START + start, end: IPV4_MAPPED_START + start + size }, prefix, family: 'ipv4' };
  }
  const mapped = address instanceof ipaddr.IPv6 && address.isIPv4MappedAddress() && prefix >= 96;
  return { interval: { start, end: start + size }, prefix: mapped ? prefix - 96 : prefix, family: mapped ? 'ipv4' : 'ipv6' };
}

/** Whether the union of `intervals` covers [from, to). */
function covers(intervals: readonly Interval[], from: bigint, to: bigint): boolean {
  let reached = from;
  for (const { start, end } of [...intervals].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0))) {
    if (start > reached) break;
    if (end > reached) reached = end;
    if (reached >= to) return true;
  }
  return reached >= to;
}

export interface TrustProxyReading {
  readonly value: TrustProxy;
  /** One line per problem, each naming TRUST_PROXY. */
  readonly problems: readonly string[];
}

/** Reads `TRUST_PROXY`; an entry Express could not compile is a problem here rather than a crash later. */
export function readTrustProxy(text: string): TrustProxyReading {
  const v = text.trim().toLowerCase();
  if (v === 'true') return { value: true, problems: [] };
  if (v === 'false' || v === '') return { value: false, problems: [] };
  if (/^\d+$/.test(v)) return { value: Number(v), problems: [] };
  const entries = v.split(',').map((s) => s.trim()).filter(Boolean);
  const problems: string[] = [];
  for (const entry of entries) {
    for (const note of NAMED_RANGES[entry] ?? [entry]) {
      const parsed = parseRange(note);
      if (typeof parsed === 'string') problems.push(`TRUST_PROXY: ${parsed}.`);
    }
  }
  return { value: entries, problems };
}

/**
 * Why `value` would let a caller that is not the ingress be trusted as a proxy, or an empty list.
 * `true` and a hop count trust whatever peer connects; an address list must name the ingress,
 * not a range that takes in the internet.
 */
export function overlyBroadTrust(value: TrustProxy): string[] {
  if (value === true) return ['`true` trusts every peer'];
  if (value === false) return ['`false` trusts no ingress at all'];
  if (typeof value === 'number') return [`the hop count ${value} trusts whatever peer connects directly`];
  const reasons: string[] = [];
  const intervals: Interval[] = [];
  for (const entry of value) {
    for (const note of NAMED_RANGES[entry] ?? [entry]) {
      const parsed = parseRange(note);
      if (typeof parsed === 'string') continue;
      intervals.push(parsed.interval);
      const widest = parsed.family === 'ipv4' ? WIDEST_IPV4_PREFIX : WIDEST_IPV6_PREFIX;
      if (parsed.prefix < widest) reasons.push(`"${entry}" is wider than /${widest} (${parsed.family === 'ipv4' ? 'IPv4' : 'IPv6'})`);
    }
  }
  if (covers(intervals, IPV4_MAPPED_START, IPV4_MAPPED_START + IPV4_SPACE)) reasons.push('together the ranges cover every IPv4 address');
  if (covers(intervals, 0n, IPV6_SPACE)) reasons.push('together the ranges cover every IPv6 address');
  return reasons;
}
