/** The responder's configuration: what an embedder gives, and the checked values it runs on. */
import { ConfigError, MicrotaskScheduler, type Clock, type Scheduler } from '@vbus/core';
import { isGroupMac, parseIpv4 } from '../packet/index.js';
import { ARP_CACHE_DEFAULT_AGE_MS, ARP_CACHE_DEFAULT_SIZE } from './arp-cache.js';

/** Configuration of a GuestResponder. */
export interface GuestResponderConfig {
  /** The responder's MAC address (6 bytes). */
  mac: Uint8Array;
  /** Its IPv4 address, e.g. `"192.0.2.10"`. */
  ip: string;
  /** Subnet prefix length (default 24). */
  prefixLength?: number;
  /** Next hop for addresses outside the subnet; without one they are unreachable. */
  gateway?: string;
  /** IP MTU (default 1500): the largest IP packet it sends or answers. */
  mtu?: number;
  /** Name in errors and introspection (default `"responder"`). */
  name?: string;
  /** How long `ping` and ARP resolution wait, in ms (default 3000). ARP is retried 3 times within it. */
  timeoutMs?: number;
  /**
   * UDP echo port (RFC 862); 0 turns the echo service off. Default 7. Datagrams from a port below
   * 1024 or from the echo port itself are never echoed (reply-policy.ts: no echo loops).
   */
  udpEchoPort?: number;
  /** Most ARP cache entries; the least recently refreshed is dropped for a new one. Default 256. */
  arpCacheSize?: number;
  /** How long an ARP entry lives without being refreshed, in ms. Default 60 000 (Linux's gc_stale_time). */
  arpAgeMs?: number;
  /**
   * Where the responder's timers run (ARP retries, ping timeouts): the embedder's scheduler, e.g.
   * a `VirtualTimeScheduler`, so timeouts happen in its time. Default: a real-time MicrotaskScheduler.
   */
  scheduler?: Scheduler;
  /** The clock of ARP aging and ping round trips. Default: `scheduler` (time read and time scheduled agree). */
  clock?: Clock;
}

/** A checked configuration, every default filled in. */
export interface ResponderSettings {
  readonly name: string;
  readonly mac: Uint8Array;
  readonly ip: Uint8Array;
  readonly prefixLength: number;
  readonly gateway: Uint8Array | undefined;
  readonly mtu: number;
  readonly timeoutMs: number;
  readonly udpEchoPort: number;
  readonly arpCacheSize: number;
  readonly arpAgeMs: number;
  readonly scheduler: Scheduler;
  readonly clock: Clock;
}

/** Check a {@link GuestResponderConfig}; throws a ConfigError naming the option. */
export function checkResponderConfig(config: GuestResponderConfig): ResponderSettings {
  if (!(config.mac instanceof Uint8Array) || config.mac.length !== 6 || isGroupMac(config.mac)) {
    throw new ConfigError('mac', config.mac, 'must be 6 bytes of a unicast MAC address');
  }
  const prefixLength = config.prefixLength ?? 24;
  if (!Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > 32) throw new ConfigError('prefixLength', config.prefixLength, 'must be an integer 0..32');
  const mtu = config.mtu ?? 1500;
  if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) throw new ConfigError('mtu', config.mtu, 'must be an integer 68..65535');
  const timeoutMs = config.timeoutMs ?? 3000;
  if (!(timeoutMs >= 0) || !Number.isFinite(timeoutMs)) throw new ConfigError('timeoutMs', config.timeoutMs, 'must be a non-negative number of milliseconds (0: no timeout)');
  const udpEchoPort = config.udpEchoPort ?? 7;
  if (!Number.isInteger(udpEchoPort) || udpEchoPort < 0 || udpEchoPort > 0xffff) throw new ConfigError('udpEchoPort', config.udpEchoPort, 'must be a port 0..65535 (0: off)');
  const arpCacheSize = config.arpCacheSize ?? ARP_CACHE_DEFAULT_SIZE;
  if (!Number.isInteger(arpCacheSize) || arpCacheSize < 0) throw new ConfigError('arpCacheSize', config.arpCacheSize, 'must be a non-negative integer');
  const arpAgeMs = config.arpAgeMs ?? ARP_CACHE_DEFAULT_AGE_MS;
  if (!(arpAgeMs > 0)) throw new ConfigError('arpAgeMs', config.arpAgeMs, 'must be a positive number of milliseconds');
  const scheduler = config.scheduler ?? new MicrotaskScheduler();
  return {
    name: config.name ?? 'responder',
    mac: Uint8Array.from(config.mac),
    ip: parseAddress('ip', config.ip),
    prefixLength,
    gateway: config.gateway === undefined ? undefined : parseAddress('gateway', config.gateway),
    mtu,
    timeoutMs,
    udpEchoPort,
    arpCacheSize,
    arpAgeMs,
    scheduler,
    clock: config.clock ?? scheduler,
  };
}

/** A dotted-quad IPv4 address of option `option`, or a ConfigError. */
export function parseAddress(option: string, text: string): Uint8Array {
  try {
    return parseIpv4(text);
  } catch {
    throw new ConfigError(option, text, 'must be a dotted-quad IPv4 address');
  }
}
