import { ContainerModule } from 'inversify';
import { DeviceClass } from '@vbus/core';
import { VirtioNetDeviceClass } from './common/net/virtio-net-device.js';

/** The virtio-compat plugin: binds the virtio-net device class to core's DeviceClass token. */
export const virtioNetModule = new ContainerModule((options) => {
  options.bind<DeviceClass<unknown>>(DeviceClass).to(VirtioNetDeviceClass).inSingletonScope();
});

export default virtioNetModule;
