import { isIP, isIPv6 } from 'node:net';
import { ConfigError, type Clock } from '@vbus/core';
import { VXLAN_OVERHEAD_IPV4, VXLAN_OVERHEAD_IPV6, VXLAN_PORT, VXLAN_VNI_MAX } from '../common/backend/vxlan-header.js';
import { newVxlanRemoteCounters, type VxlanRemoteCounters } from './vxlan-counters.js';

/** A VTEP's UDP endpoint. `port` defaults to 4789. */
export interface VxlanAddress {
  /** An IP address literal (IPv4 or IPv6; no names are resolved). */
  host: string;
  port?: number;
}

/** Options of {@link VxlanBackend.open}. */
export interface VxlanOptions {
  /** The VXLAN Network Identifier of the segment, 0..16777215. Datagrams with another VNI are refused. */
  vni: number;
  /** The remote VTEPs. Broadcast, multicast and unknown unicast are flooded to all of them. */
  remotes: VxlanAddress[];
  /** Local address to bind (default 0.0.0.0 or :: after the remotes' family, port 4789). */
  local?: VxlanAddress;
  /**
   * MTU of the outer (underlay) network, default 1500. The largest inner IP packet is this
   * minus 50 (IPv4 underlay) or 70 (IPv6): see {@link VxlanBackend.innerMtu}.
   */
  outerMtu?: number;
  /** How long a learned inner MAC stays without being seen again, in ms (default 300 000). */
  ageMs?: number;
  /** The most inner MACs the forwarding table holds (default 4096); beyond it frames flood. */
  maxEntries?: number;
  /** The clock of forwarding-table aging, in ms; inject a fake or virtual one. Default: the system's monotonic clock. */
  clock?: Clock;
  /** Datagrams waiting in the socket beyond which frames are dropped (`backlog`), default 1024. */
  maxQueuedDatagrams?: number;
  name?: string;
}

/** A configured remote VTEP, with its counters. */
export interface VxlanRemote {
  host: string;
  port: number;
  /** `host:port` (`[host]:port` for IPv6): its name in the forwarding table and in errors. */
  key: string;
  counters: VxlanRemoteCounters;
}

/** {@link VxlanOptions} checked, with the defaults that depend on the remotes' family filled in. */
export interface CheckedVxlanOptions {
  remotes: VxlanRemote[];
  /** True for an IPv6 underlay. */
  v6: boolean;
  localHost: string;
  localPort: number;
  /** Outer MTU minus the VXLAN overhead of the underlay's family. */
  innerMtu: number;
}

/**
 * Check {@link VxlanOptions}: a ConfigError names the option for a bad VNI, address, port, MTU,
 * age, table size or backlog, or for remotes given twice or of mixed families.
 */
export function checkVxlanOptions(options: VxlanOptions): CheckedVxlanOptions {
  const { vni } = options;
  if (!Number.isInteger(vni) || vni < 0 || vni > VXLAN_VNI_MAX) throw new ConfigError('vni', vni, `must be an integer 0..${VXLAN_VNI_MAX}`);
  if (!Array.isArray(options.remotes) || options.remotes.length === 0) throw new ConfigError('remotes', options.remotes, 'give at least one remote VTEP');
  const remotes: VxlanRemote[] = [];
  for (const [i, r] of options.remotes.entries()) {
    const host = checkHost(`remotes[${i}].host`, r.host);
    const port = checkPort(`remotes[${i}].port`, r.port ?? VXLAN_PORT, false);
    const key = `${host.includes(':') ? `[${host}]` : host}:${port}`;
    if (remotes.some((x) => x.key === key)) throw new ConfigError(`remotes[${i}]`, key, 'is given twice');
    remotes.push({ host, port, key, counters: newVxlanRemoteCounters() });
  }
  const v6 = isIPv6(remotes[0]!.host);
  if (remotes.some((r) => isIPv6(r.host) !== v6)) throw new ConfigError('remotes', options.remotes, 'must all be IPv4 or all IPv6');
  const localHost = options.local ? checkHost('local.host', options.local.host) : v6 ? '::' : '0.0.0.0';
  if (isIPv6(localHost) !== v6) throw new ConfigError('local.host', localHost, `must be of the remotes' family (${v6 ? 'IPv6' : 'IPv4'})`);
  const localPort = checkPort('local.port', options.local?.port ?? VXLAN_PORT, true);
  const outerMtu = options.outerMtu ?? 1500;
  const overhead = v6 ? VXLAN_OVERHEAD_IPV6 : VXLAN_OVERHEAD_IPV4;
  if (!Number.isInteger(outerMtu) || outerMtu < overhead + 68 || outerMtu > 65535) {
    throw new ConfigError('outerMtu', outerMtu, `must be an integer ${overhead + 68}..65535 (the inner MTU, outer minus ${overhead}, must be at least 68)`);
  }
  if (options.ageMs !== undefined && !(Number.isFinite(options.ageMs) && options.ageMs > 0)) throw new ConfigError('ageMs', options.ageMs, 'must be a positive number of ms');
  if (options.maxEntries !== undefined && !(Number.isInteger(options.maxEntries) && options.maxEntries >= 0))
    throw new ConfigError('maxEntries', options.maxEntries, 'must be an integer >= 0');
  const mq = options.maxQueuedDatagrams;
  if (mq !== undefined && !(Number.isInteger(mq) && mq > 0)) throw new ConfigError('maxQueuedDatagrams', mq, 'must be a positive integer');
  return { remotes, v6, localHost, localPort, innerMtu: outerMtu - overhead };
}

/** `::ffff:1.2.3.4` → `1.2.3.4`. */
export function unmapIpv4(addr: string): string {
  return addr.startsWith('::ffff:') && addr.includes('.') ? addr.slice(7) : addr;
}

function checkHost(option: string, host: unknown): string {
  if (typeof host !== 'string' || isIP(unmapIpv4(host)) === 0) throw new ConfigError(option, host, 'must be an IPv4 or IPv6 address literal');
  return unmapIpv4(host);
}

function checkPort(option: string, port: unknown, zeroOk: boolean): number {
  if (!Number.isInteger(port) || (port as number) < (zeroOk ? 0 : 1) || (port as number) > 65535)
    throw new ConfigError(option, port, `must be an integer ${zeroOk ? 0 : 1}..65535`);
  return port as number;
}
