// A consumer's TypeScript program on the published packages (test/consumer.test.ts compiles it
// with strict and exactOptionalPropertyTypes against the packages' .d.ts, then runs the .js):
// a device plugin of its own, and a venet NIC, on one bus.
import { ContainerModule } from 'inversify';
import { createVbus, DeviceClass, GuestAllocator, InProcessConnector, IoqDeviceQueue, IoqDriverQueue, RegionMemory, type DeviceContext, type ShmRegistration } from '@vbus/core';
import { attachPeer, GuestResponder, LoopbackBackend, type GuestNic } from '@vbus/net';
import { VenetDriver, venetModule } from '@vbus/venet';

interface CounterConfig {
  every: number;
}

/** The plugin: a device class counting the frames a guest posts on its one queue. */
class CounterClass implements DeviceClass<CounterConfig> {
  readonly type = 'frame-counter';
  readonly version = 1;
  readonly description = 'counts the frames a guest posts on queue 0';
  readonly configKeys = ['every'] as const;
  validate(c: unknown): CounterConfig {
    const every = (c as { every?: unknown } | undefined)?.every ?? 4;
    if (typeof every !== 'number' || !Number.isInteger(every) || every < 1) throw new Error('every must be a positive integer');
    return { every };
  }
  create(config: CounterConfig, ctx: DeviceContext) {
    let frames = 0;
    return {
      type: this.type,
      attributes: () => ({ every: config.every }),
      counters: () => ({ frames }),
      open: () => ({
        call: () => new Uint8Array([frames & 0xff]),
        close: () => {},
        shm: (reg: ShmRegistration) => {
          const signal = reg.signal;
          if (!signal) throw new Error('queue 0 needs a signal');
          const q = new IoqDeviceQueue(reg.memory, reg.address, reg.length, signal, `${ctx.name}.q0`);
          signal.handler = () => {
            signal.disable();
            let n = 0;
            while (q.next()) {
              q.complete(0);
              frames++;
              if (++n % config.every === 0) q.notify();
            }
            q.notify();
            signal.enable();
          };
        },
      }),
    };
  }
}

const counterModule = new ContainerModule((o) => {
  o.bind(DeviceClass).toConstantValue(new CounterClass());
});

const { vbus } = createVbus({ modules: [counterModule, venetModule] });
const bus = vbus.createBus('bus0');
bus.createDevice('frame-counter', 'c0', { every: 4 });

// the guest side of the counter: an IOQ in guest memory, ten frames, one kick
const memory = RegionMemory.create(0x1000, 1 << 20);
const allocator = new GuestAllocator(0x1000, 1 << 20);
const conn = new InProcessConnector(bus, memory).open('c0');
const queue = new IoqDriverQueue(memory, allocator.alloc(2048, 64), 16, 'q0');
const signal = await conn.shm(0, queue.ioq.address, queue.byteLength, queue.signalAddress);
if (!signal) throw new Error('no signal for queue 0');
queue.signal = signal;
const buffer = allocator.alloc(64);
for (let i = 0; i < 10; i++) queue.post(buffer, 64, i);
queue.kick();
await new Promise((r) => setImmediate(r));
const counted = bus.introspect().devices.find((d) => d.name === 'c0')?.counters;

// a venet NIC on a loopback backend: the responder's own ARP request comes back to it
bus.createDevice('virtual-ethernet', 'venet0', { backend: new LoopbackBackend() });
const nicMemory = RegionMemory.create(0x10000, 8 << 20);
const nic: GuestNic = await VenetDriver.open(new InProcessConnector(bus, nicMemory).open('venet0'), new GuestAllocator(0x10000, 8 << 20));
attachPeer(nic, new GuestResponder({ mac: nic.mac, ip: '192.0.2.1' }));
await nic.close();

console.log(JSON.stringify({ counted, kicks: signal.counters.injected, reclaimed: queue.reclaim(() => {}), venetLinkUp: nic.linkUp }));
