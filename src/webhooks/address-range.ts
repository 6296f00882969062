import { isIP } from 'node:net';

/** An IP address or CIDR range, as `net.BlockList.addSubnet` takes it. */
export interface AddressRange {
  network: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/**
 * Parses `127.0.0.1`, `10.0.0.0/8` or `::1/128` (an address alone is its own /32 or /128);
 * `null` when it is neither.
 */
export function parseAddressRange(text: string): AddressRange | null {
  const [network = '', prefixText, ...rest] = text.split('/');
  const version = isIP(network);
  if (version === 0 || rest.length > 0) return null;
  const family = version === 4 ? 'ipv4' : 'ipv6';
  const max = version === 4 ? 32 : 128;
  if (prefixText === undefined) return { network, prefix: max, family };
  if (!/^\d{1,3}$/.test(prefixText)) return null;
  const prefix = Number(prefixText);
  return prefix <= max ? { network, prefix, family } : null;
}
