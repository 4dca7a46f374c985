import { ContainerModule } from 'inversify';
import { NetBackendFactory, NetBackendRegistry } from './common/backend/backend-registry.js';
import { learningSwitchFactory, loopbackFactory } from './common/backend/common-backend-factories.js';

/**
 * The net plugin's module: the {@link NetBackendRegistry} (a singleton, `container.get(NetBackendRegistry)`)
 * and the backend kinds that run anywhere, `"switch"` and `"loopback"`. `netNodeModule` from
 * `@vbus/net/node` adds the socket kinds; a plugin adds its own by binding a {@link NetBackendFactory}.
 */
export const netModule = new ContainerModule((options) => {
  options.bind(NetBackendRegistry).toSelf().inSingletonScope();
  for (const f of [learningSwitchFactory, loopbackFactory]) options.bind<NetBackendFactory<object>>(NetBackendFactory).toConstantValue(f as NetBackendFactory<object>);
});
