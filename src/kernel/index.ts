/**
 * The kernel's public surface: what apps, plugins and upper layers import.
 * Everything else in src/kernel is internal.
 */
export {
  Runtime,
  CallError,
  NoProcError,
  NameTakenError,
  type RuntimeOptions,
  type SpawnOptions,
} from './runtime.ts';
export { Pid, Ref, samePid, isPid } from './pid.ts';
export {
  Exit,
  NORMAL,
  SHUTDOWN,
  KILL,
  KILLED,
  isNormalExit,
  isShutdown,
  formatReason,
  type ExitReason,
} from './exit-reason.ts';
export {
  isExitMessage,
  isDownMessage,
  type ProcessContext,
  type ExitMessage,
  type DownMessage,
} from './process.ts';
export {
  GenServer,
  ok,
  ignore,
  reply,
  noreply,
  stop,
  unexpected,
  type UnexpectedResult,
  type GenServerBehaviour,
  type From,
  type InitResult,
  type CallResult,
  type NoReplyResult,
  type StartResult,
  type StartOptions,
  type Suspended,
} from './gen-server.ts';
export { Handover, type HandedOver } from './restart-handover.ts';
export {
  Supervisor,
  type ChildInfo,
  type ChildCounts,
  type AdminResult,
  type CodeChangePlan,
  type KeptChild,
} from './supervisor.ts';
export {
  ChildSpecError,
  type ChildSpec,
  type SupervisorSpec,
  type SupervisorInit,
  type SupervisorInitResult,
  type SupervisorFlags,
  type RestartType,
  type Shutdown,
  type Strategy,
  type StartContext,
} from './child-spec.ts';
export {
  AppsController,
  APPS_CONTROLLER,
  type AppDefinition,
  type AppStatus,
  type AppResult,
  type AppRestart,
  type AppType,
  type AppOperation,
  APP_TYPES,
  DEFAULT_APP_TYPE,
} from './apps-controller.ts';
export { type UpgradeResult, type UpgradeReport } from './app-upgrade.ts';
export { describeTree, describeNode, renderTree, type TreeNode, type NodeTree } from './tree.ts';
export {
  KernelEvents,
  plainEvent,
  KERNEL_EVENT_TYPES,
  type SupervisorEvent,
  type AppEvent,
  type ExitEvent,
  type FaultEvent,
  type ClusterEvent,
  type KernelEventType,
} from './events.ts';
export {
  createRootLogger,
  memoryLogger,
  withCallId,
  currentCallId,
  type Logger,
  type RootLoggerOptions,
} from './log.ts';
export { backoffDelay, backoffPolicy, type BackoffPolicy } from './backoff.ts';
export {
  Table,
  TableError,
  isEtsTransfer,
  type TableAccess,
  type TableOptions,
  type TableInfo,
  type EtsTransferMessage,
} from './table.ts';
export { TableKeeper, type ClaimResult } from './table-keeper.ts';
export { messageType, exposeCounters, procStats } from './proc-stats.ts';
