import { createVbus } from '@vbus/core';
import { WorkerConnector } from '@vbus/core/node';
import { venetModule } from '@vbus/venet';
import { LearningSwitch, diffNicDeviceCounters, nicDeviceCounters, type NicDeviceCounters } from '@vbus/net';
import { virtioNetModule } from '@vbus/virtio-compat';
import type { ContainerModule } from 'inversify';
import { NicGuestHandle } from '@vbus/guest-nic';
import { table } from './table.js';

export interface NicSpec {
  /** Device class type on the bus. */
  type: string;
  /** Guest driver kind. */
  kind: string;
}

/** The NIC plugins the CLI knows: both served by the same host backends. */
export async function nicPlugins(): Promise<{ modules: ContainerModule[]; nics: Record<string, NicSpec> }> {
  const modules: ContainerModule[] = [venetModule, virtioNetModule];
  const nics: Record<string, NicSpec> = {
    venet: { type: 'virtual-ethernet', kind: 'venet' },
    'virtio-net': { type: 'virtio-net', kind: 'virtio-net' },
    'virtio-net-packed': { type: 'virtio-net', kind: 'virtio-net-packed' },
  };
  return { modules, nics };
}

/**
 * The main demo: guests in worker threads, each with a NIC on one learning switch, ping each
 * other and stream a burst; prints frames, signals injected and suppressed, and signals per frame.
 */
export async function demoNics(options: { frames: number; size: number; batch: number; txCompleteEvery: number; kinds: string[]; window: number }): Promise<boolean> {
  const { modules, nics } = await nicPlugins();
  const { vbus } = createVbus({ modules });
  const bus = vbus.createBus('demo');
  const sw = new LearningSwitch({ name: 'switch0' });
  const failures: string[] = [];
  bus.on('device-failed', (d, e) => failures.push(`${d.name}: ${e.message}`));
  const connector = new WorkerConnector(bus);
  const kinds = options.kinds.length >= 2 ? options.kinds : [options.kinds[0] ?? 'venet', options.kinds[0] ?? 'venet'];
  const guests: Array<{ name: string; ip: string; kind: string; handle: NicGuestHandle }> = [];
  for (let i = 0; i < kinds.length; i++) {
    const kind = kinds[i]!;
    const spec = nics[kind];
    if (!spec) throw new Error(`unknown NIC kind "${kind}" (known: ${Object.keys(nics).join(', ')})`);
    const name = `${kind === 'venet' ? 'venet' : 'virtio'}${i}`;
    const mac = `52:54:00:12:34:${(0x10 + i).toString(16)}`;
    // tx-complete mitigation is venet's knob; virtio-net's completions follow the driver's event index
    // (createDevice refuses a key a class does not declare: it used to be ignored silently here)
    bus.createDevice(spec.type, name, spec.type === 'virtual-ethernet' ? { mac, backend: sw, txCompleteEvery: options.txCompleteEvery } : { mac, backend: sw });
    const ip = `192.0.2.${10 + i}`;
    guests.push({ name, ip, kind, handle: await NicGuestHandle.spawn(connector, { device: name, kind: spec.kind, ip }) });
  }
  const [a, b] = guests as [(typeof guests)[0], (typeof guests)[0]];
  console.log(`bus "demo": ${guests.map((g) => `${g.name} (${g.kind}, ${g.ip}, worker thread)`).join(' and ')} on learning switch "switch0"\n`);
  const pingAB = await a.handle.request<{ rtts: number[] }>({ cmd: 'ping', ip: b.ip, count: 5, size: 56 });
  const pingBA = await b.handle.request<{ rtts: number[] }>({ cmd: 'ping', ip: a.ip, count: 5, size: 1000 });
  const fmt = (r: number[]) => r.map((x) => x.toFixed(3)).join(', ');
  console.log(`ping ${a.name} -> ${b.ip} (56 bytes): rtt ms ${fmt(pingAB.rtts)}`);
  console.log(`ping ${b.name} -> ${a.ip} (1000 bytes): rtt ms ${fmt(pingBA.rtts)}\n`);

  const before = nicDeviceCounters(bus.introspect());
  const stream = await a.handle.request<{ sent: number; echoed: number; ms: number }>({
    cmd: 'stream',
    ip: b.ip,
    frames: options.frames,
    size: options.size,
    batch: options.batch,
    window: options.window,
  });
  // wait until b has taken every frame the switch delivered (bounded)
  const after0 = (received: number) => received - (before[b.name]?.rxFrames ?? 0);
  let statsB = await b.handle.request<{ received: number }>({ cmd: 'stats' });
  for (let i = 0; i < 200 && after0(statsB.received) < stream.sent; i++) {
    await new Promise((r) => setTimeout(r, 10));
    statsB = await b.handle.request<{ received: number }>({ cmd: 'stats' });
  }
  const after = nicDeviceCounters(bus.introspect());
  const rows: Array<Array<string | number>> = [['device', 'kind', 'tx frames', 'rx frames', 'drops', 'kicks', 'interrupts', 'suppressed', 'signals/frame']];
  for (const g of guests) {
    const d = diffNicDeviceCounters(after[g.name]!, before[g.name]!);
    const frames = d.txFrames + d.rxFrames;
    rows.push([g.name, g.kind, d.txFrames, d.rxFrames, d.drops, d.kicks, d.interrupts, d.suppressed, frames ? (d.kicks + d.interrupts) / frames : 0]);
  }
  const mbps = (stream.sent * options.size * 8) / (stream.ms * 1000);
  const how =
    options.window > 0
      ? `to its UDP echo port, at most ${options.window} unanswered (${stream.echoed.toLocaleString('en-US')} echoed back)`
      : `in batches of ${options.batch}, unpaced`;
  console.log(
    `stream ${a.name} -> ${b.name}: ${stream.sent.toLocaleString('en-US')} frames of ${options.size} bytes ${how}, ${stream.ms.toFixed(0)} ms (${((stream.sent / stream.ms) * 1000).toFixed(0)} frames/s each way, ${mbps.toFixed(0)} Mbit/s)`,
  );
  console.log(table(rows));
  // every frame a sent reached b's guest or was counted as dropped at b; with echoes, every frame
  // b's device took from b's guest (sent on, or counted as a tx drop) likewise reached a or was
  // counted as dropped at a
  const delta = (n: string, k: keyof NicDeviceCounters) => after[n]![k] - before[n]![k];
  let lost = stream.sent - delta(b.name, 'rxFrames') - delta(b.name, 'rxDrops');
  if (options.window > 0) lost += delta(b.name, 'txFrames') - delta(a.name, 'rxFrames') - delta(a.name, 'rxDrops');
  console.log(`\nframes sent = delivered + dropped: ${lost === 0 ? 'yes' : `NO (${lost} unaccounted)`}; switch table: ${sw.entries().length} MACs learned`);
  if (failures.length) console.log(`device failures: ${failures.join('; ')}`);
  for (const g of guests) await g.handle.stop();
  await sw.close();
  return failures.length === 0 && lost === 0;
}
