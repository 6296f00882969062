import { BlockList, isIP } from 'node:net';
import type { AddressRange } from './address-range';

/**
 * Ranges that are not the public internet: loopback, private (RFC 1918, unique local),
 * link-local (cloud metadata services live there), carrier-grade NAT, "this network",
 * benchmarking, documentation, multicast and reserved space, and their IPv6 forms.
 */
const nonPublicRanges: readonly [string, number, 'ipv4' | 'ipv6'][] = [
  ['0.0.0.0', 8, 'ipv4'],
  ['10.0.0.0', 8, 'ipv4'],
  ['100.64.0.0', 10, 'ipv4'],
  ['127.0.0.0', 8, 'ipv4'],
  ['169.254.0.0', 16, 'ipv4'],
  ['172.16.0.0', 12, 'ipv4'],
  ['192.0.0.0', 24, 'ipv4'],
  ['192.0.2.0', 24, 'ipv4'],
  ['192.88.99.0', 24, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['198.18.0.0', 15, 'ipv4'],
  ['198.51.100.0', 24, 'ipv4'],
  ['203.0.113.0', 24, 'ipv4'],
  ['224.0.0.0', 4, 'ipv4'],
  ['240.0.0.0', 4, 'ipv4'],
  ['::', 128, 'ipv6'],
  ['::1', 128, 'ipv6'],
  ['64:ff9b::', 96, 'ipv6'],
  ['100::', 64, 'ipv6'],
  ['2001:db8::', 32, 'ipv6'],
  ['fc00::', 7, 'ipv6'],
  ['fe80::', 10, 'ipv6'],
  ['ff00::', 8, 'ipv6'],
];

/** Decides which addresses a webhook may connect to (docs/webhooks.md). */
export interface AddressPolicy {
  /** A public address, or one the operator allowed. */
  permits: (address: string) => boolean;
  /** An address the operator allowed although private or loopback (`http` is fine there). */
  isAllowedPrivate: (address: string) => boolean;
}

/** An IPv4-mapped IPv6 address (`::ffff:127.0.0.1`) is judged as the IPv4 address it is. */
function unmapped(address: string): { address: string; family: 'ipv4' | 'ipv6' } | null {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  const plain = mapped?.[1] ?? address;
  const version = isIP(plain);
  if (version === 0) return null;
  return { address: plain, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** The policy for `allowed`, the parsed `WEBHOOK_ALLOWED_ADDRESSES`. */
export function createAddressPolicy(allowed: readonly AddressRange[]): AddressPolicy {
  const nonPublic = new BlockList();
  for (const [network, prefix, family] of nonPublicRanges) {
    nonPublic.addSubnet(network, prefix, family);
  }
  const allowList = new BlockList();
  for (const range of allowed) allowList.addSubnet(range.network, range.prefix, range.family);
  const isAllowedPrivate = (address: string): boolean => {
    const ip = unmapped(address);
    return ip !== null && allowList.check(ip.address, ip.family);
  };
  return {
    isAllowedPrivate,
    permits: (address) => {
      const ip = unmapped(address);
      if (ip === null) return false;
      return !nonPublic.check(ip.address, ip.family) || isAllowedPrivate(address);
    },
  };
}
