import { inject, injectable, optional } from 'inversify';
import { RandomSource, type Device, type DeviceClass, type DeviceContext } from '@vbus/core';
import * as abi from '../abi/venet-abi.js';
import { validateVenetConfig, type VenetConfig, type VenetConfigInput } from './venet-config.js';
import { VenetDevice } from './venet-device.js';

/** The venet device class (type "virtual-ethernet", version 1); the container makes it. */
@injectable()
export class VenetDeviceClass implements DeviceClass<VenetConfig, VenetConfigInput> {
  readonly type = abi.VENET_TYPE;
  readonly version = abi.VENET_VERSION;
  readonly description = 'venet: paravirtual Ethernet NIC over IOQ rings (rx 0, tx 1, events 2)';
  readonly configKeys = ['mac', 'mtu', 'ringSize', 'txCompleteEvery', 'burstThresholdUs', 'pollTurns', 'backend'] as const satisfies ReadonlyArray<keyof VenetConfigInput>;
  /** @param random feeds default MACs: the container's {@link RandomSource}; bind a seeded one for reproducible runs. */
  constructor(@inject(RandomSource) @optional() private readonly random?: RandomSource) {}
  validate(config: unknown): VenetConfig {
    return validateVenetConfig(config, this.random);
  }
  /** Make a venet device from a validated config. */
  create(config: VenetConfig, context: DeviceContext): Device {
    return new VenetDevice(config, context);
  }
}

declare module '@vbus/core' {
  // `bus.createDevice('virtual-ethernet', name, config)` takes a VenetConfigInput. (a plain comment: typedoc keeps one doc per interface)
  interface DeviceConfigs {
    'virtual-ethernet': VenetConfigInput;
  }
}
