import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIP, isIPv6 } from 'node:net';
import { ConfigError, systemClock, type Clock } from '@vbus/core';
import { NetError } from '../common/backend/net-error.js';
import {
  decodeVxlanHeader,
  encodeVxlanHeader,
  VXLAN_HLEN,
  VXLAN_OVERHEAD_IPV4,
  VXLAN_OVERHEAD_IPV6,
  VXLAN_PORT,
  VXLAN_VNI_MAX,
} from '../common/backend/vxlan-header.js';
import { ETH_HLEN, formatMac, isGroupMac, macToNumber } from '../common/packet/index.js';
import { newSocketBackendCounters, SocketBackendBase, type SocketBackendCounters } from './socket-backend-base.js';

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

/** Drops by reason, kept per remote and in total. */
export interface VxlanDrops {
  /** Datagrams shorter than the VXLAN header plus an Ethernet header. */
  runt: number;
  /** Datagrams without the I flag. */
  flags: number;
  /** Datagrams with a reserved flag bit or field set (Linux drops these too). */
  reserved: number;
  /** Datagrams for another VNI. */
  vni: number;
  /** Frames to send that do not fit the inner MTU. */
  tooBig: number;
  /** Frames the socket failed to send. */
  sendError: number;
  /** Frames dropped because the socket already had `maxQueuedDatagrams` waiting (the receiver or the network is slower than the guests). */
  backlog: number;
}

/** Counters of one remote VTEP. */
export interface VxlanRemoteCounters {
  framesIn: number;
  bytesIn: number;
  framesOut: number;
  bytesOut: number;
  drops: VxlanDrops;
}

/** Introspection of one remote VTEP. */
export interface VxlanRemoteInfo {
  host: string;
  port: number;
  counters: VxlanRemoteCounters;
}

/** One learned inner address. */
export interface VxlanFdbEntry {
  mac: string;
  /** The remote VTEP behind which it lives, `host:port`. */
  remote: string;
  /** ms since it was last seen as a source. */
  ageMs: number;
}

/** Counters of a {@link VxlanBackend} (all remotes together, plus what no remote owns). */
export interface VxlanCounters extends SocketBackendCounters {
  drops: VxlanDrops;
  /** Datagrams from an address that is not a configured remote. */
  foreign: number;
  /** Frames flooded to every remote, and unicast frames sent to one learned remote. */
  flooded: number;
  forwarded: number;
  learned: number;
  moved: number;
  expired: number;
  tableFull: number;
  /** Socket errors. */
  errors: number;
}

/** Events of a {@link VxlanBackend}. */
export interface VxlanEvents {
  /** A socket error. */
  error: (err: NetError) => void;
}

interface Remote {
  host: string;
  port: number;
  key: string;
  counters: VxlanRemoteCounters;
}

interface FdbEntry {
  remote: Remote;
  lastSeen: number;
}

const newDrops = (): VxlanDrops => ({ runt: 0, flags: 0, reserved: 0, vni: 0, tooBig: 0, sendError: 0, backlog: 0 });
/** 802.1Q tag: a tagged inner frame may be 4 bytes longer than an untagged one. */
const ETHERTYPE_VLAN = 0x8100;
const VLAN_TAG_LEN = 4;

/**
 * A VXLAN tunnel endpoint (VTEP, RFC 7348) for one segment (one VNI): an uplink that carries the
 * segment's Ethernet frames in UDP to one or more remote VTEPs: the Linux kernel's `vxlan` link,
 * Open vSwitch, another `vbus serve`. Cable it to a switch like any uplink:
 * `connectBackends(theSwitch, await VxlanBackend.open({ vni: 42, remotes: [{ host: '192.0.2.7' }] }), { name: 'vxlan' })`.
 *
 * Toward the remotes it floods broadcast, multicast and unknown unicast to every remote and
 * sends known unicast to the remote whose VTEP the inner source address was last seen behind
 * (a forwarding table learned from received frames, aged out lazily after `ageMs` with the
 * injected clock). It never relays a frame from one remote to another (split horizon, as the
 * kernel's vxlan device). Datagrams are accepted only from configured remotes, matched by
 * address and port, or by address alone (the kernel picks its UDP source port per flow).
 * Every datagram is checked before it is read: header length, flags, reserved fields, VNI, inner
 * length. Frames larger than the inner MTU are dropped and counted (`tooBig`), not fragmented.
 */
export class VxlanBackend extends SocketBackendBase<VxlanEvents, VxlanCounters> {
  readonly kind = 'vxlan';
  readonly name: string;
  readonly vni: number;
  /** The largest inner IP packet: outer MTU minus 50 (IPv4 underlay) or 70 (IPv6). */
  readonly innerMtu: number;
  readonly counters: VxlanCounters = {
    ...newSocketBackendCounters(),
    drops: newDrops(),
    foreign: 0,
    flooded: 0,
    forwarded: 0,
    learned: 0,
    moved: 0,
    expired: 0,
    tableFull: 0,
    errors: 0,
  };
  private readonly remoteList: Remote[];
  private readonly fdb = new Map<number, FdbEntry>();
  private readonly ageMs: number;
  private readonly maxEntries: number;
  private readonly clock: Clock;
  private readonly maxQueued: number;

  private constructor(
    private readonly socket: Socket,
    options: VxlanOptions,
    remotes: Remote[],
    innerMtu: number,
  ) {
    super();
    this.vni = options.vni;
    this.innerMtu = innerMtu;
    this.remoteList = remotes;
    this.ageMs = options.ageMs ?? 300_000;
    this.maxEntries = options.maxEntries ?? 4096;
    this.clock = options.clock ?? systemClock;
    this.maxQueued = options.maxQueuedDatagrams ?? 1024;
    const a = socket.address();
    this.name = options.name ?? `vxlan ${options.vni} ${a.address}:${a.port}`;
    socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
    socket.on('error', (err) => {
      this.counters.errors++;
      this.emit('error', new NetError(this.name, 'socket', undefined, err.message, { cause: err }));
    });
  }

  /**
   * Check the options, bind the local UDP socket and make the backend. Throws a ConfigError that
   * names the option for a bad VNI, address, port, MTU or age; a NetError if the bind fails.
   */
  static async open(options: VxlanOptions): Promise<VxlanBackend> {
    const { vni } = options;
    if (!Number.isInteger(vni) || vni < 0 || vni > VXLAN_VNI_MAX) throw new ConfigError('vni', vni, `must be an integer 0..${VXLAN_VNI_MAX}`);
    if (!Array.isArray(options.remotes) || options.remotes.length === 0) throw new ConfigError('remotes', options.remotes, 'give at least one remote VTEP');
    const remotes: Remote[] = [];
    for (const [i, r] of options.remotes.entries()) {
      const host = checkHost(`remotes[${i}].host`, r.host);
      const port = checkPort(`remotes[${i}].port`, r.port ?? VXLAN_PORT, false);
      const key = `${host.includes(':') ? `[${host}]` : host}:${port}`;
      if (remotes.some((x) => x.key === key)) throw new ConfigError(`remotes[${i}]`, key, 'is given twice');
      remotes.push({ host, port, key, counters: { framesIn: 0, bytesIn: 0, framesOut: 0, bytesOut: 0, drops: newDrops() } });
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
    if (options.maxEntries !== undefined && !(Number.isInteger(options.maxEntries) && options.maxEntries >= 0)) throw new ConfigError('maxEntries', options.maxEntries, 'must be an integer >= 0');
    const mq = options.maxQueuedDatagrams;
    if (mq !== undefined && !(Number.isInteger(mq) && mq > 0)) throw new ConfigError('maxQueuedDatagrams', mq, 'must be a positive integer');
    const socket = createSocket(v6 ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      const where = `${localHost}:${localPort}`;
      const onError = (err: Error): void => reject(new NetError(`vxlan ${vni} ${where}`, 'socket', where, `cannot bind the VXLAN UDP socket: ${err.message}`, { cause: err }));
      socket.once('error', onError);
      socket.bind(localPort, localHost, () => {
        socket.off('error', onError);
        resolve();
      });
    });
    return new VxlanBackend(socket, options, remotes, outerMtu - overhead);
  }

  /** The bound local address. */
  address(): { host: string; port: number } {
    const a = this.socket.address();
    return { host: a.address, port: a.port };
  }

  /** The remote VTEPs with their counters (live objects). */
  remotes(): VxlanRemoteInfo[] {
    return this.remoteList.map((r) => ({ host: r.host, port: r.port, counters: r.counters }));
  }

  /** The learned forwarding table (expired entries left out). */
  entries(): VxlanFdbEntry[] {
    const t = this.clock.now();
    const out: VxlanFdbEntry[] = [];
    for (const [mac, e] of this.fdb) {
      if (t - e.lastSeen > this.ageMs) continue;
      const b = new Uint8Array(6);
      for (let i = 5, v = mac; i >= 0; i--, v = Math.floor(v / 256)) b[i] = v % 256;
      out.push({ mac: formatMac(b), remote: e.remote.key, ageMs: t - e.lastSeen });
    }
    return out;
  }

  /** The remote VTEP an inner MAC was learned behind, as `host:port`, if any (and not expired). */
  lookup(mac: Uint8Array): string | undefined {
    return this.find(macToNumber(mac))?.remote.key;
  }

  /** Close the UDP socket; every attached port is disconnected. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.port?.disconnect();
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  private find(key: number): FdbEntry | undefined {
    const e = this.fdb.get(key);
    if (e === undefined) return undefined;
    if (this.clock.now() - e.lastSeen > this.ageMs) {
      this.fdb.delete(key);
      this.counters.expired++;
      return undefined;
    }
    return e;
  }

  private remoteOf(rinfo: RemoteInfo): Remote | undefined {
    const addr = unmap(rinfo.address);
    let byHost: Remote | undefined;
    for (const r of this.remoteList) {
      if (r.host !== addr) continue;
      if (r.port === rinfo.port) return r;
      byHost ??= r;
    }
    return byHost;
  }

  private onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    const c = this.counters;
    const remote = this.remoteOf(rinfo);
    if (remote === undefined) {
      c.foreign++;
      return;
    }
    const rc = remote.counters;
    const h = decodeVxlanHeader(msg);
    if ('problem' in h) {
      rc.drops[h.problem]++;
      c.drops[h.problem]++;
      return;
    }
    if (h.vni !== this.vni) {
      rc.drops.vni++;
      c.drops.vni++;
      return;
    }
    if (msg.length < VXLAN_HLEN + ETH_HLEN) {
      rc.drops.runt++;
      c.drops.runt++;
      return;
    }
    const frame = msg.subarray(VXLAN_HLEN);
    rc.framesIn++;
    rc.bytesIn += frame.length;
    this.learn(frame, remote);
    this.fromPeer(frame);
  }

  private learn(frame: Uint8Array, remote: Remote): void {
    if (isGroupMac(frame, 6)) return;
    const key = macToNumber(frame, 6);
    const c = this.counters;
    const e = this.find(key);
    if (e !== undefined) {
      if (e.remote !== remote) {
        e.remote = remote;
        c.moved++;
      }
      e.lastSeen = this.clock.now();
      return;
    }
    if (this.fdb.size >= this.maxEntries) {
      this.purgeExpired();
      if (this.fdb.size >= this.maxEntries) {
        c.tableFull++;
        return;
      }
    }
    this.fdb.set(key, { remote, lastSeen: this.clock.now() });
    c.learned++;
  }

  private purgeExpired(): void {
    const t = this.clock.now();
    for (const [k, e] of this.fdb) {
      if (t - e.lastSeen > this.ageMs) {
        this.fdb.delete(k);
        this.counters.expired++;
      }
    }
  }

  protected send(frame: Uint8Array): boolean {
    const c = this.counters;
    if (this.closed || frame.length < ETH_HLEN) {
      c.dropsNoPeer++;
      return false;
    }
    const known = isGroupMac(frame, 0) ? undefined : this.find(macToNumber(frame, 0));
    const targets = known !== undefined ? [known.remote] : this.remoteList;
    const tagged = ((frame[12]! << 8) | frame[13]!) === ETHERTYPE_VLAN;
    if (frame.length > this.innerMtu + ETH_HLEN + (tagged ? VLAN_TAG_LEN : 0)) {
      for (const r of targets) r.counters.drops.tooBig++;
      c.drops.tooBig++;
      return false;
    }
    if (this.socket.getSendQueueCount() + targets.length > this.maxQueued) {
      for (const r of targets) r.counters.drops.backlog++;
      c.drops.backlog++;
      return false;
    }
    if (known !== undefined) c.forwarded++;
    else c.flooded++;
    // The frame is only valid during this call; the socket keeps the datagram until it is sent.
    const datagram = Buffer.allocUnsafe(VXLAN_HLEN + frame.length);
    encodeVxlanHeader(datagram, 0, this.vni);
    datagram.set(frame, VXLAN_HLEN);
    for (const r of targets) {
      const rc = r.counters;
      rc.framesOut++;
      rc.bytesOut += frame.length;
      this.socket.send(datagram, r.port, r.host, (err) => {
        if (err) {
          rc.drops.sendError++;
          c.drops.sendError++;
        }
      });
    }
    this.countOut(frame);
    return true;
  }
}

function checkHost(option: string, host: unknown): string {
  if (typeof host !== 'string' || isIP(unmap(host)) === 0) throw new ConfigError(option, host, 'must be an IPv4 or IPv6 address literal');
  return unmap(host);
}

function checkPort(option: string, port: unknown, zeroOk: boolean): number {
  if (!Number.isInteger(port) || (port as number) < (zeroOk ? 0 : 1) || (port as number) > 65535) throw new ConfigError(option, port, `must be an integer ${zeroOk ? 0 : 1}..65535`);
  return port as number;
}

/** `::ffff:1.2.3.4` → `1.2.3.4`. */
function unmap(addr: string): string {
  return addr.startsWith('::ffff:') && addr.includes('.') ? addr.slice(7) : addr;
}
