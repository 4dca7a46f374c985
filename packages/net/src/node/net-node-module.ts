import { ContainerModule } from 'inversify';
import { NetBackendFactory } from '../common/backend/backend-registry.js';
import { qemuDgramFactory, qemuStreamFactory, vdeFactory, vxlanFactory } from './node-backend-factories.js';

/** The Node backend kinds: `"qemu-stream"`, `"qemu-dgram"`, `"vxlan"`, `"vde"` (load with `netModule`). */
export const netNodeModule = new ContainerModule((options) => {
  for (const f of [qemuStreamFactory, qemuDgramFactory, vxlanFactory, vdeFactory])
    options.bind<NetBackendFactory<object>>(NetBackendFactory).toConstantValue(f as NetBackendFactory<object>);
});
