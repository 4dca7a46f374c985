// One file on purpose (about 500 lines): a tiny IPv4 host (ARP cache, ping, UDP echo) whose parts
// share its address state; the packet codec it uses is split by protocol under ../packet.
import { EventEmitter } from 'eventemitter3';
import { ConfigError } from '@vbus/core';
import type { FrameOffload, FrameSink } from '../backend/net-backend.js';
import { NetError } from '../backend/net-error.js';
import {
  ARP_OP_REPLY,
  ARP_OP_REQUEST,
  ETH_HLEN,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ICMP_ECHO_HLEN,
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
  IPPROTO_ICMP,
  IPPROTO_UDP,
  IPV4_HLEN,
  UDP_HLEN,
  buildArpFrame,
  buildIcmpEchoFrame,
  buildUdpFrame,
  bytesEqual,
  etherType,
  formatIpv4,
  formatMac,
  isGroupMac,
  parseArpFrame,
  parseIcmpEchoFrame,
  parseIpv4,
  parseIpv4Frame,
  parseUdpFrame,
  sameSubnet,
} from '../packet/index.js';
import { ARP_CACHE_DEFAULT_AGE_MS, ARP_CACHE_DEFAULT_SIZE, ArpCache } from './arp-cache.js';
import { echoAllowedFrom, isUnicastSource } from './reply-policy.js';

/** Configuration of a {@link GuestResponder}. */
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
  /** The clock in ms for ARP aging; inject a fake or virtual clock. Default `Date.now`. */
  now?: () => number;
}

/** What the responder saw and did. */
export interface ResponderCounters {
  rxFrames: number;
  txFrames: number;
  /** Frames the transmit function refused. */
  txRefused: number;
  arpRequestsIn: number;
  arpRepliesOut: number;
  arpRequestsOut: number;
  arpRepliesIn: number;
  echoRequestsIn: number;
  echoRepliesOut: number;
  echoRequestsOut: number;
  echoRepliesIn: number;
  udpIn: number;
  udpOut: number;
  udpEchoed: number;
  /** Frames not for it or of a kind it does not handle. */
  ignored: number;
  /** Frames with a wrong IP, ICMP or UDP checksum. */
  badChecksum: number;
  /** UDP datagrams to the echo port not echoed because they came from a service port (loop guard). */
  udpEchoRefused: number;
  /** Frames not answered because their source MAC or IPv4 address is a group/broadcast one. */
  groupSource: number;
}

/** An answered ping. */
export interface PingReply {
  from: string;
  id: number;
  seq: number;
  /** ICMP data bytes. */
  size: number;
  ttl: number;
  rttMs: number;
}

/** A UDP datagram the responder received (data copied). */
export interface UdpMessage {
  srcIp: string;
  srcPort: number;
  dstPort: number;
  data: Uint8Array;
}

/** Events of a {@link GuestResponder}. */
export interface GuestResponderEvents {
  /** A UDP datagram arrived for it (also for the echo port). */
  udp: (msg: UdpMessage) => void;
  /** An echo reply arrived (whether or not a `ping` waits for it). */
  'echo-reply': (reply: PingReply) => void;
  /** It learned or refreshed an ARP entry. */
  arp: (ip: string, mac: string) => void;
}

interface Waiter<T> {
  resolve: (v: T) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

interface PendingPing extends Waiter<PingReply> {
  sentAt: number;
  size: number;
}

/**
 * A minimal IPv4 host for the guest side of any NIC: it answers ARP requests for its address,
 * ICMP echo requests (any size up to the MTU) and UDP echo, and it can ping and send UDP itself,
 * resolving MAC addresses by ARP first. Connect it to a backend as the NIC's sink
 * (`backend.attach(nic, responder)`) and give it the port's `deliver` as transmit function.
 * Replies are sent synchronously from inside `receive`.
 */
export class GuestResponder extends EventEmitter<GuestResponderEvents> implements FrameSink {
  readonly counters: ResponderCounters = {
    rxFrames: 0,
    txFrames: 0,
    txRefused: 0,
    arpRequestsIn: 0,
    arpRepliesOut: 0,
    arpRequestsOut: 0,
    arpRepliesIn: 0,
    echoRequestsIn: 0,
    echoRepliesOut: 0,
    echoRequestsOut: 0,
    echoRepliesIn: 0,
    udpIn: 0,
    udpOut: 0,
    udpEchoed: 0,
    ignored: 0,
    badChecksum: 0,
    udpEchoRefused: 0,
    groupSource: 0,
  };
  readonly name: string;
  readonly mac: Uint8Array;
  readonly ip: Uint8Array;
  readonly mtu: number;
  private readonly prefixLength: number;
  private readonly gateway: Uint8Array | undefined;
  private readonly timeoutMs: number;
  private readonly udpEchoPort: number;
  private readonly arpCache: ArpCache;
  private readonly arpWaiters = new Map<string, Waiter<Uint8Array>[]>();
  private readonly pings = new Map<number, PendingPing>();
  private nextPingId = 1;
  private nextIpId = 1;

  constructor(
    config: GuestResponderConfig,
    private transmit: (frame: Uint8Array) => boolean = () => false,
  ) {
    super();
    if (!(config.mac instanceof Uint8Array) || config.mac.length !== 6 || isGroupMac(config.mac)) {
      throw new ConfigError('mac', config.mac, 'must be 6 bytes of a unicast MAC address');
    }
    this.name = config.name ?? 'responder';
    this.mac = Uint8Array.from(config.mac);
    this.ip = parseAddress('ip', config.ip);
    this.prefixLength = config.prefixLength ?? 24;
    if (!Number.isInteger(this.prefixLength) || this.prefixLength < 0 || this.prefixLength > 32) {
      throw new ConfigError('prefixLength', config.prefixLength, 'must be an integer 0..32');
    }
    this.gateway = config.gateway === undefined ? undefined : parseAddress('gateway', config.gateway);
    this.mtu = config.mtu ?? 1500;
    if (!Number.isInteger(this.mtu) || this.mtu < 68 || this.mtu > 65535) throw new ConfigError('mtu', config.mtu, 'must be an integer 68..65535');
    this.timeoutMs = config.timeoutMs ?? 3000;
    this.udpEchoPort = config.udpEchoPort ?? 7;
    const arpSize = config.arpCacheSize ?? ARP_CACHE_DEFAULT_SIZE;
    if (!Number.isInteger(arpSize) || arpSize < 0) throw new ConfigError('arpCacheSize', config.arpCacheSize, 'must be a non-negative integer');
    const arpAge = config.arpAgeMs ?? ARP_CACHE_DEFAULT_AGE_MS;
    if (!(arpAge > 0)) throw new ConfigError('arpAgeMs', config.arpAgeMs, 'must be a positive number of milliseconds');
    this.arpCache = new ArpCache(arpSize, arpAge, config.now ?? Date.now);
  }

  /** ARP cache figures: entries, and entries dropped for room or aged out. */
  get arpStats(): { size: number; evicted: number; expired: number } {
    return { size: this.arpCache.size, evicted: this.arpCache.evicted, expired: this.arpCache.expired };
  }

  /** Set the function frames are sent with (usually the backend port's `deliver`). */
  setTransmit(transmit: (frame: Uint8Array) => boolean): void {
    this.transmit = transmit;
  }

  /** The IPv4 address as text. */
  get address(): string {
    return formatIpv4(this.ip);
  }

  /** FrameSink: same as {@link receive}. Offload metadata is ignored (the responder checks checksums itself). */
  deliver(frame: Uint8Array, _offload?: FrameOffload): boolean {
    return this.receive(frame);
  }

  /** Take one frame from the network. Returns false if it was ignored. Never throws on bad input. */
  receive(frame: Uint8Array): boolean {
    this.counters.rxFrames++;
    if (frame.length < ETH_HLEN || (!isGroupMac(frame, 0) && !bytesEqual(frame, 0, this.mac, 0, 6))) return this.ignore();
    // a group source MAC is never a host: nothing it sends is answered (no reply storms)
    if (isGroupMac(frame, 6)) {
      this.counters.groupSource++;
      return false;
    }
    const type = etherType(frame);
    if (type === ETHERTYPE_ARP) return this.onArp(frame);
    if (type === ETHERTYPE_IPV4) return this.onIpv4(frame);
    return this.ignore();
  }

  /** The learned ARP entries, IP to MAC text. */
  arpTable(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [ip, mac] of this.arpCache.entries()) out[ip] = formatMac(mac);
    return out;
  }

  /**
   * Resolve an IPv4 address in the subnet to a MAC: from the cache or by ARP request (retried
   * up to 3 times within the timeout). Rejects with a NetError (`reason` `"timeout"`).
   */
  resolve(ip: string): Promise<Uint8Array> {
    const cached = this.arpCache.get(ip);
    if (cached) return Promise.resolve(Uint8Array.from(cached));
    const target = parseAddress('ip', ip);
    return new Promise<Uint8Array>((resolve, reject) => {
      let list = this.arpWaiters.get(ip);
      const first = list === undefined;
      if (!list) {
        list = [];
        this.arpWaiters.set(ip, list);
      }
      const waiter: Waiter<Uint8Array> = { resolve, reject, timer: undefined };
      list.push(waiter);
      if (!first) return;
      let tries = 0;
      const attempt = (): void => {
        if (this.arpWaiters.get(ip) !== list) return;
        if (tries === 3) {
          this.arpWaiters.delete(ip);
          const err = new NetError(this.name, 'timeout', ip, `no ARP reply from ${ip} within ${this.timeoutMs} ms`);
          for (const w of list!) w.reject(err);
          return;
        }
        tries++;
        this.sendArpRequest(target);
        waiter.timer = this.timeoutMs > 0 ? setTimeout(attempt, this.timeoutMs / 3) : undefined;
      };
      attempt();
    });
  }

  /**
   * Send an ICMP echo request with `size` data bytes and wait for the reply. The id defaults to
   * a per-responder counter, seq to 1. Rejects with a NetError on timeout, if the size does not
   * fit the MTU, or if the frame cannot be sent.
   */
  async ping(ip: string, size = 56, id?: number, seq = 1): Promise<PingReply> {
    if (!Number.isInteger(size) || size < 0 || size > this.mtu - IPV4_HLEN - ICMP_ECHO_HLEN) {
      throw new NetError(this.name, 'size', size, `echo data must be 0..${this.mtu - IPV4_HLEN - ICMP_ECHO_HLEN} bytes for MTU ${this.mtu}`);
    }
    const echoId = (id ?? this.nextPingId++) & 0xffff;
    const echoSeq = seq & 0xffff;
    const dst = parseAddress('ip', ip);
    const mac = await this.resolve(this.nextHop(dst));
    const data = new Uint8Array(size);
    for (let i = 0; i < size; i++) data[i] = i & 0xff;
    const key = echoId * 0x10000 + echoSeq;
    if (this.pings.has(key)) throw new NetError(this.name, 'busy', `${echoId}/${echoSeq}`, 'a ping with this id and seq is already waiting');
    return new Promise<PingReply>((resolve, reject) => {
      const pending: PendingPing = { resolve, reject, timer: undefined, sentAt: performance.now(), size };
      this.pings.set(key, pending);
      if (this.timeoutMs > 0) {
        pending.timer = setTimeout(() => {
          this.pings.delete(key);
          reject(new NetError(this.name, 'timeout', ip, `no echo reply from ${ip} (id ${echoId}, seq ${echoSeq}) within ${this.timeoutMs} ms`));
        }, this.timeoutMs);
      }
      this.counters.echoRequestsOut++;
      const frame = buildIcmpEchoFrame({
        srcMac: this.mac,
        dstMac: mac,
        srcIp: this.ip,
        dstIp: dst,
        type: ICMP_ECHO_REQUEST,
        id: echoId,
        seq: echoSeq,
        data,
        ipId: this.takeIpId(),
      });
      if (!this.send(frame)) {
        this.pings.delete(key);
        if (pending.timer !== undefined) clearTimeout(pending.timer);
        reject(new NetError(this.name, 'tx-refused', ip, 'the echo request could not be sent'));
      }
    });
  }

  /**
   * Send a UDP datagram (resolving the MAC first). Resolves to whether the frame was accepted
   * by the transmit function; rejects when the address cannot be resolved or the data is too big.
   */
  async sendUdp(ip: string, dstPort: number, data: Uint8Array, srcPort = 49152): Promise<boolean> {
    if (data.length > this.mtu - IPV4_HLEN - UDP_HLEN) {
      throw new NetError(this.name, 'size', data.length, `UDP data must be at most ${this.mtu - IPV4_HLEN - UDP_HLEN} bytes for MTU ${this.mtu}`);
    }
    const dst = parseAddress('ip', ip);
    const mac = await this.resolve(this.nextHop(dst));
    this.counters.udpOut++;
    return this.send(
      buildUdpFrame({ srcMac: this.mac, dstMac: mac, srcIp: this.ip, dstIp: dst, srcPort, dstPort, data, ipId: this.takeIpId() }),
    );
  }

  /** Reject every waiting ping and resolution and clear their timers. */
  close(): void {
    const err = new NetError(this.name, 'closed', undefined, 'the responder was closed');
    for (const p of this.pings.values()) {
      if (p.timer !== undefined) clearTimeout(p.timer);
      p.reject(err);
    }
    this.pings.clear();
    for (const list of this.arpWaiters.values()) {
      for (const w of list) {
        if (w.timer !== undefined) clearTimeout(w.timer);
        w.reject(err);
      }
    }
    this.arpWaiters.clear();
  }

  private nextHop(dst: Uint8Array): string {
    if (sameSubnet(dst, this.ip, this.prefixLength)) return formatIpv4(dst);
    if (this.gateway) return formatIpv4(this.gateway);
    throw new NetError(this.name, 'no-route', formatIpv4(dst), `no route: outside ${this.address}/${this.prefixLength} and no gateway`);
  }

  private takeIpId(): number {
    const id = this.nextIpId;
    this.nextIpId = (id + 1) & 0xffff;
    return id;
  }

  private ignore(): false {
    this.counters.ignored++;
    return false;
  }

  private send(frame: Uint8Array): boolean {
    if (this.transmit(frame)) {
      this.counters.txFrames++;
      return true;
    }
    this.counters.txRefused++;
    return false;
  }

  private sendArpRequest(target: Uint8Array): void {
    this.counters.arpRequestsOut++;
    this.send(
      buildArpFrame({ op: ARP_OP_REQUEST, senderMac: this.mac, senderIp: this.ip, targetMac: new Uint8Array(6), targetIp: target }),
    );
  }

  private learn(ipBytes: Uint8Array, mac: Uint8Array): void {
    if (isGroupMac(mac) || !isUnicastSource(ipBytes, this.ip, this.prefixLength)) return;
    const ip = formatIpv4(ipBytes);
    this.arpCache.set(ip, Uint8Array.from(mac));
    this.emit('arp', ip, formatMac(mac));
    const list = this.arpWaiters.get(ip);
    if (list) {
      this.arpWaiters.delete(ip);
      for (const w of list) {
        if (w.timer !== undefined) clearTimeout(w.timer);
        w.resolve(Uint8Array.from(mac));
      }
    }
  }

  private onArp(frame: Uint8Array): boolean {
    const arp = parseArpFrame(frame);
    if (!arp) return this.ignore();
    const forMe = bytesEqual(arp.targetIp, 0, this.ip, 0, 4);
    if (arp.op === ARP_OP_REQUEST) {
      if (!forMe) return this.ignore();
      this.counters.arpRequestsIn++;
      this.learn(arp.senderIp, arp.senderMac);
      this.counters.arpRepliesOut++;
      this.send(
        buildArpFrame({ op: ARP_OP_REPLY, senderMac: this.mac, senderIp: this.ip, targetMac: arp.senderMac, targetIp: arp.senderIp }),
      );
      return true;
    }
    if (arp.op === ARP_OP_REPLY && forMe) {
      this.counters.arpRepliesIn++;
      this.learn(arp.senderIp, arp.senderMac);
      return true;
    }
    return this.ignore();
  }

  private onIpv4(frame: Uint8Array): boolean {
    const ip = parseIpv4Frame(frame);
    if (!ip) return this.ignore();
    if (!ip.checksumOk) {
      this.counters.badChecksum++;
      return false;
    }
    if (!bytesEqual(ip.dst, 0, this.ip, 0, 4) || ip.moreFragments || ip.fragmentOffset !== 0) return this.ignore();
    if (!isUnicastSource(ip.src, this.ip, this.prefixLength)) {
      this.counters.groupSource++;
      return false;
    }
    if (ip.protocol === IPPROTO_ICMP) return this.onIcmp(frame);
    if (ip.protocol === IPPROTO_UDP) return this.onUdp(frame);
    return this.ignore();
  }

  private onIcmp(frame: Uint8Array): boolean {
    const echo = parseIcmpEchoFrame(frame);
    if (!echo || echo.code !== 0) return this.ignore();
    if (!echo.checksumOk) {
      this.counters.badChecksum++;
      return false;
    }
    if (echo.type === ICMP_ECHO_REQUEST) {
      this.counters.echoRequestsIn++;
      if (echo.ip.totalLength > this.mtu) return this.ignore();
      this.counters.echoRepliesOut++;
      this.send(
        buildIcmpEchoFrame({
          srcMac: this.mac,
          dstMac: frame.subarray(6, 12),
          srcIp: this.ip,
          dstIp: echo.ip.src,
          type: ICMP_ECHO_REPLY,
          id: echo.id,
          seq: echo.seq,
          data: frame.subarray(echo.dataOffset, echo.dataOffset + echo.dataLength),
          ipId: this.takeIpId(),
        }),
      );
      return true;
    }
    if (echo.type === ICMP_ECHO_REPLY) {
      this.counters.echoRepliesIn++;
      const key = echo.id * 0x10000 + echo.seq;
      const pending = this.pings.get(key);
      const reply: PingReply = {
        from: formatIpv4(echo.ip.src),
        id: echo.id,
        seq: echo.seq,
        size: echo.dataLength,
        ttl: echo.ip.ttl,
        rttMs: pending ? performance.now() - pending.sentAt : 0,
      };
      this.emit('echo-reply', reply);
      if (pending && pending.size === echo.dataLength) {
        this.pings.delete(key);
        if (pending.timer !== undefined) clearTimeout(pending.timer);
        pending.resolve(reply);
      }
      return true;
    }
    return this.ignore();
  }

  private onUdp(frame: Uint8Array): boolean {
    const udp = parseUdpFrame(frame);
    if (!udp) return this.ignore();
    if (!udp.checksumOk) {
      this.counters.badChecksum++;
      return false;
    }
    this.counters.udpIn++;
    const data = frame.slice(udp.dataOffset, udp.dataOffset + udp.dataLength);
    const srcIp = formatIpv4(udp.ip.src);
    if (this.udpEchoPort !== 0 && udp.dstPort === this.udpEchoPort && !echoAllowedFrom(udp.srcPort, this.udpEchoPort)) {
      this.counters.udpEchoRefused++;
    } else if (this.udpEchoPort !== 0 && udp.dstPort === this.udpEchoPort) {
      this.counters.udpEchoed++;
      this.send(
        buildUdpFrame({
          srcMac: this.mac,
          dstMac: frame.subarray(6, 12),
          srcIp: this.ip,
          dstIp: udp.ip.src,
          srcPort: udp.dstPort,
          dstPort: udp.srcPort,
          data,
          ipId: this.takeIpId(),
        }),
      );
    }
    this.emit('udp', { srcIp, srcPort: udp.srcPort, dstPort: udp.dstPort, data });
    return true;
  }
}

function parseAddress(option: string, text: string): Uint8Array {
  try {
    return parseIpv4(text);
  } catch {
    throw new ConfigError(option, text, 'must be a dotted-quad IPv4 address');
  }
}
