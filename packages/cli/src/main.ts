import { Command, InvalidArgumentError } from 'commander';
import { demoEcho } from './demo-echo.js';
import { demoNics } from './demo-nic.js';
import { serve } from './serve.js';
import { vhostUser } from './vhost-user.js';
import { newDevice } from './new-device.js';

function positiveInt(name: string, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > max) throw new InvalidArgumentError(`${name} must be an integer from 1 to ${max}, got "${value}"`);
    return n;
  };
}

const program = new Command();
program
  .name('vbus')
  .description('vbus-ts: a virtual bus for paravirtual I/O (IOQ rings, shm-signal, venet, virtio-net)')
  .exitOverride((err) => {
    process.exit(err.exitCode === 0 ? 0 : 2);
  })
  .configureOutput({ outputError: (str, write) => write(`vbus: ${str.replace(/^error: /, '')}`) });

program
  .command('demo')
  .description('move real frames across a worker thread and print the signal economy')
  .option('--echo', 'run the core echo-device demo (IOQ across a worker thread)', false)
  .option('--frames <n>', 'frames to stream', positiveInt('--frames'), 200_000)
  .option('--burst <n>', 'frames per burst (one kick each)', positiveInt('--burst', 256), 128)
  .option('--size <bytes>', 'frame size', positiveInt('--size', 2048), 64)
  .option('--tx-complete-every <n>', 'tx-complete mitigation N (venet and the echo device)', positiveInt('--tx-complete-every', 4096), 10)
  .option(
    '--window <n>',
    "stream to the peer's UDP echo port with at most N frames unanswered (0: unpaced, to the discard port)",
    (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0 || n > 4096) throw new InvalidArgumentError(`--window must be an integer from 0 to 4096, got "${v}"`);
      return n;
    },
    128,
  )
  .option('--nics <kinds>', 'comma-separated NIC kinds of the two guests (venet, virtio-net, virtio-net-packed); default: venet+venet, then venet+virtio-net')
  .action(async (o: { echo: boolean; frames: number; burst: number; size: number; txCompleteEvery: number; nics?: string; window: number }) => {
    if (o.echo) {
      const r = await demoEcho(o);
      process.exitCode = r.intact && r.received === r.sent ? 0 : 1;
      return;
    }
    const pairs = o.nics
      ? [o.nics.split(',').map((s) => s.trim())]
      : [
          ['venet', 'venet'],
          ['venet', 'virtio-net'],
        ];
    let ok = true;
    for (const [i, kinds] of pairs.entries()) {
      if (i > 0) console.log('');
      ok = (await demoNics({ frames: o.frames, size: o.size, batch: o.burst, txCompleteEvery: o.txCompleteEvery, kinds, window: o.window })) && ok;
    }
    process.exitCode = ok ? 0 : 1;
  });

program
  .command('serve')
  .description(
    'one guest with an IPv4 responder (ARP, ICMP echo, UDP echo on port 7) whose NIC backend is a QEMU-compatible socket, a VXLAN tunnel and/or a VDE switch; runs until interrupted, then prints its counters',
  )
  .requiredOption('--ip <addr/prefix>', "the guest's IPv4 address, e.g. 192.0.2.1/24")
  .option('--device <kind>', 'NIC plugin: venet, virtio-net or virtio-net-packed', 'venet')
  .option('--listen <host:port>', 'listen for QEMU -netdev stream/socket (4-byte big-endian length framing)')
  .option('--connect <host:port>', 'connect to a QEMU -netdev stream/socket server')
  .option('--unix <path>', 'listen on a unix stream socket (with --unix-connect: connect to it)')
  .option('--unix-connect', 'connect to --unix PATH instead of listening', false)
  .option('--udp <local:remote>', 'UDP on 127.0.0.1, one frame per datagram (QEMU -netdev dgram)')
  .option('--tap <name>', "a TAP interface (IFF_VNET_HDR): the host's own network stack is the peer (needs CAP_NET_ADMIN)")
  .option('--pcap <file>', 'capture every frame to a pcap file')
  .option('--mac <mac>', "the NIC's MAC address (default: random locally administered)")
  .option('--mtu <bytes>', 'MTU', positiveInt('--mtu', 65535))
  .option('--exit-after <seconds>', 'stop after this many seconds', positiveInt('--exit-after'))
  .option(
    '--vxlan <vni@remote[:port]>',
    'join VXLAN segment VNI with the remote VTEP (port default 4789: Linux `type vxlan`, Open vSwitch, another vbus serve); repeat for more remotes (floods go to all); with or without a socket option',
    (v: string, prev: string[] = []) => [...prev, v],
  )
  .option('--vxlan-local <addr:port>', 'where the VXLAN socket binds (default 0.0.0.0:4789)')
  .option('--vxlan-mtu <bytes>', 'MTU of the network under the tunnel (default 1500); the guest MTU defaults to 50 less', positiveInt('--vxlan-mtu', 65535))
  .option('--vde <switch>', 'join a VDE switch (Debian vde2: vde_switch --sock SWITCH) through vde_plug')
  .option('--ping <addr>', 'once up, ping this IPv4 address from the guest until 3 replies (prints each and a summary); repeat for more', (v: string, prev: string[] = []) => [
    ...prev,
    v,
  ])
  .action(async (o: Parameters<typeof serve>[0]) => {
    try {
      await serve(o);
    } catch (e) {
      console.error(`vbus serve: ${e instanceof Error ? e.message : String(e)}`);
      process.exit(2);
    }
  });

program
  .command('vhost-user')
  .description(
    "a vhost-user back end for QEMU's virtio-net (the guest kernel's own driver on our virtqueues) on a switch with a TypeScript guest running the IPv4 responder; runs until interrupted",
  )
  .requiredOption('--socket <path>', 'unix socket to listen on (QEMU: -chardev socket,path=PATH)')
  .requiredOption('--ip <addr/prefix>', "the TypeScript guest's IPv4 address, e.g. 192.0.2.1/24")
  .option('--pcap <file>', 'capture every frame on the switch to a pcap file')
  .option('--mac <mac>', 'the MAC QEMU gives the NIC (-device virtio-net-pci,mac=...); the switch admits only frames from it', '52:54:00:12:34:56')
  .option('--no-event-idx', 'do not offer VIRTIO_F_EVENT_IDX (to compare notification counts)')
  .action(async (o: { socket: string; ip: string; pcap?: string; mac: string; eventIdx: boolean }) => {
    try {
      await vhostUser({ socket: o.socket, ip: o.ip, pcap: o.pcap, mac: o.mac, noEventIdx: !o.eventIdx });
    } catch (e) {
      console.error(`vbus vhost-user: ${e instanceof Error ? e.message : String(e)}`);
      process.exit(2);
    }
  });

program
  .command('new-device')
  .argument('<name>', 'the device type, kebab-case (e.g. "frame-counter")')
  .description('generate a device plugin package: device class, ABI with pinned constants, driver, tests over the in-process, simulated and worker connectors, README')
  .option('--dir <path>', 'where to create it (default: ./NAME)')
  .option('--package <name>', 'npm package name (default: vbus-device-NAME)')
  .action((name: string, o: { dir?: string; package?: string }) => {
    try {
      const r = newDevice(name, { dir: o.dir, packageName: o.package });
      console.log(`created ${r.dir}:\n${r.files.map((f) => `  ${f}`).join('\n')}\nnext: cd ${r.dir} && npm install && npm test   (see its README)`);
    } catch (e) {
      console.error(`vbus new-device: ${e instanceof Error ? e.message : String(e)}`);
      process.exit(2);
    }
  });

await program.parseAsync(process.argv);
