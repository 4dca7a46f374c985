import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { systemClock } from '@vbus/core';
import { NetError } from '../common/backend/net-error.js';
import { decodeVxlanHeader, encodeVxlanHeader, VXLAN_HLEN } from '../common/backend/vxlan-header.js';
import { ETH_HLEN, isGroupMac, macToNumber } from '../common/packet/index.js';
import { newSocketBackendCounters, SocketBackendBase } from './socket-backend-base.js';
import { newVxlanDrops, type VxlanCounters, type VxlanRemoteInfo } from './vxlan-counters.js';
import { VxlanFdb, type VxlanFdbEntry } from './vxlan-fdb.js';
import { checkVxlanOptions, unmapIpv4, type VxlanOptions, type VxlanRemote } from './vxlan-options.js';

/** Events of a {@link VxlanBackend}. */
export interface VxlanEvents {
  /** A socket error. */
  error: (err: NetError) => void;
}

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
    drops: newVxlanDrops(),
    foreign: 0,
    flooded: 0,
    forwarded: 0,
    learned: 0,
    moved: 0,
    expired: 0,
    tableFull: 0,
    errors: 0,
  };
  private readonly remoteList: VxlanRemote[];
  private readonly fdb: VxlanFdb<VxlanRemote>;
  private readonly maxQueued: number;

  private constructor(
    private readonly socket: Socket,
    options: VxlanOptions,
    remotes: VxlanRemote[],
    innerMtu: number,
  ) {
    super();
    this.vni = options.vni;
    this.innerMtu = innerMtu;
    this.remoteList = remotes;
    this.fdb = new VxlanFdb(this.counters, options.clock ?? systemClock, options.ageMs ?? 300_000, options.maxEntries ?? 4096);
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
    const { remotes, v6, localHost, localPort, innerMtu } = checkVxlanOptions(options);
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
    return new VxlanBackend(socket, options, remotes, innerMtu);
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
    return this.fdb.entries();
  }

  /** The remote VTEP an inner MAC was learned behind, as `host:port`, if any (and not expired). */
  lookup(mac: Uint8Array): string | undefined {
    return this.fdb.find(macToNumber(mac))?.key;
  }

  /** Close the UDP socket; every attached port is disconnected. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.port?.disconnect();
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  private remoteOf(rinfo: RemoteInfo): VxlanRemote | undefined {
    const addr = unmapIpv4(rinfo.address);
    let byHost: VxlanRemote | undefined;
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
    this.fdb.learn(frame, remote);
    this.fromPeer(frame);
  }

  protected send(frame: Uint8Array): boolean {
    const c = this.counters;
    if (this.closed || frame.length < ETH_HLEN) {
      c.dropsNoPeer++;
      return false;
    }
    const known = isGroupMac(frame, 0) ? undefined : this.fdb.find(macToNumber(frame, 0));
    const targets = known !== undefined ? [known] : this.remoteList;
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
