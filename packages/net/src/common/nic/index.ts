/** The guest side of a NIC: one interface for every NIC driver, and the receive loop they share. */
export { SEND_MORE, SEND_NOW, attachPeer, type FrameHandler, type GuestNic, type GuestNicStats, type NicPeer, type NicSendOptions, type NicSignalCounters } from './guest-nic.js';
export { TxRoomWaiter, type TxRoomWaiterOptions } from './tx-room-waiter.js';
export { nicDeviceCounters, diffNicDeviceCounters, type NicDeviceCounters } from './nic-device-counters.js';
export { NapiPoll, PollBatch, type NapiQueue } from './napi.js';
