import { ConfigError, MicrotaskScheduler, systemClock, type Clock, type Scheduler } from '@vbus/core';
import type { FrameOffload, FrameSink, NetBackend, NetBackendPort, NicInfo, PortCounters } from './net-backend.js';
import { needsSoftwareOffload, SoftwareOffload } from './offload.js';
import { BackendPort } from './port.js';
import { MacTable, type MacTableEntryOf } from './mac-table.js';
import { checkLinkOptions, LinkLane, type LinkModel, type LinkOptions, type LinkStats } from './link.js';
import { bytesEqual, ETH_HLEN, formatMac, isGroupMac, macToNumber } from '../packet/index.js';

/** Options of a {@link LearningSwitch}. */
export interface LearningSwitchOptions {
  /** A name for introspection. */
  name?: string;
  /** How long a learned address stays without being seen again, in ms. Default 300 000 (300 s). */
  ageMs?: number;
  /** The most addresses the table holds; beyond it new addresses are not learned (frames flood). Default 4096. */
  maxEntries?: number;
  /**
   * The most addresses one port may have in the table; beyond it that port's new source
   * addresses are not learned (counted in `stats.portLimit`; frames still flood). Default 1024.
   */
  maxEntriesPerPort?: number;
  /**
   * The clock of address aging, in ms. Default: `scheduler` if given (time read and time
   * scheduled agree), else the system's monotonic clock.
   */
  clock?: Clock;
  /**
   * Where modelled links run their deliveries (`at`): the embedder's scheduler, e.g. a
   * VirtualTimeScheduler. Only links with a delay or a bandwidth use it. Default: a real-time
   * MicrotaskScheduler (timers).
   */
  scheduler?: Scheduler;
  /**
   * The link model of ports (latency, bandwidth, queue; link.ts), applied to each direction of
   * the port: frames the NIC sends cross it before the switch sees them, frames for the NIC cross
   * it after the switch forwarded them. One model for every port, or a function that picks per
   * port (by name: NICs attach themselves, e.g. as `"venet0"`); `attach(..., { link })` overrides
   * it for one port. Default: none (ideal wires: synchronous, no copy).
   */
  link?: LinkOptions | ((nic: NicInfo) => LinkOptions | undefined);
  /**
   * A sink that sees every frame entering the switch from any port (a SPAN port), e.g. a
   * PcapTap. It receives the frame with its offload metadata.
   */
  capture?: FrameSink;
}

/** Per-port options of {@link LearningSwitch.attach}. */
export interface SwitchAttachOptions {
  /** A sink that sees every frame this port sends into the switch and every frame sent to it. */
  capture?: FrameSink;
  /**
   * The port carries frames of many hosts (a socket backend, a patch cable, another switch): its
   * source MACs are not restricted to the NIC's. Default: `nic.uplink`, or true when `nic.mac`
   * is not a unicast address (all zero, as a patch cable reports). Other ports are NIC ports
   * with port security: they may only send from `nic.mac`.
   */
  uplink?: boolean;
  /** This port's link model (overrides the switch's `link`); see {@link LearningSwitchOptions.link}. */
  link?: LinkOptions;
}

/** One learned address. */
export interface MacTableEntry {
  mac: string;
  port: string;
  /** ms since the address was last seen as a source. */
  ageMs: number;
}

/** What the switch did with frames, beyond the per-port counters. */
export interface SwitchStats {
  /** Unicast frames sent to the one port that learned their destination. */
  forwarded: number;
  /** Frames sent to every other port (broadcast, multicast, unknown unicast). */
  flooded: number;
  /** Frames whose destination was learned on the port they came in on (discarded, as a bridge does). */
  filtered: number;
  /** Frames shorter than an Ethernet header (counted as drops on the ingress port too). */
  runts: number;
  learned: number;
  /** Addresses that moved from one port to another. */
  moved: number;
  expired: number;
  /** Addresses not learned because the table was full. */
  tableFull: number;
  /** Addresses not learned because their port had `maxEntriesPerPort` already. */
  portLimit: number;
  /**
   * Frames dropped by port security (counted as drops on the ingress port too): a NIC port sent
   * from a MAC other than its NIC's, or any port sent from a MAC a NIC port of this switch owns.
   */
  spoofed: number;
}

/** Introspection of one switch port. */
export interface SwitchPortInfo {
  name: string;
  counters: PortCounters;
  /** The port's modelled link, per direction, when it has one. */
  link?: { model: LinkModel; toSwitch: LinkStats; toNic: LinkStats };
}

class SwitchPort extends BackendPort {
  /** Delivers a plain frame toward the NIC; made once so software offload allocates no closure per frame. */
  readonly plain: FrameSink;
  /** Addresses learned on this port (kept by the MacTable). */
  learned = 0;
  /** The modelled link's two directions, or undefined for an ideal wire (the default, allocation-free path). */
  /** NIC to switch. */
  linkIn: LinkLane | undefined;
  /** Switch to NIC. */
  linkOut: LinkLane | undefined;
  /** The NIC's sink took a frame with `more` in the open burst and waits for its flush. */
  inBurst = false;
  constructor(
    name: string,
    readonly sink: FrameSink,
    readonly acceptsOffload: boolean,
    readonly capture: FrameSink | undefined,
    /** The only source MAC this port may send from (as a number), or -1 for an uplink. */
    readonly ownMac: number,
    /** The same address as bytes (null for an uplink): compared per frame without making a key. */
    readonly ownMacBytes: Uint8Array | null,
    transmit: (port: SwitchPort, frame: Uint8Array, offload: FrameOffload | undefined, more: boolean) => boolean,
    onDisconnect: (port: SwitchPort) => void,
    onFlush: () => void,
  ) {
    super(
      name,
      (frame, offload, p, more) => transmit(p as SwitchPort, frame, offload, more),
      (p) => onDisconnect(p as SwitchPort),
      onFlush,
    );
    this.plain = { deliver: (f) => this.toNic(sink, f) };
  }
}

/**
 * A learning Ethernet switch with any number of ports. It learns source addresses, forwards
 * known unicast to one port, floods broadcast, multicast and unknown unicast to every other port
 * and never sends a frame back out of the port it came in on. Learned addresses age out after
 * `ageMs` without traffic; expiry is lazy (checked on lookup), so aging runs no timers and
 * follows the injected clock. Forwarding is synchronous and allocates nothing per frame of its own
 * (a stream's repeated addresses are matched as bytes, not turned into keys), except
 * on ports given a link model (latency, bandwidth, queue: link.ts), whose frames are copied and
 * delivered at their arrival time by the injected scheduler.
 *
 * Port security: a port attached for a NIC may only send from the NIC's MAC, and no port may send
 * from a MAC that a NIC port of this switch owns; such frames are dropped (`stats.spoofed`, and a
 * drop on the ingress port). So a guest cannot steal another's unicast frames by spoofing its
 * address, and cannot blind the table by flooding source addresses. Uplinks (sockets, patch
 * cables) may send from any other address, up to `maxEntriesPerPort` learned.
 *
 * Anything that speaks frames can be a port, not only NICs: a socket backend through
 * {@link connectBackends}, a pcap tap through `attach`.
 */
export class LearningSwitch implements NetBackend {
  readonly kind = 'learning-switch';
  readonly name: string;
  readonly stats: SwitchStats = { forwarded: 0, flooded: 0, filtered: 0, runts: 0, learned: 0, moved: 0, expired: 0, tableFull: 0, portLimit: 0, spoofed: 0 };
  /** The engine that completes offloaded frames for ports that take only plain frames. */
  readonly offload = new SoftwareOffload();
  private readonly ageMs: number;
  private readonly maxEntries: number;
  private readonly clock: Clock;
  private readonly scheduler: Scheduler | undefined;
  private readonly link: LinkModel | ((nic: NicInfo) => LinkOptions | undefined) | undefined;
  private readonly capture: FrameSink | undefined;
  private readonly table: MacTable<SwitchPort>;
  /**
   * The last frame's source (with its ingress port) and destination addresses, as bytes, with the
   * table entries they resolved to, valid while the table's version is the one read with them. A
   * stream repeats both: six compared bytes then stand for turning each address into a 48-bit key
   * (a double, allocated per frame where it crosses a call) and a map lookup.
   */
  private readonly lastSrc = new Uint8Array(6);
  private lastSrcPort: SwitchPort | undefined;
  private lastSrcEntry: MacTableEntryOf<SwitchPort> | undefined;
  private lastSrcVersion = -1;
  private readonly lastDst = new Uint8Array(6);
  private lastDstEntry: MacTableEntryOf<SwitchPort> | undefined;
  private lastDstVersion = -1;
  /** MACs owned by NIC ports (with how many ports own each: a device may have several connections). */
  private readonly owned = new Map<number, number>();
  /** The scheduler of modelled links, made when the first one needs it. */
  private defaultScheduler: Scheduler | undefined;
  /** Replaced (never mutated) on attach/detach, so a flood in progress iterates a stable list. */
  private portList: readonly SwitchPort[] = [];
  /**
   * The clock's time read for the open burst (frames a NIC delivers with `more`, all in one
   * synchronous run), or -1: one read stands for the whole burst, since time read within one
   * run differs by less than the run lasts. Cleared when the burst ends.
   */
  private burstNow = -1;
  /** Ports whose sinks took frames of the open burst with `more`: flushed when it ends. */
  private readonly burstEgress: SwitchPort[] = [];

  constructor(options: LearningSwitchOptions = {}) {
    this.name = options.name ?? 'switch';
    this.ageMs = options.ageMs ?? 300_000;
    this.maxEntries = options.maxEntries ?? 4096;
    this.scheduler = options.scheduler;
    this.clock = options.clock ?? options.scheduler ?? systemClock;
    this.link = typeof options.link === 'function' ? options.link : checkLinkOptions(options.link);
    this.capture = options.capture;
    if (!(this.ageMs > 0)) throw new ConfigError('ageMs', options.ageMs, 'must be a positive number of milliseconds');
    if (!Number.isInteger(this.maxEntries) || this.maxEntries < 0) {
      throw new ConfigError('maxEntries', options.maxEntries, 'must be a non-negative integer');
    }
    const perPort = options.maxEntriesPerPort ?? 1024;
    if (!Number.isInteger(perPort) || perPort < 0) throw new ConfigError('maxEntriesPerPort', options.maxEntriesPerPort, 'must be a non-negative integer');
    this.table = new MacTable(this.maxEntries, perPort, this.ageMs, this.stats);
  }

  attach(nic: NicInfo, toNic: FrameSink, options: SwitchAttachOptions = {}): NetBackendPort {
    const unicast = nic.mac instanceof Uint8Array && nic.mac.length === 6 && !isGroupMac(nic.mac) && nic.mac.some((b) => b !== 0);
    const uplink = options.uplink ?? nic.uplink ?? !unicast;
    const ownMac = uplink || !unicast ? -1 : macToNumber(nic.mac);
    if (ownMac >= 0) this.owned.set(ownMac, (this.owned.get(ownMac) ?? 0) + 1);
    const link = options.link !== undefined ? checkLinkOptions(options.link, 'link') : typeof this.link === 'function' ? checkLinkOptions(this.link(nic), 'link') : this.link;
    const port = new SwitchPort(
      nic.name,
      toNic,
      nic.acceptsOffload === true,
      options.capture,
      ownMac,
      ownMac >= 0 ? Uint8Array.from(nic.mac as Uint8Array) : null,
      (p, f, o, more) => (p.linkIn === undefined ? this.forward(p, f, o, more) : this.onLink(p, p.linkIn.send(f, o))),
      (p) => this.detach(p),
      () => this.endBurst(),
    );
    if (link !== undefined) {
      const scheduler = this.linkScheduler();
      port.linkIn = new LinkLane(link, scheduler, (f, o) => this.forward(port, f, o, false));
      port.linkOut = new LinkLane(link, scheduler, (f, o) => this.deliverToNic(port, f, o));
    }
    this.portList = [...this.portList, port];
    return port;
  }

  /** The learned addresses that have not aged out. */
  entries(): MacTableEntry[] {
    const now = this.clock.now();
    const out: MacTableEntry[] = [];
    for (const [key, e] of this.table.all()) {
      const age = now - e.lastSeen;
      if (age > this.ageMs) continue;
      out.push({ mac: formatMac(macBytes(key)), port: e.port.name, ageMs: age });
    }
    return out;
  }

  /** The port name a MAC address (6 bytes) is learned on, if it has not aged out. */
  lookup(mac: Uint8Array): string | undefined {
    return this.find(macToNumber(mac), this.clock.now())?.port.name;
  }

  /** The ports with their counters. */
  ports(): SwitchPortInfo[] {
    return this.portList.map((p) => {
      const info: SwitchPortInfo = { name: p.name, counters: { ...p.counters } };
      if (p.linkIn && p.linkOut) info.link = { model: p.linkIn.model, toSwitch: { ...p.linkIn.stats }, toNic: { ...p.linkOut.stats } };
      return info;
    });
  }

  /** Forget every learned address (Linux's bridge calls this a flush; here `flush` means only "kick"). */
  forgetAddresses(): void {
    this.table.clear();
  }

  async close(): Promise<void> {
    for (const p of this.portList) p.disconnect();
    this.table.clear();
  }

  private detach(port: SwitchPort): void {
    this.portList = this.portList.filter((p) => p !== port);
    // frames still on the port's link are lost with it: counted, never silently
    port.counters.drops += (port.linkIn?.clear() ?? 0) + (port.linkOut?.clear() ?? 0);
    this.table.removePort(port);
    if (port.ownMac >= 0) {
      const n = (this.owned.get(port.ownMac) ?? 1) - 1;
      if (n > 0) this.owned.set(port.ownMac, n);
      else this.owned.delete(port.ownMac);
    }
  }

  private find(key: number, now: number): { port: SwitchPort } | undefined {
    return this.table.find(key, now);
  }

  /**
   * Port security: whether `port` may send a frame from this source. A NIC port only from its
   * NIC's MAC; an uplink from any address no NIC port owns. Group source addresses are never
   * learned and pass (the receivers judge them).
   */
  private sourceAllowed(port: SwitchPort, frame: Uint8Array): boolean {
    if (isGroupMac(frame, 6)) return port.ownMac < 0;
    if (port.ownMacBytes !== null) return bytesEqual(frame, 6, port.ownMacBytes, 0, 6);
    return !this.owned.has(macToNumber(frame, 6));
  }

  /** A frame was offered to a port's link: a full queue is a drop on that port. */
  private onLink(port: SwitchPort, accepted: boolean): boolean {
    if (!accepted) port.counters.drops++;
    return accepted;
  }

  private linkScheduler(): Scheduler {
    return (this.defaultScheduler ??= this.scheduler ?? new MicrotaskScheduler({ clock: this.clock }));
  }

  /**
   * End the open burst: forget its clock reading and flush the sinks that took frames of it
   * with `more`. A sink's flush that throws counts on its port, as a throwing deliver does.
   */
  private endBurst(): void {
    this.burstNow = -1;
    const ports = this.burstEgress;
    while (ports.length > 0) {
      const p = ports.pop()!;
      p.inBurst = false;
      try {
        p.sink.flush!();
      } catch (err) {
        p.sinkErrors++;
        p.lastSinkError = err;
      }
    }
  }

  /** Forward one frame; a frame without `more` ends the burst it belongs to. */
  private forward(ingress: SwitchPort, frame: Uint8Array, offload: FrameOffload | undefined, more: boolean): boolean {
    const ok = this.forwardOne(ingress, frame, offload, more);
    if (!more) this.endBurst();
    return ok;
  }

  private forwardOne(ingress: SwitchPort, frame: Uint8Array, offload: FrameOffload | undefined, more: boolean): boolean {
    if (frame.length < ETH_HLEN) {
      this.stats.runts++;
      ingress.counters.drops++;
      return false;
    }
    this.capture?.deliver(frame, offload);
    ingress.capture?.deliver(frame, offload);
    if (!this.sourceAllowed(ingress, frame)) {
      this.stats.spoofed++;
      ingress.counters.drops++;
      return false;
    }
    let now = this.burstNow;
    if (now < 0) {
      now = this.clock.now();
      if (more) this.burstNow = now;
    }
    const table = this.table;
    if (!isGroupMac(frame, 6)) {
      if (this.lastSrcVersion === table.version && this.lastSrcPort === ingress && bytesEqual(frame, 6, this.lastSrc, 0, 6)) this.lastSrcEntry!.lastSeen = now;
      else {
        const learned = table.learn(ingress, macToNumber(frame, 6), now);
        if (learned !== undefined) {
          for (let i = 0; i < 6; i++) this.lastSrc[i] = frame[6 + i]!;
          this.lastSrcPort = ingress;
          this.lastSrcEntry = learned;
          this.lastSrcVersion = table.version;
        } else this.lastSrcVersion = -1;
      }
    }
    if (!isGroupMac(frame, 0)) {
      let e: MacTableEntryOf<SwitchPort> | undefined;
      const last = this.lastDstEntry;
      if (this.lastDstVersion === table.version && now - last!.lastSeen <= this.ageMs && bytesEqual(frame, 0, this.lastDst, 0, 6)) e = last;
      else {
        e = table.find(macToNumber(frame, 0), now);
        if (e !== undefined) {
          for (let i = 0; i < 6; i++) this.lastDst[i] = frame[i]!;
          this.lastDstEntry = e;
          this.lastDstVersion = table.version;
        } else this.lastDstVersion = -1;
      }
      if (e !== undefined) {
        if (e.port === ingress) {
          this.stats.filtered++;
          return true;
        }
        this.stats.forwarded++;
        return this.send(e.port, frame, offload, more);
      }
    }
    this.stats.flooded++;
    const ports = this.portList;
    for (let i = 0; i < ports.length; i++) {
      const p = ports[i]!;
      if (p !== ingress) this.send(p, frame, offload, more);
    }
    return true;
  }

  private send(port: SwitchPort, frame: Uint8Array, offload: FrameOffload | undefined, more: boolean): boolean {
    port.capture?.deliver(frame, offload);
    if (port.linkOut !== undefined) return this.onLink(port, port.linkOut.send(frame, offload));
    return this.deliverToNic(port, frame, offload, more);
  }

  /**
   * A frame reaches the NIC's end of the port: completed in software if the NIC needs it, then
   * handed over. Within a burst (`more`) a sink with `flush` takes it with `more` and is flushed
   * when the burst ends; the segments of a software-offloaded frame go one by one.
   */
  private deliverToNic(port: SwitchPort, frame: Uint8Array, offload: FrameOffload | undefined, more = false): boolean {
    if (port.acceptsOffload || !needsSoftwareOffload(offload)) {
      if (more && port.sink.flush !== undefined) {
        if (!port.inBurst) {
          port.inBurst = true;
          this.burstEgress.push(port);
        }
        return port.toNic(port.sink, frame, port.acceptsOffload ? offload : undefined, true);
      }
      return port.toNic(port.sink, frame, port.acceptsOffload ? offload : undefined);
    }
    const errors = this.offload.stats.errors;
    if (this.offload.process(frame, offload, port.plain)) return true;
    if (this.offload.stats.errors !== errors) port.counters.drops++;
    return false;
  }
}

function macBytes(key: number): Uint8Array {
  const b = new Uint8Array(6);
  const hi = Math.floor(key / 0x1_0000_0000);
  const lo = key >>> 0;
  b[0] = hi >>> 8;
  b[1] = hi;
  b[2] = lo >>> 24;
  b[3] = lo >>> 16;
  b[4] = lo >>> 8;
  b[5] = lo;
  return b;
}
