import { ContainerModule } from 'inversify';
import { DeviceClass } from '@vbus/core';
import { VenetDeviceClass } from './common/device/venet-device-class.js';

/** The venet plugin: binds the "virtual-ethernet" device class; the container makes it (with its RandomSource). */
export const venetModule = new ContainerModule((options) => {
  options.bind<DeviceClass<unknown>>(DeviceClass).to(VenetDeviceClass).inSingletonScope();
});

export default venetModule;
