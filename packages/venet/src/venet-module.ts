import { ContainerModule } from 'inversify';
import { DeviceClass } from '@vbus/core';
import { VenetDeviceClass } from './common/device/venet-device-class.js';

/** The venet plugin: binds the "virtual-ethernet" device class (no decorator metadata needed). */
export const venetModule = new ContainerModule((options) => {
  options.bind<DeviceClass<unknown>>(DeviceClass).toConstantValue(new VenetDeviceClass() as DeviceClass<unknown>);
});

export default venetModule;
