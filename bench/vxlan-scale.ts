// What crossing a process costs: 4 guests on one segment, in 1 process (one switch) or spread over
// 2 or 4 vbus processes whose switches are joined by VXLAN on loopback (a full mesh). Guest g
// streams 64-byte frames to guest g+1 (mod 4) for a few seconds; every process reports frames
// sent and delivered and its CPU time. Prints aggregate delivered frames/s, loss and CPU per
// delivered frame. The guests are plain switch ports (no NIC rings), so the figures isolate the
// switch and the tunnel: the NIC's own cost is the same in every row.
//
//   node --conditions=@vbus/source --import tsx bench/vxlan-scale.ts [--seconds N] [--size BYTES]
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { connectBackends, LearningSwitch } from '@vbus/net';
import { VxlanBackend } from '@vbus/net/node';

const GUESTS = 4;
const BURST = 32;

const mac = (g: number): Uint8Array => new Uint8Array([0x02, 0, 0, 0, 0x5c, g]);

interface ChildReport {
  sent: number;
  delivered: number;
  cpuUs: number;
  tunnelDrops: number;
}

/** One process: its share of the guests, a switch, and (with peers) a VXLAN uplink. */
async function child(index: number, ports: number[], seconds: number, size: number): Promise<void> {
  const procs = ports.length;
  const sw = new LearningSwitch();
  let vx: VxlanBackend | undefined;
  if (procs > 1) {
    vx = await VxlanBackend.open({
      vni: 42,
      local: { host: '127.0.0.1', port: ports[index]! },
      remotes: ports.filter((_, i) => i !== index).map((port) => ({ host: '127.0.0.1', port })),
      outerMtu: 65535,
    });
    connectBackends(sw, vx, { name: 'vxlan' });
  }
  let delivered = 0;
  const mine = Array.from({ length: GUESTS }, (_, g) => g).filter((g) => g % procs === index);
  const guestPorts = mine.map((g) => sw.attach({ name: `g${g}`, mac: mac(g) }, { deliver: () => (delivered++, true) }));
  const frames = mine.map((g) => {
    const f = new Uint8Array(size);
    f.set(mac((g + 1) % GUESTS), 0);
    f.set(mac(g), 6);
    f[12] = 0x88;
    f[13] = 0xb5;
    return f;
  });
  process.stdout.write('READY\n');
  await new Promise((r) => process.stdin.once('data', r));
  // announce every guest (broadcast), so switches and tunnels learn where it lives
  for (const [i, g] of mine.entries()) {
    const b = new Uint8Array(60);
    b.fill(0xff, 0, 6);
    b.set(mac(g), 6);
    guestPorts[i]!.deliver(b);
  }
  await new Promise((r) => setTimeout(r, 300));
  delivered = 0;
  let sent = 0;
  const cpu0 = process.cpuUsage();
  const end = Date.now() + seconds * 1000;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      for (let i = 0; i < guestPorts.length; i++) for (let k = 0; k < BURST; k++) if (guestPorts[i]!.deliver(frames[i]!)) sent++;
      if (Date.now() < end) setImmediate(tick);
      else resolve();
    };
    tick();
  });
  await new Promise((r) => setTimeout(r, 300));
  const cpu = process.cpuUsage(cpu0);
  const d = vx?.counters.drops;
  const report: ChildReport = { sent, delivered, cpuUs: cpu.user + cpu.system, tunnelDrops: d ? d.backlog + d.sendError + d.tooBig : 0 };
  process.stdout.write(`REPORT ${JSON.stringify(report)}\n`);
  await vx?.close();
  process.exit(0);
}

async function freePort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const p = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

async function run(procs: number, seconds: number, size: number): Promise<ChildReport> {
  const ports = await Promise.all(Array.from({ length: procs }, freePort));
  const self = fileURLToPath(import.meta.url);
  const kids = ports.map((_, i) =>
    spawn(process.execPath, ['--conditions=@vbus/source', '--import', 'tsx', self, '--child', String(i), ports.join(','), String(seconds), String(size)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    }),
  );
  const outs = kids.map((k) => {
    let out = '';
    k.stdout.on('data', (d) => (out += d));
    return () => out;
  });
  const waitAll = async (word: string) => {
    while (!outs.every((o) => o().includes(word))) await new Promise((r) => setTimeout(r, 50));
  };
  await waitAll('READY');
  for (const k of kids) k.stdin.write('go\n');
  await waitAll('REPORT');
  const reports = outs.map((o) => JSON.parse(/REPORT (.*)/.exec(o())![1]!) as ChildReport);
  return reports.reduce((a, r) => ({ sent: a.sent + r.sent, delivered: a.delivered + r.delivered, cpuUs: a.cpuUs + r.cpuUs, tunnelDrops: a.tunnelDrops + r.tunnelDrops }));
}

async function main(argv: string[]): Promise<void> {
  if (argv[0] === '--child') return child(Number(argv[1]), argv[2]!.split(',').map(Number), Number(argv[3]), Number(argv[4]));
  const opt = (name: string, dflt: number): number => {
    const i = argv.indexOf(name);
    const v = i >= 0 ? Number(argv[i + 1]) : dflt;
    if (!Number.isFinite(v) || v <= 0) {
      process.stderr.write(`${name} must be a positive number, got "${argv[i + 1]}"\n`);
      process.exit(2);
    }
    return v;
  };
  const seconds = opt('--seconds', 3);
  const size = opt('--size', 64);
  console.log(`4 guests, each streaming ${size}-byte frames to the next, ${seconds} s per row; processes joined by VXLAN on loopback`);
  console.log('processes  sent/s      delivered/s  loss    CPU µs per delivered frame');
  for (const procs of [1, 2, 4]) {
    const r = await run(procs, seconds, size);
    const loss = r.sent ? (100 * (r.sent - r.delivered)) / r.sent : 0;
    console.log(
      `${String(procs).padEnd(11)}${String(Math.round(r.sent / seconds)).padEnd(12)}${String(Math.round(r.delivered / seconds)).padEnd(13)}${loss.toFixed(1).padStart(5)}%  ${(r.cpuUs / Math.max(1, r.delivered)).toFixed(2)}`,
    );
  }
}

await main(process.argv.slice(2));
