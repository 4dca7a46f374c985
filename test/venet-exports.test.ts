import { describe, expect, it } from 'vitest';
import { Container } from 'inversify';
import { DeviceClass } from '@vbus/core';
import * as venet from '@vbus/venet';

describe('@vbus/venet public surface', () => {
  it('exports the ABI, device class, driver and module', () => {
    for (const name of ['VENET_TYPE', 'VENET_FUNC_NEGCAP', 'VENET_SG_OFF_IOV', 'VenetDeviceClass', 'VenetDriver', 'venetModule', 'validateVenetConfig'])
      expect(venet, name).toHaveProperty(name);
  });

  it("the host side is @vbus/net's: venet re-exports no backend, switch, codec or responder", () => {
    for (const name of ['LearningSwitch', 'LoopbackBackend', 'GuestResponder', 'buildIcmpEchoFrame', 'NetBackend', 'SoftwareOffload']) expect(venet, name).not.toHaveProperty(name);
  });

  it('the container module binds the virtual-ethernet device class as a constant', async () => {
    const c = new Container();
    await c.load(venet.venetModule);
    const classes = c.getAll<DeviceClass>(DeviceClass);
    expect(classes.map((k) => [k.type, k.version])).toEqual([['virtual-ethernet', 1]]);
    expect(c.get(DeviceClass)).toBe(c.get(DeviceClass));
  });
});
