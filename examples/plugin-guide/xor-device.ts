// The plugin guide's device, steps 2 to 4: device class, device, connection. Quoted by
// docs/plugin-guide.md (regions); run by guide.test.ts.
import { ContainerModule } from 'inversify';
import {
  BusError,
  ConfigError,
  DeviceClass,
  IoqDeviceQueue,
  type Device,
  type DeviceConnectionHandler,
  type DeviceContext,
  type GuestMemory,
  type ShmRegistration,
  type ShmSignal,
} from '@vbus/core';
import { XOR_CALL_SET_KEY, XOR_QUEUE_REQ, XOR_REFUSED, XOR_TYPE } from './xor-abi.js';

// #region class
/** Config of one xor-cipher device: checked and filled in by {@link XorDeviceClass.validate}. */
export interface XorConfig {
  readonly maxBuffer: number;
  readonly completeEvery: number;
}

export class XorDeviceClass implements DeviceClass<XorConfig> {
  readonly type = XOR_TYPE;
  readonly version = 1;
  readonly description = 'XORs each buffer its driver posts with a key (the plugin guide)';
  readonly configKeys = ['maxBuffer', 'completeEvery'] as const;

  validate(config: unknown): XorConfig {
    const c = (config ?? {}) as { maxBuffer?: unknown; completeEvery?: unknown };
    const maxBuffer = c.maxBuffer ?? 2048;
    if (typeof maxBuffer !== 'number' || !Number.isInteger(maxBuffer) || maxBuffer < 1 || maxBuffer > 65536)
      throw new ConfigError('maxBuffer', maxBuffer, 'must be an integer in [1, 65536]');
    const completeEvery = c.completeEvery ?? 16;
    if (typeof completeEvery !== 'number' || !Number.isInteger(completeEvery) || completeEvery < 1)
      throw new ConfigError('completeEvery', completeEvery, 'must be a positive integer');
    return { maxBuffer, completeEvery };
  }

  create(config: XorConfig, context: DeviceContext): XorDevice {
    return new XorDevice(config, context);
  }
}
// #endregion class

// #region device
export class XorDevice implements Device {
  readonly type = XOR_TYPE;
  /** Totals over every connection the device has had (they outlive the connections). */
  readonly totals = { buffers: 0, refused: 0, kicks: 0, interrupts: 0, suppressed: 0 };
  lastError = '';

  constructor(
    readonly config: XorConfig,
    readonly context: DeviceContext,
  ) {}

  open(connection: { readonly id: number; readonly memory: GuestMemory }): DeviceConnectionHandler {
    return new XorConnection(this, connection.memory);
  }
  attributes() {
    return { maxBuffer: this.config.maxBuffer, lastError: this.lastError };
  }
  counters() {
    return { ...this.totals };
  }
}
// #endregion device

export class XorConnection implements DeviceConnectionHandler {
  private key = 0;
  private queue: IoqDeviceQueue | null = null;
  private signal: ShmSignal | null = null;
  private readonly scratch: Uint8Array;

  constructor(
    private readonly device: XorDevice,
    private readonly memory: GuestMemory,
  ) {
    this.scratch = new Uint8Array(device.config.maxBuffer);
  }

  // #region call
  call(func: number, data: Uint8Array): Uint8Array {
    if (func !== XOR_CALL_SET_KEY) throw new BusError(`${this.device.context.name}: unknown call ${func}`);
    if (data.length !== 1) throw new BusError(`${this.device.context.name}: SET_KEY takes 1 byte, got ${data.length}`);
    const previous = this.key;
    this.key = data[0]!;
    return Uint8Array.of(previous);
  }
  // #endregion call

  // #region shm
  shm(reg: ShmRegistration): void {
    const name = `${this.device.context.name}.req`;
    if (reg.id !== XOR_QUEUE_REQ) throw new BusError(`${this.device.context.name}: no queue ${reg.id}`);
    if (!reg.signal) throw new BusError(`${name}: the request queue needs a signal`);
    // checks the ring's header (magic, version, count against the region's length)
    this.queue = new IoqDeviceQueue(reg.memory, reg.address, reg.length, reg.signal, name);
    const signal = (this.signal = reg.signal);
    signal.handler = () => {
      this.device.totals.kicks++;
      signal.disable(); // notification prevention: poll with further kicks masked
      this.pass();
      signal.enable(); // re-checks dirty: a buffer posted meanwhile runs the handler again
    };
  }
  // #endregion shm

  close(): void {}

  // #region pass
  private pass(): void {
    const q = this.queue!;
    const t = this.device.totals;
    let since = 0;
    // one ring's worth at most: the handler runs again (enable re-checks) if more came meanwhile
    for (let n = 0; n < q.ioq.count && q.next(); n++) {
      q.complete(this.work(q.ptr, q.len), true); // published by the next notify()
      t.buffers++;
      if (++since === this.device.config.completeEvery) {
        since = 0;
        if (q.notify()) t.interrupts++;
        else t.suppressed++;
      }
    }
    if (since > 0) {
      if (q.notify()) t.interrupts++;
      else t.suppressed++;
    }
  }
  // #endregion pass

  // #region work
  /** One buffer: check, copy out once, transform the copy, copy back. Returns the completion length. */
  private work(ptr: number, len: number): number {
    if (len > this.device.config.maxBuffer || !this.memory.contains(ptr, len)) {
      this.device.totals.refused++;
      this.device.lastError = `${this.device.context.name}.req: buffer [0x${ptr.toString(16)}, +${len}) is longer than ${this.device.config.maxBuffer} or outside guest memory`;
      return XOR_REFUSED;
    }
    const b = this.scratch;
    this.memory.copyOut(ptr, b, 0, len);
    for (let i = 0; i < len; i++) b[i]! ^= this.key;
    this.memory.copyIn(ptr, b, 0, len);
    return len;
  }
  // #endregion work
}

// #region module
/** The plugin's container module: what an embedder loads with createVbus({ modules: [xorModule] }). */
export const xorModule = new ContainerModule((options) => {
  options.bind<DeviceClass<unknown>>(DeviceClass).toConstantValue(new XorDeviceClass() as DeviceClass<unknown>);
});
// #endregion module
