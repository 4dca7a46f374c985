// The custom device class from packages/core/README.md, type-checked with the project.
import { ContainerModule } from 'inversify';
import { DeviceClass, IoqDeviceQueue, createVbus, openDriverRing, type DeviceContext, type GuestAllocator, type GuestConnection, type ShmRegistration } from '@vbus/core';

class CounterClass implements DeviceClass<{ every: number }> {
  readonly type = 'frame-counter';
  readonly version = 1;
  readonly configKeys = ['every'] as const;
  readonly description = 'counts the frames a guest posts on queue 0';
  validate(c: unknown) {
    return { every: (c as { every?: number })?.every ?? 10 };
  }
  create(config: { every: number }, ctx: DeviceContext) {
    let frames = 0;
    return {
      type: this.type,
      attributes: () => ({ every: config.every }),
      counters: () => ({ frames }),
      open: () => ({
        call: () => new Uint8Array([frames & 0xff]),
        close: () => {},
        shm: (reg: ShmRegistration) => {
          const q = new IoqDeviceQueue(reg.memory, reg.address, reg.length, reg.signal!, `${ctx.name}.q0`);
          reg.signal!.handler = () => {
            reg.signal!.disable(); // poll, don't be woken
            let n = 0;
            while (q.next()) {
              // descriptor copied out and checked
              reg.memory.view(q.ptr, q.len); // bounds-checked against the guest's regions
              q.complete(0, true); // published in batches; notify() publishes
              frames++;
              if (++n % config.every === 0) q.notify();
            }
            q.notify(); // deduplicated if the guest is not asleep
            reg.signal!.enable(); // re-checks: nothing stranded
          };
        },
      }),
    };
  }
}

export const counterModule = new ContainerModule((o) => {
  o.bind(DeviceClass).toConstantValue(new CounterClass());
});
const { vbus } = createVbus({ modules: [counterModule] });
vbus.createBus('bus0').createDevice('frame-counter', 'c0', { every: 10 });

/** The driver half from the core README: ten buffers, one kick; resolves with the cookies given back. */
export async function counterDriver(conn: GuestConnection, allocator: GuestAllocator): Promise<number[]> {
  const buffer = allocator.alloc(64);
  const back: number[] = [];
  const ring = await openDriverRing(conn, { id: 0, count: 16, allocator });
  ring.onComplete = (cookie) => back.push(cookie);
  for (let i = 0; i < 10; i++) ring.post(buffer, 64, i, true); // more: no kick yet
  ring.flush(); // one kick for the ten
  while (back.length < 10) await new Promise((r) => setImmediate(r));
  return back;
}
