// The responder's parts live beside it: configuration (responder-config.ts), ARP resolution
// (arp-resolver.ts, arp-cache.ts), outstanding pings (ping-waiters.ts), reply rules
// (reply-policy.ts); this file is the host itself: what it does with each frame it receives.
import { EventEmitter } from 'eventemitter3';
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
  parseIpv4Frame,
  parseUdpFrame,
  sameSubnet,
} from '../packet/index.js';
import { ArpCache } from './arp-cache.js';
import { ArpResolver } from './arp-resolver.js';
import { PingWaiters, pingKey } from './ping-waiters.js';
import { echoAllowedFrom, isUnicastSource } from './reply-policy.js';
import { checkResponderConfig, parseAddress, type GuestResponderConfig, type ResponderSettings } from './responder-config.js';
import { newResponderCounters, type GuestResponderEvents, type PingReply, type ResponderCounters } from './responder-types.js';

/**
 * A minimal IPv4 host for the guest side of any NIC: it answers ARP requests for its address,
 * ICMP echo requests (any size up to the MTU) and UDP echo, and it can ping and send UDP itself,
 * resolving MAC addresses by ARP first. Connect it to a backend as the NIC's sink
 * (`backend.attach(nic, responder)`) and give it the port's `deliver` as transmit function.
 * Replies are sent synchronously from inside `receive`. Its timers (ARP retries, ping timeouts)
 * run on the configured scheduler and its clock is the configured clock, so under an embedder's
 * virtual time it times out in virtual time.
 */
export class GuestResponder extends EventEmitter<GuestResponderEvents> implements FrameSink {
  readonly counters: ResponderCounters = newResponderCounters();
  readonly name: string;
  readonly mac: Uint8Array;
  readonly ip: Uint8Array;
  readonly mtu: number;
  private readonly settings: ResponderSettings;
  private readonly arpCache: ArpCache;
  private readonly arp: ArpResolver;
  private readonly pings: PingWaiters;
  private nextPingId = 1;
  private nextIpId = 1;

  constructor(
    config: GuestResponderConfig,
    private transmit: (frame: Uint8Array) => boolean = () => false,
  ) {
    super();
    const s = checkResponderConfig(config);
    this.settings = s;
    this.name = s.name;
    this.mac = s.mac;
    this.ip = s.ip;
    this.mtu = s.mtu;
    this.arpCache = new ArpCache(s.arpCacheSize, s.arpAgeMs, s.clock);
    this.arp = new ArpResolver(s.name, this.arpCache, s.scheduler, s.timeoutMs, (target) => this.sendArpRequest(target));
    this.pings = new PingWaiters(s.name, s.scheduler, s.clock, s.timeoutMs);
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
    return this.arp.resolve(ip, parseAddress('ip', ip));
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
    const key = pingKey(echoId, echoSeq);
    if (this.pings.has(key)) throw new NetError(this.name, 'busy', `${echoId}/${echoSeq}`, 'a ping with this id and seq is already waiting');
    return this.pings.wait(key, ip, size, () => {
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
      return this.send(frame);
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
    return this.send(buildUdpFrame({ srcMac: this.mac, dstMac: mac, srcIp: this.ip, dstIp: dst, srcPort, dstPort, data, ipId: this.takeIpId() }));
  }

  /** Reject every waiting ping and resolution and cancel their timers. */
  close(): void {
    const err = new NetError(this.name, 'closed', undefined, 'the responder was closed');
    this.pings.close(err);
    this.arp.close(err);
  }

  private nextHop(dst: Uint8Array): string {
    const s = this.settings;
    if (sameSubnet(dst, this.ip, s.prefixLength)) return formatIpv4(dst);
    if (s.gateway) return formatIpv4(s.gateway);
    throw new NetError(this.name, 'no-route', formatIpv4(dst), `no route: outside ${this.address}/${s.prefixLength} and no gateway`);
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
    this.send(buildArpFrame({ op: ARP_OP_REQUEST, senderMac: this.mac, senderIp: this.ip, targetMac: new Uint8Array(6), targetIp: target }));
  }

  private learn(ipBytes: Uint8Array, mac: Uint8Array): void {
    if (isGroupMac(mac) || !isUnicastSource(ipBytes, this.ip, this.settings.prefixLength)) return;
    const ip = formatIpv4(ipBytes);
    this.arpCache.set(ip, mac);
    this.emit('arp', ip, formatMac(mac));
    this.arp.learned(ip, mac);
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
      this.send(buildArpFrame({ op: ARP_OP_REPLY, senderMac: this.mac, senderIp: this.ip, targetMac: arp.senderMac, targetIp: arp.senderIp }));
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
    if (!isUnicastSource(ip.src, this.ip, this.settings.prefixLength)) {
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
      const key = pingKey(echo.id, echo.seq);
      const reply: PingReply = { from: formatIpv4(echo.ip.src), id: echo.id, seq: echo.seq, size: echo.dataLength, ttl: echo.ip.ttl, rttMs: this.pings.rtt(key) };
      this.emit('echo-reply', reply);
      this.pings.answer(key, reply);
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
    const echoPort = this.settings.udpEchoPort;
    if (echoPort !== 0 && udp.dstPort === echoPort && !echoAllowedFrom(udp.srcPort, echoPort)) {
      this.counters.udpEchoRefused++;
    } else if (echoPort !== 0 && udp.dstPort === echoPort) {
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
