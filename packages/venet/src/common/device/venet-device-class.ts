import type { Device, DeviceClass, DeviceContext } from '@vbus/core';
import type { RandomBytes } from '@vbus/net';
import * as abi from '../abi/venet-abi.js';
import { validateVenetConfig, type VenetConfig } from './venet-config.js';
import { VenetDevice } from './venet-device.js';

/** The venet device class (type "virtual-ethernet", version 1). */
export class VenetDeviceClass implements DeviceClass<VenetConfig> {
  readonly type = abi.VENET_TYPE;
  readonly version = abi.VENET_VERSION;
  readonly description = 'venet: paravirtual Ethernet NIC over IOQ rings (rx 0, tx 1, events 2)';
  /** @param random feeds default MACs; inject a seeded one for reproducible runs. */
  constructor(private readonly random?: RandomBytes) {}
  validate(config: unknown): VenetConfig {
    return validateVenetConfig(config, this.random);
  }
  create(config: VenetConfig, context: DeviceContext): Device {
    return new VenetDevice(config, context);
  }
}
