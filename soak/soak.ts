// The soak: NICs of several kinds on one learning switch, guests in worker threads streaming to
// each other, and faults injected one at a time while they run. Every frame is accounted for.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createVbus, type Bus } from '@vbus/core';
import { WorkerConnector, type WorkerGuest } from '@vbus/core/node';
import { venetModule, type VenetDevice } from '@vbus/venet';
import { LearningSwitch } from '@vbus/net';
import { virtioNetModule, type VirtioNetDevice } from '@vbus/virtio-compat';
import { AccountingBackend } from './accounting.js';
import { CONTROL_GARBAGE } from './control-garbage.js';
import type { SoakGuestCommand, SoakGuestData } from './guest.js';

export type FaultKind =
  'kill-terminate' | 'kill-throw' | 'kill-exit' | 'unplug' | 'hostile' | 'link-flap' | 'rx-starve' | 'mac-spoof' | 'gso-bomb' | 'tx-flood' | 'control-garbage';
export const FAULT_KINDS: FaultKind[] = [
  'kill-terminate',
  'kill-throw',
  'kill-exit',
  'unplug',
  'hostile',
  'link-flap',
  'rx-starve',
  'mac-spoof',
  'gso-bomb',
  'tx-flood',
  'control-garbage',
];

export interface SoakOptions {
  /** How long to inject faults, in ms. */
  durationMs: number;
  guests?: number;
  seed?: number;
  /** Include virtio-net guests (every second NIC). Default true. */
  virtio?: boolean;
  log?: (line: string) => void;
}

export interface FaultRecord {
  kind: FaultKind;
  target: string;
  survived: boolean;
  detail: string;
  ms: number;
}

export interface SoakReport {
  guests: Array<{ name: string; kind: string }>;
  seconds: number;
  framesSent: number;
  framesDelivered: number;
  framesDropped: number;
  dropped: { refusedRx: number; switch: number; preSwitch: number; atFault: number };
  /** Attack frames the guests sent, and what the host counted for them. */
  attacks: { spoofsSent: number; spoofsDropped: number; gsoBombsSent: number; gsoBombsDropped: number };
  floodCopies: number;
  framesLost: number;
  faults: FaultRecord[];
  faultsInjected: number;
  faultsSurvived: number;
  incarnations: number;
  heapBeforeBytes: number;
  heapAfterBytes: number;
  heapGrowthBytes: number;
  gcExposed: boolean;
  problems: string[];
  ok: boolean;
}

/** Most frames a dead guest can leave behind in one ring (the rings are at most this big). */
const RING_BOUND = 1024;

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** How long a step may take before the soak calls it a failure to survive. */
const LIVENESS_MS = 20_000;
async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await sleep(5);
  }
  return true;
}

function getGc(): (() => void) | undefined {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
}

interface Nic {
  name: string;
  kind: 'venet' | 'virtio-net';
  mac: number[];
}

interface Incarnation {
  nic: Nic;
  guest: WorkerGuest;
  c: Int32Array;
  offered0: number;
  accepted0: number;
  /** Frames the device took but dropped before the switch (virtio-net with its link down). */
  preSwitch: number;
  /** venet: the device instance, and its GSO refusals (txDrops.gso) at spawn and at burial. */
  venet?: VenetDevice;
  gso0: number;
  gso1?: number;
  dead: boolean;
  offered1?: number;
  accepted1?: number;
}

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const log = options.log ?? (() => {});
  const random = rng(options.seed ?? 1);
  const nGuests = Math.max(2, options.guests ?? 4);
  const withVirtio = options.virtio !== false;
  const gc = getGc();
  const { vbus } = createVbus({ modules: withVirtio ? [venetModule, virtioNetModule] : [venetModule] });
  const bus: Bus = vbus.createBus('soak');
  const sw = new LearningSwitch({ name: 'soak-switch' });
  const acct = new AccountingBackend(sw);
  const connector = new WorkerConnector(bus);
  const failedEvents: string[] = [];
  bus.on('device-failed', (d) => failedEvents.push(d.name));
  const problems: string[] = [];

  const nics: Nic[] = [];
  for (let i = 0; i < nGuests; i++) {
    const kind = withVirtio && i % 2 === 1 ? 'virtio-net' : 'venet';
    nics.push({ name: `${kind === 'venet' ? 'venet' : 'vnet'}${i}`, kind, mac: [0x52, 0x54, 0, 0x50, 0, i + 1] });
  }
  const macText = (n: Nic) => n.mac.map((b) => b.toString(16).padStart(2, '0')).join(':');
  const plug = (n: Nic) => {
    if (n.kind === 'venet') bus.createDevice('virtual-ethernet', n.name, { mac: macText(n), backend: acct, ringSize: 256 });
    else bus.createDevice('virtio-net', n.name, { mac: macText(n), backend: acct, maxQueueSize: 256 });
  };
  nics.forEach(plug);

  const incarnations: Incarnation[] = [];
  const live = new Map<string, Incarnation>();
  const post = (inc: Incarnation, m: SoakGuestCommand) => inc.guest.worker.postMessage(m);

  async function spawn(nic: Nic): Promise<Incarnation> {
    const counters = new SharedArrayBuffer(8 * 4); // [0..4] see guest.ts, [5] spoofs, [6] GSO bombs
    const data: SoakGuestData = { device: nic.name, kind: nic.kind, counters, batch: 32, pauseMs: 2, size: 128 };
    const guest = connector.spawn(new URL('./guest.ts', import.meta.url), { name: `soak-${nic.name}`, workerData: data });
    guest.worker.on('error', () => {}); // crashes are the point; the connector reports them
    const a = acct.account(nic.name);
    const venet = nic.kind === 'venet' ? bus.device<VenetDevice>(nic.name) : undefined;
    const inc: Incarnation = {
      nic,
      guest,
      c: new Int32Array(counters),
      offered0: a.offered,
      accepted0: a.accepted(),
      preSwitch: 0,
      dead: false,
      venet,
      gso0: venet?.txDrops.gso ?? 0,
    };
    incarnations.push(inc);
    live.set(nic.name, inc);
    if (!(await waitFor(() => Atomics.load(inc.c, 3) === 1, 15_000))) throw new Error(`guest ${nic.name} did not come up`);
    post(inc, { cmd: 'peers', macs: nics.filter((n) => n !== nic).map((n) => n.mac) });
    post(inc, { cmd: 'run', on: true });
    return inc;
  }

  /** The guest is gone (or about to be): wait for its exit, check the host let go of it. */
  async function bury(inc: Incarnation, how: 'terminate' | 'throw' | 'exit'): Promise<string | undefined> {
    if (how === 'terminate') void inc.guest.worker.terminate();
    else post(inc, { cmd: how });
    const exited = await Promise.race([inc.guest.exited.then(() => true), sleep(LIVENESS_MS).then(() => false)]);
    if (!exited) return 'worker did not exit';
    inc.dead = true;
    live.delete(inc.nic.name);
    const a = acct.account(inc.nic.name);
    inc.offered1 = a.offered;
    inc.accepted1 = a.accepted();
    inc.gso1 = inc.venet?.txDrops.gso;
    if (inc.guest.connections() !== 0) return `host still holds ${inc.guest.connections()} connections`;
    if (inc.guest.memoryBytes() !== 0) return `host still holds ${inc.guest.memoryBytes()} bytes of guest memory`;
    const dev = bus.introspect().devices.find((d) => d.name === inc.nic.name);
    if (dev && dev.connections.length !== 0) return `device ${inc.nic.name} still has ${dev.connections.length} connections`;
    return undefined;
  }

  // liveness bounds, generous: on a loaded 2-core machine a worker start alone can take seconds;
  // they only decide how long a broken run waits before it reports
  const moved = async (inc: Incarnation, ms = LIVENESS_MS) => {
    const s = Atomics.load(inc.c, 0);
    const r = Atomics.load(inc.c, 1);
    return waitFor(() => Atomics.load(inc.c, 0) > s + 10 && Atomics.load(inc.c, 1) > r, ms);
  };

  async function inject(kind: FaultKind, nic: Nic): Promise<string | undefined> {
    const inc = live.get(nic.name)!;
    switch (kind) {
      case 'kill-terminate':
      case 'kill-throw':
      case 'kill-exit': {
        await sleep(random() * 50);
        const err = await bury(inc, kind === 'kill-terminate' ? 'terminate' : kind === 'kill-throw' ? 'throw' : 'exit');
        if (err) return err;
        break;
      }
      case 'unplug': {
        bus.removeDevice(nic.name);
        if (!(await waitFor(() => Atomics.load(inc.c, 4) === 1, LIVENESS_MS))) return 'guest did not see its connection close';
        await sleep(50);
        const err = await bury(inc, 'terminate');
        if (err) return err;
        plug(nic);
        break;
      }
      case 'hostile': {
        const before = failedEvents.length;
        post(inc, { cmd: 'hostile' });
        if (!(await waitFor(() => failedEvents.length > before && failedEvents.at(-1) === nic.name, LIVENESS_MS))) return 'hostile descriptor did not fail the device';
        if (bus.status(nic.name).state !== 'failed') return 'device not in failed state';
        const err = await bury(inc, 'terminate');
        if (err) return err;
        bus.resetDevice(nic.name);
        if (bus.status(nic.name).state !== 'ready') return 'reset did not make the device ready';
        break;
      }
      case 'link-flap': {
        const a = acct.account(nic.name);
        if (nic.kind === 'virtio-net') {
          const dev = bus.device<VirtioNetDevice>(nic.name);
          const taken = () =>
            Object.entries(dev.counters())
              .filter(([q]) => q.startsWith('tx'))
              .reduce((s, [, v]) => s + (v.frames ?? 0) + (v.drops ?? 0), 0);
          const t0 = taken();
          const o0 = a.offered;
          dev.setLink(false);
          await sleep(100);
          dev.setLink(true);
          inc.preSwitch += taken() - t0 - (a.offered - o0);
        } else {
          post(inc, { cmd: 'link-flap', ms: 100 });
          await sleep(150);
        }
        const r = a.rxAccepted;
        if (!(await waitFor(() => a.rxAccepted > r, LIVENESS_MS))) return 'no frames reached the NIC after link up';
        return undefined;
      }
      case 'mac-spoof': {
        // send from a bystander's MAC to a third NIC: port security drops every one, counted
        const victim = nics.find((n) => n !== nic && live.has(n.name));
        const dst = nics.find((n) => n !== nic && n !== victim) ?? victim;
        if (!victim || !dst) return undefined;
        const s0 = sw.stats.spoofed;
        const sent0 = Atomics.load(inc.c, 5);
        post(inc, { cmd: 'spoof', victim: victim.mac, dst: dst.mac, n: 32 });
        if (!(await waitFor(() => Atomics.load(inc.c, 5) > sent0 && sw.stats.spoofed - s0 >= Atomics.load(inc.c, 5) - sent0, LIVENESS_MS)))
          return `spoofed frames not dropped by the switch (${sw.stats.spoofed - s0} dropped of ${Atomics.load(inc.c, 5) - sent0})`;
        const owner = sw.lookup(Uint8Array.from(victim.mac));
        if (owner !== undefined && owner === sw.lookup(Uint8Array.from(nic.mac))) return `the victim's MAC moved to the attacker's port ${owner}`;
        return undefined;
      }
      case 'gso-bomb': {
        if (!inc.venet) return undefined;
        const g0 = inc.venet.txDrops.gso;
        const sent0 = Atomics.load(inc.c, 6);
        post(inc, { cmd: 'gso-bomb', n: 16 });
        if (!(await waitFor(() => Atomics.load(inc.c, 6) > sent0 && inc.venet!.txDrops.gso - g0 >= Atomics.load(inc.c, 6) - sent0, LIVENESS_MS)))
          return `GSO bombs not refused (${inc.venet.txDrops.gso - g0} refused of ${Atomics.load(inc.c, 6) - sent0})`;
        if (bus.status(nic.name).state !== 'ready') return 'a GSO bomb failed the device instead of being dropped';
        return undefined;
      }
      case 'control-garbage': {
        // malformed control messages on the guest's own channel: each refused and counted, the
        // guest's real connection untouched
        const refusedNow = () => Object.values(inc.guest.refused()).reduce((x, y) => x + y, 0);
        const r0 = refusedNow();
        const s0 = Atomics.load(inc.c, 0);
        post(inc, { cmd: 'garbage' });
        if (!(await waitFor(() => refusedNow() - r0 >= CONTROL_GARBAGE.length, LIVENESS_MS)))
          return `control garbage not refused (${refusedNow() - r0} of ${CONTROL_GARBAGE.length})`;
        if (!(await waitFor(() => Atomics.load(inc.c, 0) > s0, LIVENESS_MS))) return 'the guest stopped sending after its control garbage';
        return undefined;
      }
      case 'tx-flood': {
        post(inc, { cmd: 'flood', ms: 300 });
        await sleep(300);
        return undefined;
      }
      case 'rx-starve': {
        const a = acct.account(nic.name);
        const refused = a.rxRefused;
        post(inc, { cmd: 'starve', ms: 200 });
        await sleep(250);
        const r = a.rxAccepted;
        if (!(await waitFor(() => a.rxAccepted > r, LIVENESS_MS))) return 'rx did not resume after starvation';
        return a.rxRefused > refused ? undefined : undefined;
      }
    }
    const next = await spawn(nic);
    if (!(await moved(next))) return 'the restarted guest did not move frames';
    return undefined;
  }

  /** Frames the guest posted that the switch has not seen (tx), and frames placed in the guest's rx ring that it has not read (rx). */
  function gaps(inc: Incarnation): { tx: number; rx: number } {
    const a = acct.account(inc.nic.name);
    const offered = (inc.offered1 ?? a.offered) - inc.offered0;
    const accepted = (inc.accepted1 ?? a.accepted()) - inc.accepted0;
    return { tx: Atomics.load(inc.c, 0) - offered - inc.preSwitch - gsoRefused(inc), rx: accepted - Atomics.load(inc.c, 1) };
  }

  /** GSO bombs the venet device refused before the switch (its txDrops.gso over the incarnation). */
  function gsoRefused(inc: Incarnation): number {
    return inc.venet ? (inc.gso1 ?? inc.venet.txDrops.gso) - inc.gso0 : 0;
  }

  const start = Date.now();
  for (const n of nics) await spawn(n);
  for (const inc of live.values()) if (!(await moved(inc, LIVENESS_MS))) problems.push(`${inc.nic.name}: no frames at start`);
  await sleep(300);
  gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const faults: FaultRecord[] = [];
  const deadline = Date.now() + options.durationMs;
  while (Date.now() < deadline) {
    await sleep(100 + random() * 300);
    const kind = FAULT_KINDS[Math.floor(random() * FAULT_KINDS.length)]!;
    const candidates = kind === 'hostile' || kind === 'gso-bomb' ? nics.filter((n) => n.kind === 'venet') : nics;
    const nic = candidates[Math.floor(random() * candidates.length)]!;
    const others = [...live.values()].filter((i) => i.nic !== nic).map((i) => ({ i, s: Atomics.load(i.c, 0), r: Atomics.load(i.c, 1) }));
    const t0 = Date.now();
    let err: string | undefined;
    try {
      err = await inject(kind, nic);
    } catch (e) {
      err = e instanceof Error ? e.message : String(e);
    }
    if (!err) {
      for (const o of others) {
        if (!(await waitFor(() => Atomics.load(o.i.c, 0) > o.s && Atomics.load(o.i.c, 1) > o.r, LIVENESS_MS))) err = `bystander ${o.i.nic.name} stopped moving frames`;
      }
    }
    const rec: FaultRecord = { kind, target: nic.name, survived: !err, detail: err ?? 'ok', ms: Date.now() - t0 };
    faults.push(rec);
    log(`fault ${faults.length}: ${kind} on ${nic.name}: ${rec.survived ? 'survived' : `NOT survived (${err})`} in ${rec.ms} ms`);
    if (!live.has(nic.name)) {
      try {
        await spawn(nic);
      } catch (e) {
        problems.push(`could not restart ${nic.name}: ${String(e)}`);
      }
    }
  }

  // quiesce: stop sending, then wait until every live guest has taken every frame the host placed
  // in its rx ring and the host every frame the guest posted (both gaps 0). A frame stranded by a
  // lost wakeup never closes its gap, so this waits out the liveness bound and is reported below;
  // a guest thread that the machine merely starved for a while closes it late. (A fixed "nothing
  // moved for 100 ms" settle time was a flake on a loaded machine: rx gap 10.)
  for (const inc of live.values()) post(inc, { cmd: 'run', on: false });
  const drained = (inc: Incarnation) => {
    const g = gaps(inc);
    return g.tx === 0 && g.rx === 0;
  };
  await waitFor(() => [...live.values()].every(drained), LIVENESS_MS);
  gc?.();
  const heapAfter = process.memoryUsage().heapUsed;

  let sent = 0;
  let delivered = 0;
  let preSwitch = 0;
  let atFault = 0;
  let lost = 0;
  let spoofsSent = 0;
  let gsoSent = 0;
  let gsoDropped = 0;
  for (const inc of incarnations) {
    const s = Atomics.load(inc.c, 0);
    const r = Atomics.load(inc.c, 1);
    sent += s;
    delivered += r;
    spoofsSent += Atomics.load(inc.c, 5);
    gsoSent += Atomics.load(inc.c, 6);
    // GSO bombs are refused by the venet device before the switch: counted in its txDrops.gso
    const refused = gsoRefused(inc);
    gsoDropped += refused;
    preSwitch += inc.preSwitch + refused;
    const { tx: txGap, rx: rxGap } = gaps(inc);
    if (!inc.dead) {
      if (txGap !== 0 || rxGap !== 0) problems.push(`${inc.nic.name} (live): tx gap ${txGap}, rx gap ${rxGap}`);
      lost += Math.abs(txGap) + Math.abs(rxGap);
    } else {
      for (const [what, gap] of [
        ['tx', txGap],
        ['rx', rxGap],
      ] as const) {
        if (gap < 0 || gap > RING_BOUND) {
          problems.push(`${inc.nic.name} (dead): ${what} gap ${gap} outside [0, ${RING_BOUND}]`);
          lost += Math.abs(gap);
        } else atFault += gap;
      }
    }
  }
  let refusedRx = 0;
  let dropSwitch = 0;
  let floodCopies = 0;
  for (const a of acct.all().values()) {
    refusedRx += a.refusedRx;
    dropSwitch += a.droppedSwitch;
    floodCopies += a.floodCopies;
    if (a.offered !== a.delivered + a.refusedRx + a.droppedSwitch) problems.push('switch accounting does not add up');
  }
  const dropped = refusedRx + dropSwitch + preSwitch + atFault;
  // every spoofed frame that reached the switch was dropped there (inside dropSwitch); none other was
  if (sw.stats.spoofed > spoofsSent) problems.push(`switch dropped ${sw.stats.spoofed} frames as spoofed, guests sent only ${spoofsSent}`);
  if (gsoDropped > gsoSent) problems.push(`venet refused ${gsoDropped} GSO frames, guests sent only ${gsoSent} bombs`);
  const identity = sent - delivered - dropped;
  if (identity !== lost) problems.push(`sent - delivered - dropped = ${identity}, expected ${lost}`);
  lost = Math.max(lost, Math.abs(identity));

  for (const inc of [...live.values()]) await bury(inc, 'terminate');
  await sw.close();
  const survived = faults.filter((f) => f.survived).length;
  return {
    guests: nics.map((n) => ({ name: n.name, kind: n.kind })),
    seconds: (Date.now() - start) / 1000,
    framesSent: sent,
    framesDelivered: delivered,
    framesDropped: dropped,
    dropped: { refusedRx, switch: dropSwitch, preSwitch, atFault },
    attacks: { spoofsSent, spoofsDropped: sw.stats.spoofed, gsoBombsSent: gsoSent, gsoBombsDropped: gsoDropped },
    floodCopies,
    framesLost: lost,
    faults,
    faultsInjected: faults.length,
    faultsSurvived: survived,
    incarnations: incarnations.length,
    heapBeforeBytes: heapBefore,
    heapAfterBytes: heapAfter,
    heapGrowthBytes: heapAfter - heapBefore,
    gcExposed: gc !== undefined,
    problems,
    ok: lost === 0 && survived === faults.length && problems.length === 0,
  };
}
