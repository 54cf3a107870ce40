/**
 * The switch layer's public surface: the FreeSWITCH simulator (Switch, runSwitchSim, the
 * control server) and the typed event-socket client (EslConnection) that ecallmgr uses.
 * Nothing here knows the bus; ecallmgr bridges the two.
 */
export { Switch, type SwitchOptions, type EventListener } from './switch.ts';
export { runSwitchSim, type SwitchSimHandle } from './sim-main.ts';
export { startControlServer, type ControlServer } from './control-server.ts';
export {
  EslConnection,
  ESL_BACKOFF,
  type EslConnectionOptions,
  type EslConnectionEvents,
} from './esl-connection.ts';
export {
  EslChannelGoneError,
  EslCommandError,
  EslDisconnectedError,
  EslNotConnectedError,
  EslTimeoutError,
  eventHeader,
  type EslEvent,
} from './esl-errors.ts';
export { SwitchFaults } from './faults.ts';
export type { ChannelSnapshot } from './channel.ts';
export type { DeviceBehaviour, DeviceMode } from './endpoints.ts';
export type { InboundCall } from './call-model.ts';
export type { SwitchEvent, Header } from './esl-wire.ts';
